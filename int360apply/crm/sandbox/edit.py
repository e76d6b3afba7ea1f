"""Edit a sandbox database as a person edits the CRM: ``int360 sandbox set`` and
``int360 sandbox profile``.

A settings edit goes through the sandbox's own write path (the same checks as a
PATCH, one transaction that moves the ETag and adds an audit note), so a later
``plan`` or ``drift`` sees exactly what a hand edit in a real CRM leaves behind.
A secret is set by name only (``{secret: NAME}``); the sandbox stores its read
form and a placeholder, never a value from the command line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from int360apply import yamlio
from int360apply.crm import PROFILE_STATUSES, Profile
from int360apply.crm.sandbox.etags import etag_of
from int360apply.crm.sandbox.patching import InvalidPatch, SettingsPatcher
from int360apply.crm.sandbox.records import MAX_ID, NewNote
from int360apply.crm.sandbox.seeding import PLACEHOLDER
from int360apply.crm.sandbox.store import Store
from int360apply.schemas import Schemas

AUTHOR = "sandbox edit"
_PATH = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


class EditError(Exception):
    """An edit refused; ``code`` is the exit code (64 for a usage error, 1 otherwise)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Assignment(NamedTuple):
    """One ``PATH=VALUE`` of ``sandbox set``: a settings path and its new value."""

    path: tuple[str, ...]
    value: Any


def parse_assignment(text: str, schemas: Schemas) -> Assignment:
    """``PATH=VALUE`` → ``Assignment``; VALUE is a YAML 1.2 scalar or flow value read
    by the project's reader (``null`` removes the field). Raises ``EditError`` (64)."""
    raw_path, sep, raw_value = text.partition("=")
    if not sep or not raw_path:
        raise EditError(f"{text[:80]!r}: expected PATH=VALUE, e.g. ftp.port=2222", 64)
    if not _PATH.fullmatch(raw_path):
        raise EditError(f"{raw_path[:80]!r}: not a settings path (e.g. ftp.port)", 64)
    path = tuple(raw_path.split("."))
    if schemas.field_schema(path) is None:
        raise EditError(f"{raw_path}: no such settings field", 64)
    if "\n" in raw_value or "\r" in raw_value:
        raise EditError(f"{raw_path}: the value must be on one line", 64)
    try:
        value = yamlio.parse(f"v: {raw_value}".encode())["v"]
    except yamlio.YamlError as exc:
        raise EditError(f"{raw_path}: the value is not YAML: {exc.message}", 64) from None
    if path in schemas.secret_paths and value is not None:
        if not (isinstance(value, dict) and set(value) == {"secret"}):
            raise EditError(f"{raw_path}: a secret is set by name: {raw_path}={{secret: NAME}}", 64)
        # A placeholder: the sandbox never stores a value given on a command line.
        value = {"secret": value["secret"], "value": PLACEHOLDER}
    elif _holds_secret(value):
        raise EditError(f"{raw_path}: set a secret at its own path: PATH={{secret: NAME}}", 64)
    return Assignment(path, value)


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return "secret" in value or any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


def _patch(assignments: Sequence[Assignment]) -> dict[str, Any]:
    """One JSON merge patch of every assignment (a later one wins at the same path)."""
    patch: dict[str, Any] = {}
    for path, value in assignments:
        node = patch
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return patch


def set_values(store: Store, schemas: Schemas, bid: int, assignments: Sequence[str]) -> str:
    """Change the settings of ``bid`` as a CRM user would; returns the new ETag.

    Every assignment is checked before anything is written; the write is one
    transaction with an audit note naming the paths (never a value).
    """
    if not assignments:
        raise EditError("name at least one PATH=VALUE", 64)
    parsed = [parse_assignment(a, schemas) for a in assignments]
    current = store.get_settings(bid)
    if current is None:
        raise EditError(
            f"the sandbox has no biller {bid}; create it with: "
            f"int360 sandbox profile {bid} --integrator-id N"
        )
    patch = _patch(parsed)
    patcher = SettingsPatcher(schemas)
    paths = tuple(".".join(a.path) for a in parsed)
    note = NewNote(AUTHOR, f"changed in the CRM by hand: {', '.join(paths)}", None, paths)
    try:
        stored = store.update_settings(
            bid, lambda _revision: True, lambda doc, _revision: patcher.apply(doc, patch), note
        )
    except InvalidPatch as exc:
        first = exc.errors[0]
        raise EditError(f"{first.path or '.'.join(parsed[0].path)}: {first.message}") from None
    return etag_of(stored.revision)


def put_profile(
    store: Store,
    bid: int,
    *,
    name: str | None = None,
    integrator_id: int | None = None,
    status: str | None = None,
    default_name: str | None = None,
) -> tuple[Profile, bool]:
    """Create or change the profile of ``bid``; returns it and whether it was created.

    A new profile needs ``integrator_id``; its name is ``name``, else
    ``default_name`` (the biller file's), else ``Biller BID``.
    """
    if not 1 <= bid <= MAX_ID:
        raise EditError(f"BID {bid}: a positive whole number", 64)
    if integrator_id is not None and not 1 <= integrator_id <= MAX_ID:
        raise EditError(f"--integrator-id {integrator_id}: a positive whole number", 64)
    if status is not None and status not in PROFILE_STATUSES:
        raise EditError(f"--status {status}: one of {', '.join(PROFILE_STATUSES)}", 64)
    if name is not None and not 1 <= len(name) <= 200:
        raise EditError("--name: 1 to 200 characters", 64)
    current = store.get_profile(bid)
    if current is None:
        if integrator_id is None:
            raise EditError(
                f"the sandbox has no biller {bid}; give --integrator-id N to create it", 64
            )
        profile = Profile(
            bid, name or default_name or f"Biller {bid}", integrator_id, status or "active"
        )
    else:
        profile = Profile(
            bid,
            name if name is not None else current.name,
            integrator_id if integrator_id is not None else current.integrator_id,
            status if status is not None else current.status,
        )
    return profile, store.put_profile(profile)


def open_store(db: Path) -> Store:
    """The sandbox database at ``db``, which must exist (an edit never creates one)."""
    if not db.is_file():
        raise EditError(
            f"{db}: no sandbox database; it is created by the first plan or apply "
            "(or int360 sandbox serve)"
        )
    return Store(db)
