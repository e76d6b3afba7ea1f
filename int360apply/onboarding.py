"""The engineer's path from the CRM to a file: list the CRM's billers beside the files
(``billers``), start a file from a profile (``new``), read the live settings
(``render --live``). Each takes a CRM client and returns values; commands render them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .crm import Profile
from .crm.port import CrmPort
from .errors import Failure
from .fleet_view import Filters, FleetView, expected_ids, fleet_view, partner_of_id
from .planner import read_profiles
from .repo import biller_paths
from .starter import StarterError, choose_partner, starter_text
from .yamlwrite import write_atomic


class OnboardingError(Failure):
    """Nothing was written or shown; the message says what to do instead (exit 1)."""


def billers_view(config: Config, client: CrmPort, filters: Filters) -> FleetView:
    """The CRM's profiles beside the files, filtered.

    A CRM holds other products' billers too: only the integrator IDs that matter
    are listed (the filter's, else every partner's). A file whose profile is on none
    of them is looked up by BID, so that a profile on another ID is a mismatch, not
    a missing profile.
    """
    by_id = partner_of_id(config)
    if filters.integrator_id is not None:
        ids = [filters.integrator_id]
    elif filters.partner is not None:
        ids = list(config.partners[filters.partner].integrator_ids)
    else:
        ids = sorted(by_id)
    seen: dict[int, Profile] = {}
    for iid in ids:
        seen.update((p.bid, p) for p in client.list_billers(integrator_id=iid))
    if not filters.unmanaged:
        missing = {b for b in _files_in(config, filters) if b not in seen}
        seen.update(read_profiles(client, missing))
    return fleet_view(config, seen.values(), filters)


def _files_in(config: Config, filters: Filters) -> list[int]:
    """The BIDs of the files the filters can show (the name filter is applied later)."""
    out = []
    for bid, biller in sorted(config.billers.items()):
        if filters.partner is not None and biller.partner != filters.partner:
            continue
        if filters.integrator_id is not None and filters.integrator_id not in expected_ids(
            config, biller
        ):
            continue
        out.append(bid)
    return out


@dataclass(frozen=True)
class Started:
    """A new biller file: where, and which partner it names."""

    path: Path
    rel: str
    partner: str
    profile: Profile


def _profile(client: CrmPort, bid: int, hint: str) -> Profile:
    from .crm.errors import NotFound

    try:
        return client.get_biller(bid)
    except NotFound:
        raise OnboardingError(f"the CRM has no biller {bid}; {hint}") from None


def start_biller(
    config: Config,
    client: CrmPort,
    bid: int,
    slug: str | None,
    *,
    embedded_sandbox: bool = False,
) -> Started:
    """Write ``billers/<bid>.yaml`` from the biller's CRM profile (never over a file).

    ``embedded_sandbox``: a missing profile is created with ``int360 sandbox profile``;
    the message says how.
    """
    existing = biller_paths(config.repo, bid)
    if existing:
        rel = config.repo.rel(existing[0])
        raise OnboardingError(f"{rel} exists; edit it (int360 validate {rel} says what is left)")
    how = ""
    if embedded_sandbox:
        wanted = str(config.partners[slug].integrator_ids[0]) if slug else "N"
        how = (
            f" (in the embedded sandbox: int360 sandbox profile {bid} --name NAME "
            f"--integrator-id {wanted})"
        )
    profile = _profile(
        client, bid, f"create its profile in the CRM first{how}, or check the BID (int360 billers)"
    )
    try:
        partner, iid = choose_partner(config, profile, slug)
    except StarterError as exc:
        raise OnboardingError(str(exc)) from None
    target = config.repo.root / "billers" / f"{bid}.yaml"
    write_atomic(target, starter_text(config, profile, partner, iid))
    return Started(target, config.repo.rel(target), partner, profile)


def live_settings(client: CrmPort, bid: int) -> tuple[Mapping[str, Any], str]:
    """The CRM's current settings of ``bid`` and their ETag."""
    from .crm.errors import NotFound

    try:
        settings, etag = client.get_settings(bid)
    except NotFound:
        raise OnboardingError(f"the CRM has no biller {bid} (int360 billers lists them)") from None
    return settings, etag
