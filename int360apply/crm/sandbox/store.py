"""The sandbox CRM's storage: SQLite through the standard library.

WAL mode lets readers run while one writer writes; every write is one
``BEGIN IMMEDIATE`` transaction, so two concurrent writers are serialised by
SQLite and neither loses the other's change. Connections are pooled: a request
thread checks one out, uses it alone and returns it.

Settings are stored with secrets in their *read* form ``{secret, set: true}``;
secret values live in their own table and no query here returns them except
``secret_values``, which exists for tests and is never reachable over HTTP.

Revisions come from one counter for the whole database, so an ETag is never
reused, not even by a biller deleted and created again (a stale plan cannot
match a new biller's first revision).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from int360apply.crm import Note, Profile
from int360apply.crm.sandbox.connections import ConnectionPool, writer_lock
from int360apply.crm.sandbox.db_schema import create_schema
from int360apply.crm.sandbox.records import (
    IdempotencyConflict,
    NewNote,
    SettingsUpdate,
    StaleRevision,
    StoredSettings,
    UnknownBiller,
)
from int360apply.crm.sandbox.rows import insert_note, note_of, profile_of


class Store:
    """The sandbox CRM's database (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        from int360apply.statedir import private_file

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_file(path, create=True)  # its WAL and SHM files get the same mode
        self.path = path
        self._pool = ConnectionPool(path)
        self._writer = writer_lock(path)
        with self._pool.connection() as conn:
            create_schema(conn)

    def close(self) -> None:
        """Close the idle connections; connections in use close when returned."""
        self._pool.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock up front (no upgrade deadlocks).

        Writers of this process queue on a lock first: SQLite's busy handler polls
        with growing sleeps (up to 100 ms), a lock wakes the next writer at once.
        Writers in other processes still meet SQLite's lock and busy timeout.
        """
        with self._writer, self._pool.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _next_revisions(conn: sqlite3.Connection, count: int) -> int:
        """Reserve ``count`` revisions; returns the first. Only inside a write."""
        row = conn.execute(
            "UPDATE meta SET value = value + ? WHERE key = 'revision' RETURNING value", (count,)
        ).fetchone()
        return int(row[0]) - count + 1

    # -- profiles -----------------------------------------------------------

    def seeded(self) -> bool:
        """Whether this database was seeded before (seeding happens once, when new)."""
        with self._pool.connection() as conn:
            return self._was_seeded(conn)

    @staticmethod
    def _was_seeded(conn: sqlite3.Connection) -> bool:
        # A database of an earlier version lists its seeded BIDs, without the flag.
        flag = conn.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone()
        return flag is not None or conn.execute("SELECT 1 FROM seeded LIMIT 1").fetchone()

    def seed(
        self,
        profiles: Iterable[Profile],
        settings: Mapping[int, SettingsUpdate] | None = None,
    ) -> int:
        """Seed a new database: the profiles, with ``settings`` where given (else
        empty ones); returns how many were added.

        A database seeded before gets nothing, whatever changed since: a CRM does not
        learn of a biller because a file appeared. Seeding happens in one transaction.
        """
        given = settings or {}
        wanted = {p.bid: p for p in profiles}
        with self._write() as conn:
            if self._was_seeded(conn):
                return 0
            conn.execute("INSERT INTO meta (key, value) VALUES ('seeded', 1)")
            known = {row[0] for row in conn.execute("SELECT bid FROM profiles")}
            new = [p for bid, p in sorted(wanted.items()) if bid not in known]
            if not new:
                return 0
            first = self._next_revisions(conn, len(new))
            conn.executemany(
                "INSERT INTO profiles (bid, name, integrator_id, status) VALUES (?, ?, ?, ?)",
                [(p.bid, p.name, p.integrator_id, p.status) for p in new],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO settings (bid, revision, json) VALUES (?, ?, ?)",
                [
                    (
                        p.bid,
                        first + i,
                        json.dumps(given[p.bid].settings, separators=(",", ":"))
                        if p.bid in given
                        else "{}",
                    )
                    for i, p in enumerate(new)
                ],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO secrets (bid, path, name, value) VALUES (?, ?, ?, ?)",
                [
                    (bid, path, name, value)
                    for bid, update in given.items()
                    if bid in wanted
                    for path, (name, value) in update.written.items()
                ],
            )
            conn.executemany("INSERT INTO seeded (bid) VALUES (?)", [(p.bid,) for p in new])
            return len(new)

    def list_profiles(self, *, integrator_id: int | None, after: int, limit: int) -> list[Profile]:
        """Profiles with a BID above ``after``, in BID order, at most ``limit``."""
        sql = "SELECT bid, name, integrator_id, status FROM profiles WHERE bid > ?"
        args: list[Any] = [after]
        if integrator_id is not None:
            sql += " AND integrator_id = ?"
            args.append(integrator_id)
        sql += " ORDER BY bid LIMIT ?"
        args.append(limit)
        with self._pool.connection() as conn:
            return [profile_of(row) for row in conn.execute(sql, args)]

    def get_profile(self, bid: int) -> Profile | None:
        """The profile of ``bid``, or None."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT bid, name, integrator_id, status FROM profiles WHERE bid = ?", (bid,)
            ).fetchone()
        return profile_of(row) if row else None

    def put_profile(self, profile: Profile) -> bool:
        """Create or change a profile; returns True when it was created (empty settings)."""
        with self._write() as conn:
            updated = conn.execute(
                "UPDATE profiles SET name = ?, integrator_id = ?, status = ? WHERE bid = ?",
                (profile.name, profile.integrator_id, profile.status, profile.bid),
            ).rowcount
            if updated:
                return False
            conn.execute(
                "INSERT INTO profiles (bid, name, integrator_id, status) VALUES (?, ?, ?, ?)",
                (profile.bid, profile.name, profile.integrator_id, profile.status),
            )
            conn.execute(
                "INSERT OR REPLACE INTO settings (bid, revision, json) VALUES (?, ?, '{}')",
                (profile.bid, self._next_revisions(conn, 1)),
            )
            return True

    def delete_profile(self, bid: int) -> bool:
        """Delete a biller and everything it has; returns False if unknown."""
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM profiles WHERE bid = ?", (bid,)).rowcount
            for table in ("settings", "secrets", "notes"):
                conn.execute(f"DELETE FROM {table} WHERE bid = ?", (bid,))
            return bool(deleted)

    # -- settings -----------------------------------------------------------

    def get_settings(self, bid: int) -> tuple[dict[str, Any], int] | None:
        """The settings of ``bid`` (read form) and their revision, or None."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT json, revision FROM settings WHERE bid = ?", (bid,)
            ).fetchone()
        return (json.loads(row[0]), int(row[1])) if row else None

    def bulk_settings(self, bids: Iterable[int]) -> dict[int, tuple[dict[str, Any], int]]:
        """The settings and revision of every known BID of ``bids`` (one query)."""
        wanted = list(dict.fromkeys(bids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT bid, json, revision FROM settings WHERE bid IN ({marks})"
        with self._pool.connection() as conn:
            rows = conn.execute(sql, wanted).fetchall()
        return {int(r[0]): (json.loads(r[1]), int(r[2])) for r in rows}

    def update_settings(
        self,
        bid: int,
        matches: Callable[[int], bool],
        compute: Callable[[dict[str, Any], int], SettingsUpdate],
        note: NewNote | None = None,
    ) -> StoredSettings:
        """Atomically: check the revision, compute the new settings, store them.

        ``compute`` gets the current settings and their revision. ``note``, an
        audit note, is added in the same transaction: the settings change and
        its note are committed together or not at all.

        Raises ``UnknownBiller``, ``StaleRevision`` (``matches`` refused the
        current revision) or whatever ``compute`` raises; nothing is written then.
        """
        with self._write() as conn:
            row = conn.execute(
                "SELECT json, revision FROM settings WHERE bid = ?", (bid,)
            ).fetchone()
            if row is None:
                raise UnknownBiller(bid)
            if not matches(int(row[1])):
                raise StaleRevision(int(row[1]))
            update = compute(json.loads(row[0]), int(row[1]))
            revision = self._next_revisions(conn, 1)
            conn.execute(
                "UPDATE settings SET json = ?, revision = ? WHERE bid = ?",
                (json.dumps(update.settings, separators=(",", ":")), revision, bid),
            )
            stored = {r[0] for r in conn.execute("SELECT path FROM secrets WHERE bid = ?", (bid,))}
            # Only the statements with work to do: each one hands the GIL around while
            # this thread holds the write lock.
            if gone := stored - update.present:
                conn.executemany(
                    "DELETE FROM secrets WHERE bid = ? AND path = ?",
                    [(bid, path) for path in gone],
                )
            if update.written:
                conn.executemany(
                    "INSERT OR REPLACE INTO secrets (bid, path, name, value) VALUES (?, ?, ?, ?)",
                    [(bid, path, name, value) for path, (name, value) in update.written.items()],
                )
            note_id = insert_note(conn, bid, note, None, None).id if note else None
            return StoredSettings(update.settings, revision, note_id)

    def secret_values(self, bid: int) -> dict[str, tuple[str, str]]:
        """Stored secret values (dotted path → (name, value)). Tests only; not served."""
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT path, name, value FROM secrets WHERE bid = ?", (bid,))
            return {r[0]: (r[1], r[2]) for r in rows}

    # -- notes --------------------------------------------------------------

    def add_note(
        self, bid: int, note: NewNote, *, key: str | None, fingerprint: str
    ) -> tuple[Note, bool]:
        """Add a note; returns it and whether it is new.

        With ``key``, a second call with the same key returns the first note
        (the retry of a request whose response was lost); with another
        ``fingerprint`` (a different note) it raises ``IdempotencyConflict``.
        """
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM profiles WHERE bid = ?", (bid,)).fetchone() is None:
                raise UnknownBiller(bid)
            if key is not None:
                row = conn.execute(
                    "SELECT id, created_at, author, text, commit_sha, paths, fingerprint "
                    "FROM notes WHERE bid = ? AND idempotency_key = ?",
                    (bid, key),
                ).fetchone()
                if row is not None:
                    if row[6] != fingerprint:
                        raise IdempotencyConflict(key)
                    return note_of(row), False
            return insert_note(conn, bid, note, key, fingerprint), True

    def list_notes(self, bid: int, *, after: int, limit: int) -> list[Note]:
        """Notes of ``bid`` with an id above ``after``, oldest first, at most ``limit``."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, created_at, author, text, commit_sha, paths FROM notes "
                "WHERE bid = ? AND id > ? ORDER BY id LIMIT ?",
                (bid, after, limit),
            ).fetchall()
        return [note_of(row) for row in rows]
