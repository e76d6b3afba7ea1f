"""The ``Audit-Note`` request header of a PATCH and the ``Audit-Note-Id`` that confirms it."""

from __future__ import annotations

import json
import re

from int360apply.crm import BODY_NOTE_LIMITS, HEADER_NOTE_LIMITS, AuditNote

MAX_AUDIT_NOTE_HEADER = 8192
MAX_AUTHOR = 200
_COMMIT_SHA = re.compile(r"[0-9a-f]{7,64}")


def conforming_note(note: AuditNote) -> AuditNote:
    """``note`` within the contract's ``NoteCreate``, so a value from the environment
    cannot make every write fail with 422: the author cut to 200 characters (none: the
    CRM names the caller), a commit that is no lower-case hex SHA left to the text,
    the text and paths cut to the body's limits."""
    author = note.author[:MAX_AUTHOR] if note.author else None
    commit = note.commit.lower() if note.commit else None
    if commit is not None and not _COMMIT_SHA.fullmatch(commit):
        commit = None  # the text still names it
    text = note.text
    if len(text) > BODY_NOTE_LIMITS.text:
        text = text[: BODY_NOTE_LIMITS.text - 1] + "…"
    paths = note.paths
    if paths is not None:
        paths = tuple(p[: BODY_NOTE_LIMITS.path] for p in paths if p)[: BODY_NOTE_LIMITS.paths]
    return AuditNote(text or "(no text)", author, commit, paths)


def audit_note_header(note: AuditNote | None) -> str | None:
    """The header value carrying ``note``, or None when there is none or it is too long
    for a header (the caller then adds it with ``add_note``)."""
    if note is None:
        return None
    note = conforming_note(note)
    if not note.fits(HEADER_NOTE_LIMITS):
        return None
    header = json.dumps(note.as_json(), ensure_ascii=True, separators=(",", ":"))
    # Proxies commonly refuse header lines over 8 KiB.
    return header if len(header) <= MAX_AUDIT_NOTE_HEADER else None


def confirmed_note_id(value: str | None) -> int | None:
    """The note id of an ``Audit-Note-Id`` response header; None when absent or not a number
    (ASCII digits only: ``str.isdigit`` also takes ``"²"``, which ``int`` refuses)."""
    return int(value) if value and value.isascii() and value.isdigit() else None
