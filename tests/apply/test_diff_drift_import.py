"""``int360 diff``, ``drift [--adopt]``, ``import`` and deleted biller files, end to end."""

from __future__ import annotations

import difflib
import re

import pytest
import yaml

from ._support import (
    CASELLE_BATCH,
    EVERY_GROUP,
    GROUPS,
    Workspace,
    assert_plan_document,
    by_bid,
    statuses,
    text_pos,
)

pytestmark = pytest.mark.slow  # end to end: real processes, git and the sandbox CRM

MODELINE = "# yaml-language-server: $schema=../schemas/biller.schema.json"


def converge(ws: Workspace) -> None:
    # The first apply writes every biller: over the 30 % guard of a real CRM.
    run = ws.run("apply", "--yes", "--max-percent", "100")
    assert run.code == 0, run


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) from ``before`` to ``after``; the spaces before an
    end-of-line comment do not count (a longer value may push the comment)."""

    def lines(text: str) -> list[str]:
        return [re.sub(r"\s+#", " #", line) for line in text.splitlines()]

    diff = list(difflib.ndiff(lines(before), lines(after)))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


# --- diff ---------------------------------------------------------------------------------


def test_diff_against_a_commit_from_git_alone(ws: Workspace) -> None:
    # A CRM that cannot be reached: diff must not need one.
    ws.env["INT360_CRM_URL"] = "http://127.0.0.1:9"
    same = ws.run("diff", "--base", "HEAD")
    assert same.code == 0, same

    rel = "billers/104233.yaml"
    ws.replace(rel, "username: springfield\n", "username: springfield-ops\n")
    line, col = text_pos(ws.read(rel), "username:", "springfield-ops")
    ws.commit("springfield: new FTP user")
    one = ws.run("diff", "--base", "HEAD~1")
    assert one.code == 2, one
    assert f'ftp.username: "springfield" → "springfield-ops"   [{rel}:{line}:{col}]' in one.out
    assert "~ 104233 Springfield Water & Sewer (caselle-batch-utility)" in one.out
    assert "1 to change" in one.out

    # A partner change fans out; a renamed secret is a change, shown by name.
    ws.replace(
        "partners/caselle-batch-utility.yaml",
        'invoice_file_pattern: "UB_BILLS_*.csv"',
        'invoice_file_pattern: "UB_BILLS_*.txt"',
    )
    ws.replace("billers/200145.yaml", "FTP_MAPLE_GROVE_KEY}", "FTP_MAPLE_GROVE_KEY_2025}")
    ws.commit("caselle: new bill file pattern; maple grove: new key")
    fan = ws.run("diff", "--base", "HEAD~1", "--format", "json")
    assert fan.code == 2, fan
    doc = fan.json()
    assert_plan_document(doc)
    assert statuses(doc) == {**dict.fromkeys(CASELLE_BATCH, "change"), 200145: "change"}
    for bid in CASELLE_BATCH:
        assert [c["path"] for c in by_bid(doc)[bid]["changes"]] == [
            "invoicing.invoice_file_pattern"
        ]
    (secret,) = by_bid(doc)[200145]["changes"]
    assert secret["path"] == "ftp.auth.private_key" and secret["secret"] is True
    assert secret["before"] == {"secret": "FTP_MAPLE_GROVE_KEY"}
    assert secret["after"] == {"secret": "FTP_MAPLE_GROVE_KEY_2025"}
    markdown = ws.run("diff", "--base", "HEAD~1", "--format", "markdown")
    assert markdown.code == 2
    assert (
        "`partners/caselle-batch-utility.yaml` changed: used by 4 billers in scope, 4 to change"
        in markdown.out
    )
    assert "(secret FTP_MAPLE_GROVE_KEY) → " not in markdown.out  # a table, not arrows
    assert "<code>(secret FTP_MAPLE_GROVE_KEY_2025)</code>" in markdown.out
    assert not ws.embedded_db.exists(), "diff started no CRM"
    ws.assert_no_secret_leaks()


# --- a deleted biller file ---------------------------------------------------------------


def test_deleted_biller_file_is_no_longer_managed_and_nothing_is_written(ws: Workspace) -> None:
    crm = ws.start_crm()
    converge(ws)
    before = crm.settings(112006)
    notes = crm.notes(112006)
    ws.git("rm", "-q", "billers/112006.yaml")
    ws.git("mv", "billers/104871.yaml", "billers/104871-shelbyville.yaml")  # still managed
    ws.commit("pine bluff leaves the platform; shelbyville's file gets a name")

    plan = ws.run("plan", "--changed-since", "HEAD~1", "--format", "json")
    assert plan.code == 0, plan  # nothing to write
    doc = plan.json()
    assert_plan_document(doc)
    assert doc["summary"] == {"change": 0, "unchanged": 1, "error": 0, "removed": 1}
    assert statuses(doc) == {104871: "unchanged", 112006: "removed"}
    entry = by_bid(doc)[112006]
    assert entry["name"] == "billers/112006.yaml" and entry["changes"] == []

    applied = ws.run("apply", "--changed-since", "HEAD~1", "--yes")
    assert applied.code == 0, applied
    assert "- 112006 billers/112006.yaml" in applied.out
    assert "no longer managed (its file was deleted); nothing changes in the CRM" in applied.out
    assert "Plan: 0 to change, 1 unchanged, 0 with errors, 1 no longer managed." in applied.out
    assert "Apply: 0 applied, 1 unchanged, 0 stale, 0 failed." in applied.out
    assert crm.settings(112006) == before, "the CRM keeps the biller as it was"
    assert crm.notes(112006) == notes

    diff = ws.run("diff", "--base", "HEAD~1")
    assert diff.code == 2, diff
    assert "no longer managed" in diff.out
    ws.assert_no_secret_leaks()


# --- import --------------------------------------------------------------------------------


def test_import_then_plan_shows_no_change_for_billers_with_overrides_in_every_group(
    ws: Workspace,
) -> None:
    crm = ws.start_crm()
    converge(ws)
    originals = {}
    for bid in EVERY_GROUP:
        (path,) = (ws.root / "billers").glob(f"{bid}*.yaml")
        originals[bid] = path.read_text(encoding="utf-8")
        path.unlink()
    for name in ("110392-cedar-falls.yaml", "112006.yaml"):  # Caselle Batch on ID 175
        (ws.root / "billers" / name).unlink()

    imported = ws.run("import", *map(str, EVERY_GROUP))
    assert imported.code == 0, imported
    assert sorted(imported.out.splitlines()[1:]) == [f"wrote billers/{b}.yaml" for b in EVERY_GROUP]
    by_id = ws.run("import", "--integrator-id", "175")
    assert by_id.code == 0, by_id
    assert sorted(by_id.out.splitlines()[1:]) == [
        "wrote billers/110392.yaml",
        "wrote billers/112006.yaml",
    ]

    validated = ws.run("validate")
    assert validated.code == 0, validated
    bids = [*EVERY_GROUP, 110392, 112006]
    plan = ws.run("plan", "--bid", *map(str, bids))
    assert plan.code == 0, plan
    assert f"Plan: 0 to change, {len(bids)} unchanged, 0 with errors." in plan.out

    for bid in EVERY_GROUP:
        text = ws.read(f"billers/{bid}.yaml")
        assert text.splitlines()[0] == MODELINE
        assert f"bid: {bid}\n" in text and "integrator_id" not in text
        for group in GROUPS:
            assert f"\n  {group}:" in text, f"{bid}: the {group} overrides are gone"
        assert "set:" not in text and "value:" not in text
    maple = yaml.safe_load(ws.read("billers/200145.yaml"))["overrides"]
    assert maple["ftp"]["auth"]["private_key"] == {"secret": "FTP_MAPLE_GROVE_KEY"}
    assert "notify_emails" in maple["data_pump"], "the partner's list stays dropped"
    assert maple["data_pump"]["notify_emails"] is None
    for bid in (110392, 112006):
        text = ws.read(f"billers/{bid}.yaml")
        assert "partner: caselle-batch-utility\n" in text and "integrator_id: 175\n" in text

    # An existing file is not overwritten without --force.
    first = ws.read("billers/200145.yaml")
    ws.replace("billers/200145.yaml", f"{MODELINE}\n", f"{MODELINE}\n# reviewed by the treasurer\n")
    kept = ws.read("billers/200145.yaml")
    refused = ws.run("import", "200145")
    assert refused.code == 1, refused
    assert "billers/200145.yaml: exists; pass --force to overwrite" in refused.err
    assert ws.read("billers/200145.yaml") == kept
    forced = ws.run("import", "200145", "--force")
    assert forced.code == 0, forced
    assert ws.read("billers/200145.yaml") == first, "the same live state imports the same file"
    assert crm.notes(200145) and len(crm.notes(200145)) == 1, "import and plan write nothing"
    ws.assert_no_secret_leaks()


# --- drift ------------------------------------------------------------------------------------


def test_drift_adopt_rewrites_the_file_keeping_comments_then_drift_exits_0(ws: Workspace) -> None:
    rel = "billers/200145.yaml"
    ws.replace(
        rel, "    username: treasurer\n", "    username: treasurer  # the treasurer's own login\n"
    )
    ws.commit("comment")
    crm = ws.start_crm()
    converge(ws)
    original = ws.read(rel)
    red_mesa = ws.read("billers/500102-red-mesa.yaml")
    # Changes made in the CRM by hand: one back to the template's value.
    crm.edit(
        200145,
        {
            "ftp": {"username": "treasurer-2"},
            "invoicing": {"purge_after_days": 3650},
            "advanced": {"autopay_enabled": True},
        },
    )
    crm.edit(500102, {"data_pump": {"schedule": "0 3 * * *"}})

    drift = ws.run("drift")
    assert drift.code == 2, drift
    assert '    ftp.username: "treasurer-2" → "treasurer"' in drift.out
    assert "Plan: 2 to change, 12 unchanged, 0 with errors." in drift.out

    adopt = ws.run("drift", "--adopt")
    assert adopt.code == 2, adopt
    assert f"{rel}: rewritten to the live settings" in adopt.err
    assert "billers/500102-red-mesa.yaml: rewritten to the live settings" in adopt.err

    after = ws.run("drift")
    assert after.code == 0, after
    assert ws.run("validate").code == 0

    rewritten = ws.read(rel)
    assert rewritten.splitlines()[:3] == original.splitlines()[:3], "modeline and comments kept"
    removed, added = changed_lines(original, rewritten)
    # Minimal: only the lines of what drifted change (the autopay override goes: the
    # live value is the template's again); the comment on the changed line stays.
    assert sorted(removed) == [
        "    autopay_enabled: false",
        "    purge_after_days: 2555",
        "    username: treasurer # the treasurer's own login",
    ]
    assert sorted(added) == [
        "    purge_after_days: 3650",
        "    username: treasurer-2 # the treasurer's own login",
    ]
    removed, added = changed_lines(red_mesa, ws.read("billers/500102-red-mesa.yaml"))
    assert removed == []
    assert [line.replace('"', "") for line in added] == ["    schedule: 0 3 * * *"]
    assert crm.notes(200145) and len(crm.notes(200145)) == 1, "drift writes nothing to the CRM"
    ws.assert_no_secret_leaks()


def test_drift_adopt_refuses_a_locked_path_and_leaves_the_file(ws: Workspace) -> None:
    crm = ws.start_crm()
    converge(ws)
    original = ws.read("billers/200388.yaml")
    crm.edit(200388, {"data_pump": {"layout": "bsa-custom-v9"}})  # partners/bsa.yaml locks it
    crm.edit(500102, {"data_pump": {"schedule": "0 3 * * *"}})  # adoptable
    adopt = ws.run("drift", "--adopt")
    # The drift is reported (2); what can be adopted is, what cannot is named.
    assert adopt.code == 2, adopt
    assert "billers/200388.yaml: not adopted" in adopt.err and "data_pump.layout" in adopt.err
    assert "billers/500102-red-mesa.yaml: rewritten to the live settings" in adopt.err
    assert ws.read("billers/200388.yaml") == original
    assert ws.run("validate").code == 0
    ws.assert_no_secret_leaks()
