"""The last whole-repository verdict (like ruff's cache), for the warm case: a run on
an unchanged tree answers from ``.int360/validate-cache.json`` without judging again,
and plan, apply and drift then load files without their own checks."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..load import LoadOptions, load_config
from ..model import Problem
from ..repo import Repo
from ..validate import validate
from .fingerprint import settled, tree_key
from .parsed import ParseCache

CACHE_FILE = ".int360/validate-cache.json"


def remembered(repo: Repo, files: list[Path], judge: Callable[[], list[Problem]]) -> list[Problem]:
    """The verdict on the whole repository (its biller ``files``): the cached one when
    nothing changed since, else ``judge()``'s, kept for next time once the tree settled."""
    started = time.time_ns()
    key, newest = tree_key(repo, files)
    cached = read_verdict(repo, key)
    if cached is not None:
        return cached
    problems = judge()
    if settled(newest, started):
        write_verdict(repo, key, problems)
    return problems


def validated_config(repo: Repo, *, positions: bool = False) -> tuple[Config, list[Problem]]:
    """The whole repository's config and its problems, the verdict from the cache when
    nothing changed since ``validate`` (or a plan) last ran (for plan, apply, drift).

    Biller files unchanged since an earlier run are not parsed again (``ParseCache``).
    """
    started = time.time_ns()
    stats: dict[str, str] = {}
    key, newest = tree_key(repo, repo.biller_files(), stats)
    cached = read_verdict(repo, key)
    parsed = ParseCache(repo, stats)
    options = LoadOptions(positions=positions, trusted=cached == [], parse_cache=parsed)
    config = load_config(repo, options=options)
    # The verdict holds only for the files as fingerprinted: one that changed while
    # loading is loaded and validated afresh.
    if cached is not None and tree_key(repo, repo.biller_files())[0] == key:
        parsed.save()
        return config, cached
    if cached == []:
        parsed.forget_stats()
        config = load_config(repo, options=options._replace(trusted=False))
    parsed.save()
    problems = validate(config)
    if settled(newest, started):
        write_verdict(repo, key, problems)
    return config, problems


def read_verdict(repo: Repo, key: str) -> list[Problem] | None:
    """The cached problems when the cache was written for ``key``; None otherwise."""
    try:
        data = json.loads((repo.root / CACHE_FILE).read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return [Problem.from_dict(p) for p in data["problems"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_verdict(repo: Repo, key: str, problems: list[Problem]) -> None:
    """Keep ``problems`` as the verdict for ``key`` (silently not, on a read-only tree)."""
    from ..yamlwrite import write_atomic

    payload = {"key": key, "problems": [p.as_dict() for p in problems]}
    # A read-only checkout still validates, only without the cache.
    with contextlib.suppress(OSError):
        from ..statedir import state_dir

        state_dir(repo.root)
        write_atomic(repo.root / CACHE_FILE, json.dumps(payload))
