"""Command-line mistakes (issue 15, "Scope mistakes"): a usage error (exit 64) in one
line naming the flag and its value, before anything is written or any CRM is started."""

from __future__ import annotations

import json

from ._support import Workspace


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_plan_of_a_bid_without_a_file_is_a_usage_error(ws: Workspace) -> None:
    run = ws.run("plan", "--bid", "424242")
    assert run.code == 64, run
    assert _one_line(run.err) == (
        "int360: error: --bid 424242: no biller file (billers/424242.yaml)"
    )
    assert not ws.embedded_db.exists(), "no CRM was started"


def test_apply_of_a_known_and_an_unknown_bid_writes_nothing(ws: Workspace) -> None:
    crm = ws.start_crm()
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    before = crm.settings(104233)
    run = ws.run("apply", "--bid", "104233", "999999", "--yes", "--report", "report.json")
    assert run.code == 64, run
    assert _one_line(run.err) == (
        "int360: error: --bid 999999: no biller file (billers/999999.yaml)"
    )
    assert crm.settings(104233) == before and crm.notes(104233) == []
    assert not (ws.tmp / "report.json").exists()


def test_a_misspelt_partner_is_a_usage_error_with_a_suggestion(ws: Workspace) -> None:
    run = ws.run("apply", "--partner", "caselle-batch-utilty", "--yes")
    assert run.code == 64, run
    assert _one_line(run.err) == (
        "int360: error: --partner caselle-batch-utilty: no such partner; "
        "did you mean 'caselle-batch-utility'?"
    )
    assert not ws.embedded_db.exists()


def test_report_naming_a_directory_is_refused_before_any_write(ws: Workspace) -> None:
    crm = ws.start_crm()
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    (ws.tmp / "reports").mkdir()
    run = ws.run("apply", "--yes", "--report", str(ws.tmp / "reports"))
    assert run.code == 64, run
    line = _one_line(run.err)
    assert line.startswith(f"int360: error: --report {ws.tmp / 'reports'}: "), line
    assert "directory" in line
    assert crm.notes(104233) == []


def test_out_naming_a_directory_is_refused_before_the_plan(ws: Workspace) -> None:
    (ws.tmp / "plans").mkdir()
    run = ws.run("plan", "--out", str(ws.tmp / "plans"))
    assert run.code == 64, run
    assert _one_line(run.err).startswith(f"int360: error: --out {ws.tmp / 'plans'}: ")
    assert not ws.embedded_db.exists()


def test_report_in_a_folder_that_does_not_exist_is_refused(ws: Workspace) -> None:
    run = ws.run("apply", "--yes", "--report", str(ws.tmp / "nowhere" / "deeper" / "r.json"))
    assert run.code == 64, run
    assert "--report" in _one_line(run.err)
    assert not ws.embedded_db.exists()


def test_a_saved_plan_with_a_number_out_of_range_is_not_json(ws: Workspace) -> None:
    ws.start_crm()
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    saved = ws.tmp / "plan.json"
    assert ws.run("plan", "--bid", "104233", "--out", str(saved)).code == 2
    text = saved.read_text(encoding="utf-8").replace('"springfield-ops"', "1e999", 1)
    saved.write_text(text, encoding="utf-8")
    run = ws.run("apply", "--plan", str(saved), "--yes")
    # A plan file that is not a plan is refused like any other (exit 1, issue 12).
    assert run.code == 1, run
    assert _one_line(run.err) == (
        f"int360: {saved}: not JSON: the number 1e999 is out of range; "
        "make a plan with int360 plan --out"
    )


def test_apply_writes_its_report_when_a_biller_fails(ws: Workspace) -> None:
    """A biller refused by the CRM (422) is ``failed`` in the report; the others applied."""
    crm = ws.start_crm()
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    # Without its secret's value a write cannot be made (a non-embedded CRM).
    env = {"INT360_SECRET_FTP_MAPLE_GROVE_KEY": None}
    ws.replace("billers/200145.yaml", "username: treasurer\n", "username: treasurer-2\n")
    run = ws.run(
        "apply",
        "--yes",
        "--rotate-secrets",
        "--bid",
        "104233",
        "200145",
        "--report",
        "report.json",
        env=env,
    )
    assert run.code == 1, run
    report = json.loads((ws.tmp / "report.json").read_text(encoding="utf-8"))
    statuses = {b["bid"]: b["status"] for b in report["billers"]}
    assert statuses == {104233: "applied", 200145: "failed"}
    assert crm.settings(104233)[0]["ftp"]["username"] == "springfield-ops"


def test_render_of_a_biller_saved_as_yml_names_the_file(ws: Workspace) -> None:
    """``render`` of a BID whose only file is never read says which file and why."""
    ws.path("billers/104233.yaml").rename(ws.path("billers/104233.yml"))
    run = ws.run("render", "104233")
    assert run.code == 1, run
    assert run.err.startswith(
        "billers/104233.yml:1:1: error[filename]: the file name must end in .yaml; "
        "rename it to billers/104233.yaml\n"
    ), run
