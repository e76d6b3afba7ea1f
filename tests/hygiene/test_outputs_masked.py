"""A plaintext the CRM holds at a secret path (a legacy record set up by hand) is never
shown by any output format, reported, or adopted into a file; URL credentials and a
mistyped token never show either."""

from __future__ import annotations

import json
import secrets
import sqlite3
import stat

from apply._support import Workspace, assert_plan_document, by_bid, stage_raw

LEGACY = "legacy-plaintext-" + secrets.token_hex(8)
BID = 200145  # overrides in every group; its FTP key is ftp.auth.private_key


def test_a_live_plaintext_at_a_secret_path_is_masked_in_every_format_and_never_adopted(
    ws: Workspace,
) -> None:
    crm = ws.start_crm()
    assert ws.run("apply", "--yes", "--max-percent", "100").code == 0  # a first apply: every biller
    ws.secrets["legacy"] = LEGACY  # searched for by assert_no_secret_leaks
    stage_raw(crm.db, BID, ("ftp", "auth", "private_key"), LEGACY)
    # A read form carrying its value, and a plaintext where the file sets nothing (a removal).
    stage_raw(crm.db, BID, ("ftp", "pgp_public_key"), {"secret": "K", "set": True, "value": LEGACY})
    assert LEGACY in json.dumps(crm.settings(BID)[0]), "the CRM really holds it"

    outputs = {}
    for fmt in ("text", "markdown", "json"):
        run = ws.run("plan", "--format", fmt, "--bid", str(BID))
        assert run.code == 2, run
        outputs[f"plan {fmt}"] = run.out
        drift = ws.run("drift", "--format", fmt)
        assert drift.code == 2, drift
        outputs[f"drift {fmt}"] = drift.out
    plan = json.loads(outputs["plan json"])
    assert_plan_document(plan)
    changes = {c["path"]: c for c in by_bid(plan)[BID]["changes"]}
    assert changes["ftp.auth.private_key"]["before"] == {"secret": None}
    assert changes["ftp.auth.private_key"]["secret"] is True
    assert "(secret) → (secret FTP_MAPLE_GROVE_KEY)" in outputs["plan text"]

    # Import and adopt refuse the biller, name the field, and leave its file alone.
    rel = "billers/200145.yaml"
    before = ws.read(rel)
    imported = ws.run("import", str(BID), "--force")
    assert imported.code == 1, imported
    assert "not imported" in imported.err and "ftp.auth.private_key" in imported.err
    adopt = ws.run("drift", "--adopt")
    assert adopt.code == 2, adopt  # drift found, the file not adopted
    assert f"{rel}: not adopted" in adopt.err and "ftp.auth.private_key" in adopt.err
    assert ws.read(rel) == before

    report = ws.tmp / "report.json"
    applied = ws.run("apply", "--yes", "--bid", str(BID), "--report", str(report))
    assert applied.code == 0, applied
    assert_plan_document(json.loads(report.read_text()))
    ws.assert_no_secret_leaks()


def test_unknown_live_fields_are_not_imported(ws: Workspace) -> None:
    crm = ws.start_crm()
    assert ws.run("apply", "--yes", "--max-percent", "100").code == 0  # a first apply: every biller
    stage_raw(crm.db, BID, ("ftp", "legacy_mode"), "on")
    stage_raw(crm.db, BID, ("crm_only", "flag"), True)
    imported = ws.run("import", str(BID), "--force")
    assert imported.code == 0, imported
    text = ws.read("billers/200145.yaml")
    assert "legacy_mode" not in text and "crm_only" not in text
    assert "ftp.legacy_mode" in imported.err and "crm_only" in imported.err
    assert ws.run("validate").code == 0


def test_url_credentials_are_never_shown(ws: Workspace) -> None:
    crm = ws.start_crm()
    password = "pw-" + secrets.token_hex(6)
    ws.env["INT360_CRM_URL"] = crm.url.replace("http://", f"http://ops:{password}@")
    shown = crm.url.replace("http://", "http://***@")
    plan = ws.run("plan")
    assert plan.code == 2, plan
    assert plan.out.splitlines()[0] == f"CRM: {shown}"
    as_json = ws.run("plan", "--format", "json", "--out", str(ws.tmp / "plan.json"))
    assert as_json.json()["crm"] == shown
    markdown = ws.run("plan", "--format", "markdown")
    assert f"CRM: `{shown}`" in markdown.out
    report = ws.tmp / "report.json"
    applied = ws.run(
        "apply",
        "--yes",
        "--max-percent",
        "100",
        "--plan",
        str(ws.tmp / "plan.json"),
        "--report",
        str(report),
    )
    assert applied.code == 0, applied
    assert json.loads(report.read_text())["crm"] == shown
    texts = [r.out + r.err for r in ws.runs] + [
        report.read_text(),
        (ws.tmp / "plan.json").read_text(),
    ]
    assert not [t for t in texts if password in t]
    ws.assert_no_secret_leaks()


def test_a_token_with_a_trailing_newline_is_a_configuration_error(ws: Workspace) -> None:
    crm = ws.start_crm()
    token = "tok-" + secrets.token_hex(10)
    for variable, value in (
        ("INT360_CRM_TOKEN", token + "\n"),
        ("INT360_CRM_URL", crm.url + "\n"),
    ):
        for command in (
            ("plan",),
            ("apply", "--yes", "--max-percent", "100"),
            ("drift",),
            ("import", str(BID), "--force"),
        ):
            run = ws.run(*command, env={"INT360_CRM_TOKEN": token, variable: value})
            assert run.code == 1, run
            assert "Traceback" not in run.err and token not in run.out + run.err
            (line,) = run.err.splitlines()
            assert variable in line and "control character" in line
    assert crm.notes(BID) == [], "nothing was written"


def test_the_embedded_sandbox_stores_placeholders_in_private_files(ws: Workspace) -> None:
    ws.run("validate")
    applied = ws.run("apply", "--yes", "--max-percent", "100", "--rotate-secrets")
    assert applied.code == 0, applied
    assert "placeholder values, never real ones" in applied.err
    db = ws.embedded_db
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        values = {row[0] for row in conn.execute("SELECT value FROM secrets")}
    assert values == {"sandbox-placeholder-not-a-secret"}
    state = db.parent
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [p for p in state.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"sandbox.sqlite", "validate-cache.json"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
    ws.assert_no_secret_leaks()


def test_an_older_world_readable_state_directory_is_narrowed(ws: Workspace) -> None:
    state = ws.root / ".int360"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    (state / "sandbox.sqlite").touch(mode=0o644)
    (state / "sandbox.sqlite").chmod(0o644)
    assert ws.run("plan").code == 2
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "sandbox.sqlite").stat().st_mode) == 0o600
