"""The apply report laid out as writes end (``render.report_json``) is, byte for byte,
``json.dumps(report.as_dict(), indent=2)``: what CI scripts and people read."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from int360apply.apply_report import Outcome, Report
from int360apply.plan import Change
from int360apply.render.report_json import ReportJson

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_changes = st.builds(
    Change,
    path=st.text(min_size=1, max_size=12),
    before=_values,
    after=_values,
    source=st.none() | st.text(max_size=20),
    secret=st.booleans(),
)
_outcomes = st.builds(
    Outcome,
    bid=st.integers(min_value=1, max_value=10**9),
    name=st.text(max_size=20),  # names with any character: "Café", quotes, newlines
    partner=st.text(max_size=10),
    status=st.sampled_from(["applied", "unchanged", "stale", "failed", "refused"]),
    changes=st.lists(_changes, max_size=4),
    errors=st.lists(st.fixed_dictionaries({"code": st.text(max_size=5), "message": st.text()})),
)


def expected(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2) + "\n"


@given(
    outcomes=st.lists(_outcomes, max_size=6),
    laid_out_early=st.lists(st.booleans(), max_size=6),
    guard=st.none() | st.fixed_dictionaries({"changing": st.integers(), "exempt": st.booleans()}),
    scope=st.none() | st.fixed_dictionaries({"description": st.text(max_size=10)}),
)
def test_the_report_text_is_what_json_dumps_gives(
    outcomes: list[Outcome], laid_out_early: list[bool], guard: Any, scope: Any
) -> None:
    report = Report("sandbox", "a" * 40, outcomes, guard=guard, scope=scope)
    writer = ReportJson()
    for outcome, early in zip(outcomes, laid_out_early, strict=False):
        if early:  # as the apply does when the biller's write ends
            writer.add(outcome)
    assert "".join(writer.chunks(report)) == expected(report)


def test_an_empty_and_a_refused_report_too() -> None:
    empty = Report("https://crm.example", None, [])
    assert "".join(ReportJson().chunks(empty)) == expected(empty)
    refused = Report("c", None, [Outcome(1, "Ü", "p", "refused")], refused=True)
    text = "".join(ReportJson().chunks(refused))
    assert text == expected(refused)
    assert json.loads(text)["status"] == "refused"
