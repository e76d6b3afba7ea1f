"""Build a ``Plan``: read the live state of the billers in scope and diff it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .config import Biller, Config
from .crm import Profile
from .crm.port import CrmPort
from .plan import BillerError, BillerPlan, Plan, diff_settings
from .scope import Scope

# Below this many billers, reading profiles one by one is cheaper than listing them all.
PROFILE_LIST_THRESHOLD = 100


def read_profiles(client: CrmPort, bids: set[int]) -> dict[int, Profile]:
    """CRM profiles of ``bids`` (absent ones left out)."""
    from .crm.errors import NotFound

    if len(bids) > PROFILE_LIST_THRESHOLD:
        return {p.bid: p for p in client.list_billers() if p.bid in bids}
    found = {}
    for bid in sorted(bids):
        try:
            found[bid] = client.get_biller(bid)
        except NotFound:
            continue
    return found


def profile_errors(
    config: Config, biller: Biller, profile: Profile | None, *, embedded_sandbox: bool = False
) -> list[BillerError]:
    """The biller unknown to the CRM, or its profile on another partner's integrator ID.

    ``embedded_sandbox``: the CRM is the repository's embedded sandbox, where the
    profile is created with ``int360 sandbox profile``; the message says how.
    """
    partner = config.partners[biller.partner]
    if profile is None:
        how = ""
        if embedded_sandbox:
            iid = biller.integrator_id or partner.integrator_ids[0]
            how = (
                " (in the embedded sandbox: "
                f"int360 sandbox profile {biller.bid} --integrator-id {iid})"
            )
        return [
            BillerError(
                "unknown-biller",
                f"the CRM has no biller {biller.bid}; create its profile in the CRM{how}, "
                f"or correct bid: in {biller.doc.path}",
            )
        ]
    wanted = (biller.integrator_id,) if biller.integrator_id else partner.integrator_ids
    if profile.integrator_id not in wanted:
        # Positions cost a second parse of the file: only for a biller in error.
        where = f"{biller.doc.path}:{biller.doc.loc(('partner',)).line}"
        ids = ", ".join(map(str, wanted))
        return [
            BillerError(
                "integrator-id",
                f"the CRM profile has integrator ID {profile.integrator_id}, but this file "
                f"expects {ids} (partner {partner.slug}); fix it in the CRM (Biller Info → "
                f"CRM Profile → Integration Partner ID) or the partner: line ({where})",
            )
        ]
    return []


def plan_biller(
    config: Config,
    biller: Biller,
    live: tuple[Mapping[str, Any], str] | None,
    profile: Profile | None,
    *,
    rotate_secrets: bool = False,
    embedded_sandbox: bool = False,
) -> BillerPlan:
    """The plan of one biller from its desired and live state."""
    entry = BillerPlan(biller.bid, biller.name, biller.partner, "unchanged")
    errors = profile_errors(config, biller, profile, embedded_sandbox=embedded_sandbox)
    if not errors and live is None:
        errors = [BillerError("unknown-biller", f"the CRM returned no settings for {biller.bid}")]
    if errors:
        entry.status, entry.errors = "error", errors
        return entry
    assert live is not None
    settings, entry.etag = live
    desired = config.desired(biller)
    secrets = config.schemas.secret_paths

    # Sources need the biller file's positions: worked out only for billers that change,
    # and let go again once the changes hold their text (a plan where every biller
    # changes would otherwise keep every file's positions to the end).
    located = biller.doc.located
    entry.changes = diff_settings(
        desired, settings, secrets, functools.partial(config.sources, biller), rotate_secrets
    )
    if not located:
        biller.doc.release_positions()
    if entry.changes:
        entry.status = "change"
    return entry


def build_plan(
    config: Config,
    scope: Scope,
    client: CrmPort,
    *,
    crm: str,
    commit: str | None,
    rotate_secrets: bool = False,
    on_entry: Callable[[BillerPlan], None] | None = None,
    embedded_sandbox: bool = False,
) -> Plan:
    """Plan every biller of ``scope`` against the live CRM (bulk reads).

    ``on_entry`` sees each biller's entry as soon as it is planned (after all
    reads, so a CRM failure comes before the first call). ``embedded_sandbox``:
    the CRM is the embedded sandbox (see ``profile_errors``).
    """
    bids = sorted(scope.bids)
    profiles: dict[int, Profile] = {}
    live: Mapping[int, tuple[Mapping[str, Any], str]] = {}
    if bids:
        # Profiles and settings are independent reads: one waits on the CRM while
        # the other does too.
        with ThreadPoolExecutor(max_workers=1) as pool:
            reading = pool.submit(read_profiles, client, set(bids))
            live = client.bulk_settings(bids)[0]
            profiles = reading.result()
    billers = []
    for bid in bids:
        entry = plan_biller(
            config,
            config.billers[bid],
            live.get(bid),
            profiles.get(bid),
            rotate_secrets=rotate_secrets,
            embedded_sandbox=embedded_sandbox,
        )
        billers.append(entry)
        if on_entry is not None:
            on_entry(entry)
    for bid, path in sorted(scope.removed.items()):
        billers.append(BillerPlan(bid, path, "", "removed"))
    fanout = scope.fanout(config)
    return Plan(crm=crm, commit=commit, billers=billers, fanout=fanout, scope=scope.as_dict())


__all__ = ["build_plan", "plan_biller", "profile_errors"]
