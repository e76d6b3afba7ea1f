"""The apply guard's arithmetic: by count, by percent once ten billers change, and the
plan's own ``raise_if_unsafe``."""

from __future__ import annotations

import pytest

from int360apply.guard import GuardLimits, GuardRefused
from int360apply.plan import BillerPlan, Plan


def plan_with(changing: int, unchanged: int = 0) -> Plan:
    billers = [BillerPlan(i + 1, f"b{i}", "bsa", "change") for i in range(changing)]
    billers += [BillerPlan(changing + i + 1, f"u{i}", "bsa", "unchanged") for i in range(unchanged)]
    return Plan(crm="http://crm.invalid", commit=None, billers=billers)


@pytest.mark.parametrize(
    ("changing", "managed", "limits", "allowed"),
    [
        (50, 1000, GuardLimits(), True),
        (51, 1000, GuardLimits(), False),  # over the count
        (9, 9, GuardLimits(), True),  # 100 %, but fewer than 10 change
        (10, 34, GuardLimits(), True),  # 29.4 %
        (10, 33, GuardLimits(), False),  # 30.3 %
        (12, 40, GuardLimits(), True),  # exactly 30 %
        (13, 40, GuardLimits(), False),
        (0, 0, GuardLimits(max_billers=0, max_percent=0), True),  # nothing changes: never refused
        (1, 1, GuardLimits(max_billers=0), False),
        (20, 20, GuardLimits(max_percent=100), True),
        (10, 200, GuardLimits(max_percent=4.5), False),  # 5 %
        (9, 200, GuardLimits(max_percent=4.5), True),
    ],
)
def test_limits(changing: int, managed: int, limits: GuardLimits, allowed: bool) -> None:
    assert limits.allows(changing, managed) is allowed
    plan = plan_with(changing, max(managed - changing, 0))
    if allowed:
        plan.raise_if_unsafe(managed, limits)
    else:
        with pytest.raises(GuardRefused):
            plan.raise_if_unsafe(managed, limits)


def test_only_billers_that_change_count() -> None:
    plan_with(0, 5000).raise_if_unsafe(5000, GuardLimits(max_billers=0, max_percent=0))


def test_a_refusal_says_which_limit_and_what_would_pass() -> None:
    with pytest.raises(GuardRefused) as by_count:
        plan_with(60).raise_if_unsafe(1000, GuardLimits())
    assert str(by_count.value).startswith(
        "60 billers would change, more than --max-billers 50; nothing was written."
    )
    assert "--max-billers 60" in str(by_count.value)
    assert by_count.value.as_dict() == {
        "changing": 60,
        "managed": 1000,
        "max_billers": 50,
        "max_percent": 30,
    }
    with pytest.raises(GuardRefused) as by_percent:
        plan_with(11).raise_if_unsafe(30, GuardLimits(max_percent=12.5))
    message = str(by_percent.value)
    assert "11 billers would change, 36.7% of the 30 managed billers" in message
    assert "more than --max-percent 12.5" in message and "--max-percent 37" in message
    assert by_percent.value.as_dict()["max_percent"] == 12.5


def test_a_refusal_over_both_limits_names_both_and_a_retry_that_passes() -> None:
    limits = GuardLimits()  # 50 billers, 30 %
    with pytest.raises(GuardRefused) as both:
        plan_with(60).raise_if_unsafe(100, limits)
    message = str(both.value)
    assert message.startswith(
        "60 billers would change, more than --max-billers 50 and 60% of the 100 managed "
        "billers, more than --max-percent 30; nothing was written."
    )
    assert "run again with --max-billers 60 --max-percent 60 " in message
    assert GuardLimits(max_billers=60, max_percent=60).allows(60, 100)
    assert not GuardLimits(max_billers=60).allows(60, 100), "one of the two is not enough"


def test_the_percentage_needed_is_the_smallest_whole_one_that_passes() -> None:
    for changing, managed in [(11, 30), (12, 40), (60, 100), (1, 3), (7, 7), (1, 1000)]:
        needed = GuardLimits.percent_needed(changing, managed)
        assert GuardLimits(10**9, needed, 0).allows(changing, managed)
        assert not GuardLimits(10**9, needed - 1, 0).allows(changing, managed)
