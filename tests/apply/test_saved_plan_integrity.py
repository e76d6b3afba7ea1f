"""``apply --plan``: a saved plan is executed only when it is what the repository says now.

Each forged or outdated plan is refused as a whole, with one line on stderr, exit 1,
and the CRM byte-identical afterwards (every profile, settings document and note as
the API serves them). Real subprocesses, a real sandbox over HTTP, real git.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ._support import Workspace, assert_plan_document, by_bid, new_secret_value, statuses

pytestmark = pytest.mark.slow  # end to end: real processes, git and the sandbox CRM

AGAIN = "plan again and review"
Forgery = Callable[[dict[str, Any]], None]


def converge(ws: Workspace) -> None:
    # The first apply writes every biller: over the 30 % guard of a real CRM.
    run = ws.run("apply", "--yes", "--max-percent", "100")
    assert run.code == 0, run


def reviewed_change(ws: Workspace) -> dict[str, Any]:
    """Converge, commit two biller changes (one renames a secret), save the plan."""
    ws.start_crm()
    converge(ws)
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    ws.replace(
        "billers/300210.yaml",
        "private_key: {secret: FTP_BROOKHAVEN_KEY}",
        "private_key: {secret: FTP_BROOKHAVEN_KEY_2026}",
    )
    ws.secrets["FTP_BROOKHAVEN_KEY_2026"] = new_secret_value()
    ws.env["INT360_SECRET_FTP_BROOKHAVEN_KEY_2026"] = ws.secrets["FTP_BROOKHAVEN_KEY_2026"]
    ws.commit("springfield: ops user; brookhaven: new key")
    made = ws.run("plan", "--out", str(ws.tmp / "plan.json"))
    assert made.code == 2, made
    saved: dict[str, Any] = json.loads((ws.tmp / "plan.json").read_text(encoding="utf-8"))
    assert_plan_document(saved)
    assert {b for b, s in statuses(saved).items() if s == "change"} == {104233, 300210}
    return saved


def crm_bytes(ws: Workspace) -> dict[str, str]:
    assert ws.crm is not None
    return ws.crm.api_dump()


def apply_file(ws: Workspace, doc: dict[str, Any] | str, name: str = "forged.json") -> Any:
    path = ws.tmp / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return ws.run("apply", "--plan", str(path), "--yes", "--report", str(ws.tmp / "r.json"))


def assert_refused_whole(run: Any, *expected: str) -> None:
    assert run.code == 1, run
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, f"one line on stderr:\n{run.err}"
    assert "Traceback" not in run.err and "Traceback" not in run.out
    for text in expected:
        assert text in lines[0], run


def change_of(doc: dict[str, Any], bid: int, path: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in by_bid(doc)[bid]["changes"] if c["path"] == path)
    return found


def _extra_change(doc: dict[str, Any]) -> None:
    by_bid(doc)[104233]["changes"].append(
        {"path": "ftp.outbound_dir", "before": "/out", "after": "/exfiltrated", "source": None}
    )


def _edited_value(doc: dict[str, Any]) -> None:
    change_of(doc, 104233, "ftp.username")["after"] = "attacker"


def _unasked_change(doc: dict[str, Any]) -> None:
    entry = by_bid(doc)[500219]
    entry["status"] = "change"
    entry["changes"] = [{"path": "ftp.port", "before": 22, "after": 2222, "source": None}]
    doc["summary"] = {"change": 3, "unchanged": 11, "error": 0}


def _dropped_change(doc: dict[str, Any]) -> None:
    entry = by_bid(doc)[104233]
    entry["status"], entry["changes"] = "unchanged", []
    doc["summary"] = {"change": 1, "unchanged": 13, "error": 0}


def _unknown_bid(doc: dict[str, Any]) -> None:
    entry = copy.deepcopy(by_bid(doc)[104233])
    entry["bid"], entry["name"] = 999001, "Nobody's Utility"
    doc["billers"].append(entry)
    doc["summary"]["change"] += 1


def _unknown_path(doc: dict[str, Any]) -> None:
    change_of(doc, 104233, "ftp.username")["path"] = "ftp.exfil_host"


def _fake_commit(doc: dict[str, Any]) -> None:
    doc["commit"] = "deadbeef" * 5


def _fake_digest(doc: dict[str, Any]) -> None:
    doc["inputs_digest"] = "sha256:" + "0" * 64


def _secret_marker_dropped(doc: dict[str, Any]) -> None:
    del change_of(doc, 300210, "ftp.auth.private_key")["secret"]


def _secret_marker_added(doc: dict[str, Any]) -> None:
    change_of(doc, 104233, "ftp.username")["secret"] = True


def _other_billers_secret(doc: dict[str, Any]) -> None:
    change_of(doc, 300210, "ftp.auth.private_key")["after"] = {"secret": "FTP_SPRINGFIELD_KEY"}


def _another_crm(doc: dict[str, Any]) -> None:
    doc["crm"] = "https://crm.example.invalid"


def _stale_etag_and_extra_change(doc: dict[str, Any]) -> None:
    # Changing the ETag must not buy an edited plan a pass (the desired side is checked).
    by_bid(doc)[104233]["etag"] = '"999"'
    _extra_change(doc)


def _old_format(doc: dict[str, Any]) -> None:
    doc["format_version"] = 1


def _not_schema(doc: dict[str, Any]) -> None:
    by_bid(doc)[104233]["bid"] = "104233"


def _missing_digest(doc: dict[str, Any]) -> None:
    del doc["inputs_digest"]


def _duplicate_biller(doc: dict[str, Any]) -> None:
    doc["billers"].append(copy.deepcopy(by_bid(doc)[104233]))
    doc["summary"]["change"] += 1


def _wrong_summary(doc: dict[str, Any]) -> None:
    doc["summary"]["change"] = 0


def _other_int360(doc: dict[str, Any]) -> None:
    doc["int360"] = "0.0.9"


def _no_commit(doc: dict[str, Any]) -> None:
    doc["commit"] = None


def _removed_but_present(doc: dict[str, Any]) -> None:
    entry = by_bid(doc)[500219]
    entry["status"], entry["changes"] = "removed", []
    doc["summary"] = {"change": 2, "unchanged": 11, "error": 0, "removed": 1}


def _edited_live_value(doc: dict[str, Any]) -> None:
    change_of(doc, 104233, "ftp.username")["before"] = "someone-else"


FORGERIES: list[tuple[Forgery, tuple[str, ...]]] = [
    (_extra_change, ("biller 104233, ftp.outbound_dir:", AGAIN)),
    (_edited_value, ("biller 104233, ftp.username:", "differs", AGAIN)),
    (_unasked_change, ("biller 500219, ftp.port:", AGAIN)),
    (_dropped_change, ("biller 104233, ftp.username:", "the repository changes it", AGAIN)),
    (_unknown_bid, ("biller 999001 has no biller file", AGAIN)),
    (_unknown_path, ("biller 104233, ftp.exfil_host: not a settings field", AGAIN)),
    (_fake_commit, ("commit", "not in this repository", AGAIN)),
    (_fake_digest, ("inputs_digest", AGAIN)),
    (_secret_marker_dropped, ("biller 300210, ftp.auth.private_key:", "secret", AGAIN)),
    (_secret_marker_added, ("biller 104233, ftp.username:", "secret", AGAIN)),
    (_other_billers_secret, ("biller 300210, ftp.auth.private_key:", AGAIN)),
    (_another_crm, ("https://crm.example.invalid", AGAIN)),
    (_stale_etag_and_extra_change, ("biller 104233, ftp.outbound_dir:", AGAIN)),
    (_old_format, ("format_version 1",)),
    (_not_schema, ("not a plan of plan.schema.json", "billers[")),
    (_missing_digest, ("not a plan of plan.schema.json", "inputs_digest")),
    (_duplicate_biller, ("biller 104233 is listed twice",)),
    (_wrong_summary, ("summary",)),
    (_other_int360, ('made by int360 "0.0.9", this is int360', AGAIN)),
    (_no_commit, ("records no commit, but this repository has one", AGAIN)),
    (_removed_but_present, ("biller 500219 is listed as removed, but billers/", AGAIN)),
    (_edited_live_value, ("ftp.username: the saved live value differs from the CRM's", AGAIN)),
]


def test_every_forged_plan_is_refused_and_the_crm_is_byte_identical(ws: Workspace) -> None:
    saved = reviewed_change(ws)
    before = crm_bytes(ws)
    for forge, expected in FORGERIES:
        doc = copy.deepcopy(saved)
        forge(doc)
        run = apply_file(ws, doc)
        assert_refused_whole(run, *expected)
        assert crm_bytes(ws) == before, f"{forge.__name__}: the CRM changed"
        assert not (ws.tmp / "r.json").exists(), "no report of a run that did not start"
    for text, expected in (
        ("{not json", "not JSON (line 1"),
        ("", "not JSON"),
        ("[1, 2]", "not a plan"),
        ('{"format_version": 2}', "not a plan of plan.schema.json"),
    ):
        run = apply_file(ws, text)
        assert_refused_whole(run, expected)
    (ws.tmp / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    run = ws.run("apply", "--plan", str(ws.tmp / "binary.json"), "--yes")
    assert_refused_whole(run, "not JSON")
    assert crm_bytes(ws) == before

    # An apply report is not a plan.
    report = {**saved, "status": "ok"}
    assert_refused_whole(apply_file(ws, report), "an apply report, not a plan")
    assert crm_bytes(ws) == before

    # The plan as made is applied, and only what it shows.
    genuine = apply_file(ws, saved, "plan.json")
    assert genuine.code == 0, genuine
    assert "Apply: 2 applied, 12 unchanged, 0 stale, 0 failed." in genuine.out
    assert ws.crm is not None
    live = ws.crm.settings(104233)[0]
    assert live["ftp"]["username"] == "springfield-ops"
    assert live["ftp"]["outbound_dir"] != "/exfiltrated"
    assert ws.crm.stored_secrets()[(300210, "ftp.auth.private_key")] == (
        "FTP_BROOKHAVEN_KEY_2026",
        ws.secrets["FTP_BROOKHAVEN_KEY_2026"],
    )
    assert ws.crm.notes(104233)[-1]["commit"] == ws.head()
    ws.assert_no_secret_leaks()


def test_a_plan_of_commit_a_is_refused_at_commit_b_with_other_desired_settings(
    ws: Workspace,
) -> None:
    saved = reviewed_change(ws)
    before = crm_bytes(ws)

    # B asks for another value: the first biller and path that differ are named.
    ws.replace("billers/104233.yaml", "username: springfield-ops\n", "username: springfield-it\n")
    ws.commit("springfield: it user instead")
    run = apply_file(ws, saved, "plan.json")
    assert_refused_whole(run, "biller 104233, ftp.username:", "differs", AGAIN)
    assert crm_bytes(ws) == before

    # C no longer asks for the change at all.
    ws.replace("billers/104233.yaml", "username: springfield-it\n", "username: springfield\n")
    ws.commit("springfield: back to the old user")
    run = apply_file(ws, saved, "plan.json")
    assert_refused_whole(run, "biller 104233, ftp.username:", "the repository does not", AGAIN)
    assert crm_bytes(ws) == before

    # D: the same desired settings as A, but a biller file was edited (a comment): the
    # inputs moved, so the plan is not the one reviewed any more.
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    ws.write("billers/104233.yaml", ws.read("billers/104233.yaml") + "# reviewed\n")
    ws.commit("springfield: ops user again, with a comment")
    run = apply_file(ws, saved, "plan.json")
    assert_refused_whole(run, "inputs_digest", AGAIN)
    assert crm_bytes(ws) == before
    ws.assert_no_secret_leaks()


def test_a_plan_still_applies_when_only_files_that_decide_nothing_changed(ws: Workspace) -> None:
    saved = reviewed_change(ws)
    made_at = ws.head()
    ws.write("README.md", "notes for people\n")
    ws.commit("docs only")
    run = apply_file(ws, saved, "plan.json")
    assert run.code == 0, run
    assert "Apply: 2 applied, 12 unchanged, 0 stale, 0 failed." in run.out
    # The audit note names the commit the settings came from now, not the file's claim.
    assert ws.crm is not None
    assert ws.crm.notes(104233)[-1]["commit"] == ws.head() != made_at
    ws.assert_no_secret_leaks()


def test_a_plan_of_one_biller_ignores_changes_to_billers_outside_it(ws: Workspace) -> None:
    ws.start_crm()
    converge(ws)
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    ws.commit("springfield: ops user")
    made = ws.run("plan", "--bid", "104233", "--out", str(ws.tmp / "plan.json"))
    assert made.code == 2, made
    saved = json.loads((ws.tmp / "plan.json").read_text(encoding="utf-8"))
    assert saved["scope"] == {"description": "104233", "selector": ["--bid", "104233"]}
    ws.replace("billers/300210.yaml", "username: bwa_ic\n", "username: bwa_ops\n")
    ws.commit("brookhaven: another change, not in the plan")
    run = ws.run("apply", "--plan", str(ws.tmp / "plan.json"), "--yes")
    assert run.code == 0, run
    assert "Apply: 1 applied, 0 unchanged, 0 stale, 0 failed." in run.out
    assert ws.crm is not None
    assert ws.crm.settings(300210)[0]["ftp"]["username"] == "bwa_ic", "not in the plan"
    ws.assert_no_secret_leaks()


def test_a_crm_edit_after_the_plan_makes_that_biller_stale_and_only_it(ws: Workspace) -> None:
    saved = reviewed_change(ws)
    assert ws.crm is not None
    ws.crm.edit(104233, {"advanced": {"account_number_label": "Service Location ID"}})
    edited = ws.crm.settings(104233)
    run = apply_file(ws, saved, "plan.json")
    assert run.code == 1, run
    assert "stale     104233 Springfield Water & Sewer" in run.out
    assert "Apply: 1 applied, 12 unchanged, 1 stale, 0 failed." in run.out
    report = json.loads((ws.tmp / "r.json").read_text(encoding="utf-8"))
    assert_plan_document(report)
    assert report["status"] == "failed"
    assert statuses(report)[104233] == "stale" and statuses(report)[300210] == "applied"
    assert ws.crm.settings(104233) == edited, "the person's edit stands, nothing written over it"
    ws.assert_no_secret_leaks()


@pytest.mark.parametrize(
    "path",
    [
        "int360apply/render/plan.py",
        "pyproject.toml",
        "uv.lock",
        "requirements-ci.txt",
        "schemas/README.md",
    ],
)
def test_a_commit_that_only_touches_code_or_dependencies_plans_every_biller(
    ws: Workspace, path: str
) -> None:
    ws.start_crm()
    converge(ws)
    ws.write(path, "# changed\n")
    ws.commit(f"only {path}")
    plan = ws.run("plan", "--changed-since", "HEAD~1", "--format", "json")
    assert plan.code == 0, plan
    doc = plan.json()
    assert doc["summary"] == {"change": 0, "unchanged": 14, "error": 0}
    assert path in doc["scope"]["description"]
    # Every biller is in scope, none changes: the guard has nothing to count, nothing is written.
    before = crm_bytes(ws)
    applied = ws.run("apply", "--changed-since", "HEAD~1", "--yes")
    assert applied.code == 0, applied
    assert "Apply: 0 applied, 14 unchanged, 0 stale, 0 failed." in applied.out
    assert crm_bytes(ws) == before
