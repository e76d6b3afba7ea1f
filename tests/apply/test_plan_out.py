"""``plan --format json --out FILE``: one serialisation, written to both, and a
``--out`` that cannot be written fails before any output, with one line."""

from __future__ import annotations

import json

import pytest

from ._support import Workspace, assert_plan_document

pytestmark = pytest.mark.slow  # end to end: real processes and the sandbox CRM


def test_standard_output_and_the_out_file_hold_the_same_bytes(ws: Workspace) -> None:
    target = ws.tmp / "out" / "plan.json"
    target.parent.mkdir()
    run = ws.run("plan", "--format", "json", "--out", str(target))
    assert run.code == 2, run
    assert target.read_text(encoding="utf-8") == run.out
    assert_plan_document(json.loads(run.out))
    assert run.out.startswith('{\n  "format_version": ') and run.out.endswith("\n  ]\n}\n")


def test_text_on_standard_output_and_the_json_plan_in_the_file(ws: Workspace) -> None:
    target = ws.tmp / "plan.json"
    text = ws.run("plan", "--out", str(target))
    assert text.code == 2, text
    assert "Plan: 14 to change, 0 unchanged, 0 with errors." in text.out
    assert not text.out.lstrip().startswith("{")
    as_json = ws.run("plan", "--format", "json")
    assert json.loads(target.read_text(encoding="utf-8")) == as_json.json()


def test_an_out_file_that_cannot_be_written_is_one_line_and_no_plan(ws: Workspace) -> None:
    blocker = ws.tmp / "not-a-folder"
    blocker.write_text("a file\n", encoding="utf-8")
    run = ws.run("plan", "--format", "json", "--out", str(blocker / "plan.json"))
    assert run.code == 64, run  # checked before the CRM is asked: a usage error
    assert run.out == "", "nothing on stdout: the file is opened before the plan is written"
    last = run.err.strip().splitlines()[-1]
    assert (
        last == f"int360: error: --out {blocker / 'plan.json'}: {blocker} is a file, not a folder"
    )
    assert "Traceback" not in run.err
    assert blocker.read_text(encoding="utf-8") == "a file\n"


def test_an_out_or_report_that_names_a_folder_or_a_missing_one_is_a_usage_error(
    ws: Workspace,
) -> None:
    missing = ws.tmp / "no-such-folder" / "plan.json"
    cases = [
        (("plan", "--out", str(ws.tmp)), f"--out {ws.tmp}: is a directory; name a file"),
        (("apply", "--yes", "--report", str(ws.tmp)), f"--report {ws.tmp}: is a directory"),
        (
            ("plan", "--out", str(missing)),
            f"--out {missing}: the folder {missing.parent} does not exist",
        ),
    ]
    for args, expected in cases:
        run = ws.run(*args)
        assert run.code == 64, run
        assert (
            run.err.strip().splitlines()[-1] == f"int360: error: {expected}" or expected in run.err
        )
        assert "Traceback" not in run.err
    assert not missing.parent.exists()
