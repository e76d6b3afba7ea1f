"""The values and errors of the sandbox CRM's storage, without SQLite or Flask.

The HTTP app, the settings patcher and ``int360 sandbox set`` share them with
``store``; keeping them here lets each import only what it uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

MAX_ID = 2**53 - 1  # the largest BID or integrator ID: every JSON parser reads it exactly


class UnknownBiller(LookupError):
    """No profile with this BID."""


class StaleRevision(Exception):
    """The If-Match revision is not the current one."""

    def __init__(self, current: int) -> None:
        super().__init__(f"current revision is {current}")
        self.current = current


class IdempotencyConflict(Exception):
    """An idempotency key was reused for a different note."""


class SettingsUpdate(NamedTuple):
    """What a settings write computed from the current settings.

    ``settings`` is the new document (secrets in read form), ``written`` the
    secret values written now (dotted path → (name, value)) and ``present``
    every secret path the new document still has; stored values of other
    paths are dropped.
    """

    settings: dict[str, Any]
    written: Mapping[str, tuple[str, str]]
    present: frozenset[str]


class NewNote(NamedTuple):
    """A note to add, as the request gave it (author already resolved)."""

    author: str
    text: str
    commit: str | None = None
    paths: tuple[str, ...] | None = None


class StoredSettings(NamedTuple):
    """A settings write as committed: the new settings, their revision, and the id
    of the audit note written in the same transaction (None without one)."""

    settings: dict[str, Any]
    revision: int
    note_id: int | None = None
