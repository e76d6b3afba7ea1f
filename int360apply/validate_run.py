"""``validate`` as a command runs it: which files to load, in how many processes, and
a cache of the last whole-repository verdict (like ruff's) for the warm case.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .cache import verdict
from .cache.verdict import CACHE_FILE, validated_config
from .load import LoadOptions, load_config, read_document
from .model import Document, Location, Problem
from .repo import BILLER_STEM, Repo, biller_paths
from .validate import billers_problems, cross_file_problems, stray_problems, validate

# Below this many billers a second process costs more than it saves.
PARALLEL_THRESHOLD = 2000
__all__ = ["CACHE_FILE", "PARALLEL_THRESHOLD", "run_validate", "validated_config"]


def run_validate(
    repo: Repo, paths: Sequence[Path] | None, *, careful: bool = False
) -> list[Problem]:
    """Validate the whole repo, or the given files with what they need.

    ``careful``: no cache, one process, the full schema validator on every
    document — the reference the fast paths must agree with.
    """
    return _run(repo, paths, careful=careful)


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
    options = LoadOptions(fast=not careful)
    config = load_config(repo, billers + _namesakes(repo, billers), options=options)
    named = {repo.rel(p) for p in billers}
    problems = [
        p
        for p in validate(config, fast=not careful)
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


def _whole_repo(repo: Repo, careful: bool) -> list[Problem]:
    if careful:
        return validate(load_config(repo, options=LoadOptions(fast=False)), fast=False)
    files = repo.biller_files()
    return verdict.remembered(repo, files, lambda: _judge_all(repo, files))


def _judge_all(repo: Repo, files: list[Path]) -> list[Problem]:
    workers = min(os.cpu_count() or 1, 8)
    if len(files) >= PARALLEL_THRESHOLD and workers > 1:
        return _parallel(repo, files, workers)
    return validate(load_config(repo))


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
