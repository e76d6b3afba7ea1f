"""Parsed biller files kept between runs, for loads the validate cache vouches for.

``plan``, ``apply`` and ``drift`` load every biller file; when the validate
cache says the tree is valid as it is, parsing is most of that work. This
cache (``.int360/parse-cache.json``) keeps each biller file's data and the
positions of its keys and values, keyed by the file's stat (size, mtime,
ctime, inode: the key of the validate cache) and by the code that parsed it.
One changed file costs one parse, not ten thousand.

A file modified in the last 2 s is not cached (git's "racily clean" rule), and
neither is a file that was not parsed with its positions. Anything unexpected
in the cache file means a miss, never an error.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from ..model import Document, Positions
from ..repo import Repo
from .fingerprint import PACKAGE, code_key, mtime_of, settled, stat_key

CACHE_FILE = ".int360/parse-cache.json"
# The modules whose code decides what a parse yields.
_PARSERS = (PACKAGE / "yamlio.py", PACKAGE / "model.py", Path(__file__).resolve())


class ParseCache:
    """Cached documents of one repository: ``get`` before parsing, ``put`` after.

    ``save`` writes the file back, keeping the files asked for in this run, when
    something was added or dropped.
    """

    def __init__(self, repo: Repo, stats: dict[str, str] | None = None) -> None:
        """``stats``: ``stat_key`` of files (by repo-relative path) taken just now, before
        any was read; others are stat-ed when asked for."""
        self._repo = repo
        self._stats = stats or {}
        self._started = time.time_ns()
        self._code = code_key(_PARSERS)
        self._entries: dict[str, dict[str, Any]] = {}
        self._asked: set[str] = set()
        self._dirty = False
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads((repo.root / CACHE_FILE).read_bytes())
            if data.get("code") == self._code and isinstance(data.get("files"), dict):
                self._entries = data["files"]

    def forget_stats(self) -> None:
        """Stat files afresh from now on (they may have changed since ``stats`` was taken)."""
        self._stats = {}

    def stat(self, rel: str, path: Path) -> str | None:
        """The file's ``stat_key`` from before it was read."""
        known = self._stats.get(rel)
        return known if known is not None else stat_key(path)

    def get(self, rel: str, stat: str | None) -> Document | None:
        """The cached document of ``rel`` if its file still has ``stat`` (``stat_key``)."""
        self._asked.add(rel)
        entry = self._entries.get(rel)
        if stat is None or not isinstance(entry, dict) or entry.get("stat") != stat:
            return None
        data, positions = entry.get("data"), entry.get("positions")
        if not isinstance(data, dict) or not isinstance(positions, str):
            return None
        path = self._repo.root / rel
        return Document(
            path=rel,
            data=data,
            suspicious=entry.get("suspicious") is True,
            _locate=lambda: _positions(positions, path),
        )

    def put(self, doc: Document, stat: str | None) -> None:
        """Keep ``doc`` (parsed when its file had ``stat``) if it can be trusted later.

        ``stat`` must be taken before the file was read, so that a write during
        the read leaves an entry that never matches again.
        """
        fresh = not stat or not settled(mtime_of(stat), self._started)
        if fresh or doc._positions is None:
            return
        self._entries[doc.path] = {
            "stat": stat,
            "data": doc.data,
            "suspicious": doc.suspicious,
            "positions": json.dumps(
                [[list(p), *where] for p, where in doc._positions.items()],
                separators=(",", ":"),
            ),
        }
        self._dirty = True

    def save(self) -> None:
        """Write the cache back with the entries of the files asked for in this run."""
        if not self._dirty and set(self._entries) <= self._asked:
            return
        files = {rel: e for rel, e in self._entries.items() if rel in self._asked}
        from ..yamlwrite import write_atomic

        # A read-only checkout still plans, only without the cache.
        with contextlib.suppress(OSError, ValueError):
            payload = json.dumps({"code": self._code, "files": files}, separators=(",", ":"))
            from ..statedir import state_dir

            state_dir(self._repo.root)
            write_atomic(self._repo.root / CACHE_FILE, payload)


def _positions(encoded: str, path: Path) -> Positions:
    """The positions as cached; parsed from the file again if the entry is malformed."""
    try:
        entries = json.loads(encoded)
        if not isinstance(entries, list):
            raise ValueError(entries)
        found: Positions = {}
        for entry in entries:
            where = tuple(entry[1:5])
            if len(where) != 4 or not all(type(n) is int for n in where):
                raise ValueError(entry)
            found[tuple(entry[0])] = where  # type: ignore[assignment]
        return found
    except (ValueError, TypeError, IndexError, KeyError):
        from ..yamlio import locate

        return locate(path.read_bytes())
