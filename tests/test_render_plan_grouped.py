"""Plan output that scales: identical changes grouped, billers listed up to a limit, the
fan-out of every changed partner file, one count with one meaning, the plan's origin."""

from __future__ import annotations

import json
import re

from int360apply.plan import BillerError, BillerPlan, Change, Plan
from int360apply.render.plan import markdown, text
from int360apply.render.plan_groups import DETAIL_LIMIT, group_changes
from int360apply.render.plan_json import as_json

SCHEDULE = ("data_pump.schedule", "0 6 * * 1-5", "0 7 * * 1-5", "partners/harris-aus.yaml:17:15")


def template_change(count: int, *, unchanged: int = 0, **plan_args: object) -> Plan:
    """``count`` billers of harris-aus whose only change is the partner's new schedule."""
    billers = [
        BillerPlan(
            100000 + i,
            f"Town{i:05d} Utilities",
            "harris-aus",
            "change",
            f'"{i}"',
            [Change(*SCHEDULE)],
        )
        for i in range(count)
    ]
    billers += [
        BillerPlan(200000 + i, f"Quiet{i} Utilities", "harris-aus", "unchanged", '"1"')
        for i in range(unchanged)
    ]
    fanout = {"harris-aus": count + unchanged}
    return Plan("http://127.0.0.1:8360", "a" * 40, billers, fanout, **plan_args)  # type: ignore[arg-type]


def test_a_1000_biller_template_change_is_one_line_of_text() -> None:
    out = text(template_change(1000))
    lines = out.splitlines()
    assert (
        '  data_pump.schedule: "0 6 * * 1-5" → "0 7 * * 1-5" on 1,000 billers   '
        "[partners/harris-aus.yaml:17:15]"
    ) in lines
    listed = [line for line in lines if line.startswith("~ ")]
    assert len(listed) == DETAIL_LIMIT
    assert listed[0] == "~ 100000 Town00000 Utilities (harris-aus): 1 change"
    assert "… and 980 to change not listed (-v, --format json or --out list them)." in lines
    assert (
        "partners/harris-aus.yaml changed: used by 1,000 billers in scope, 1,000 to change" in lines
    )
    assert lines[-1] == "Plan: 1,000 to change, 0 unchanged, 0 with errors."
    assert len(lines) < 30


def test_verbose_lists_every_biller_and_its_changes() -> None:
    out = text(template_change(1000, unchanged=3), verbose=True)
    assert out.count("\n~ ") + out.startswith("~ ") == 1000
    assert out.count('    data_pump.schedule: "0 6 * * 1-5" → "0 7 * * 1-5"') == 1000
    assert out.count("\n= ") == 3  # unchanged ones too
    assert "not listed" not in out


def test_few_billers_keep_their_details_and_shared_changes_are_grouped_too() -> None:
    out = text(template_change(3))
    assert out.count('    data_pump.schedule: "0 6 * * 1-5" → "0 7 * * 1-5"   [') == 3
    assert 'data_pump.schedule: "0 6 * * 1-5" → "0 7 * * 1-5" on 3 billers' in out


def test_a_change_of_one_biller_alone_is_not_repeated_as_a_group() -> None:
    plan = template_change(1)
    assert "grouped" not in text(plan)
    assert "grouped" not in markdown(plan)


def test_over_the_limit_errors_are_listed_first() -> None:
    plan = template_change(100)
    plan.billers.append(
        BillerPlan(
            999999, "Broken", "harris-aus", "error", errors=[BillerError("unknown-biller", "no")]
        )
    )
    lines = text(plan).splitlines()
    assert lines[0] == "! 999999 Broken (harris-aus)"
    assert lines[1] == "    error[unknown-biller]: no"


def test_groups_are_widest_first_and_keep_a_common_source() -> None:
    plan = template_change(5)
    plan.billers[0].changes.append(
        Change("ftp.host", None, "sftp.a.example.gov", "billers/100000.yaml:9:11")
    )
    for biller in plan.billers[1:3]:
        biller.changes.append(Change("ftp.port", 21, 22, f"billers/{biller.bid}.yaml:10:11"))
    groups = group_changes(plan.changed)
    assert [(g.path, len(g.bids), g.source) for g in groups] == [
        ("data_pump.schedule", 5, "partners/harris-aus.yaml:17:15"),
        ("ftp.port", 2, "each biller's file"),
        ("ftp.host", 1, "billers/100000.yaml:9:11"),
    ]
    assert groups[1].line() == "ftp.port: 21 → 22 on 2 billers   [each biller's file]"


def test_distinct_changes_beyond_the_group_limit_are_counted() -> None:
    plan = template_change(40)
    for biller in plan.billers:
        biller.changes.append(
            Change(
                "ftp.host",
                None,
                f"sftp.t{biller.bid}.example.gov",
                f"billers/{biller.bid}.yaml:9:11",
            )
        )
    out = text(plan)
    assert "… 26 more distinct changes to 1 field on 26 billers" in out
    assert len(out.splitlines()) < 60


