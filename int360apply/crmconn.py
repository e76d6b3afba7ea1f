"""Which CRM a run talks to: ``INT360_CRM_URL``, or the embedded sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .crm import Profile
from .crm.port import CrmPort
from .crm.sandbox.seeding import PartnerSample, SeedBiller, crm_only_billers

SANDBOX_DB = ".int360/sandbox.sqlite"


@dataclass
class Crm:
    """A connected CRM: the client, a label for output, and whether it is embedded."""

    client: CrmPort
    label: str
    embedded: bool


def profiles(config: Config) -> Iterator[Profile]:
    """A CRM profile per biller file (its integrator ID, else its partner's only one)."""
    for biller in config.billers.values():
        partner = config.partners.get(biller.partner)
        iid = biller.integrator_id
        if iid is None and partner is not None and len(partner.integrator_ids) == 1:
            iid = partner.integrator_ids[0]
        if iid is not None:
            yield Profile(biller.bid, biller.name, iid)


def seed_billers(config: Config) -> Iterator[Profile | SeedBiller]:
    """What a new sandbox database is seeded with (SPEC §6): a profile per biller file
    (empty settings) and a few CRM-only billers per partner, with settings made from
    one of the partner's billers (its merged settings), else the partner's template.

    Worked out only when read: a database seeded before reads none of it."""
    samples = []
    for slug, partner in sorted(config.partners.items()):
        own = sorted(b.bid for b in config.billers.values() if b.partner == slug)
        settings = (
            config.desired(config.billers[own[0]]) if own else dict(config.partner_base(slug))
        )
        samples.append(PartnerSample(slug, partner.integrator_ids, settings))
    yield from profiles(config)
    yield from crm_only_billers(samples, set(config.billers))


@contextmanager
def connect(config: Config, *, concurrency: int = 8) -> Iterator[Crm]:
    """The CRM of ``INT360_CRM_URL`` (token ``INT360_CRM_TOKEN``), else the embedded sandbox."""
    from .crm.client import CrmClient
    from .crm.environment import crm_config_from_env
    from .crm.settings import redact_url

    settings = crm_config_from_env()  # a control character: a configuration error, first
    if settings.url:
        client = CrmClient(settings.url, settings.token, concurrency=concurrency)
        try:
            yield Crm(client, redact_url(settings.url), embedded=False)
        finally:
            client.close()
        return
    from .crm.sandbox.server import start_background
    from .statedir import private_file, state_dir

    db = state_dir(config.repo.root) / Path(SANDBOX_DB).name
    for suffix in ("", "-wal", "-shm"):  # made by an older version: readable by others
        private_file(db.with_name(db.name + suffix), create=not suffix)
    server = start_background(db, seed_billers(config), schema_dir=config.repo.schema_dir)
    client = CrmClient(server.url, None, concurrency=concurrency)
    try:
        yield Crm(client, f"embedded sandbox ({SANDBOX_DB})", embedded=True)
    finally:
        client.close()
        server.stop()
