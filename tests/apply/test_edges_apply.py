"""Writes to the CRM on awkward input, against the real sandbox (issue 15, "Writes to
the CRM"): a mapping the file drops goes as ``null``; one biller's failure stays that
biller's; Audit-Note values over the CRM's limits still write."""

from __future__ import annotations

from ._support import CASELLE_BATCH, MakeWorkspace, Workspace, assert_plan_document, by_bid

RED_MESA = "billers/500102-red-mesa.yaml"
FTP_BLOCK = (
    "  ftp:\n"
    "    enabled: true\n"
    "    host: sftp.redmesa.example.gov\n"
    "    username: redmesa\n"
    "    auth:\n"
    "      method: ssh_key\n"
    "      private_key: {secret: FTP_SPRINGFIELD_KEY}\n"
    '    host_key_fingerprint: "SHA256:2vYCu1ls224ZLfl2fI9CR8RmejwpgLhiJgsxdGCPfs4"\n'
)


def test_a_mapping_removed_from_the_file_is_removed_from_the_crm(ws: Workspace) -> None:
    crm = ws.start_crm()
    ws.write(RED_MESA, ws.read(RED_MESA) + FTP_BLOCK)
    first = ws.run("apply", "--bid", "500102", "--yes")
    assert first.code == 0, first
    assert crm.settings(500102)[0]["ftp"]["auth"]["method"] == "ssh_key"

    ws.write(RED_MESA, ws.read(RED_MESA).replace(FTP_BLOCK, ""))
    plan = ws.run("plan", "--bid", "500102", "--format", "json")
    assert plan.code == 2, plan
    doc = plan.json()
    assert_plan_document(doc)
    changes = {c["path"]: c for c in by_bid(doc)[500102]["changes"]}
    assert changes["ftp.auth"]["after"] is None
    assert changes["ftp.auth"]["before"] == {
        "method": "ssh_key",
        "private_key": {"secret": "FTP_SPRINGFIELD_KEY"},
    }
    applied = ws.run("apply", "--bid", "500102", "--yes")
    assert applied.code == 0, applied
    ftp = crm.settings(500102)[0]["ftp"]
    assert "auth" not in ftp, ftp  # not auth: {}
    assert "host" not in ftp and ftp["enabled"] is False
    again = ws.run("plan", "--bid", "500102")
    assert again.code == 0, again
    ws.assert_no_secret_leaks()


def test_audit_note_values_over_the_crm_limits_still_write(ws: Workspace) -> None:
    """A non-hex GITHUB_SHA and a 250-character actor made every PATCH fail with 422."""
    crm = ws.start_crm()
    actor = "release-bot-" + "x" * 238
    run = ws.run(
        "apply",
        "--bid",
        "104233",
        "200145",
        "--yes",
        env={"GITHUB_SHA": "refs/pull/42/merge", "GITHUB_ACTOR": actor},
    )
    assert run.code == 0, run
    assert "Apply: 2 applied" in run.out
    for bid in (104233, 200145):
        (note,) = crm.notes(bid)
        assert note["author"] == actor[:200]
        assert "commit" not in note  # not a SHA: named in the text only
        assert "refs/pull/42/merge" in note["text"]


# --- drift --adopt and import (issue 15) -------------------------------------------------


def test_adopt_never_writes_a_file_that_does_not_validate(ws: Workspace) -> None:
    """A required field removed in the CRM would become ``field: null`` (incomplete)."""
    crm = ws.start_crm()
    assert ws.run("apply", "--yes", "--max-percent", "100").code == 0
    original = ws.read("billers/104233.yaml")
    crm.edit(104233, {"ftp": {"host": None}})  # ftp is enabled: a host is required
    crm.edit(500102, {"data_pump": {"schedule": "0 3 * * *"}})
    adopt = ws.run("drift", "--adopt")
    assert adopt.code == 2, adopt
    assert "Traceback" not in adopt.err
    line = next(x for x in adopt.err.splitlines() if x.startswith("billers/104233.yaml"))
    assert line.startswith("billers/104233.yaml: not adopted: the file would not validate:"), line
    assert "ftp.host" in line
    assert ws.read("billers/104233.yaml") == original
    assert "billers/500102-red-mesa.yaml: rewritten to the live settings" in adopt.err
    assert ws.run("validate").code == 0


def test_the_same_drift_on_every_biller_of_a_partner_names_the_template(
    make_ws: MakeWorkspace,
) -> None:
    ws = make_ws(
        (
            "104233.yaml",
            "104871.yaml",
            "110392-cedar-falls.yaml",
            "112006.yaml",
            "500102-red-mesa.yaml",
        )
    )
    crm = ws.start_crm()
    assert ws.run("apply", "--yes", "--max-percent", "100").code == 0
    for bid in CASELLE_BATCH:
        crm.edit(bid, {"invoicing": {"purge_after_days": 400}})
    drift = ws.run("drift", "--adopt")
    assert drift.code == 2, drift
    hints = [x for x in drift.err.splitlines() if x.startswith("hint: ")]
    assert hints == [
        "hint: every biller of partner caselle-batch-utility (4) drifted the same way "
        "(invoicing.purge_after_days): the template partners/caselle-batch-utility.yaml "
        "is likely what should change, not 4 overrides"
    ], drift.err
    assert ws.run("validate").code == 0
    assert ws.run("drift").code == 0


