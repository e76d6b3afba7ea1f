"""What a repository's files say: ``Partner``, ``Biller`` and the ``Config`` holding them.

``load.load_config`` builds a ``Config``; ``validate`` judges it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import merge
from .model import Document, Location, Path_, Problem
from .repo import DEFAULTS, Repo
from .schemas import Schemas


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
    biller_docs: dict[int, list[Document]] = field(default_factory=dict)  # bid -> its files
    broken_partners: set[str] = field(default_factory=set)
    flawed: set[int] = field(default_factory=set)  # billers whose file has its own problems

    @property
    def biller_paths(self) -> dict[int, list[str]]:
        """The repo-relative paths of the files of each bid (several: a duplicate)."""
        return {bid: [doc.path for doc in docs] for bid, docs in self.biller_docs.items()}

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


_MOVED = {
    "load_config": "load",
    "stray_problems": "validate.files",
    "biller_text_problems": "validate",
}


def __getattr__(name: str) -> Any:
    """The loader and checks that lived here, for code not yet importing them from
    ``load`` and ``validate`` (imported on demand: both import this module)."""
    import importlib

    if name in _MOVED:
        return getattr(importlib.import_module(f".{_MOVED[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
