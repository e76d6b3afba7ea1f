"""The sandbox's SQLite store: seeding, revisions, atomic writes under concurrency."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from int360apply.crm import Profile
from int360apply.crm.sandbox.records import (
    NewNote,
    SettingsUpdate,
    StaleRevision,
    UnknownBiller,
)
from int360apply.crm.sandbox.store import Store

from .conftest import PROFILES


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = Store(tmp_path / "crm.sqlite")
    yield opened
    opened.close()


def _set(doc: dict[str, Any], path: tuple[str, str], value: Any) -> SettingsUpdate:
    out = {k: dict(v) for k, v in doc.items()}
    out.setdefault(path[0], {})[path[1]] = value
    return SettingsUpdate(out, {}, frozenset())


def test_database_is_in_wal_mode(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_seeding_happens_once_when_the_database_is_new(tmp_path: Path) -> None:
    """SPEC §6: a new database is seeded; later starts add nothing, not even a biller
    file added since (it meets the CRM's "unknown biller" as in the real world)."""
    path = tmp_path / "crm.sqlite"
    first = Store(path)
    assert not first.seeded()
    assert first.seed(PROFILES[:2]) == 2
    assert first.seeded()
    first.put_profile(PROFILES[0]._replace(integrator_id=999))  # a change made in the CRM
    first.delete_profile(PROFILES[1].bid)  # a biller removed from the CRM on purpose
    first.close()

    again = Store(path)  # a later start, with one biller file more
    assert again.seed(PROFILES[:3]) == 0
    assert again.get_profile(PROFILES[0].bid) == PROFILES[0]._replace(integrator_id=999)
    assert again.get_profile(PROFILES[1].bid) is None
    assert again.get_profile(PROFILES[2].bid) is None
    settings, revision = again.get_settings(PROFILES[0].bid) or (None, 0)
    assert settings == {} and revision >= 1
    again.close()


def test_a_database_seeded_by_an_earlier_version_is_not_seeded_again(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    old = Store(path)
    old.seed(PROFILES[:1])
    with sqlite3.connect(path) as conn:  # earlier versions kept only the seeded BIDs
        conn.execute("DELETE FROM meta WHERE key = 'seeded'")
    old.close()
    again = Store(path)
    assert again.seeded()
    assert again.seed(PROFILES) == 0
    again.close()


def test_revisions_are_never_reused(store: Store) -> None:
    store.seed(PROFILES[:1])
    bid = PROFILES[0].bid
    _, first = store.get_settings(bid) or ({}, 0)
    store.update_settings(bid, lambda r: True, lambda d, r: _set(d, ("ftp", "port"), 22))
    store.delete_profile(bid)
    store.put_profile(PROFILES[0])  # the same BID created again
    _, recreated = store.get_settings(bid) or ({}, 0)
    assert recreated > first + 1  # a stale ETag from before cannot match


def test_update_checks_the_revision_inside_the_transaction(store: Store) -> None:
    store.seed(PROFILES[:1])
    bid = PROFILES[0].bid
    with pytest.raises(StaleRevision) as info:
        store.update_settings(bid, lambda r: False, lambda d, r: _set(d, ("ftp", "port"), 1))
    assert info.value.current == 1
    with pytest.raises(UnknownBiller):
        store.update_settings(42, lambda r: True, lambda d, r: _set(d, ("ftp", "port"), 1))
    assert store.get_settings(bid) == ({}, 1)


def test_a_failing_compute_writes_nothing(store: Store) -> None:
    store.seed(PROFILES[:1])

    def boom(doc: dict[str, Any], revision: int) -> SettingsUpdate:
        raise ValueError("invalid")

    with pytest.raises(ValueError):
        store.update_settings(PROFILES[0].bid, lambda r: True, boom)
    assert store.get_settings(PROFILES[0].bid) == ({}, 1)


def test_secret_values_follow_the_settings(store: Store) -> None:
    store.seed(PROFILES[:1])
    bid = PROFILES[0].bid
    doc = {"ftp": {"pgp_public_key": {"secret": "K", "set": True}}}
    store.update_settings(
        bid,
        lambda r: True,
        lambda d, r: SettingsUpdate(
            doc, {"ftp.pgp_public_key": ("K", "v1")}, frozenset({"ftp.pgp_public_key"})
        ),
    )
    assert store.secret_values(bid) == {"ftp.pgp_public_key": ("K", "v1")}
    store.update_settings(bid, lambda r: True, lambda d, r: SettingsUpdate({}, {}, frozenset()))
    assert store.secret_values(bid) == {}


def test_concurrent_read_modify_writes_lose_nothing(store: Store) -> None:
    """8 threads each increment a counter 25 times; every increment survives."""
    store.seed([Profile(1, "Counter", 1)])

    def increment(doc: dict[str, Any], revision: int) -> SettingsUpdate:
        count = doc.get("advanced", {}).get("min_payment_amount", 0)
        return _set(doc, ("advanced", "min_payment_amount"), count + 1)

    def work() -> None:
        for _ in range(25):
            store.update_settings(1, lambda r: True, increment)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    settings, revision = store.get_settings(1) or ({}, 0)
    assert settings["advanced"]["min_payment_amount"] == 200
    assert revision == 1 + 200


def test_notes_are_idempotent_per_key(store: Store) -> None:
    store.seed(PROFILES[:1])
    bid = PROFILES[0].bid
    note = NewNote("ci", "applied", "abcdef1", ("ftp.port",))
    first, created = store.add_note(bid, note, key="k", fingerprint="f")
    again, created_again = store.add_note(bid, note, key="k", fingerprint="f")
    assert created and not created_again and first == again
    assert len(store.list_notes(bid, after=0, limit=10)) == 1
    with pytest.raises(UnknownBiller):
        store.add_note(7, note, key=None, fingerprint="f")
