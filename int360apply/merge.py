"""Layer settings as JSON Merge Patches (RFC 7396) and track where each leaf came from.

Pure functions: no I/O. A *layer* is a mapping of settings; the result of
``merge`` is a new mapping, the inputs are never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .jsonvalue import json_equal
from .model import Path_, is_mapping


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply one merge patch: mappings merge key by key, ``None`` removes, the rest replaces."""
    if not is_mapping(patch):
        return patch
    result = dict(target) if is_mapping(target) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge layers from lowest to highest into one settings mapping."""
    result: dict[str, Any] = {}
    for layer in layers:
        result = merge_patch(result, layer)
    return result


def leaves(settings: Mapping[str, Any], prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every leaf (scalar or list; lists are values, not merged) with its path."""
    for key, value in settings.items():
        path = (*prefix, key)
        if is_mapping(value):
            yield from leaves(value, path)
        else:
            yield path, value


def inner_paths(owners: Iterable[Path_]) -> set[Path_]:
    """The paths that hold a mapping, given the paths of every leaf."""
    return {p[:i] for p in owners for i in range(1, len(p))}


def provenance(
    layers: Sequence[Mapping[str, Any]],
    start: Mapping[Path_, int] | None = None,
    start_inner: set[Path_] | None = None,
    first: int = 0,
) -> dict[Path_, int]:
    """For each leaf of ``merge(layers)``, the index of the layer that set it; the
    layers are numbered from ``first``.

    ``start`` is the result for layers merged before these (their indexes kept),
    so a shared base is worked out once; ``start_inner``, its ``inner_paths``.
    """
    owner: dict[Path_, int] = dict(start or {})
    # Paths that hold a mapping: only there can a scalar replace a whole subtree.
    inner = set(start_inner) if start_inner is not None else inner_paths(owner)

    def drop(prefix: Path_) -> None:
        size = len(prefix)
        for path in [p for p in owner if p[:size] == prefix]:
            del owner[path]
        inner.difference_update([p for p in inner if p[:size] == prefix])

    def walk(patch: Mapping[str, Any], prefix: Path_, index: int) -> None:
        for key, value in patch.items():
            path = (*prefix, key)
            if value is None or not is_mapping(value):
                if path in inner:
                    drop(path)
                if value is None:
                    owner.pop(path, None)
                else:
                    owner[path] = index
            else:
                owner.pop(path, None)  # a mapping replaces a scalar set below
                inner.add(path)
                walk(value, path, index)

    for index, layer in enumerate(layers, start=first):
        walk(layer, (), index)
    return owner


def get_path(settings: Mapping[str, Any], path: Path_) -> Any:
    """The value at ``path``, or ``None`` when any step is missing."""
    node: Any = settings
    for part in path:
        if is_mapping(node):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def diff_patch(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest merge patch that turns ``live`` into ``desired``."""
    patch: dict[str, Any] = {}
    for key in live:
        if key not in desired:
            patch[key] = None
    for key, value in desired.items():
        old = live.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            sub = diff_patch(old, value)
            if sub:
                patch[key] = sub
        elif key not in live or not json_equal(old, value):
            patch[key] = value
    return patch
