"""Load a repository's defaults, partners and billers into one ``Config``.

Loading checks each file on its own (YAML, its schema, its file name, literal
secrets); checks across files live in ``validate``. Only files that pass their
own checks become ``Partner`` and ``Biller`` objects.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from . import merge, yamlio
from .model import Document, Location, Path_, Problem
from .parse_cache import ParseCache
from .repo import BILLER_STEM, DEFAULTS, Repo
from .schemas import Schemas, fast_check_for, schemas_for
from .secrets import plaintext_secrets

SETTINGS_AT: dict[str, Path_] = {
    "defaults": ("settings",),
    "partner": ("settings",),
    "biller": ("overrides",),
}


@dataclass(frozen=True)
class Partner:
    """A software partner: its template and the paths its billers may not override."""

    slug: str
    name: str
    integrator_ids: tuple[int, ...]
    settings: Mapping[str, Any]
    locked: tuple[str, ...]
    doc: Document


@dataclass(frozen=True)
class Biller:
    """A biller: its partner and its overrides."""

    bid: int
    name: str
    partner: str
    integrator_id: int | None
    overrides: Mapping[str, Any]
    doc: Document


@dataclass(frozen=True)
class Layer:
    """One layer of a biller's merge: the settings, their file, where they sit in it."""

    doc: Document | None
    at: Path_
    settings: Mapping[str, Any]

    def loc(self, path: Path_) -> Location:
        """Where the settings field ``path`` is written in this layer's file."""
        if self.doc is None:
            return Location(DEFAULTS)
        return self.doc.loc((*self.at, *path))


@dataclass
class Config:
    """Everything loaded from a repository, and the problems found file by file."""

    repo: Repo
    schemas: Schemas
    defaults: Document | None
    partners: dict[str, Partner]
    billers: dict[int, Biller]
    problems: list[Problem] = field(default_factory=list)
    biller_paths: dict[int, list[str]] = field(default_factory=dict)  # bid -> files saying so
    broken_partners: set[str] = field(default_factory=set)
    flawed: set[int] = field(default_factory=set)  # billers whose file has its own problems

    @property
    def default_settings(self) -> Mapping[str, Any]:
        """The settings of ``partners/_defaults.yaml`` (empty when it is missing or broken)."""
        if self.defaults is None:
            return {}
        settings = self.defaults.data.get("settings")
        return settings if isinstance(settings, Mapping) else {}

    def partner_base(self, slug: str) -> dict[str, Any]:
        """``_defaults`` merged with one partner's template (cached per partner)."""
        return self._bases(slug)

    @functools.cached_property
    def _base_cache(self) -> dict[str, dict[str, Any]]:
        return {}

    def _bases(self, slug: str) -> dict[str, Any]:
        cached = self._base_cache.get(slug)
        if cached is None:
            cached = merge.merge([self.default_settings, self.partners[slug].settings])
            self._base_cache[slug] = cached
        return cached

    def desired(self, biller: Biller) -> dict[str, Any]:
        """The merged settings of ``biller``."""
        return merge.merge_patch(self.partner_base(biller.partner), dict(biller.overrides))  # type: ignore[no-any-return]

    def provenance(self, biller: Biller) -> dict[Path_, Location]:
        """Where each leaf of ``desired(biller)`` is written."""
        owners, top, base = self._owners(biller)
        return {
            path: top.loc(path) if index == _BILLER_LAYER else base.locations[path]
            for path, index in owners.items()
        }

    def sources(self, biller: Biller) -> dict[Path_, str]:
        """``provenance`` as the ``file:line:col`` text plans show."""
        owners, top, base = self._owners(biller)
        return {
            path: str(top.loc(path)) if index == _BILLER_LAYER else base.sources[path]
            for path, index in owners.items()
        }

    def _owners(self, biller: Biller) -> tuple[dict[Path_, int], Layer, _BaseProvenance]:
        """The layer index of each leaf of ``desired(biller)``, its top layer, its base."""
        base = self._base_provenance(biller.partner)
        top = Layer(biller.doc, ("overrides",), biller.overrides)
        owners = merge.provenance([top.settings], base.owners, base.inner, first=_BILLER_LAYER)
        return owners, top, base

    def _base_provenance(self, slug: str) -> _BaseProvenance:
        """``_defaults`` merged with one partner: owners and locations (cached per partner)."""
        cached = self._base_provenance_cache.get(slug)
        if cached is None:
            partner = self.partners[slug]
            layers = [
                Layer(self.defaults, ("settings",), self.default_settings),
                Layer(partner.doc, ("settings",), partner.settings),
            ]
            owners = merge.provenance([layer.settings for layer in layers])
            locs = {path: layers[index].loc(path) for path, index in owners.items()}
            cached = self._base_provenance_cache[slug] = _BaseProvenance(
                owners, merge.inner_paths(owners), locs, {p: str(loc) for p, loc in locs.items()}
            )
        return cached

    @functools.cached_property
    def _base_provenance_cache(self) -> dict[str, _BaseProvenance]:
        return {}


