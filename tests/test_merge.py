"""The merge: JSON Merge Patch layering (RFC 7396), provenance and diff patches."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from int360apply.jsonvalue import json_equal
from int360apply.merge import diff_patch, get_path, leaves, merge, merge_patch, provenance

# Few key names, so layers collide often.
KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
SCALARS = (
    st.booleans()
    | st.integers(min_value=-5, max_value=5)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=3)
)
VALUES = st.recursive(
    SCALARS | st.lists(SCALARS, max_size=3),
    lambda inner: st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
# JSON-like mappings without None (a settings document).
DOCS = st.dictionaries(KEYS, VALUES, max_size=5)

# Patch layers: like documents, but any value may also be None (removal).
PATCH_VALUES = st.recursive(
    st.none() | SCALARS | st.lists(SCALARS, max_size=3),
    lambda inner: st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
LAYERS = st.dictionaries(KEYS, PATCH_VALUES, max_size=5)


def without_nulls(value: Any) -> Any:
    """What a single layer means on its own: its nulls removed (RFC 7396 on an empty target)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def written_leaf(layer: dict[str, Any], path: tuple[str, ...]) -> bool:
    """Whether ``layer`` writes ``path`` as a leaf value (not a mapping, not null)."""
    node: Any = layer
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node is not None and not isinstance(node, dict)


def all_key_paths(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in doc.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out += all_key_paths(value, (*prefix, key))
    return out


def nested_patch(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    patch: Any = value
    for part in reversed(path):
        patch = {part: patch}
    return patch  # type: ignore[no-any-return]


def deleted(doc: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return out


# --- RFC 7396 appendix A: the specification's own examples ------------------------

RFC_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_EXAMPLES)
def test_rfc7396_examples(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_lists_replace_whole() -> None:
    assert merge([{"x": {"l": [1, 2, 3]}}, {"x": {"l": [4]}}]) == {"x": {"l": [4]}}


# --- properties ------------------------------------------------------------------


@pytest.mark.slow
@given(DOCS)
def test_merging_with_an_empty_layer_is_identity(doc: dict[str, Any]) -> None:
    assert merge([doc, {}]) == doc
    assert merge([{}, doc]) == doc
    assert merge_patch(doc, {}) == doc


@pytest.mark.slow
@given(st.lists(LAYERS, min_size=1, max_size=4), st.integers(min_value=0, max_value=4))
def test_an_empty_layer_anywhere_changes_nothing(layers: list[dict[str, Any]], at: int) -> None:
    with_empty = [*layers[:at], {}, *layers[at:]]
    assert merge(with_empty) == merge(layers)


@pytest.mark.slow
@given(st.lists(LAYERS, max_size=4))
def test_merge_is_patching_layer_by_layer(layers: list[dict[str, Any]]) -> None:
    expected: Any = {}
    for layer in layers:
        expected = merge_patch(expected, layer)
    assert merge(layers) == expected
    assert merge(layers) == without_nulls(merge(layers))  # no null survives


@pytest.mark.slow
@given(st.lists(LAYERS, min_size=1, max_size=4))
def test_merge_does_not_change_its_inputs(layers: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(layers)
    merged = merge(layers)
    assert layers == before
    # and the result shares nothing mutable with them
    for path, _ in leaves(merged):
        parent = get_path(merged, path[:-1]) if len(path) > 1 else merged
        parent[path[-1]] = "changed"
    assert layers == before


@pytest.mark.slow
@settings(max_examples=150)
@given(st.lists(LAYERS, min_size=1, max_size=4))
def test_provenance_names_the_highest_layer_that_set_each_leaf(
    layers: list[dict[str, Any]],
) -> None:
    merged = merge(layers)
    owners = provenance(layers)
    assert set(owners) == {path for path, _ in leaves(merged)}
    for path, index in owners.items():
        setters = [i for i, layer in enumerate(layers) if written_leaf(layer, path)]
        assert setters, path
        assert index == max(setters)
        assert get_path(merged, path) == get_path(layers[index], path)


def test_provenance_examples() -> None:
    layers = [
        {"ftp": {"port": 22, "host": "a", "auth": {"method": "password"}}},
        {"ftp": {"port": 2222, "auth": None}},
        {"ftp": {"host": "b", "auth": {"method": "ssh_key"}}, "x": [1]},
    ]
    assert provenance(layers) == {
        ("ftp", "port"): 1,
        ("ftp", "host"): 2,
        ("ftp", "auth", "method"): 2,
        ("x",): 2,
    }
    # a scalar over a mapping, then a mapping over the scalar
    assert provenance([{"a": {"b": 1, "c": 2}}, {"a": 5}, {"a": {"d": 3}}]) == {("a", "d"): 2}
    assert provenance([{"a": {"b": 1}}, {"a": {}}]) == {("a", "b"): 0}


@pytest.mark.slow
@given(DOCS.filter(bool), st.data())
def test_null_removes_exactly_one_key(doc: dict[str, Any], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(all_key_paths(doc)))
    result = merge_patch(doc, nested_patch(path, None))
    assert result == deleted(doc, path)
    assert sorted(all_key_paths(result)) == sorted(
        p for p in all_key_paths(doc) if p[: len(path)] != path
    )


@pytest.mark.slow
@given(DOCS, st.lists(KEYS, min_size=1, max_size=3))
def test_null_for_an_absent_key_changes_nothing_else(doc: dict[str, Any], path: list[str]) -> None:
    assume(get_path(doc, tuple(path)) is None)
    # RFC 7396: a mapping patch replaces a scalar, so keep to paths through mappings.
    assume(
        all(isinstance(get_path(doc, tuple(path[:i])), dict | None) for i in range(1, len(path)))
    )
    result = merge_patch(doc, nested_patch(tuple(path), None))
    # Only empty mappings may appear along the way (RFC 7396 creates them).
    assert {p: v for p, v in leaves(result)} == {p: v for p, v in leaves(doc)}


@pytest.mark.slow
@settings(max_examples=150)
@given(DOCS, DOCS)
def test_diff_patch_turns_a_into_b(a: dict[str, Any], b: dict[str, Any]) -> None:
    patch = diff_patch(a, b)
    assert json_equal(merge_patch(a, patch), b)


@pytest.mark.slow
@given(DOCS)
def test_diff_patch_of_equal_documents_is_empty(a: dict[str, Any]) -> None:
    assert diff_patch(a, copy.deepcopy(a)) == {}


@pytest.mark.slow
@given(DOCS, DOCS)
def test_diff_patch_touches_only_what_differs(a: dict[str, Any], b: dict[str, Any]) -> None:
    patch = diff_patch(a, b)
    for path, value in leaves(patch):
        if value is None:
            assert get_path(b, path) is None and get_path(a, path) is not None
        else:
            assert get_path(b, path) == value
            old = get_path(a, path)
            assert not json_equal(old, value)


def test_diff_patch_sees_type_changes() -> None:
    assert diff_patch({"a": 1}, {"a": True}) == {"a": True}
    assert diff_patch({"a": [False, 0]}, {"a": [False, False]}) == {"a": [False, False]}
    # JSON numbers: 1 and 1.0 are one value, as plan and the client see them.
    assert diff_patch({"a": 1}, {"a": 1.0}) == {}
    assert diff_patch({"a": {"b": 1}}, {"a": {}}) == {"a": {"b": None}}


@pytest.mark.slow
@given(DOCS)
def test_leaves_and_get_path_agree(doc: dict[str, Any]) -> None:
    for path, value in leaves(doc):
        assert get_path(doc, path) == value
        assert not isinstance(value, dict)
