"""The CRM side of int360: the HTTP client of the contract and the sandbox CRM.

The contract is ``schemas/crm-api.openapi.yaml``. ``client`` speaks it
(``CrmClient``, ``client_from_env``); ``sandbox`` implements it over SQLite
(``sandbox.server.start_background`` for the embedded default and tests,
``sandbox.server.run_serve`` for ``int360 sandbox serve``).

This module holds only the plain values both sides share, so importing it is
cheap (no HTTP or web framework is loaded).
"""

from __future__ import annotations

from typing import NamedTuple

PROFILE_STATUSES = ("active", "inactive")


class Profile(NamedTuple):
    """A biller's CRM profile: what the CRM knows about the biller besides settings."""

    bid: int
    name: str
    integrator_id: int
    status: str = "active"


class Note(NamedTuple):
    """An audit note on a biller (who changed what, from which commit)."""

    id: int
    created_at: str
    author: str
    text: str
    commit: str | None = None
    paths: tuple[str, ...] | None = None


__all__ = ["PROFILE_STATUSES", "Note", "Profile"]