_BILLER_LAYER = 2  # the layer index of a biller's overrides: defaults 0, partner 1


class _BaseProvenance(NamedTuple):
    owners: dict[Path_, int]
    inner: set[Path_]
    locations: dict[Path_, Location]
    sources: dict[Path_, str]


def _kind(repo: Repo, path: Path) -> str | None:
    return repo.kind_of(repo.rel(path))


def _load_one(
    repo: Repo,
    schemas: Schemas,
    path: Path,
    kind: str,
    positions: bool = False,
    trusted: bool = False,
    cache: ParseCache | None = None,
) -> tuple[Document | None, list[Problem]]:
    rel = repo.rel(path)
    if path.is_symlink():
        folder = "billers" if kind == "biller" else "partners"
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None, [
                Problem(Location(rel), "filename", "a symlink that leads nowhere (or in a loop)")
            ]
        if target.parent != (repo.root / folder).resolve():
            return None, [
                Problem(
                    Location(rel),
                    "filename",
                    f"this file is a symlink to a file outside {folder}/; "
                    f"keep {kind} files as real files in {folder}/",
                )
            ]
    loaded = _parsed(path, rel, positions, cache)
    if isinstance(loaded, Problem):
        return None, [loaded]
    doc = loaded
    at = SETTINGS_AT[kind]
    problems = _filename_problems(doc, kind, Path(rel).stem)
    if trusted:
        return doc, problems
    if fast_check_for(repo.schema_dir).document(kind, doc.data, str(at[0])) and not doc.suspicious:
        return doc, problems  # schema-valid: no literal can sit where a secret goes
    secret_hits = list(plaintext_secrets(doc.data, schemas.secret_paths, at))
    problems += [Problem(doc.loc(p), "plaintext-secret", m) for p, m in secret_hits]
    problems += _schema_problems(schemas, kind, doc, [p for p, _ in secret_hits])
    return doc, problems


def _parsed(path: Path, rel: str, positions: bool, cache: ParseCache | None) -> Document | Problem:
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


def _schema_problems(
    schemas: Schemas, kind: str, doc: Document, skip: list[Path_]
) -> list[Problem]:
    from .schemacheck import schema_problems  # imported on demand: only bad files need it

    found = schema_problems(doc, schemas.validator(kind), skip)
    doc.invalid = [path for path, _ in found] + skip
    return [problem for _, problem in found]


def _filename_problems(doc: Document, kind: str, stem: str) -> list[Problem]:
    data = doc.data
    if kind == "partner" and isinstance(data.get("slug"), str) and data["slug"] != stem:
        return [
            Problem(
                doc.loc(("slug",)),
                "filename",
                f"slug '{data['slug']}' does not match the file name; rename the file to "
                f"partners/{data['slug']}.yaml or set slug: {stem}",
            )
        ]
    if kind == "biller":
        match = BILLER_STEM.match(stem)
        if match is None:
            return [
                Problem(
                    doc.loc(("bid",)),
                    "filename",
                    f"biller file name '{stem}.yaml' must be <bid>.yaml or <bid>-<words>.yaml "
                    "(lower-case words joined by -)",
                )
            ]
        bid = data.get("bid")
        if isinstance(bid, int) and not isinstance(bid, bool) and str(bid) != match["bid"]:
            return [
                Problem(
                    doc.loc(("bid",)),
                    "filename",
                    f"bid {bid} does not match the file name '{stem}.yaml'; the file must be "
                    f"billers/{bid}.yaml (or billers/{bid}-<words>.yaml)",
                )
            ]
    return []


