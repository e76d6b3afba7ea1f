"""The ``github-comment`` renderers: within GitHub's 65,536 characters on every path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from int360apply.cli import main
from int360apply.render import apply_comment, drift_comment, pr_comment

LIMIT = 65_536
RUN = "https://github.com/o/r/actions/runs/1"
BOOK = "https://github.com/o/r/blob/main/docs/when-apply-fails.md"


def problems(n: int, message: str = "must be one of: daily, weekly") -> dict[str, Any]:
    return {
        "valid": n == 0,
        "problems": [
            {
                "path": f"billers/{100000 + i}.yaml",
                "line": 7,
                "col": 3,
                "rule": "schema",
                "message": f"{message} ({i})",
            }
            for i in range(n)
        ],
    }


def biller(i: int, status: str = "change", fields: int = 3, text: str = "x") -> dict[str, Any]:
    return {
        "bid": 100000 + i,
        "name": f"Biller {i} {text}",
        "partner": "caselle-batch-utility",
        "status": status,
        "changes": [
            {"path": f"ftp.f{j}", "before": None, "after": text * 3, "source": "b.yaml:1:1"}
            for j in range(fields)
        ],
        "errors": [{"code": "crm", "message": text}] if status in ("error", "failed") else [],
    }


def doc(billers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    summary: dict[str, int] = {}
    for b in billers:
        summary[b["status"]] = summary.get(b["status"], 0) + 1
    return (
        {"format_version": 1, "crm": "c", "commit": "a" * 40, "summary": summary}
        | {"billers": billers}
        | extra
    )


def pr(**kw: Any) -> str:
    args: dict[str, Any] = {
        "head": "b" * 40,
        "base": "a" * 40,
        "plan": None,
        "plan_state": "skipped",
        "diff": None,
        "problems": None,
        "max_billers": 50,
        "run_url": RUN,
        "artifact": "int360-plan-pr7",
    }
    return pr_comment.pr_comment(**(args | kw))


def balanced(body: str) -> None:
    assert body.count("<details>") == body.count("</details>"), body[-500:]
    assert body.count("```") % 2 == 0


def test_a_thousand_validation_errors_fit_in_one_comment() -> None:
    body = pr(problems=problems(1000, "x" * 200))
    assert len(body) <= LIMIT
    assert body.startswith(pr_comment.PLAN_MARKER)
    assert "1000 problem(s)" in body
    assert "<code>billers/100000.yaml:7:3</code>" in body  # the first ones are listed
    assert "more not shown here (the limit is 65,536 characters)" in body
    assert body.rstrip().endswith("</sub>")  # the footer survives
    balanced(body)


def test_a_huge_plan_and_diff_share_the_budget() -> None:
    many = [biller(i, fields=20, text="y" * 50) for i in range(3000)]
    body = pr(plan=doc(many), plan_state="changes", diff=doc(many))
    assert len(body) <= LIMIT
    balanced(body)
    assert "| billers the CRM plan would write | **3000** |" in body
    assert "[!WARNING]" in body and "would write **3000** billers" in body
    assert body.index("### CRM plan") < body.index("The git diff of the merged settings")
    assert body.count("more not shown here") == 2  # the plan's and the diff's notes
    # The diff still got a share of its own.
    diff_part = body[body.index("The git diff of the merged settings") :]
    assert len(diff_part) > LIMIT // 5 and diff_part.count("<details><summary>") >= 3


def test_untrusted_text_cannot_break_out_or_mention() -> None:
    hostile = "</details><script>x</script> | @int360/platform-owners ```"
    body = pr(plan=doc([biller(1, text=hostile)]), plan_state="changes", diff=doc([]))
    assert "<script>" not in body and "@int360" not in body
    assert "&lt;script&gt;" in body and "&#64;int360/platform-owners" in body
    balanced(body)


def test_secrets_show_by_name_only() -> None:
    b = biller(1)
    b["changes"] = [
        {"path": "ftp.key", "before": None, "after": {"secret": "FTP_X"}, "source": None},
        {"path": "pgp", "before": "old", "after": "new", "source": None, "secret": True},
    ]
    body = pr(plan=doc([b]), plan_state="changes", diff=doc([]))
    assert "(secret FTP_X)" in body and "(secret)" in body
    assert "old" not in body.replace("older", "") and '"new"' not in body


def test_fork_note_and_failed_plan() -> None:
    body = pr(diff=doc([biller(1)]), plan_state="skipped")
    assert "No CRM plan: pull requests from forks and from Dependabot" in body
    assert "### The git diff of the merged settings" in body
    body = pr(diff=doc([biller(1)]), plan_state="failed")
    assert "The CRM plan failed" in body


def test_apply_refused_by_the_guard() -> None:
    report = doc([], status="refused") | {
        "guard": {"changing": 73, "managed": 120, "max_billers": 50, "max_percent": 30}
    }
    kw = {"commit": "c" * 40, "scope": "--changed-since abc", "why": "", "run_url": RUN}
    summary = apply_comment.apply_summary(report, exit_code=3, runbook_url=BOOK, **kw)
    assert "Refused by the apply guard: 73 of 120 managed billers would change" in summary
    assert "`--max-billers 50`" in summary and "`--max-percent 30`" in summary
    # 73 of 120 is over both limits: a break-glass run needs both inputs raised.
    assert "with `max_billers` ≥ 73 and `max_percent` ≥ 61 and an empty `scope`" in summary
    issue = apply_comment.apply_issue(report, exit_code=3, runbook_url=BOOK, pulls=[7, 9], **kw)
    assert issue.startswith(apply_comment.APPLY_MARKER)
    assert "was refused by the guard" in issue and "#7, #9" in issue
    note = apply_comment.apply_pr_note(report, exit_code=3, commit="c" * 40, issue=12, run_url=RUN)
    assert "refused by the apply guard" in note and "#12" in note


def test_apply_failed_billers_and_missing_report() -> None:
    report = doc([biller(i, "failed", text="no secret FTP_Z") for i in range(5000)])
    kw = {"commit": "c" * 40, "scope": "--all", "why": "w", "run_url": RUN, "runbook_url": BOOK}
    summary = apply_comment.apply_summary(report, exit_code=1, **kw)
    assert len(summary) <= LIMIT
    assert "5000 biller(s) not applied" in summary and "no secret FTP_Z" in summary
    assert "more not shown here" in summary
    none = apply_comment.apply_summary(None, exit_code=1, **kw)
    assert "exited 1 without a report" in none
    assert apply_comment.apply_outcome(None, 0) == "applied"
    assert apply_comment.apply_outcome(doc([biller(1, "applied")]), 0) == "applied"


def test_drift_issue_separates_pending_and_adopt_skips_it() -> None:
    hand = biller(1)
    pending = biller(2) | {"pending": True}
    drift = doc([hand, pending])
    issue = drift_comment.drift_issue(drift, run_url=RUN)
    assert issue.startswith(drift_comment.DRIFT_MARKER)
    assert "| **1** | 1 | 0 |" in issue
    hand_part, pending_part = issue.split("### Pending apply")
    assert "100001" in hand_part and "100002" not in hand_part
    assert "100002" in pending_part
    body = drift_comment.adopt_body(drift, run_url=RUN)
    assert "100001" in body and "100002" not in body
    assert "1 biller(s) pending apply" in body


big_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=3000)


@pytest.mark.slow  # a property test over big bodies
@settings(max_examples=25, deadline=None)
@given(
    n_problems=st.integers(0, 3000),
    n_billers=st.integers(0, 800),
    fields=st.integers(0, 60),
    text=big_text,
    state=st.sampled_from(pr_comment.PLAN_STATES),
    has_diff=st.booleans(),
)
def test_every_body_stays_within_the_limit(
    n_problems: int, n_billers: int, fields: int, text: str, state: str, has_diff: bool
) -> None:
    many = [biller(i, "change", fields, text) for i in range(n_billers)]
    bodies = [
        pr(
            plan=doc(many),
            plan_state=state,
            diff=doc(many) if has_diff else None,
            problems=problems(n_problems, text),
            run_url=text,
            artifact=text,
        ),
        apply_comment.apply_summary(
            doc([b | {"status": "failed"} for b in many]),
            exit_code=1,
            commit=text,
            scope=text,
            why=text,
            runbook_url=BOOK,
            run_url=RUN,
        ),
        drift_comment.drift_issue(doc(many), run_url=RUN),
        drift_comment.adopt_body(doc(many), run_url=RUN),
    ]
    for body in bodies:
        assert len(body) <= LIMIT


def test_exit_3_without_a_report_is_still_a_refusal() -> None:
    kw = {"commit": "c" * 40, "scope": "--all", "why": "", "run_url": RUN, "runbook_url": BOOK}
    summary = apply_comment.apply_summary(None, exit_code=3, **kw)
    assert apply_comment.apply_outcome(None, 3) == "refused"
    assert "Refused by the apply guard: ? of ? managed billers" in summary
    assert "Nothing was written" in summary


def test_comment_command_reads_reports_and_names_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diff = tmp_path / "diff.json"
    diff.write_text(json.dumps(doc([biller(1)])))
    args = ["comment", "pr", "--diff", str(diff), "--plan", str(tmp_path / "none.json")]
    assert main([*args, "--plan-state", "skipped", "--head", "b" * 40]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith(pr_comment.PLAN_MARKER) and "No CRM plan" in printed.out
    assert printed.err == ""

    bad = tmp_path / "plan.json"
    for text, says in (("{x", "1:2: not JSON"), ("[1]", "not a JSON object")):
        bad.write_text(text)
        assert main(["comment", "pr", "--diff", str(diff), "--plan", str(bad)]) == 1
        printed = capsys.readouterr()
        assert printed.out == ""
        assert len(printed.err.splitlines()) == 1
        assert printed.err.startswith(f"int360: {bad}") and says in printed.err
    with pytest.raises(SystemExit) as usage:
        main(["comment", "nonsense"])
    assert usage.value.code == 64


def test_the_pr_warning_applies_the_guards_percentage_of_the_managed_billers() -> None:
    changing = [biller(i) for i in range(20)]
    body = pr(plan=doc(changing), plan_state="changes", diff=doc(changing), managed=40)
    assert "| apply guard | `--max-billers 50`, `--max-percent 30` of 40 managed |" in body
    assert "[!WARNING]" in body
    assert (
        "would write **20** billers, more than the apply guard's `--max-percent 30` "
        "of the 40 managed billers" in body
    )
    assert "with `max_percent` ≥ 50," in body  # 20 of 40: the smallest percentage that passes


def test_no_pr_warning_within_both_limits_or_under_the_percent_minimum() -> None:
    twelve = [biller(i) for i in range(12)]
    within = pr(plan=doc(twelve), plan_state="changes", diff=doc(twelve), managed=40)
    assert "[!WARNING]" not in within  # 12 of 40 is 30 %: allowed, as the apply allows it
    few = [biller(i) for i in range(9)]
    small = pr(plan=doc(few), plan_state="changes", diff=doc(few), managed=10)
    assert "[!WARNING]" not in small  # the percentage counts once 10 billers change


def test_without_the_managed_count_only_max_billers_warns() -> None:
    changing = [biller(i) for i in range(20)]
    body = pr(plan=doc(changing), plan_state="changes", diff=doc(changing))
    assert "| apply guard | `--max-billers 50` |" in body
    assert "[!WARNING]" not in body


def test_comment_pr_counts_the_checkouts_billers_for_the_percentage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = Path(__file__).resolve().parents[2]
    managed = len(list((repo / "billers").glob("*.yaml")))
    changing = [biller(i) for i in range(managed // 2)]  # half: over 30 %, under 50 billers
    (tmp_path / "plan.json").write_text(json.dumps(doc(changing)), encoding="utf-8")
    (tmp_path / "diff.json").write_text(json.dumps(doc(changing)), encoding="utf-8")
    files = ["--plan", str(tmp_path / "plan.json"), "--diff", str(tmp_path / "diff.json")]
    state = ["--plan-state", "changes", "--max-percent", "25"]
    code = main(["--repo", str(repo), "comment", "pr", *files, *state])
    body = capsys.readouterr().out
    assert code == 0
    assert f"`--max-percent 25` of {managed} managed" in body
    assert f"would write **{managed // 2}** billers, more than the apply guard's" in body


def test_over_both_limits_the_pr_warning_names_both_inputs_a_break_glass_run_needs() -> None:
    changing = [biller(i) for i in range(60)]
    body = pr(plan=doc(changing), plan_state="changes", diff=doc(changing), managed=100)
    assert (
        "would write **60** billers, more than the apply guard (`--max-billers 50`) and "
        "more than the apply guard's `--max-percent 30` of the 100 managed billers." in body
    )
    assert "with `max_billers` ≥ 60 and `max_percent` ≥ 60," in body


def test_comment_pr_with_a_repo_that_is_not_one_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(doc([biller(1)])), encoding="utf-8")
    code = main(["--repo", str(tmp_path), "comment", "pr", "--plan", str(tmp_path / "plan.json")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{tmp_path} is not an Int360 repository" in err
    assert "Traceback" not in err


def test_apply_refused_by_the_percentage_alone_asks_for_max_percent_only() -> None:
    report = doc([], status="refused") | {
        "guard": {"changing": 20, "managed": 40, "max_billers": 50, "max_percent": 30}
    }
    kw = {"commit": "c" * 40, "scope": "--all", "why": "", "run_url": RUN, "runbook_url": BOOK}
    summary = apply_comment.apply_summary(report, exit_code=3, **kw)
    assert "with `max_percent` ≥ 50 and an empty `scope`" in summary
    assert "`max_billers` ≥" not in summary
