"""One fingerprint scheme for both caches: a file's identity by its stat, the racily
clean rule for files too fresh to trust, and a key for the code that made an entry."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from ..digest import code_digest
from ..repo import Repo

# Files changed less than this before a run are too fresh to trust a stat-keyed cache
# with: a second write in the same timestamp tick would leave no visible stat change
# (git's "racily clean" entries).
RACY_NS = 2_000_000_000
PACKAGE = Path(__file__).resolve().parent.parent


def identity(stat: os.stat_result) -> str:
    """A file's identity for the caches: size, mtime, ctime (a rewrite that puts the
    mtime back still moves it) and inode."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def stat_key(path: Path) -> str | None:
    """``identity`` of the file at ``path``; None if it cannot be read."""
    try:
        return identity(os.stat(path))
    except OSError:
        return None


def mtime_of(key: str) -> int:
    """The modification time (ns) an ``identity`` records."""
    return int(key.split(":")[1])


def settled(mtime_ns: int, started_ns: int) -> bool:
    """Whether a file last modified at ``mtime_ns`` may be cached by a run that started
    at ``started_ns`` (the racily clean rule)."""
    return mtime_ns < started_ns - RACY_NS


def code_key(files: Iterable[Path]) -> str:
    """A key that changes with the bytes of any of the given code files."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def tree_key(
    repo: Repo, biller_files: list[Path], stats: dict[str, str] | None = None
) -> tuple[str, int]:
    """A key that changes with any code, schema or partner file's bytes and any biller
    file's identity; and the newest biller file's modification time (ns). ``stats``
    gets each biller file's ``identity``, by repo-relative path."""
    digest = hashlib.sha256()
    digest.update(code_digest().encode())  # the applier's own code, as saved plans bind it
    for folder in ("schemas", "partners"):
        for path in sorted((repo.root / folder).glob("*")):
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    newest = 0
    lines = []
    for path in biller_files:
        try:
            stat = os.stat(path)
        except OSError:
            stat = os.lstat(path)  # a dangling symlink is still a (bad) biller file
        newest = max(newest, stat.st_mtime_ns)
        key = identity(stat)
        lines.append(f"{path.name}:{key}\n")
        if stats is not None:
            stats[repo.rel(path)] = key
    digest.update("".join(lines).encode())
    # A stray file (a .yml, a sub-folder) is a problem the cached verdict must not miss.
    digest.update(repr(repo.stray_files()).encode())
    return digest.hexdigest(), newest
