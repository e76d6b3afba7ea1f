"""Run the workflows' ``run:`` steps as a runner would, and check what they produce.

Each test plays one GitHub event against a temporary repository (this working
tree, committed, plus the test's commits), with a fake ``gh`` that records what
would have been sent to GitHub, and a sandbox CRM served over HTTP with a read
token (for plans and drift) and a write token (for apply). See ``harness.py``
for what is and is not emulated; ``STUBS`` in ``conftest.py`` lists the steps that
are replaced, and why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import GITHUB_REPOSITORY, STUBS, Scenario, git

pytestmark = pytest.mark.slow  # workflow runs: real git, the sandbox and a fake gh per step

ZERO = "0" * 40
INSTALL = {"install": STUBS["install"]}
MARKER = "<!-- int360-plan -->"
SCRIPT = Path(__file__).resolve().parents[2] / ".github" / "scripts" / "int360_ci.py"
# Untrusted text a pull request controls; the workflows must never evaluate it.
HOSTILE_TITLE = 'Fix "host" $(touch /tmp/int360-pwned-title) `id`'
HOSTILE_BRANCH = "feature/$(touch${IFS}/tmp/int360-pwned-branch)"


def pr_event(s: Scenario, base: str, head: str, *, number: int = 7, fork: bool = False) -> Any:
    head_repo = "someone/int360-as-code" if fork else GITHUB_REPOSITORY
    event = {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "title": HOSTILE_TITLE,
            "base": {"sha": base, "ref": "main", "repo": {"full_name": GITHUB_REPOSITORY}},
            "head": {"sha": head, "ref": HOSTILE_BRANCH, "repo": {"full_name": head_repo}},
        },
        "repository": {"full_name": GITHUB_REPOSITORY, "default_branch": "main"},
    }
    return s.github(
        "pull_request",
        event,
        sha=head,
        ref=f"refs/pull/{number}/merge",
        ref_name=f"{number}/merge",
        head_ref=HOSTILE_BRANCH,
        base_ref="main",
    )


def push_event(s: Scenario, before: str, after: str, *, forced: bool = False) -> Any:
    event = {
        "before": before,
        "after": after,
        "forced": forced,
        "ref": "refs/heads/main",
        "repository": {"full_name": GITHUB_REPOSITORY, "default_branch": "main"},
    }
    return s.github("push", event, sha=after, ref="refs/heads/main", ref_name="main")


def dispatch_event(s: Scenario, sha: str, inputs: dict[str, Any], ref: str = "main") -> Any:
    event = {
        "inputs": inputs,
        "ref": f"refs/heads/{ref}",
        "repository": {"full_name": GITHUB_REPOSITORY, "default_branch": "main"},
    }
    return s.github("workflow_dispatch", event, sha=sha, ref=f"refs/heads/{ref}", ref_name=ref)


def schedule_event(s: Scenario, sha: str) -> Any:
    event = {"schedule": "17 5 * * *", "repository": {"full_name": GITHUB_REPOSITORY}}
    return s.github("schedule", event, sha=sha, ref="refs/heads/main", ref_name="main")


def artifact(job: Any, name: str) -> Path:
    """The folder an artifact was uploaded from."""
    assert name in job.artifacts, f"no artifact {name!r}: {sorted(job.artifacts)}"
    (path,) = job.artifacts[name]
    return path


def gh_commands(s: Scenario) -> list[list[str]]:
    return [c["argv"] for c in s.gh_calls()]


def bot_comments(s: Scenario, issue: int) -> list[dict[str, Any]]:
    return [
        c
        for c in s.gh_state("comments")
        if c["issue"] == issue and c["user"]["login"] == "github-actions[bot]"
    ]


def push_runs(s: Scenario, *shas: str) -> None:
    """Earlier successful push runs of apply.yml, oldest first (for ``gh run list``)."""
    s.gh_seed(
        "runs",
        [
            {
                "workflow": "apply.yml",
                "branch": "main",
                "event": "push",
                "status": "success",
                "headSha": sha,
            }
            for sha in shas
        ],
    )


# ---------------------------------------------------------------------------
# pr.yml


def test_pr_clean_change_posts_one_sticky_comment(scenario: Scenario) -> None:
    s = scenario
    s.start_crm()
    # Comments already on the pull request: ours must be found on the second page,
    # and a person quoting the marker must not be taken for it.
    s.gh_seed(
        "comments",
        [
            {"id": 11, "issue": 7, "user": {"login": "dev-jane"}, "body": "LGTM?"},
            {"id": 12, "issue": 7, "user": {"login": "dev-bob"}, "body": f"> {MARKER} old"},
            {"id": 13, "issue": 8, "user": {"login": "github-actions[bot]"}, "body": MARKER},
        ],
    )
    s.branch("feature")
    head = s.commit(
        {"billers/104233.yaml": s.edit("billers/104233.yaml", "sftp.spring", "sftp2.spring")}
    )
    secrets, vars = s.crm_read()
    run = s.run("pr.yml", pr_event(s, s.base, head), secrets=secrets, vars=vars, stubs=STUBS)

    checks, plan = run["checks"], run["plan"]
    assert checks.conclusion == "success", checks.log
    assert checks.step("validate").annotations == []
    assert [checks.step(i).outcome for i in ("pre-commit", "tests")] == ["success"] * 2
    assert plan.conclusion == "success", plan.log
    assert plan.step("diff").outputs == {"exit-code": "2"}
    assert plan.step("plan").outputs == {"status": "changes"}  # exit 2 did not fail the step

    out = artifact(plan, "int360-plan-pr7")
    plan_json = json.loads((out / "plan.json").read_text())
    assert plan_json["summary"] == {"change": 1, "unchanged": 0, "error": 0}
    (biller,) = plan_json["billers"]
    assert biller["bid"] == 104233
    assert [c["path"] for c in biller["changes"]] == ["ftp.host"]
    assert json.loads((out / "diff.json").read_text())["summary"]["change"] == 1

    body = (out / "comment.md").read_text()
    assert body.startswith(MARKER)
    assert "Int360 plan: 1 to change" in body  # the plan, from the CRM
    assert "Int360 diff: 1 to change" in body  # the git diff, always
    assert "sftp2.springfield.example.gov" in body and "billers/104233.yaml:8" in body
    assert "| billers whose merged settings change (git diff, the fan-out) | **1** |" in body
    assert "| billers the CRM plan would write | **1** |" in body
    assert "[!WARNING]" not in body
    assert body in plan.summary  # forks see the same text in the job summary

    # One new comment, created through the API with exactly that body.
    comments = s.gh_state("comments")
    ours = bot_comments(s, 7)
    assert len(ours) == 1 and ours[0]["body"] == body
    assert [c["body"] for c in comments if c["id"] in (11, 12, 13)] == [
        "LGTM?",
        f"> {MARKER} old",
        MARKER,
    ]
    (post,) = [c for c in s.gh_calls() if c["argv"][:3] == ["api", "--method", "POST"]]
    assert post["--input"] == json.dumps({"body": body})

    # A second push to the pull request updates that comment in place.
    head2 = s.commit(
        {
            "billers/104233.yaml": s.edit(
                "billers/104233.yaml", "username: springfield", "username: spfld"
            )
        }
    )
    run2 = s.run(
        "pr.yml",
        pr_event(s, s.base, head2),
        secrets=secrets,
        vars=vars,
        stubs=INSTALL,
        jobs=["plan"],
    )
    assert run2["plan"].conclusion == "success", run2["plan"].log
    ours = bot_comments(s, 7)
    assert len(ours) == 1
    assert "ftp.username" in ours[0]["body"] and "sftp2.springfield" in ours[0]["body"]
    patches = [a for a in gh_commands(s) if a[:3] == ["api", "--method", "PATCH"]]
    assert patches == [
        [
            "api",
            "--method",
            "PATCH",
            f"repos/{GITHUB_REPOSITORY}/issues/comments/{ours[0]['id']}",
            "--input",
            patches[0][-1],
        ]
    ]
    # The pull request's title and branch name reached no shell.
    assert not Path("/tmp/int360-pwned-title").exists()
    assert not Path("/tmp/int360-pwned-branch").exists()


def test_pr_from_a_fork_gets_the_diff_and_a_notice(scenario: Scenario) -> None:
    s = scenario
    s.branch("feature")
    head = s.commit(
        {"billers/104233.yaml": s.edit("billers/104233.yaml", "sftp.spring", "sftp2.spring")}
    )
    # A fork's run: no secrets, no variables of the environment, a read-only token.
    run = s.run("pr.yml", pr_event(s, s.base, head, fork=True), stubs=STUBS)

    plan = run["plan"]
    assert plan.conclusion == "success", plan.log
    assert plan.step("plan").outputs == {"status": "skipped"}
    assert plan.step("plan").annotations[0][:2] == (
        "notice",
        "title=CRM plan skipped",
    )
    out = artifact(plan, "int360-plan-pr7")
    assert not (out / "plan.json").exists()
    body = (out / "comment.md").read_text()
    assert "No CRM plan" in body and "Int360 diff: 1 to change" in body
    assert "sftp2.springfield.example.gov" in body
    assert body in plan.summary
    post = next(st for st in plan.steps if st.name == "Post the sticky comment")
    assert post.outcome == "skipped"
    assert s.gh_calls() == []  # nothing was sent to GitHub


def test_pr_with_a_broken_file_fails_validate_inline(scenario: Scenario) -> None:
    s = scenario
    s.branch("feature")
    head = s.commit(
        {
            "billers/104233.yaml": s.edit(
                "billers/104233.yaml", "partner: caselle-batch-utility", "partner: caselle-batch"
            )
        }
    )
    run = s.run("pr.yml", pr_event(s, s.base, head, fork=True), stubs=STUBS)

    checks = run["checks"]
    assert checks.conclusion == "failure"
    validate = checks.step("validate")
    assert validate.outcome == "failure" and validate.returncode == 1
    errors = [a for a in validate.annotations if a[0] == "error"]
    assert errors, validate.stdout
    assert any(props.startswith("file=billers/104233.yaml,line=") for _, props, _ in errors)
    # The other checks still ran, so one push shows every problem.
    assert [checks.step(i).outcome for i in ("pre-commit", "tests")] == ["success"] * 2

    plan = run["plan"]
    assert plan.conclusion == "failure"
    assert plan.step("diff").outputs["exit-code"] == "1"
    body = (artifact(plan, "int360-plan-pr7") / "comment.md").read_text()
    assert "[!CAUTION]" in body and "do not merge or validate" in body
    assert plan.steps[-1].annotations[0][1] == "title=int360 diff failed"


def test_pr_over_the_apply_guard_warns(scenario: Scenario) -> None:
    s = scenario
    s.start_crm()
    s.branch("feature")
    head = s.commit(
        {
            "partners/caselle-batch-utility.yaml": s.edit(
                "partners/caselle-batch-utility.yaml", '"0 6 * * 1-5"', '"0 7 * * 1-5"'
            )
        }
    )
    secrets, vars = s.crm_read()
    run = s.run(
        "pr.yml",
        pr_event(s, s.base, head),
        secrets=secrets,
        vars=vars,
        stubs=INSTALL,
        jobs=["plan"],
        env_overrides={"MAX_BILLERS": "3"},
    )
    plan = run["plan"]
    assert plan.conclusion == "success", plan.log
    fan_out = json.loads((artifact(plan, "int360-plan-pr7") / "plan.json").read_text())
    touched = fan_out["summary"]["change"]
    assert touched > 3
    body = s.gh_state("comments")[0]["body"]
    assert "[!WARNING]" in body
    assert (
        f"would write **{touched}** billers, more than the apply guard (`--max-billers 3`)" in body
    )
    assert "Actions → apply → Run workflow" in body


# ---------------------------------------------------------------------------
# apply.yml


def test_apply_on_push_applies_the_pushed_change(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    push_runs(s, s.base)
    after = s.commit(
        {"billers/104233.yaml": s.edit("billers/104233.yaml", "sftp.spring", "sftp2.spring")}
    )
    secrets, vars = s.production()
    run = s.run(
        "apply.yml", push_event(s, s.base, after), secrets=secrets, vars=vars, stubs=INSTALL
    )

    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.step("scope").outputs["args"] == f"--changed-since {s.base}"
    report = json.loads((artifact(job, "int360-apply-report-90001-1") / "report.json").read_text())
    assert report["summary"] == {"applied": 1, "unchanged": 0, "stale": 0, "failed": 0}
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp2.springfield.example.gov"
    assert "| 1 | 0 | 0 | 0 |" in job.summary
    assert f"--changed-since {s.base}" in job.summary
    notes = json.dumps(crm.notes(104233))
    assert after[:12] in notes or after in notes  # the audit note names the commit


def test_apply_failures_fail_the_job_and_show_in_the_summary(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    push_runs(s, s.base)
    # 110392's CRM profile now carries BS&A's integrator ID, not Caselle's.
    crm.put_profile(110392, "Cedar Falls Public Works", 93)
    after = s.commit(
        {
            "billers/104233.yaml": s.edit("billers/104233.yaml", "sftp.spring", "sftp2.spring"),
            # A renamed secret that nobody added to the production environment.
            "billers/104871.yaml": s.edit(
                "billers/104871.yaml", "FTP_SHELBYVILLE_PASSWORD}", "FTP_SHELBYVILLE_PASSWORD_2}"
            ),
            "billers/110392-cedar-falls.yaml": s.edit(
                "billers/110392-cedar-falls.yaml", "username: cfpw", "username: cfpw2"
            ),
        }
    )
    secrets, vars = s.production()
    run = s.run(
        "apply.yml", push_event(s, s.base, after), secrets=secrets, vars=vars, stubs=INSTALL
    )

    job = run["apply"]
    assert job.conclusion == "failure"
    apply = job.step("apply")
    assert apply.outcome == "failure" and apply.returncode == 1
    report = json.loads((artifact(job, "int360-apply-report-90001-1") / "report.json").read_text())
    status = {b["bid"]: b["status"] for b in report["billers"]}
    assert status[104233] == "applied"
    assert status[104871] == "failed" and status[110392] == "failed"
    assert "FTP_SHELBYVILLE_PASSWORD_2" in json.dumps(report)
    assert "2 biller(s) not applied" in job.summary
    assert "| 104871 Shelbyville Municipal Utilities | **failed** |" in job.summary
    assert "| 110392 Cedar Falls Public Works | **failed** |" in job.summary
    titles = {props for level, props, _ in apply.annotations if level == "error"}
    assert {"title=Biller 104871 failed", "title=Biller 110392 failed"} <= titles
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp2.springfield.example.gov"


def test_apply_guard_refuses_and_names_the_break_glass_path(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    push_runs(s, s.base)
    after = s.commit(
        {
            "partners/caselle-batch-utility.yaml": s.edit(
                "partners/caselle-batch-utility.yaml", '"0 6 * * 1-5"', '"0 7 * * 1-5"'
            )
        }
    )
    secrets, vars = s.production()
    run = s.run(
        "apply.yml",
        push_event(s, s.base, after),
        secrets=secrets,
        vars=vars,
        stubs=INSTALL,
        env_overrides={"MAX_BILLERS": "3"},
    )
    job = run["apply"]
    assert job.conclusion == "failure"
    assert "Refused by the apply guard" in job.summary
    assert "more than `--max-billers 3`. Nothing was written." in job.summary
    assert "Actions → apply → Run workflow" in job.summary and "max_billers" in job.summary
    assert job.step("apply").annotations[0][1] == "title=Apply refused by the guard"
    assert crm.settings(104233)[0]["data_pump"]["schedule"] == "0 6 * * 1-5"

    # The break-glass run: by hand on main, a higher guard and a scope.
    inputs = {"max_billers": 20, "scope": "--partner caselle-batch-utility"}
    run = s.run(
        "apply.yml",
        dispatch_event(s, after, inputs),
        secrets=secrets,
        vars=vars,
        inputs=inputs,
        stubs=INSTALL,
        env_overrides={"MAX_BILLERS": "3"},
    )
    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.step("scope").outputs == {
        "args": "--partner caselle-batch-utility",
        "max": "20",
        "why": "break-glass run by dev-jane",
    }
    report = json.loads((artifact(job, "int360-apply-report-90002-1") / "report.json").read_text())
    assert report["summary"]["applied"] > 3 and report["summary"]["failed"] == 0
    assert crm.settings(104233)[0]["data_pump"]["schedule"] == "0 7 * * 1-5"


@pytest.mark.parametrize(
    ("inputs", "ref", "message"),
    [
        ({"max_billers": 5, "scope": "--bid 104233; touch /tmp/x"}, "main", "Bad input"),
        ({"max_billers": 5, "scope": "$(id)"}, "main", "Bad input"),
        ({"max_billers": 5, "scope": "104233"}, "main", "Bad input"),
        ({"max_billers": 5, "scope": "--all"}, "feature", "Not main"),
    ],
)
def test_break_glass_refuses_bad_input(
    scenario: Scenario, inputs: dict[str, Any], ref: str, message: str
) -> None:
    s = scenario
    run = s.run(
        "apply.yml",
        dispatch_event(s, s.base, inputs, ref=ref),
        secrets={"INT360_CRM_TOKEN": "x"},
        vars={"INT360_CRM_URL": "http://127.0.0.1:9"},
        inputs=inputs,
        stubs=INSTALL,
    )
    job = run["apply"]
    assert job.conclusion == "failure"
    assert job.step("scope").annotations[0][1] == f"title={message}"
    assert job.step("apply").outcome == "skipped"


def test_break_glass_can_rotate_secrets(scenario: Scenario) -> None:
    s = scenario
    inputs = {"max_billers": 5, "scope": "--bid 104233", "rotate_secrets": True}
    run = s.run(
        "apply.yml",
        dispatch_event(s, s.base, inputs),
        inputs=inputs,
        stubs=INSTALL | {"apply": "echo stub"},
    )
    assert run["apply"].step("scope").outputs["args"] == "--bid 104233 --rotate-secrets"


def test_apply_first_push_and_force_push_plan_everything(scenario: Scenario) -> None:
    s = scenario
    s.start_crm()
    after = s.commit(
        {"billers/104233.yaml": s.edit("billers/104233.yaml", "sftp.spring", "sftp2.spring")}
    )
    secrets, vars = s.production()
    run = s.run("apply.yml", push_event(s, ZERO, after), secrets=secrets, vars=vars, stubs=INSTALL)
    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.step("scope").outputs["args"] == "--all"
    report = json.loads((artifact(job, "int360-apply-report-90001-1") / "report.json").read_text())
    assert report["summary"]["applied"] == 1
    assert report["summary"]["unchanged"] == len(report["billers"]) - 1 > 40

    # A force push; the scope step alone decides (the apply itself is the same).
    stubs = INSTALL | {"apply": "echo stub"}
    run = s.run("apply.yml", push_event(s, s.base, after, forced=True), stubs=stubs)
    assert run["apply"].step("scope").outputs["args"] == "--all"
    assert "force push" in run["apply"].step("scope").outputs["why"]


def test_apply_catches_up_after_a_dropped_or_failed_run(scenario: Scenario) -> None:
    """GitHub cancels a pending run when a newer one queues: the next run must not
    skip the cancelled run's change."""
    s = scenario
    crm = s.start_crm()
    push_runs(s, s.base)  # the last push run that succeeded
    first = s.commit(
        {"billers/104233.yaml": s.edit("billers/104233.yaml", "sftp.spring", "sftp2.spring")}
    )
    second = s.commit(
        {
            "billers/110392-cedar-falls.yaml": s.edit(
                "billers/110392-cedar-falls.yaml", "username: cfpw", "username: cfpw2"
            )
        }
    )
    secrets, vars = s.production()
    run = s.run(
        "apply.yml", push_event(s, first, second), secrets=secrets, vars=vars, stubs=INSTALL
    )
    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.step("scope").outputs["args"] == f"--changed-since {s.base}"
    assert "catching up" in job.step("scope").outputs["why"]
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp2.springfield.example.gov"
    assert crm.settings(110392)[0]["ftp"]["username"] == "cfpw2"
    assert gh_commands(s)[0][:4] == ["run", "list", "--workflow", "apply.yml"]


