"""The values the client returns besides the shared ones of ``crm/__init__.py``."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from typing import Any, NamedTuple

Settings = dict[str, Any]


class Versioned(NamedTuple):
    """A biller's settings (secrets in read form) and their ETag."""

    settings: Settings
    etag: str


class PatchResult(NamedTuple):
    """The settings after a PATCH, their ETag, whether the response was lost
    and the change found already in place (see ``CrmClient.patch_settings``),
    and the id of the audit note the CRM committed with the change (None when
    none was sent, or the response that would confirm it was lost)."""

    settings: Settings
    etag: str
    already_applied: bool
    note_id: int | None = None


class BulkSettings(NamedTuple):
    """A bulk read: settings per known BID, and the BIDs the CRM does not know."""

    found: dict[int, Versioned]
    missing: list[int]

    @classmethod
    def gather(
        cls, bids: Iterable[int], known: Container[int], read: Callable[[int], Versioned]
    ) -> BulkSettings:
        """A bulk read answered a BID at a time: ``read(bid)`` for each of the ``bids``
        in ``known``, the others missing (a CRM with no bulk call, a git revision)."""
        found: dict[int, Versioned] = {}
        missing: list[int] = []
        for bid in bids:
            if bid in known:
                found[bid] = read(bid)
            else:
                missing.append(bid)
        return cls(found, missing)
