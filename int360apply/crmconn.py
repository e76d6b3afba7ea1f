"""Which CRM a run talks to: ``INT360_CRM_URL``, or the embedded sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .config import Config
from .crm import Profile
from .crm.port import CrmPort

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


@contextmanager
def connect(config: Config, *, concurrency: int = 8) -> Iterator[Crm]:
    """The CRM of ``INT360_CRM_URL`` (token ``INT360_CRM_TOKEN``), else the embedded sandbox."""
    from .crm.client import CrmClient

    url = os.environ.get("INT360_CRM_URL")
    if url:
        client = CrmClient(url, os.environ.get("INT360_CRM_TOKEN") or None, concurrency=concurrency)
        try:
            yield Crm(client, url, embedded=False)
        finally:
            client.close()
        return
    from .crm.sandbox.server import start_background

    db = config.repo.root / SANDBOX_DB
    db.parent.mkdir(parents=True, exist_ok=True)
    server = start_background(db, profiles(config), schema_dir=config.repo.schema_dir)
    client = CrmClient(server.url, None, concurrency=concurrency)
    try:
        yield Crm(client, f"embedded sandbox ({SANDBOX_DB})", embedded=True)
    finally:
        client.close()
        server.stop()
