"""Minimal overrides that reproduce live settings: for ``import`` and ``drift --adopt``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import Config
from .merge import diff_patch
from .model import Path_, dotted
from .schemas import ordered
from .secrets import with_references


class AdoptError(Exception):
    """The live settings cannot be expressed as this biller's overrides."""


def minimal_overrides(config: Config, partner_slug: str, live: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest overrides that make the merge equal ``live``; locked paths refuse."""
    base = config.partner_base(partner_slug)
    target = with_references(live, config.schemas.secret_paths, read_form=False)
    overrides = diff_patch(base, target)
    partner = config.partners[partner_slug]
    for lock in partner.locked:
        path = tuple(lock.split("."))
        if _touches(overrides, path):
            raise AdoptError(
                f"the live value of {dotted(path)} differs from partner {partner_slug}'s "
                "template, which locks it; change it back in the CRM or change the partner"
            )
    result: dict[str, Any] = ordered(overrides, config.schemas)
    return result


def _touches(overrides: Mapping[str, Any], path: Path_) -> bool:
    node: Any = overrides
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        if node[part] is None:
            return True
        node = node[part]
    return True
