"""The JSON plan is streamed biller by biller: the same bytes as ``json.dumps`` of
the plan's dictionary with ``indent=2``, whatever the plan holds."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from int360apply.plan import BillerError, BillerPlan, Change, Plan
from int360apply.render.plan_json import as_json, json_chunks


def reference(plan: Plan) -> str:
    """What ``as_json`` printed before it was streamed."""
    return json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(text, inner, max_size=3),
        st.tuples(inner, inner),  # a tuple prints as a list, as json does
        st.dictionaries(st.integers(0, 9), inner, min_size=1, max_size=2),  # json's own keys
    ),
    max_leaves=8,
)
changes = st.builds(
    Change,
    path=text,
    before=values,
    after=values,
    source=st.none() | text,
    secret=st.booleans(),
)
billers = st.builds(
    BillerPlan,
    bid=st.integers(0, 10**7),
    name=text,
    partner=text,
    status=st.sampled_from(["change", "unchanged", "error", "removed"]),
    etag=st.none() | text,
    changes=st.lists(changes, max_size=4),
    errors=st.lists(st.builds(BillerError, code=text, message=text), max_size=2),
)
plans = st.builds(
    Plan,
    crm=text,
    commit=st.none() | text,
    billers=st.lists(billers, max_size=4),
    fanout=st.dictionaries(text, st.integers(0, 99), max_size=2),
)


@given(plans)
def test_the_streamed_plan_is_the_bytes_json_dumps_gives(plan: Plan) -> None:
    assert as_json(plan) == reference(plan)


def test_a_plan_without_billers_and_one_with_every_kind_of_value() -> None:
    empty = Plan(crm="https://crm.example", commit=None, billers=[])
    assert as_json(empty) == reference(empty)
    odd: list[Any] = [1.5, -0.0, 1e16, math.inf, float("nan"), 'ünï\u2028"\\', [], {}, [[{}]]]
    biller = BillerPlan(
        7,
        "Ö Water",
        "p",
        "change",
        '"e1"',
        [Change("a.b", None, v, "billers/7.yaml:3:5", False) for v in odd]
        + [Change("ftp.auth.password", {"secret": "OLD"}, {"secret": "NEW"}, None, True)],
    )
    plan = Plan(
        crm="x", commit="c0ffee", billers=[biller, BillerPlan(8, "b/8.yaml", "", "removed")]
    )
    assert as_json(plan) == reference(plan)
    assert json.loads(as_json(plan))["billers"][0]["changes"][-1]["secret"] is True


def test_the_plan_comes_in_one_piece_per_biller_and_one_for_the_end() -> None:
    plan = Plan(
        crm="x",
        commit=None,
        billers=[BillerPlan(bid, f"B{bid}", "p", "unchanged") for bid in range(5)],
    )
    pieces = list(json_chunks(plan))
    assert len(pieces) == 6
    assert pieces[0].count('"bid"') == 1 and '"summary"' in pieces[0]
    assert pieces[-1] == "\n  ]\n}\n"