def _without(settings: Any, at: Path_, paths: list[Path_]) -> Any:
    """``settings`` (found at ``at`` in its file) less the subtrees at the given paths;
    ``settings`` itself when none of them is inside (nothing changes settings in place)."""
    inside = [p for p in paths if p[: len(at)] == at and len(p) > len(at)]
    if not inside:
        return settings
    import copy

    cleaned = copy.deepcopy(settings)
    for path in inside:
        node = cleaned
        for part in path[len(at) : -1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return cleaned


def _biller(doc: Document) -> Biller | None:
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


def _partner(doc: Document) -> Partner:
    data = doc.data
    return Partner(
        slug=data["slug"],
        name=data["name"],
        integrator_ids=tuple(data["integrator_ids"]),
        settings=data.get("settings") or {},
        locked=tuple(data.get("locked") or ()),
        doc=doc,
    )


def biller_text_problems(config: Config, rel: str, text: str) -> list[Problem]:
    """Every problem the biller file ``rel`` would have with ``text`` as its contents:
    its own (YAML, schema, file name, literal secrets) and those of its merge. For a
    writer (import, drift --adopt) that must never leave the repository invalid."""
    from .validate import biller_problems  # validate imports this module

    loaded = yamlio.load_text(text, rel)
    if isinstance(loaded, Problem):
        return [loaded]
    problems = _filename_problems(loaded, "biller", Path(rel).stem)
    hits = list(plaintext_secrets(loaded.data, config.schemas.secret_paths, ("overrides",)))
    problems += [Problem(loaded.loc(p), "plaintext-secret", m) for p, m in hits]
    problems += _schema_problems(config.schemas, "biller", loaded, [p for p, _ in hits])
    biller = _biller(loaded)
    if biller is not None and not problems:
        problems += biller_problems(config, biller)
    return sorted(set(problems))


def stray_problems(repo: Repo) -> list[Problem]:
    """A ``filename`` problem for each file ``Repo.stray_files`` finds (never loaded)."""
    return [Problem(Location(rel), "filename", why) for rel, why in repo.stray_files()]


def load_config(
    repo: Repo,
    biller_paths: Iterable[Path] | None = None,
    *,
    positions: bool = False,
    trusted: bool = False,
    parse_cache: ParseCache | None = None,
) -> Config:
    """Load the defaults, every partner and the given billers (all when None).

    ``positions``: record the billers' positions while parsing (see
    ``yamlio.load_document``), for plans where most billers may change.
    ``trusted``: the files were just found valid as they are (the validate
    cache says so), so the per-file schema and secret checks are skipped.
    ``parse_cache``: take unchanged biller files' documents from it, and add the
    others (the caller saves it).
    """
    schemas = schemas_for(repo.schema_dir)
    problems: list[Problem] = []
    defaults_path = repo.root / DEFAULTS
    defaults: Document | None = None
    if defaults_path.exists():
        defaults, found = _load_one(repo, schemas, defaults_path, "defaults", trusted=trusted)
        problems += found
        if found:
            defaults = None if any(p.rule in ("yaml", "schema") for p in found) else defaults
    else:
        problems.append(Problem(Location(DEFAULTS), "yaml", "partners/_defaults.yaml is missing"))
    partners: dict[str, Partner] = {}
    broken: set[str] = set()
    for path in repo.partner_files():
        doc, found = _load_one(repo, schemas, path, "partner", trusted=trusted)
        problems += found
        if doc is not None and not found:
            partner = _partner(doc)
            partners.setdefault(partner.slug, partner)
        else:
            broken.add(path.stem)
    billers: dict[int, Biller] = {}
    paths: dict[int, list[str]] = {}
    flawed: set[int] = set()
    if biller_paths is None:
        problems += stray_problems(repo)
    files = repo.biller_files() if biller_paths is None else list(biller_paths)
    for path in files:
        doc, found = _load_one(repo, schemas, path, "biller", positions, trusted, parse_cache)
        problems += found
        biller = _biller(doc) if doc is not None else None
        if biller is not None:
            billers.setdefault(biller.bid, biller)
            paths.setdefault(biller.bid, []).append(doc.path)  # type: ignore[union-attr]
            if found:
                flawed.add(biller.bid)
    config = Config(repo, schemas, defaults, partners, billers, problems, broken_partners=broken)
    config.biller_paths = paths
    config.flawed = flawed
    return config
