"""``validate`` as a command runs it: which files to load, in how many processes, and
a cache of the last whole-repository verdict (like ruff's) for the warm case.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from .config import Config
from .load import load_config, read_document
from .model import Document, Location, Problem
from .parse_cache import RACY_NS, ParseCache, identity
from .repo import BILLER_STEM, Repo, biller_paths
from .schemas import careful as schemas_careful
from .validate import billers_problems, cross_file_problems, stray_problems, validate

# Below this many billers a second process costs more than it saves.
PARALLEL_THRESHOLD = 2000
CACHE_FILE = ".int360/validate-cache.json"


def run_validate(
    repo: Repo, paths: Sequence[Path] | None, *, careful: bool = False
) -> list[Problem]:
    """Validate the whole repo, or the given files with what they need.

    ``careful``: no cache, one process, the full schema validator on every
    document — the reference the fast paths must agree with.
    """
    if careful:
        with schemas_careful():
            return _run(repo, paths, careful=True)
    return _run(repo, paths, careful=False)


def _run(repo: Repo, paths: Sequence[Path] | None, *, careful: bool) -> list[Problem]:
    if paths is None:
        return _whole_repo(repo, careful)
    billers: list[Path] = []
    outside: list[Problem] = []
    whole = False
    for path in paths:
        rel = repo.rel(path)
        kind = repo.kind_of(rel)
        if not path.exists():
            outside.append(Problem(Location(rel), "yaml", "no such file"))
        elif kind == "biller":
            billers.append(path)
        elif kind in ("partner", "defaults") or rel.startswith("schemas/"):
            whole = True  # a template or schema change concerns every biller
        else:
            outside.append(
                Problem(
                    Location(rel),
                    "filename",
                    "not a partner or biller file (expected partners/*.yaml or billers/*.yaml)",
                )
            )
    if whole:
        return sorted(set(_whole_repo(repo, careful)) | set(outside))
    config = load_config(repo, billers + _namesakes(repo, billers))
    named = {repo.rel(p) for p in billers}
    problems = [
        p
        for p in validate(config)
        if p.location.path in named or not p.location.path.startswith("billers/")
    ]
    return sorted(set(problems) | set(outside))


def _namesakes(repo: Repo, billers: list[Path]) -> list[Path]:
    """Other biller files whose name carries the same BID (a duplicate to report)."""
    found: set[Path] = set()
    given = {p.resolve() for p in billers}
    for path in billers:
        match = BILLER_STEM.match(path.stem)
        if match:
            for other in biller_paths(repo, match["bid"]):
                if other.resolve() not in given:
                    found.add(other)
    return sorted(found)


def validated_config(repo: Repo, *, positions: bool = False) -> tuple[Config, list[Problem]]:
    """The whole repository's config and its problems, the verdict from the cache when
    nothing changed since ``validate`` (or a plan) last ran (for plan, apply, drift).

    Biller files unchanged since an earlier run are not parsed again (``parse_cache``).
    """
    started = time.time_ns()
    stats: dict[str, str] = {}
    key, newest = _fingerprint(repo, repo.biller_files(), stats)
    cached = _read_cache(repo, key)
    parsed = ParseCache(repo, stats)
    config = load_config(repo, positions=positions, trusted=cached == [], parse_cache=parsed)
    # The verdict holds only for the files as fingerprinted: one that changed while
    # loading is loaded and validated afresh.
    if cached is not None and _fingerprint(repo, repo.biller_files())[0] == key:
        parsed.save()
        return config, cached
    if cached == []:
        parsed.forget_stats()
        config = load_config(repo, positions=positions, parse_cache=parsed)
    parsed.save()
    problems = validate(config)
    if newest < started - RACY_NS:
        _write_cache(repo, key, problems)
    return config, problems


def _whole_repo(repo: Repo, careful: bool) -> list[Problem]:
    if careful:
        return validate(load_config(repo))
    started = time.time_ns()
    files = repo.biller_files()
    key, newest = _fingerprint(repo, files)
    cached = _read_cache(repo, key)
    if cached is not None:
        return cached
    workers = min(os.cpu_count() or 1, 8)
    if len(files) >= PARALLEL_THRESHOLD and workers > 1:
        problems = _parallel(repo, files, workers)
    else:
        problems = validate(load_config(repo))
    # A file changed in the same timestamp tick as our read could change again with
    # no visible stat change (git's "racily clean" entries): cache only a settled tree.
    if newest < started - RACY_NS:
        _write_cache(repo, key, problems)
    return problems


def _chunk(args: tuple[str, list[str]]) -> tuple[list[Problem], dict[int, list[str]]]:
    root, names = args
    repo = Repo(Path(root))
    config = load_config(repo, [repo.root / "billers" / n for n in names])
    problems = [p for p in config.problems if p.location.path.startswith("billers/")]
    problems += billers_problems(config)
    return problems, config.biller_paths


def _parallel(repo: Repo, files: list[Path], workers: int) -> list[Problem]:
    """Billers in worker processes; partners and checks across files here."""
    import multiprocessing

    names = [f.name for f in files]
    size = -(-len(names) // workers)
    jobs = [(str(repo.root), names[i : i + size]) for i in range(0, len(names), size)]
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(len(jobs)) as pool:
        results = pool.map(_chunk, jobs)
    config = load_config(repo, [])
    problems = list(config.problems) + stray_problems(repo)
    paths: dict[int, list[str]] = {}
    for found, bids in results:
        problems += found
        for bid, names in bids.items():
            paths.setdefault(bid, []).extend(names)
    problems += cross_file_problems(config, _duplicates_read(repo, paths))
    return sorted(set(problems))


def _duplicates_read(repo: Repo, paths: dict[int, list[str]]) -> dict[int, list[Document | str]]:
    """The documents of the files sharing a bid, read here: the workers' stayed with them
    (rare, and cheaper than sending every document back). A file that cannot be read
    is named by its path alone."""
    out: dict[int, list[Document | str]] = {}
    for bid, names in paths.items():
        if len(names) < 2:
            continue
        docs: list[Document | str] = []
        for name in names:
            doc = read_document(repo.root / name, name)
            docs.append(doc if isinstance(doc, Document) else name)
        out[bid] = docs
    return out


def _fingerprint(
    repo: Repo, biller_files: list[Path], stats: dict[str, str] | None = None
) -> tuple[str, int]:
    """A key that changes with any schema, partner or code file's bytes and any biller
    file's stat; and the newest biller file's modification time (ns). ``stats`` gets
    each biller file's ``parse_cache.identity``, by repo-relative path."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
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


def _read_cache(repo: Repo, key: str) -> list[Problem] | None:
    try:
        data = json.loads((repo.root / CACHE_FILE).read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return [Problem.from_dict(p) for p in data["problems"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(repo: Repo, key: str, problems: list[Problem]) -> None:
    from .yamlwrite import write_atomic

    payload = {"key": key, "problems": [p.as_dict() for p in problems]}
    # A read-only checkout still validates, only without the cache.
    with contextlib.suppress(OSError):
        write_atomic(repo.root / CACHE_FILE, json.dumps(payload))
