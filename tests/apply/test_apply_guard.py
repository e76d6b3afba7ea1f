"""The apply guard end to end: refused by count and by percent, before any write, exit 3,
a structured report; the embedded sandbox is exempt and says so."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ._support import CASELLE_BATCH, Workspace, assert_plan_document, statuses

pytestmark = pytest.mark.slow  # end to end: real processes, git and the sandbox CRM

EXIT_REFUSED = 3


def report_of(ws: Workspace) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ws.tmp / "r.json").read_text(encoding="utf-8"))
    assert_plan_document(doc)
    return doc


def test_refused_by_count_before_any_write_with_a_structured_report(ws: Workspace) -> None:
    crm = ws.start_crm()
    before = crm.api_dump()
    refused = ws.run(
        "apply", "--yes", "--max-billers", "3", "--max-percent", "100", "--report",
        str(ws.tmp / "r.json"),
    )  # fmt: skip
    assert refused.code == EXIT_REFUSED, refused
    (line,) = refused.err.strip().splitlines()
    assert "14 billers would change, more than --max-billers 3; nothing was written" in line
    assert "--max-billers 14" in line, "says what would let it through"
    assert crm.api_dump() == before, "nothing was written, not even a note"
    report = report_of(ws)
    assert report["status"] == "refused"
    assert report["guard"] == {"changing": 14, "managed": 14, "max_billers": 3, "max_percent": 100}
    assert report["summary"] == {
        "applied": 0, "unchanged": 0, "stale": 0, "failed": 0, "refused": 14,
    }  # fmt: skip
    assert set(statuses(report).values()) == {"refused"}
    assert report["commit"] == ws.head()

    # A saved plan is held to the same guard.
    ws.run("plan", "--out", str(ws.tmp / "plan.json"))
    saved = ws.run(
        "apply", "--plan", str(ws.tmp / "plan.json"), "--yes", "--max-billers", "13",
        "--max-percent", "100", "--report", str(ws.tmp / "r.json"),
    )  # fmt: skip
    assert saved.code == EXIT_REFUSED, saved
    assert report_of(ws)["guard"]["max_billers"] == 13
    assert crm.api_dump() == before

    allowed = ws.run("apply", "--yes", "--max-billers", "14", "--max-percent", "100")
    assert allowed.code == 0, allowed
    assert "Apply: 14 applied" in allowed.out
    ws.assert_no_secret_leaks()


def test_refused_by_percent_even_when_the_count_would_stream(ws: Workspace) -> None:
    """14 changing billers are within --max-billers 50, but 100 % of the managed billers:
    the run must not start writing while it plans (the old streaming path did)."""
    crm = ws.start_crm()
    before = crm.api_dump()
    refused = ws.run("apply", "--yes", "--report", str(ws.tmp / "r.json"))
    assert refused.code == EXIT_REFUSED, refused
    (line,) = refused.err.strip().splitlines()
    assert (
        "14 billers would change, 100% of the 14 managed billers, more than --max-percent 30"
        in (line)
    )
    assert "--max-percent 100" in line
    assert crm.api_dump() == before
    report = report_of(ws)
    assert report["status"] == "refused"
    assert report["guard"] == {"changing": 14, "managed": 14, "max_billers": 50, "max_percent": 30}


def test_percent_counts_only_once_ten_billers_change_and_only_billers_that_change(
    ws: Workspace,
) -> None:
    crm = ws.start_crm()
    ws.run("apply", "--yes", "--max-percent", "100")
    # A partner change rewrites its 4 billers: 29 % of 14, over --max-percent 10, but
    # fewer than 10 billers change, so the percentage does not apply.
    ws.replace(
        "partners/caselle-batch-utility.yaml",
        'invoice_file_pattern: "UB_BILLS_*.csv"',
        'invoice_file_pattern: "UB_BILLS_*.txt"',
    )
    ws.commit("caselle: txt bills")
    run = ws.run("apply", "--yes", "--max-percent", "10", "--report", str(ws.tmp / "r.json"))
    assert run.code == 0, run
    assert "Apply: 4 applied, 10 unchanged, 0 stale, 0 failed." in run.out
    report = report_of(ws)
    assert report["status"] == "ok"
    assert report["guard"] == {"changing": 4, "managed": 14, "max_billers": 50, "max_percent": 10}
    assert {b for b, s in statuses(report).items() if s == "applied"} == set(CASELLE_BATCH)

    # _defaults changes nothing a biller sees: every biller in scope, none changes, no refusal.
    ws.write("partners/_defaults.yaml", ws.read("partners/_defaults.yaml") + "# reviewed\n")
    ws.commit("defaults: a comment")
    again = ws.run("apply", "--changed-since", "HEAD~1", "--yes", "--max-billers", "0")
    assert again.code == 0, again
    assert "Apply: 0 applied, 14 unchanged" in again.out
    assert crm.settings(104233)[0]["invoicing"]["invoice_file_pattern"] == "UB_BILLS_*.txt"


def test_the_embedded_sandbox_is_exempt_and_says_so(ws: Workspace) -> None:
    run = ws.run("apply", "--yes", "--max-billers", "3", "--report", str(ws.tmp / "r.json"))
    assert run.code == 0, run
    assert (
        "Guard: not applied, the embedded sandbox is a throwaway local CRM "
        "(14 of 14 billers changed)." in run.out.splitlines()
    )
    report = report_of(ws)
    assert report["status"] == "ok"
    assert report["guard"] == {
        "changing": 14, "managed": 14, "max_billers": 3, "max_percent": 30, "exempt": True,
    }  # fmt: skip
    ws.assert_no_secret_leaks()


def test_guard_limits_that_make_no_sense_are_usage_errors(ws: Workspace) -> None:
    for args in (("--max-percent", "101"), ("--max-percent", "-1"), ("--max-billers", "-1")):
        run = ws.run("apply", "--yes", *args)
        assert run.code == 64, run
        assert args[0] in run.err
    assert not ws.embedded_db.exists(), "nothing was started or written"
