"""``int360 drift --pending-since SHA``: merged but not yet applied is not drift."""

from __future__ import annotations

import pytest

from ._support import Workspace, assert_plan_document

pytestmark = pytest.mark.slow  # end to end: real processes, git and the sandbox CRM


def test_drift_marks_billers_pending_apply_and_adopt_leaves_them(ws: Workspace) -> None:
    crm = ws.start_crm()
    # The first apply writes every biller: over the guard's 30 % of a real CRM.
    assert ws.run("apply", "--yes", "--max-percent", "100").code == 0
    applied = ws.head()
    crm.edit(500102, {"data_pump": {"schedule": "0 3 * * *"}})  # a hand edit in the CRM
    ws.replace("billers/200145.yaml", "    username: treasurer\n", "    username: treasurer-9\n")
    ws.commit("merged, not applied yet")

    plain = ws.run("drift")
    assert plain.code == 2 and "200145" in plain.out  # without the flag: looks like drift

    drift = ws.run("drift", "--pending-since", applied)
    assert drift.code == 2, drift
    (line,) = [ln for ln in drift.out.splitlines() if ln.startswith("Pending apply")]
    assert f"files changed since {applied[:12]}" in line and line.endswith(": 200145")

    doc = ws.run("drift", "--pending-since", applied, "--format", "json").json()
    assert_plan_document(doc)
    marked = {
        b["bid"]: b.get("pending", False) for b in doc["billers"] if b["status"] != "unchanged"
    }
    assert marked == {200145: True, 500102: False}

    adopt = ws.run("drift", "--pending-since", applied, "--adopt")
    assert adopt.code == 2, adopt
    assert "billers/500102-red-mesa.yaml: rewritten to the live settings" in adopt.err
    assert "200145" not in adopt.err
    assert "username: treasurer-9" in ws.read("billers/200145.yaml")  # merged work kept

    # Only the pending biller differs now: not drift.
    after = ws.run("drift", "--pending-since", applied)
    assert after.code == 0, after
    assert crm.notes(200145) and len(crm.notes(200145)) == 1, "drift writes nothing to the CRM"


def test_drift_pending_since_an_unknown_commit_is_a_usage_error(ws: Workspace) -> None:
    ws.start_crm()
    run = ws.run("drift", "--pending-since", "no-such-commit")
    assert run.code == 64, run
    (line,) = run.err.strip().splitlines()
    assert line.startswith("int360: error: --pending-since no-such-commit: not a commit here")
    assert "Traceback" not in run.err
