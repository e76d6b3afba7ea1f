"""The sandbox CRM's database schema: its tables, created when missing.

Kept apart from the queries (``store``): a change of a table is a change here.
"""

from __future__ import annotations

import sqlite3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
CREATE TABLE IF NOT EXISTS profiles (
    bid INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    integrator_id INTEGER NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS profiles_by_integrator ON profiles (integrator_id, bid);
CREATE TABLE IF NOT EXISTS settings (
    bid INTEGER PRIMARY KEY,
    revision INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    bid INTEGER NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (bid, path)
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bid INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    commit_sha TEXT,
    paths TEXT,
    idempotency_key TEXT,
    fingerprint TEXT,
    UNIQUE (bid, idempotency_key)
);
CREATE INDEX IF NOT EXISTS notes_by_bid ON notes (bid, id);
-- Every BID ever seeded, so a profile deleted on purpose is not seeded again.
CREATE TABLE IF NOT EXISTS seeded (bid INTEGER PRIMARY KEY);
"""


def create_schema(conn: sqlite3.Connection) -> None:
    """Put the database at ``conn`` in WAL mode and create the tables it lacks."""
    # WAL is a property of the database file: set once, kept by every connection.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(_SCHEMA)
