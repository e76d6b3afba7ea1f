"""Merged settings as YAML or JSON, optionally with the source of every leaf."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..model import Location, Path_, dotted


def as_yaml(settings: Mapping[str, Any]) -> str:
    """Block-style YAML 1.2 in the settings' own key order (the one YAML writer)."""
    from ..yamlwrite import settings_text

    return settings_text(settings)


def explain_yaml(settings: Mapping[str, Any], provenance: Mapping[Path_, Location]) -> str:
    """YAML with a ``# file:line:col`` comment on every leaf (values in JSON flow form)."""
    lines: list[str] = []

    def walk(node: Mapping[str, Any], path: Path_, indent: str) -> None:
        for key, value in node.items():
            child = (*path, key)
            if isinstance(value, Mapping) and value and not _is_leaf(child, provenance):
                lines.append(f"{indent}{key}:")
                walk(value, child, indent + "  ")
                continue
            rendered = json.dumps(value, ensure_ascii=False)
            source = provenance.get(child)
            comment = f"  # {source}" if source else ""
            lines.append(f"{indent}{key}: {rendered}{comment}")

    walk(settings, (), "")
    return "\n".join(lines) + "\n"


def _is_leaf(path: Path_, provenance: Mapping[Path_, Location]) -> bool:
    return path in provenance


def explain_json(settings: Mapping[str, Any], provenance: Mapping[Path_, Location]) -> str:
    """``{"settings": …, "provenance": {"ftp.host": "billers/1.yaml:9:11", …}}``."""
    sources = {dotted(path): str(loc) for path, loc in sorted(provenance.items())}
    return json.dumps({"settings": settings, "provenance": sources}, indent=2) + "\n"
