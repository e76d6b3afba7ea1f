"""One type-strict JSON equality: booleans never equal numbers, numbers compare by value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from int360apply.crm.reconcile import patch_holds
from int360apply.jsonvalue import json_equal, loads, secret_holds
from int360apply.merge import diff_patch, merge_patch
from int360apply.plan import diff_settings

SCALARS = (
    st.booleans() | st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False) | st.text(max_size=2)
)
VALUES = st.recursive(
    SCALARS | st.lists(SCALARS, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from("abc"), inner, min_size=1, max_size=3),
    max_leaves=10,
)


def test_booleans_never_equal_integers() -> None:
    assert not json_equal(True, 1)
    assert not json_equal(False, 0)
    assert not json_equal([False, 0], [False, False])
    assert not json_equal({"a": True}, {"a": 1})
    assert json_equal(True, True)


def test_numbers_compare_by_value() -> None:
    assert json_equal(1, 1.0)
    assert json_equal([1], [1.0])
    assert not json_equal(1, 2)
    assert not json_equal("1", 1)


def test_lists_in_order_mappings_by_key() -> None:
    assert not json_equal([1, 2], [2, 1])
    assert json_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not json_equal({"a": 1}, {"a": 1, "b": None})


@pytest.mark.slow
@given(st.booleans(), st.integers(-2, 2) | st.floats(-2, 2, allow_nan=False))
def test_no_boolean_equals_any_number(flag: bool, number: float) -> None:
    assert not json_equal(flag, number)
    assert not json_equal([flag], [number])
    assert diff_patch({"k": number}, {"k": flag}) == {"k": flag}


@given(st.integers(-1000, 1000))
def test_an_integer_equals_its_float(n: int) -> None:
    assert json_equal(n, float(n))
    assert diff_patch({"k": n}, {"k": float(n)}) == {}


@pytest.mark.slow
@given(VALUES, VALUES)
def test_plan_diff_and_client_agree(live: Any, desired: Any) -> None:
    """Plan, the merge diff and the client's 'already holds' check answer alike
    (mappings non-empty: an empty mapping has no leaves for a plan to show)."""
    live_doc, desired_doc = {"g": live}, {"g": desired}
    same = json_equal(live_doc, desired_doc)
    patch = diff_patch(live_doc, desired_doc)
    assert (patch == {}) == same
    assert patch_holds(live_doc, patch) == same
    changes = diff_settings(desired_doc, live_doc, frozenset())
    assert (changes == []) == same
    assert json_equal(merge_patch(live_doc, patch), desired_doc)


def test_a_secret_holds_only_when_the_crm_reads_it_set_under_the_same_name() -> None:
    assert secret_holds("K", {"secret": "K", "set": True})
    assert not secret_holds("K", {"secret": "K", "set": False})
    assert not secret_holds("K", {"secret": "K", "set": 1})  # JSON true, not a truthy number
    assert not secret_holds("K", {"secret": "L", "set": True})
    assert not secret_holds("K", None) and not secret_holds("K", "K")


def test_the_reader_refuses_what_python_takes_but_json_does_not() -> None:
    for text in ('{"a": NaN}', "[Infinity]", "-Infinity"):
        with pytest.raises(ValueError, match="is not a JSON number"):
            loads(text)
    assert loads('{"a": 1.5, "b": [true, null]}') == {"a": 1.5, "b": [True, None]}
