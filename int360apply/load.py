"""Files -> documents -> ``Config``: reading the repository, running no rules itself.

Each file passes through the file stage of ``validate`` (its own problems); only
files without any become ``Partner`` and ``Biller`` objects, and the problems
travel with the ``Config`` to the later stages.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from . import yamlio
from .cache.parsed import ParseCache
from .config import Biller, Config, Partner
from .model import Document, Path_, Problem
from .repo import DEFAULTS, Repo
from .schemas import fast_check_for, schemas_for
from .validate.files import check_file, defaults_missing, stray_problems


class LoadOptions(NamedTuple):
    """How to load; none of it changes what is loaded, only how fast.

    ``positions``: record the billers' positions while parsing (see
    ``yamlio.load_document``), for plans where most billers may change.
    ``trusted``: the files were just found valid as they are (the validate
    cache says so), so the per-file schema and secret checks are skipped.
    ``parse_cache``: take unchanged biller files' documents from it, and add the
    others (the caller saves it).
    ``fast``: let the quick yes/no schema check spare valid files the full
    validator (off for ``validate --careful``, the reference).
    """

    positions: bool = False
    trusted: bool = False
    parse_cache: ParseCache | None = None
    fast: bool = True


DEFAULT_OPTIONS = LoadOptions()


def read_document(
    path: Path, rel: str, positions: bool = False, cache: ParseCache | None = None
) -> Document | Problem:
    """The document of one file (from ``cache`` when unchanged), or its ``yaml`` problem."""
    if cache is None:
        return yamlio.load_document(path, rel, positions=positions)
    stat = cache.stat(rel, path)  # before the read: a write during it must not match later
    doc = cache.get(rel, stat)
    if doc is None:
        # Positions always: the cached document may serve a plan with many changes.
        loaded = yamlio.load_document(path, rel, positions=True)
        if isinstance(loaded, Problem):
            return loaded
        cache.put(loaded, stat)
        doc = loaded
    return doc


def _without(settings: Any, at: Path_, paths: list[Path_]) -> Any:
    """``settings`` (found at ``at`` in its file) less the subtrees at the given paths;
    ``settings`` itself when none of them is inside (nothing changes settings in place)."""
    inside = [p for p in paths if p[: len(at)] == at and len(p) > len(at)]
    if not inside:
        return settings
    cleaned = copy.deepcopy(settings)
    for path in inside:
        node = cleaned
        for part in path[len(at) : -1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return cleaned


def biller_of(doc: Document) -> Biller | None:
    """The biller of a file, when its identifying fields at least have the right types."""
    data = doc.data
    bid, iid, overrides = data.get("bid"), data.get("integrator_id"), data.get("overrides")
    if (
        not isinstance(bid, int)
        or isinstance(bid, bool)
        or not isinstance(data.get("name"), str)
        or not isinstance(data.get("partner"), str)
        or not (iid is None or (isinstance(iid, int) and not isinstance(iid, bool)))
        or not (overrides is None or isinstance(overrides, dict))
    ):
        return None
    return Biller(
        bid=data["bid"],
        name=data["name"],
        partner=data["partner"],
        integrator_id=data.get("integrator_id"),
        # Values the schema refused are left out: the rules then judge what is left
        # instead of echoing the schema errors.
        overrides=_without(data.get("overrides") or {}, ("overrides",), doc.invalid),
        doc=doc,
    )


def partner_of(doc: Document) -> Partner:
    """The partner of a file the file stage found valid."""
    data = doc.data
    return Partner(
        slug=data["slug"],
        name=data["name"],
        integrator_ids=tuple(data["integrator_ids"]),
        settings=data.get("settings") or {},
        locked=tuple(data.get("locked") or ()),
        doc=doc,
    )


def load_config(
    repo: Repo,
    biller_paths: Iterable[Path] | None = None,
    *,
    options: LoadOptions = DEFAULT_OPTIONS,
) -> Config:
    """Load the defaults, every partner and the given billers (all when None), each
    file through the file stage of ``validate``; see ``LoadOptions`` for ``options``."""
    schemas = schemas_for(repo.schema_dir)
    # Trusted files get no schema check: a run on a validated tree never builds one.
    fast = fast_check_for(repo.schema_dir) if options.fast and not options.trusted else None
    trusted = options.trusted

    def checked(path: Path, kind: str, read: Any) -> tuple[Document | None, list[Problem]]:
        return check_file(repo, schemas, path, kind, read, trusted=trusted, fast=fast)

    problems: list[Problem] = defaults_missing(repo)
    defaults: Document | None = None
    if not problems:
        defaults, found = checked(repo.root / DEFAULTS, "defaults", read_document)
        problems += found
        if found:
            defaults = None if any(p.rule in ("yaml", "schema") for p in found) else defaults
    partners: dict[str, Partner] = {}
    broken: set[str] = set()
    for path in repo.partner_files():
        doc, found = checked(path, "partner", read_document)
        problems += found
        if doc is not None and not found:
            partner = partner_of(doc)
            partners.setdefault(partner.slug, partner)
        else:
            broken.add(path.stem)
    billers: dict[int, Biller] = {}
    docs: dict[int, list[Document]] = {}
    flawed: set[int] = set()
    if biller_paths is None:
        problems += stray_problems(repo)
    files = repo.biller_files() if biller_paths is None else list(biller_paths)

    def read_biller(path: Path, rel: str) -> Document | Problem:
        return read_document(path, rel, options.positions, options.parse_cache)

    for path in files:
        doc, found = checked(path, "biller", read_biller)
        problems += found
        biller = biller_of(doc) if doc is not None else None
        if biller is not None:
            billers.setdefault(biller.bid, biller)
            docs.setdefault(biller.bid, []).append(biller.doc)
            if found:
                flawed.add(biller.bid)
    config = Config(repo, schemas, defaults, partners, billers, problems, broken_partners=broken)
    config.biller_docs = docs
    config.flawed = flawed
    return config
