"""The CRM's live settings written into biller files: ``drift --adopt`` rewrites the
drifted files, ``import`` writes new ones.

Each file is worked out and checked as ``validate`` would before it is written;
the commands in ``cli`` show what was written and what was not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from .config import Config
from .crmconn import Crm
from .errors import Failure, UsageError
from .plan import Plan
from .repo import biller_paths


class Adopted(NamedTuple):
    """One drifted biller's file: rewritten to the live settings, or why not."""

    path: str
    error: str | None
    dropped: tuple[str, ...] = ()  # live fields the schema does not know: left out


def adopt(config: Config, crm: Crm, drifted: Plan) -> Iterator[Adopted]:
    """Rewrite each changed biller's file so that it merges to the live settings.

    Every file is worked out and checked as ``validate`` would before the first is
    written; one that would not validate (a locked path, a required field removed
    in the CRM) is left as it is and named with the reason.
    """
    from .adopt import adopt as adopted_file

    results = []
    for entry in drifted.changed:
        live, _etag = crm.client.get_settings(entry.bid)
        results.append(adopted_file(config, config.billers[entry.bid], live))
    for result in results:
        if result.text is None:
            yield Adopted(result.path, result.reason)
        else:
            result.write(config)
            yield Adopted(result.path, None, result.dropped)


def shared_drift(config: Config, drifted: Plan) -> list[str]:
    """A line per partner whose every biller drifted the same way (the template did)."""
    from .adopt import shared_drift as shared

    return shared(config, drifted.changed)


class Imported(NamedTuple):
    """One biller of an import: the file written (relative, posix), or the problem.

    ``skipped``: a file exists and an import by integrator ID leaves it (no failure).
    """

    bid: int
    written: str | None
    problem: str | None
    skipped: bool = False
    dropped: tuple[str, ...] = ()  # live fields the schema does not know: left out


def check_import(
    config: Config, *, bids: Sequence[int], integrator_id: int | None, partner: str | None
) -> None:
    """``UsageError`` for an import that names nothing it could write (before the CRM)."""
    if not bids and integrator_id is None:
        raise UsageError("name billers (BID…) or --integrator-id N")
    for bid in bids:
        if bid < 1:
            raise UsageError(f"BID {bid}: a BID is a positive whole number")
    if partner and partner not in config.partners:
        raise UsageError(f"--partner {partner}: no such partner; see int360 partners")
    if integrator_id is not None and not partner and _partner_of(config, integrator_id) is None:
        raise UsageError(
            f"--integrator-id {integrator_id}: no partner has this integrator ID; "
            "add it to the partner's integrator_ids or pass --partner SLUG"
        )


def import_billers(
    config: Config,
    crm: Crm,
    *,
    bids: Sequence[int],
    integrator_id: int | None,
    partner: str | None,
    force: bool,
) -> Iterator[Imported]:
    """Write biller files with the minimal overrides of the CRM's live settings.

    ``bids``, else every biller of ``integrator_id`` (``Failure`` when the CRM has
    none); ``partner`` (a known slug), else the partner of the profile's integrator
    ID. Each file is checked as ``validate`` would before it is written; one that
    would not validate is not written. An existing file is refused for a named BID
    and skipped by an import by integrator ID (``force`` overwrites it). Yields each
    biller as it is done.
    """
    from .adopt import import_file
    from .crm.errors import CrmError, NotFound

    check_import(config, bids=bids, integrator_id=integrator_id, partner=partner)
    root = config.repo.root
    client = crm.client
    profiles = []
    for bid in bids:
        try:
            profiles.append(client.get_biller(bid))
        except NotFound:
            yield Imported(bid, None, f"{bid}: not imported: no biller {bid} in the CRM")
    if not bids:
        profiles = list(client.list_billers(integrator_id=integrator_id))
        if not profiles:
            raise Failure(f"no biller in the CRM has integrator ID {integrator_id}")
    for profile in profiles:
        slug = partner or _partner_of(config, profile.integrator_id)
        existing = biller_paths(config.repo, profile.bid)
        if slug is None:
            yield Imported(
                profile.bid,
                None,
                f"{profile.bid}: no partner has integrator ID {profile.integrator_id}; "
                "pass --partner SLUG",
            )
            continue
        if existing and not force:
            where = existing[0].relative_to(root).as_posix()
            if bids:
                yield Imported(profile.bid, None, f"{where}: exists; pass --force to overwrite")
            else:
                yield Imported(
                    profile.bid, None, f"{where}: exists; skipped (--force overwrites it)", True
                )
            continue
        target = existing[0] if existing else root / "billers" / f"{profile.bid}.yaml"
        rel = target.relative_to(root).as_posix()
        try:
            live, _etag = client.get_settings(profile.bid)
        except CrmError as exc:
            yield Imported(profile.bid, None, f"{profile.bid}: not imported: {exc}")
            continue
        result = import_file(config, profile, slug, live, rel)
        if result.text is None:
            yield Imported(profile.bid, None, f"{rel}: not imported: {result.reason}")
            continue
        result.write(config)
        yield Imported(profile.bid, rel, None, dropped=result.dropped)


def _partner_of(config: Config, integrator_id: int) -> str | None:
    for slug, partner in config.partners.items():
        if integrator_id in partner.integrator_ids:
            return slug
    return None