def test_import_of_a_biller_with_no_settings_says_so(ws: Workspace) -> None:
    crm = ws.start_crm()
    crm.put_profile(104999, "Newtown Utilities", 201)
    run = ws.run("import", "104999")
    assert run.code == 1, run
    assert run.err.strip().splitlines()[-1] == (
        "billers/104999.yaml: not imported: the CRM holds no settings for it yet, so there "
        "is nothing to import; write billers/104999.yaml by hand (see the README) and apply it"
    )
    assert not ws.path("billers/104999.yaml").exists()


def test_import_by_integrator_id_skips_existing_files(ws: Workspace) -> None:
    ws.start_crm()
    before = {p.name: p.read_bytes() for p in (ws.root / "billers").iterdir()}
    run = ws.run("import", "--integrator-id", "201")
    assert run.code == 0, run
    assert "billers/104233.yaml: exists; skipped (--force overwrites it)" in run.err
    assert {p.name: p.read_bytes() for p in (ws.root / "billers").iterdir()} == before


def test_import_of_an_integrator_id_no_partner_has_is_a_usage_error(ws: Workspace) -> None:
    run = ws.run("import", "--integrator-id", "999")
    assert run.code == 64, run
    assert run.err.strip() == (
        "int360: error: --integrator-id 999: no partner has this integrator ID; add it to "
        "the partner's integrator_ids or pass --partner SLUG"
    )


def test_import_with_a_partner_that_lacks_the_profiles_integrator_id_writes_nothing(
    ws: Workspace,
) -> None:
    ws.start_crm()
    ws.path("billers/104233.yaml").unlink()
    run = ws.run("import", "104233", "--partner", "bsa")
    assert run.code == 1, run
    assert "billers/104233.yaml: not imported: its CRM profile has integrator ID 201" in run.err
    assert not ws.path("billers/104233.yaml").exists()


def test_import_of_bid_zero_or_negative_is_a_usage_error(ws: Workspace) -> None:
    for bid in ("0", "-5"):
        run = ws.run("import", bid)
        assert run.code == 64, run
        assert f"BID {bid}" in run.err
    assert not list((ws.root / "billers").glob("0*.yaml"))
    assert not list((ws.root / "billers").glob("-5*.yaml"))


def test_import_by_an_integrator_id_no_crm_biller_has_says_so(ws: Workspace) -> None:
    crm = ws.start_crm()
    for bid in (110392, 112006):  # the billers of Caselle Batch's ID 175 leave the CRM
        crm.delete_profile(bid)
    run = ws.run("import", "--integrator-id", "175")
    assert run.code == 1, run
    assert run.err.strip().splitlines()[-1] == (
        "int360: no biller in the CRM has integrator ID 175"
    )


def test_import_of_a_bid_the_crm_does_not_have_says_so(ws: Workspace) -> None:
    ws.start_crm()
    run = ws.run("import", "424242")
    assert run.code == 1, run
    assert run.err.strip().splitlines()[-1] == "424242: not imported: no biller 424242 in the CRM"
    assert not ws.path("billers/424242.yaml").exists()


def test_an_interrupted_apply_still_writes_its_report(ws: Workspace) -> None:
    """Ctrl-C (or a cancelled CI job's SIGINT) mid-apply: the writes under way finish, no
    other starts, and the report says exactly which billers were written."""
    import json
    import signal
    import time

    from int360apply.crm.sandbox.faults import FaultConfig

    from ._support import written_billers

    crm = ws.start_crm(faults=FaultConfig(latency_ms=150))
    report_file = ws.tmp / "report.json"
    child = ws.popen(
        "apply",
        "--yes",
        "--max-percent",
        "100",
        "--concurrency",
        "1",
        "--report",
        str(report_file),
        out=ws.tmp / "apply.log",
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not written_billers(crm.db):
            assert child.poll() is None, (ws.tmp / "apply.log").read_text()
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    log = (ws.tmp / "apply.log").read_text(encoding="utf-8")
    assert child.returncode == 130, log
    assert "Traceback" not in log
    assert "int360: interrupted; writes not yet started were not made" in log
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert_plan_document(report)
    statuses = {b["bid"]: b["status"] for b in report["billers"]}
    applied = {bid for bid, status in statuses.items() if status == "applied"}
    assert applied == written_billers(crm.db), "the report names exactly what was written"
    assert 0 < len(applied) < 14
    interrupted = {
        b["bid"]
        for b in report["billers"]
        if b["errors"][:1] and b["errors"][0]["code"] == "interrupted"
    }
    assert interrupted and not interrupted & applied
    assert all(crm.notes(bid) == [] for bid in interrupted)