def test_secrets_grouped_by_name_only() -> None:
    plan = template_change(2)
    for biller in plan.billers:
        biller.changes.append(
            Change("ftp.auth.password", {"secret": "OLD"}, {"secret": "NEW"}, None, secret=True)
        )
    assert "ftp.auth.password: (secret OLD) → (secret NEW) on 2 billers" in text(plan)


# --- the comment -------------------------------------------------------------------------


def test_comment_leads_with_the_grouped_summary_and_lists_20_billers() -> None:
    out = markdown(template_change(1000))
    assert out.startswith("### Int360 plan: 1,000 to change, 0 unchanged, 0 with errors\n")
    row = (
        '| <code>data_pump.schedule</code> | <code>"0 6 * * 1-5"</code> | '
        '<code>"0 7 * * 1-5"</code> | 1,000 | partners/harris-aus.yaml:17:15 |'
    )
    assert row in out
    assert out.index(row) < out.index("<details>")
    assert out.count("<details>") == DETAIL_LIMIT
    assert "_… 980 more biller(s) not shown one by one; the full plan is in the workflow" in out
    assert len(out) < 10_000


def test_comment_counts_have_one_meaning() -> None:
    """8 billers use the changed partner file: 7 change, 1 already matches. Every number
    the comment prints is a count of billers, and "to change" means the same everywhere."""
    out = markdown(template_change(7, unchanged=1))
    head = out.split("<details>")[0]
    assert head.startswith("### Int360 plan: 7 to change, 1 unchanged, 0 with errors\n")
    assert "- `partners/harris-aus.yaml` changed: used by 8 billers in scope, 7 to change" in head
    assert "**Changes, grouped** (7 billers to change):" in head
    words = re.sub(r"<code>.*?</code>|`[^`]*`|\S+:\d+:\d+", " ", head)  # values, files
    numbers = sorted({int(n) for n in re.findall(r"\b\d+\b", words)})
    assert numbers == [0, 1, 7, 8], "no other count in the summary part"


def test_defaults_change_names_its_fanout() -> None:
    plan = template_change(3, unchanged=2)
    plan.billers.append(BillerPlan(300001, "Other", "bsa", "change", '"1"', [Change(*SCHEDULE)]))
    plan.fanout = {"_defaults": 6, "harris-aus": 5}
    out = markdown(plan)
    assert "- `partners/_defaults.yaml` changed: used by 6 billers in scope, 4 to change" in out
    assert "- `partners/harris-aus.yaml` changed: used by 5 billers in scope, 3 to change" in out
    assert "partners/_defaults.yaml changed: used by 6 billers in scope, 4 to change" in text(plan)


def test_header_names_the_commit_or_the_uncommitted_changes() -> None:
    committed = markdown(template_change(2))
    assert "CRM: `http://127.0.0.1:8360` · commit `aaaaaaaaaaaa`" in committed
    assert "uncommitted" not in committed
    dirty = template_change(2, uncommitted=True)
    out = markdown(dirty)
    assert (
        "CRM: `http://127.0.0.1:8360` · **made from uncommitted changes in the working tree** "
        "on top of commit `aaaaaaaaaaaa`"
    ) in out
    assert "· commit `" not in out, "the commit is not named as the plan's source"


def test_json_keeps_every_biller() -> None:
    doc = json.loads(as_json(template_change(1000)))
    assert len(doc["billers"]) == 1000
    assert doc["summary"] == {"change": 1000, "unchanged": 0, "error": 0}


# --- the pull-request comment (github-comment format, from the JSON plan) ---------------


def pr_comment(plan: Plan) -> str:
    from int360apply.render.pr_comment import pr_comment as render

    doc = json.loads(as_json(plan))
    return render(
        head="b" * 40,
        base="a" * 40,
        plan=doc,
        plan_state="changes",
        diff=doc,
        problems=None,
        max_billers=50,
        run_url="https://github.com/o/r/actions/runs/1",
        artifact="int360-plan-pr7",
    )


def test_the_pr_comment_leads_the_plan_with_the_grouped_changes_and_file_fanout() -> None:
    plan = template_change(1000)
    plan.billers[0].changes.append(Change("ftp.port", 21, 22, "partners/_defaults.yaml:30:11"))
    body = pr_comment(plan)
    assert len(body) <= 65_536
    row = (
        '| <code>data_pump.schedule</code> | <code>"0 6 * * 1-5"</code> | '
        '<code>"0 7 * * 1-5"</code> | 1,000 | partners/harris-aus.yaml:17:15 |'
    )
    assert row in body
    assert body.index("### CRM plan: 1000 to change") < body.index(row)
    assert body.index(row) < body.index("<details>")
    assert (
        "- <code>partners/harris-aus.yaml</code> gives new values to **1,000** of the "
        "billers to change" in body
    )
    assert "- <code>partners/_defaults.yaml</code> gives new values to **1** of the" in body


def test_the_pr_comment_groups_nothing_for_a_lone_change() -> None:
    assert "Changes, grouped" not in pr_comment(template_change(1))


def test_grouped_values_cannot_mention_anyone() -> None:
    plan = template_change(2)
    for biller in plan.billers:
        biller.changes.append(Change("data_pump.notify_emails", None, ["@int360/owners"], None))
    body = pr_comment(plan)
    assert "@int360" not in body
    assert "@int360" not in markdown(plan)
