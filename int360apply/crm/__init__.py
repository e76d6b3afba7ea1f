"""The CRM side of int360: the HTTP client of the contract and the sandbox CRM.

The contract is ``schemas/crm-api.openapi.yaml``. ``client`` speaks it
(``CrmClient``); ``sandbox`` implements it over SQLite
(``sandbox.server.start_background`` for the embedded default and tests,
``sandbox.server.run_serve`` for ``int360 sandbox serve``).

This module holds only the plain values both sides share, so importing it is
cheap (no HTTP or web framework is loaded).
"""

from __future__ import annotations

from typing import Any, NamedTuple

PROFILE_STATUSES = ("active", "inactive")
# sys.setswitchinterval for the processes of many I/O-bound threads (the sandbox, an
# apply): Python's default of 5 ms delays a thread whose socket is ready.
IO_SWITCH_INTERVAL = 0.001


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


class NoteLimits(NamedTuple):
    """The contract's size limits of a new note: characters of ``text``, number of
    ``paths`` and characters of each."""

    text: int
    paths: int
    path: int


# The PATCH request header carrying an audit note, and the response header confirming
# the note the CRM committed with the change.
AUDIT_NOTE_HEADER = "Audit-Note"
AUDIT_NOTE_ID_HEADER = "Audit-Note-Id"

# ``NoteCreate`` (POST /billers/{bid}/notes) and ``AuditNoteHeader`` (a PATCH's
# Audit-Note header, which must stay well under an HTTP server's 64 KiB line limit).
BODY_NOTE_LIMITS = NoteLimits(text=10000, paths=1000, path=300)
HEADER_NOTE_LIMITS = NoteLimits(text=2000, paths=64, path=100)


class AuditNote(NamedTuple):
    """An audit note to write (the contract's ``NoteCreate``); never a secret value in it."""

    text: str
    author: str | None = None
    commit: str | None = None
    paths: tuple[str, ...] | None = None

    def fits(self, limits: NoteLimits) -> bool:
        """Whether the note is within ``limits`` (author and commit have fixed ones)."""
        paths = self.paths or ()
        return (
            len(self.text) <= limits.text
            and len(paths) <= limits.paths
            and all(len(p) <= limits.path for p in paths)
        )

    def as_json(self) -> dict[str, Any]:
        """The ``NoteCreate`` object: the fields that are set."""
        out: dict[str, Any] = {"text": self.text}
        if self.author is not None:
            out["author"] = self.author
        if self.commit is not None:
            out["commit"] = self.commit
        if self.paths is not None:
            out["paths"] = list(self.paths)
        return out


__all__ = [
    "AUDIT_NOTE_HEADER",
    "AUDIT_NOTE_ID_HEADER",
    "BODY_NOTE_LIMITS",
    "HEADER_NOTE_LIMITS",
    "IO_SWITCH_INTERVAL",
    "PROFILE_STATUSES",
    "AuditNote",
    "Note",
    "NoteLimits",
    "Profile",
]
