"""What a new sandbox database is seeded with, beside the profiles of the biller files:
a few CRM-only billers per partner, as a real CRM holds billers nobody manages as
code yet, so ``billers --unmanaged``, ``import`` and ``new`` can be rehearsed.

Each is a profile on the partner's integrator ID with a fictional name and
complete settings: those of one of the partner's billers (the partner's merged
template plus a biller's overrides), with the biller-specific values (host,
user name, e-mail addresses, secret names) made its own. Secrets are set with a
placeholder, never a real value. Everything here is deterministic.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from int360apply.crm import Profile

PER_PARTNER = 3
# CRM-only BIDs: 800000 + 100 × the partner's rank (by slug) + n, skipping any BID
# a biller file has.
FIRST_BID = 800000
PLACEHOLDER = "sandbox-placeholder-not-a-secret"

_PLACES = (
    "Lakeview", "Pine Hollow", "Riverbend", "Cedar Ridge", "Maple Grove", "Fox Run",
    "Stonebridge", "Willow Creek", "Harbor Point", "Eastgate", "Silver Lake", "Oak Bluff",
    "Granite Falls", "Elm Springs", "Briar Glen", "Juniper Flats", "Copper Hill", "Bayside",
    "Aspen Meadow", "Red Rock", "Clearwater", "Hickory Bend", "Sycamore Park", "Mill Valley",
)  # fmt: skip
_KINDS = ("Water District", "Public Utilities", "Tax Collector")


class SeedBiller(NamedTuple):
    """A profile to seed, with its settings (write form: secrets carry a value) or
    None for empty settings."""

    profile: Profile
    settings: Mapping[str, Any] | None = None


class PartnerSample(NamedTuple):
    """What the CRM-only billers of one partner are made from."""

    slug: str
    integrator_ids: tuple[int, ...]
    settings: Mapping[str, Any]


def crm_only_billers(partners: Iterable[PartnerSample], taken: set[int]) -> list[SeedBiller]:
    """``PER_PARTNER`` CRM-only billers per partner (the last one inactive), on BIDs
    outside ``taken``."""
    out: list[SeedBiller] = []
    used = set(taken)
    for rank, partner in enumerate(sorted(partners, key=lambda p: p.slug)):
        if not partner.integrator_ids:
            continue
        bid = FIRST_BID + 100 * rank
        for n in range(PER_PARTNER):
            while bid in used:
                bid += 1
            used.add(bid)
            index = rank * PER_PARTNER + n
            place = _PLACES[index % len(_PLACES)]
            # Each round of the places moves the kind on: names stay unique up to 72.
            name = f"{place} {_KINDS[(n + index // len(_PLACES)) % len(_KINDS)]}"
            profile = Profile(
                bid,
                name,
                partner.integrator_ids[n % len(partner.integrator_ids)],
                "inactive" if n == PER_PARTNER - 1 else "active",
            )
            out.append(SeedBiller(profile, _own_settings(partner.settings, place, n)))
    return out


def _own_settings(template: Mapping[str, Any], place: str, n: int) -> dict[str, Any]:
    """``template`` with the values that name a biller made this one's."""
    token = re.sub(r"[^a-z0-9]+", "", place.lower())
    settings: dict[str, Any] = copy.deepcopy(dict(template))
    ftp = settings.get("ftp")
    if isinstance(ftp, dict):
        if isinstance(ftp.get("host"), str):
            ftp["host"] = f"sftp.{token}.example.gov"
        if isinstance(ftp.get("username"), str):
            ftp["username"] = f"{token}{n or ''}"
    pump = settings.get("data_pump")
    if isinstance(pump, dict) and isinstance(pump.get("notify_emails"), list):
        pump["notify_emails"] = [f"billing@{token}.example.gov"]
    own: dict[str, Any] = _secrets_set(settings, token.upper())
    return own


def _secrets_set(node: Any, token: str, key: str = "") -> Any:
    """Every ``{secret: NAME}`` named for this biller (``LAKEVIEW_PRIVATE_KEY``) and
    given the placeholder value."""
    if isinstance(node, dict):
        if isinstance(node.get("secret"), str):
            return {"secret": f"{token}_{key.upper()}"[:64], "value": PLACEHOLDER}
        return {k: _secrets_set(v, token, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_secrets_set(v, token, key) for v in node]
    return node


def split(items: Sequence[Profile | tuple[int, str, int] | SeedBiller]) -> list[SeedBiller]:
    """Profiles, tuples and seed billers alike as ``SeedBiller``."""
    return [i if isinstance(i, SeedBiller) else SeedBiller(Profile(*i)) for i in items]
