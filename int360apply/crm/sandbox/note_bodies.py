"""Notes as the sandbox's requests send them (a body, or a PATCH's ``Audit-Note``
header) and as its answers show them; 422 listing every problem of a note.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request

from int360apply.crm import (
    AUDIT_NOTE_HEADER,
    BODY_NOTE_LIMITS,
    HEADER_NOTE_LIMITS,
    Note,
    NoteLimits,
)
from int360apply.crm.sandbox.api_error import ApiError
from int360apply.crm.sandbox.patching import FieldError
from int360apply.crm.sandbox.records import NewNote
from int360apply.jsonvalue import loads

_COMMIT = re.compile(r"[0-9a-f]{7,64}")


def audit_note_header(*, default_author: str) -> NewNote | None:
    """The note of a PATCH's ``Audit-Note`` header (a JSON ``NoteCreate``), or None."""
    raw = request.headers.get(AUDIT_NOTE_HEADER)
    if raw is None:
        return None
    try:
        body = loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(
            422,
            "invalid_note",
            f"the {AUDIT_NOTE_HEADER} header is not JSON",
            [FieldError("", "not JSON")],
        ) from None
    return new_note(body, default_author=default_author, limits=HEADER_NOTE_LIMITS)


def new_note(body: Any, *, default_author: str, limits: NoteLimits = BODY_NOTE_LIMITS) -> NewNote:
    """A note from a request body (or header, with its ``limits``); 422 listing every problem."""
    if not isinstance(body, dict):
        raise ApiError(
            422, "invalid_note", "a note is a JSON object", [FieldError("", "not an object")]
        )
    fields: dict[str, Any] = body
    errors = [FieldError(k, "unknown field") for k in sorted(set(fields) - set(NewNote._fields))]
    text: Any = fields.get("text")
    author: Any = fields.get("author", default_author)
    commit: Any = fields.get("commit")
    paths: Any = fields.get("paths")
    if not isinstance(text, str) or not 1 <= len(text) <= limits.text:
        errors.append(FieldError("text", f"required: a string of 1-{limits.text} characters"))
    if not isinstance(author, str) or not 1 <= len(author) <= 200:
        errors.append(FieldError("author", "a string of 1-200 characters"))
    # Optional fields are left out when unknown; an explicit null is an error.
    if "commit" in fields and not (isinstance(commit, str) and _COMMIT.fullmatch(commit)):
        errors.append(FieldError("commit", "a git commit SHA: 7-64 lowercase hex digits"))
    if "paths" in fields and not (
        isinstance(paths, list)
        and len(paths) <= limits.paths
        and all(isinstance(p, str) and 1 <= len(p) <= limits.path for p in paths)
    ):
        errors.append(
            FieldError("paths", f"at most {limits.paths} strings of 1-{limits.path} characters")
        )
    if errors:
        raise ApiError(422, "invalid_note", "the note is invalid", errors)
    return NewNote(author, text, commit, tuple(paths) if paths is not None else None)


def note_json(note: Note) -> dict[str, Any]:
    """A stored note as the API shows it: unknown optional fields left out."""
    out = {k: v for k, v in note._asdict().items() if v is not None}
    if note.paths is not None:
        out["paths"] = list(note.paths)
    return out
