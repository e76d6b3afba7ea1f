"""The desired state: each biller's merged settings and where each value is written.

``Config`` holds what the files say; this answers what they mean together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import merge
from .model import Biller, Document, Location, Partner, Path_
from .repo import DEFAULTS


def default_settings(defaults: Document | None) -> Mapping[str, Any]:
    """The settings of ``partners/_defaults.yaml`` (empty when it is missing or broken)."""
    if defaults is None:
        return {}
    settings = defaults.data.get("settings")
    return settings if isinstance(settings, Mapping) else {}


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


class DesiredState:
    """The merged settings of each biller (``_defaults`` <- partner <- overrides) and
    where each of their values is written; the partner bases are merged once each."""

    def __init__(self, defaults: Document | None, partners: Mapping[str, Partner]) -> None:
        """``defaults``: ``partners/_defaults.yaml`` (None when missing or broken)."""
        self.defaults = defaults
        self.partners = partners
        self._base_cache: dict[str, dict[str, Any]] = {}
        self._base_provenance_cache: dict[str, _BaseProvenance] = {}

    @property
    def default_settings(self) -> Mapping[str, Any]:
        """The settings of ``_defaults`` (empty when it is missing or broken)."""
        return default_settings(self.defaults)

    def partner_base(self, slug: str) -> dict[str, Any]:
        """``_defaults`` merged with one partner's template (cached per partner)."""
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


_BILLER_LAYER = 2  # the layer index of a biller's overrides: defaults 0, partner 1


class _BaseProvenance(NamedTuple):
    owners: dict[Path_, int]
    inner: set[Path_]
    locations: dict[Path_, Location]
    sources: dict[Path_, str]