# ---------------------------------------------------------------------------
# drift.yml


def test_drift_opens_updates_and_closes_one_issue(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    crm.patch(104233, {"ftp": {"port": 2222}})  # someone changed it in the CRM
    secrets, vars = s.crm_read()

    run = s.run("drift.yml", schedule_event(s, s.base), secrets=secrets, vars=vars, stubs=INSTALL)
    assert run["drift"].conclusion == "success", run["drift"].log
    assert run["drift"].outputs == {"drift": "true"}
    assert run["adopt"].conclusion == "skipped"
    (issue,) = s.gh_state("issues")
    assert issue["labels"] == ["int360-drift"] and issue["state"] == "open"
    assert issue["body"].startswith("<!-- int360-drift -->")
    assert "104233" in issue["body"] and "ftp.port" in issue["body"]
    assert "ftp.port" in run["drift"].summary
    assert s.gh_state("labels") == ["int360-drift"]

    crm.patch(110392, {"ftp": {"port": 2200}})  # more drift the next night
    run = s.run("drift.yml", schedule_event(s, s.base), secrets=secrets, vars=vars, stubs=INSTALL)
    assert run["drift"].conclusion == "success", run["drift"].log
    (issue,) = s.gh_state("issues")  # still one issue, updated
    assert "110392" in issue["body"] and "104233" in issue["body"]

    crm.patch(104233, {"ftp": {"port": 22}})
    crm.patch(110392, {"ftp": {"port": 22}})
    run = s.run("drift.yml", schedule_event(s, s.base), secrets=secrets, vars=vars, stubs=INSTALL)
    assert run["drift"].outputs == {"drift": "false"}
    (issue,) = s.gh_state("issues")
    assert issue["state"] == "closed" and "No drift any more" in issue["comments"][0]


def test_drift_adopt_opens_a_pull_request(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    crm.patch(104233, {"ftp": {"port": 2222}})
    secrets, vars = s.crm_read()
    inputs = {"adopt": True}
    run = s.run(
        "drift.yml",
        dispatch_event(s, s.base, inputs),
        secrets=secrets,
        vars=vars,
        inputs=inputs,
        stubs=INSTALL,
    )
    adopt = run["adopt"]
    assert adopt.conclusion == "success", adopt.log
    assert adopt.step("adopt").outputs == {"changed": "true"}
    branch = "int360/adopt-drift-90001"
    # The branch reached the repository, with the live value in the biller's file.
    adopted = git(s.origin, "show", f"{branch}:billers/104233.yaml")
    assert "2222" in adopted
    assert git(s.origin, "log", "-1", "--format=%an", branch) == "github-actions[bot]"
    (pr,) = s.gh_state("prs")
    assert pr["base"] == "main" and pr["head"] == branch
    assert "int360 drift --adopt" in pr["body"] and "104233" in pr["body"]
    assert ["auth", "setup-git"] in gh_commands(s)


# ---------------------------------------------------------------------------
# the helper script on its own


def test_pr_comment_fits_githubs_limit(tmp_path: Path) -> None:
    big_row = '| <code>ftp.host</code> | <code>(unset)</code> | <code>"x"</code> | b.yaml:1:1 |\n'
    (tmp_path / "plan.md").write_text("### Int360 plan\n\n```\n" + big_row * 3000 + "```\n")
    (tmp_path / "diff.md").write_text("### Int360 diff\n\n<details>\n" + big_row * 3000)
    (tmp_path / "plan.json").write_text(json.dumps({"summary": {"change": 3000, "error": 0}}))
    (tmp_path / "diff.json").write_text(json.dumps({"summary": {"change": 3000}}))
    out = tmp_path / "comment.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "pr-comment",
            "--dir",
            str(tmp_path),
            "--pr",
            "7",
            "--base",
            "a" * 40,
            "--head",
            "b" * 40,
            "--diff-exit",
            "2",
            "--plan-status",
            "changes",
            "--max-billers",
            "50",
            "--run-url",
            "https://github.com/o/r/actions/runs/1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    body = out.read_text()
    assert len(body) <= 65_536
    assert body.startswith(MARKER) and "[!WARNING]" in body
    assert body.count("cut to fit a comment") == 2
    assert body.count("```") % 2 == 0
    assert body.count("<details") == body.count("</details>")
    assert body.index("### Int360 plan") < body.index("### Int360 diff")
    assert body.rstrip().endswith("</sub>")
