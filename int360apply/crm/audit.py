"""The ``Audit-Note`` request header of a PATCH and the ``Audit-Note-Id`` that confirms it."""

from __future__ import annotations

import json

from int360apply.crm import HEADER_NOTE_LIMITS, AuditNote

MAX_AUDIT_NOTE_HEADER = 8192


def audit_note_header(note: AuditNote | None) -> str | None:
    """The header value carrying ``note``, or None when there is none or it is too long
    for a header (the caller then adds it with ``add_note``)."""
    if note is None or not note.fits(HEADER_NOTE_LIMITS):
        return None
    header = json.dumps(note.as_json(), ensure_ascii=True, separators=(",", ":"))
    # Proxies commonly refuse header lines over 8 KiB.
    return header if len(header) <= MAX_AUDIT_NOTE_HEADER else None


def confirmed_note_id(value: str | None) -> int | None:
    """The note id of an ``Audit-Note-Id`` response header; None when absent or not a number."""
    return int(value) if value and value.isdigit() else None
