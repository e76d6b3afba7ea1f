"""The apply report as text: failures first, billers one by one up to a limit."""

from __future__ import annotations

from int360apply.apply_report import Outcome, Report
from int360apply.render.report import text


def report(applied: int, failed: int = 0, unchanged: int = 0) -> Report:
    outcomes = [Outcome(100000 + i, f"Town{i}", "bsa", "applied") for i in range(applied)]
    outcomes += [
        Outcome(
            300000 + i,
            f"Broken{i}",
            "bsa",
            "failed",
            errors=[{"code": "secret-missing", "message": f"the secret S{i} has no value"}],
        )
        for i in range(failed)
    ]
    outcomes += [Outcome(500000 + i, f"Same{i}", "bsa", "unchanged") for i in range(unchanged)]
    return Report("http://127.0.0.1:8360", None, outcomes)


def test_a_small_apply_lists_every_biller() -> None:
    assert text(report(2, unchanged=3)).splitlines() == [
        "applied   100000 Town0",
        "applied   100001 Town1",
        "Apply: 2 applied, 3 unchanged, 0 stale, 0 failed.",
    ]


def test_a_large_apply_lists_failures_first_and_counts_the_rest() -> None:
    lines = text(report(1000, failed=2)).splitlines()
    assert lines[:4] == [
        "failed    300000 Broken0",
        "          error[secret-missing]: the secret S0 has no value",
        "failed    300001 Broken1",
        "          error[secret-missing]: the secret S1 has no value",
    ]
    assert sum(line.startswith("applied ") for line in lines) == 20
    assert lines[-2] == "… and 980 applied not listed (--report FILE or -v lists them)."
    assert lines[-1] == "Apply: 1,000 applied, 0 unchanged, 0 stale, 2 failed."


def test_failures_are_listed_up_to_a_hundred() -> None:
    lines = text(report(50, failed=150)).splitlines()
    assert sum(line.startswith("failed ") for line in lines) == 100
    assert sum(line.startswith("applied ") for line in lines) == 20
    assert lines[-2] == "… and 50 failed, 30 applied not listed (--report FILE or -v lists them)."


def test_verbose_lists_all() -> None:
    out = text(report(1000), verbose=True)
    assert out.count("applied   ") == 1000
    assert "not listed" not in out
