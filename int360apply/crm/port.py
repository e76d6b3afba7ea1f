"""``CrmPort``: what the planner, the applier and the engine call on a CRM.

The HTTP client (``crm.client.CrmClient``) implements it; so does the in-memory
CRM of the unit tests (``tests/fakes.py``) and the read-only reader of a git
revision (``crm.gitrev.GitRevReader``). A write takes one value (a
``PatchRequest``, an ``AuditNote``), so every implementation's signatures stay
short and cannot drift from the port's keyword by keyword.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

from . import AuditNote, Note, Profile
from .results import BulkSettings, PatchResult, Versioned


class PatchRequest(NamedTuple):
    """A JSON merge ``patch`` of biller ``bid``'s settings, to apply only while they are
    at ``etag``; secrets in write form ``{"secret": NAME, "value": V}``; ``note`` is the
    audit note to commit with it."""

    bid: int
    patch: Mapping[str, Any]
    etag: str
    note: AuditNote | None = None


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

    def patch_settings(self, request: PatchRequest) -> PatchResult:
        """The request's patch applied only if the settings are still at its ETag
        (``PreconditionFailed`` otherwise), committed with its note when that fits."""
        ...  # pragma: no cover

    def add_note(self, bid: int, note: AuditNote) -> Note:
        """An audit note added on its own (one too long for the PATCH header)."""
        ...  # pragma: no cover


__all__ = ["CrmPort", "PatchRequest"]
