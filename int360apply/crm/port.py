"""``CrmPort``: what the planner, the applier and the engine call on a CRM.

The HTTP client (``crm.client.CrmClient``) implements it; so does the in-memory
CRM of the unit tests (``tests/fakes.py``). Anything else that can answer these
calls (a reader of the settings at a git revision, say) can be planned against.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from . import AuditNote, Note, Profile

if TYPE_CHECKING:  # the client module loads the HTTP stack: only its value types here
    from .client import BulkSettings, PatchResult, Versioned


class CrmPort(Protocol):
    """The CRM calls of a plan and an apply (see ``crm.client.CrmClient`` for semantics)."""

    def list_billers(self, integrator_id: int | None = None) -> Iterator[Profile]:
        """Every biller profile (of ``integrator_id`` when given)."""
        ...  # pragma: no cover

    def get_biller(self, bid: int) -> Profile:
        """One biller's profile; ``NotFound`` if the CRM has none."""
        ...  # pragma: no cover

    def get_settings(self, bid: int) -> Versioned:
        """One biller's settings and their ETag."""
        ...  # pragma: no cover

    def bulk_settings(self, bids: Iterable[int]) -> BulkSettings:
        """The settings of many billers: those found, and the BIDs the CRM does not know."""
        ...  # pragma: no cover

    def patch_settings(
        self, bid: int, patch: Mapping[str, Any], etag: str, *, note: AuditNote | None = None
    ) -> PatchResult:
        """A JSON merge patch applied only if the settings are still at ``etag``
        (``PreconditionFailed`` otherwise), committed with ``note`` when it fits."""
        ...  # pragma: no cover

    def add_note(
        self,
        bid: int,
        text: str,
        *,
        author: str | None = None,
        commit: str | None = None,
        paths: Iterable[str] | None = None,
    ) -> Note:
        """An audit note added on its own (one too long for the PATCH header)."""
        ...  # pragma: no cover


__all__ = ["CrmPort"]
