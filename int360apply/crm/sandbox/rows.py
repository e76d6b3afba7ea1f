"""Rows of the sandbox CRM's database as the API's values, and the one insert
two writes share (a note added by itself, or with a settings change).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from int360apply.crm import Note, Profile
from int360apply.crm.sandbox.records import NewNote


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def insert_note(
    conn: sqlite3.Connection, bid: int, note: NewNote, key: str | None, fingerprint: str | None
) -> Note:
    """Insert ``note`` inside the caller's write transaction; returns it as stored."""
    paths = json.dumps(list(note.paths)) if note.paths is not None else None
    created = _now()
    cursor = conn.execute(
        "INSERT INTO notes (bid, created_at, author, text, commit_sha, paths, "
        "idempotency_key, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (bid, created, note.author, note.text, note.commit, paths, key, fingerprint),
    )
    note_id = int(cursor.lastrowid or 0)
    return Note(note_id, created, note.author, note.text, note.commit, note.paths)


def profile_of(row: tuple[Any, ...]) -> Profile:
    """A ``profiles`` row (bid, name, integrator_id, status) as a ``Profile``."""
    return Profile(bid=row[0], name=row[1], integrator_id=row[2], status=row[3])


def note_of(row: tuple[Any, ...]) -> Note:
    """A ``notes`` row (id, created_at, author, text, commit_sha, paths) as a ``Note``."""
    paths = tuple(json.loads(row[5])) if row[5] is not None else None
    return Note(
        id=row[0], created_at=row[1], author=row[2], text=row[3], commit=row[4], paths=paths
    )
