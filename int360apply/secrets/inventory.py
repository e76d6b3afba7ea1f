"""``int360 secrets``: every secret a scope references, whether the CRM already holds
it, and whether the configured source can provide it. Never a value.

A secret is *needed* when some biller using it does not have it set in the CRM:
the next apply will fetch it. Availability is asked of the source for every
referenced secret (a fetch whose value is dropped at once: the Key Vault calls a
read needs, so a missing role shows here too), concurrently, once per name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..jsonvalue import secret_holds
from ..merge import get_path
from ..model import Path_, attributes, dotted
from ..render.summary import with_summary
from .literals import is_reference
from .resolver import SharedResolver
from .sources import SecretSource, SecretUnavailable

if TYPE_CHECKING:
    from ..config import Config

FORMAT_VERSION = 1


class BulkReader(Protocol):
    """What the inventory needs of the CRM client."""

    def bulk_settings(self, bids: Iterable[int]) -> Any: ...  # pragma: no cover


@dataclass
class SecretEntry:
    """One secret name: who uses it where, the CRM's state, the source's answer."""

    name: str
    billers: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    set_in_crm: int = 0  # billers using it that the CRM holds it set for
    available: bool = False
    problem: str | None = None  # why the source cannot provide it (never a value)

    @property
    def needed(self) -> bool:
        """Some biller using it does not have it set in the CRM: the next apply writes it."""
        return self.set_in_crm < len(self.billers)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return attributes(self, _ENTRY_FIELDS)


# A secret's JSON fields, in the order of the document.
_ENTRY_FIELDS = ("name", "billers", "paths", "set_in_crm", "needed", "available", "problem")


@dataclass
class Inventory:
    """Every referenced secret of a scope, by name."""

    crm: str
    source: str
    secrets: list[SecretEntry]

    @property
    def ok(self) -> bool:
        """Every needed secret can be read from the source."""
        return all(e.available for e in self.secrets if e.needed)

    @property
    def summary(self) -> dict[str, int]:
        """Counts: referenced, needed, unavailable, needed and unavailable."""
        return {
            "referenced": len(self.secrets),
            "needed": sum(e.needed for e in self.secrets),
            "unavailable": sum(not e.available for e in self.secrets),
            "needed_unavailable": sum(e.needed and not e.available for e in self.secrets),
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of ``int360 secrets --format json``."""
        out: dict[str, Any] = {"format_version": FORMAT_VERSION}
        out.update(attributes(self, ("crm", "source", "summary")))
        out["secrets"] = [e.as_dict() for e in self.secrets]
        return out


def references(
    desired: Mapping[int, Mapping[str, Any]], secret_paths: frozenset[Path_]
) -> dict[str, SecretEntry]:
    """Secret name → the billers and paths that reference it, from desired settings."""
    found: dict[str, SecretEntry] = {}
    for bid in sorted(desired):
        for path in sorted(secret_paths):
            value = get_path(desired[bid], path)
            if not is_reference(value):
                continue
            entry = found.setdefault(value["secret"], SecretEntry(value["secret"]))
            if bid not in entry.billers:
                entry.billers.append(bid)
            if dotted(path) not in entry.paths:
                entry.paths.append(dotted(path))
    return dict(sorted(found.items()))


def count_set_in_crm(
    entries: Mapping[str, SecretEntry],
    desired: Mapping[int, Mapping[str, Any]],
    live: Mapping[int, Mapping[str, Any]],
    secret_paths: frozenset[Path_],
) -> None:
    """Fill ``set_in_crm``: billers whose live settings hold the secret by the same name,
    set, at every path their desired settings reference it."""
    for bid, settings in desired.items():
        current = live.get(bid)
        holds: dict[str, bool] = {}
        for path in secret_paths:
            want = get_path(settings, path)
            if not is_reference(want):
                continue
            have = get_path(current, path) if current is not None else None
            same = secret_holds(want["secret"], have)
            holds[want["secret"]] = holds.get(want["secret"], True) and same
        for name, is_set in holds.items():
            if is_set:
                entries[name].set_in_crm += 1


def ask_source(
    entries: Iterable[SecretEntry], source: SecretSource, *, concurrency: int = 8
) -> None:
    """Fill ``available`` and ``problem`` by reading each name once (as an apply reads
    them, failures and all); the values go when this returns."""
    resolver = SharedResolver(source)

    def one(entry: SecretEntry) -> None:
        try:
            resolver.value(entry.name)
        except SecretUnavailable as exc:
            entry.problem = exc.message
        else:
            entry.available = True

    listed = list(entries)
    if not listed:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(listed)))) as pool:
        list(pool.map(one, listed))


def take_inventory(
    desired: Mapping[int, Mapping[str, Any]],
    live: Mapping[int, Mapping[str, Any]],
    secret_paths: frozenset[Path_],
    source: SecretSource,
    *,
    crm: str,
    concurrency: int = 8,
) -> Inventory:
    """The inventory of the billers in ``desired`` (BID → desired settings) against
    ``live`` (BID → the CRM's settings; a BID the CRM lacks is absent)."""
    entries = references(desired, secret_paths)
    count_set_in_crm(entries, desired, live, secret_paths)
    ask_source(entries.values(), source, concurrency=concurrency)
    return Inventory(crm=crm, source=source.describe(), secrets=list(entries.values()))


def inventory_of(
    config: Config,
    bids: Iterable[int],
    client: BulkReader,
    source: SecretSource,
    *,
    crm: str,
    concurrency: int = 8,
) -> Inventory:
    """The inventory of the billers ``bids`` of ``config`` against the CRM of ``client``
    (one bulk read) and ``source``."""
    desired = {bid: config.desired(config.billers[bid]) for bid in sorted(bids)}
    found = client.bulk_settings(list(desired)).found if desired else {}
    live = {bid: versioned.settings for bid, versioned in found.items()}
    return take_inventory(
        desired,
        live,
        config.schemas.secret_paths,
        source,
        crm=crm,
        concurrency=concurrency,
    )


# --- output -------------------------------------------------------------------------

_SHOWN_BILLERS = 5
SUMMARY = (
    "Secrets: {referenced} referenced, {needed} needed by the next apply, "
    "{needed_unavailable} of those not available from {source}."
)


def _billers_text(bids: list[int]) -> str:
    head = ", ".join(map(str, bids[:_SHOWN_BILLERS]))
    more = len(bids) - _SHOWN_BILLERS
    return f"{head} (+{more} more)" if more > 0 else head


def as_text(inventory: Inventory) -> str:
    """One block per secret, then a summary line."""
    lines = []
    for e in inventory.secrets:
        if e.available:
            state = "available"
        else:
            state = "NOT AVAILABLE" + ("" if e.needed else " (only a rotation would need it)")
        lines.append(
            f"{e.name}: set in the CRM for {e.set_in_crm}/{len(e.billers)} biller(s); {state}"
        )
        lines.append(f"    billers: {_billers_text(e.billers)}")
        lines.append(f"    paths: {', '.join(e.paths)}")
        if e.problem:
            lines.append(f"    {e.problem}")
    counts = {**inventory.summary, "source": inventory.source}
    return with_summary(lines, SUMMARY, counts)


def as_json(inventory: Inventory) -> str:
    """The JSON document (``format_version`` 1)."""
    import json

    return json.dumps(inventory.as_dict(), indent=2, ensure_ascii=False) + "\n"
