"""The repository's local state, ``.int360/``: caches and the embedded sandbox.

Nothing there is shared: the directory is ``0700`` and its files ``0600``, so
another account on the machine cannot read a cache or the sandbox database.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR = ".int360"


def state_dir(root: Path) -> Path:
    """``root/.int360``, created (or narrowed) to mode ``0700``."""
    path = root / STATE_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path, *, create: bool) -> None:
    """Make ``path`` mode ``0600``: created empty when ``create`` and missing (SQLite
    gives its WAL and SHM files the database file's mode), narrowed when it exists."""
    if create:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            os.close(fd)
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except FileNotFoundError:
        pass
