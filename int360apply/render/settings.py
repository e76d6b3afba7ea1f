"""Merged settings as YAML or JSON, optionally with the source of every leaf.

With the partner's locks (``partner_locks``), ``--explain`` also says which
leaves the biller may not override, and where the partner file locks them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..model import Location, Path_, dotted

if TYPE_CHECKING:
    from ..config import Partner

# Where each locked path is locked: ``("data_pump", "layout")`` -> the ``locked:`` entry.
Locks = Mapping[Path_, Location]


def as_yaml(settings: Mapping[str, Any]) -> str:
    """Block-style YAML 1.2 in the settings' own key order (the one YAML writer)."""
    from ..yamlwrite import settings_text

    return settings_text(settings)


def partner_locks(partner: Partner) -> dict[Path_, Location]:
    """The paths ``partner`` locks, each with the position of its ``locked:`` entry."""
    return {
        tuple(path.split(".")): partner.doc.loc(("locked", index))
        for index, path in enumerate(partner.locked)
    }


def lock_of(path: Path_, locks: Locks) -> Location | None:
    """The lock covering the leaf ``path`` (a lock on ``ftp.auth`` covers ``ftp.auth.method``)."""
    for depth in range(1, len(path) + 1):
        found = locks.get(path[:depth])
        if found is not None:
            return found
    return None


def explain_yaml(
    settings: Mapping[str, Any],
    provenance: Mapping[Path_, Location],
    locks: Locks | None = None,
) -> str:
    """YAML with a ``# file:line:col`` comment on every leaf (values in JSON flow form).

    A leaf the partner locks gets ``; locked by partners/<slug>.yaml:LINE:COL``
    after its source.
    """
    lines: list[str] = []

    def walk(node: Mapping[str, Any], path: Path_, indent: str) -> None:
        for key, value in node.items():
            child = (*path, key)
            if isinstance(value, Mapping) and value and not _is_leaf(child, provenance):
                lines.append(f"{indent}{key}:")
                walk(value, child, indent + "  ")
                continue
            rendered = json.dumps(value, ensure_ascii=False)
            notes = [str(source)] if (source := provenance.get(child)) else []
            if locks and (lock := lock_of(child, locks)) is not None:
                notes.append(f"locked by {lock}")
            comment = f"  # {'; '.join(notes)}" if notes else ""
            lines.append(f"{indent}{key}: {rendered}{comment}")

    walk(settings, (), "")
    return "\n".join(lines) + "\n"


def _is_leaf(path: Path_, provenance: Mapping[Path_, Location]) -> bool:
    return path in provenance


def explain_json(
    settings: Mapping[str, Any],
    provenance: Mapping[Path_, Location],
    locks: Locks | None = None,
) -> str:
    """``{"settings": …, "provenance": {"ftp.host": "billers/1.yaml:9:11", …}}``.

    Given the partner's locks, also ``"locked": {"data_pump.layout":
    "partners/<slug>.yaml:LINE:COL", …}``: every leaf the biller may not override,
    and the ``locked:`` entry that says so.
    """
    sources = {dotted(path): str(loc) for path, loc in sorted(provenance.items())}
    document: dict[str, Any] = {"settings": settings, "provenance": sources}
    if locks is not None:
        document["locked"] = {
            dotted(path): str(lock)
            for path in sorted(provenance)
            if (lock := lock_of(path, locks)) is not None
        }
    return json.dumps(document, indent=2) + "\n"
