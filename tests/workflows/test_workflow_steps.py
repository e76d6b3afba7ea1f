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
from pathlib import Path
from typing import Any

import pytest

from .conftest import GITHUB_REPOSITORY, STUBS, WRITE_TOKEN, Scenario, git

pytestmark = pytest.mark.slow  # workflow runs: real git, the sandbox and a fake gh per step

ZERO = "0" * 40
INSTALL = {"install": STUBS["install"]}
MARKER = "<!-- int360-plan -->"
APPLY_MARKER = "<!-- int360-apply -->"
# Untrusted text a pull request controls; the workflows must never evaluate it.
HOSTILE_TITLE = 'Fix "host" $(touch /tmp/int360-pwned-title) `id`'
HOSTILE_BRANCH = "feature/$(touch${IFS}/tmp/int360-pwned-branch)"


def pr_event(
    s: Scenario,
    base: str,
    head: str,
    *,
    number: int = 7,
    fork: bool = False,
    sha: str | None = None,
    actor: str = "dev-jane",
) -> Any:
    """A pull_request event; ``sha`` is what GitHub checks out (the merge commit)."""
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
        sha=sha or head,
        actor=actor,
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


def applied_runs(s: Scenario, *shas: str, superseded: tuple[str, ...] = ()) -> None:
    """Earlier runs of apply.yml that succeeded, oldest first (for ``gh run list``): an
    "Apply the range" step that succeeded, or (for ``superseded``) one that was skipped."""
    runs = []
    for i, sha in enumerate([*shas, *superseded]):
        step = "success" if i < len(shas) else "skipped"
        runs.append(
            {
                "databaseId": 5000 + i,
                "workflow": "apply.yml",
                "branch": "main",
                "event": "push",
                "status": "completed",
                "conclusion": "success",
                "headSha": sha,
                "jobs": [
                    {
                        "name": "apply to the CRM",
                        "conclusion": "success",
                        "steps": [
                            {"name": "Choose the range", "conclusion": "success"},
                            {"name": "Apply the range", "conclusion": step},
                        ],
                    }
                ],
            }
        )
    s.gh_seed("runs", runs)


def vault(s: Scenario, missing: tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    """The apply step's secrets as the vault would give them. Azure is out of reach
    here, so the step gets the environment source and one variable per secret: what
    `azure/login` and Key Vault provide on GitHub (see docs/secrets-in-key-vault.md)."""
    return {"apply": {"INT360_SECRET_SOURCE": "env"} | s.secret_values(missing)}


def crm_write(s: Scenario) -> tuple[dict[str, str], dict[str, str]]:
    """(secrets, vars) of the production and production-break-glass environments."""
    assert s.crm is not None
    return (
        {"INT360_CRM_TOKEN": WRITE_TOKEN},
        {
            "INT360_CRM_URL": s.crm.url,
            "INT360_KEYVAULT_URL": "https://int360-test.vault.azure.net",
            "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
            "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000002",
            "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000003",
        },
    )


def apply_push(s: Scenario, before: str, after: str, **kw: Any) -> Any:
    """Run apply.yml for a push, with the CRM and the vault."""
    secrets, vars = crm_write(s)
    return s.run(
        "apply.yml",
        push_event(s, before, after) | kw.pop("github", {}),
        secrets=secrets,
        vars=vars,
        stubs=INSTALL,
        step_env=vault(s),
        **kw,
    )


def edit_biller(s: Scenario, old: str, new: str, rel: str = "billers/104233.yaml") -> str:
    return s.commit({rel: s.edit(rel, old, new)}, f"{rel}: {old} -> {new}")


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
    head = edit_biller(s, "sftp.spring", "sftp2.spring")
    secrets, vars = s.crm_read()
    run = s.run("pr.yml", pr_event(s, s.base, head), secrets=secrets, vars=vars, stubs=STUBS)

    checks, plan = run["checks"], run["plan"]
    assert checks.conclusion == "success", checks.log
    assert checks.step("validate").annotations == []
    assert [checks.step(i).outcome for i in ("pre-commit", "tests")] == ["success"] * 2
    assert plan.conclusion == "success", plan.log
    assert plan.environment == "crm-read"
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
    assert "### CRM plan: 1 to change" in body  # the plan, from the CRM
    assert "The git diff of the merged settings" in body  # the git diff, always
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
    head2 = edit_biller(s, "username: springfield", "username: spfld")
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


def test_pr_plans_against_the_merge_commits_first_parent(scenario: Scenario) -> None:
    """Another pull request merged after this one's event: base.sha lags, the merge
    commit GitHub checks out sits on the new main. Only this PR's biller counts."""
    s = scenario
    s.start_crm()
    old_base = s.base
    s.branch("feature")
    head = edit_biller(s, "sftp.spring", "sftp2.spring")
    git(s.origin, "switch", "-q", "main")
    other = edit_biller(
        s, "username: cfpw", "username: cfpw2", rel="billers/110392-cedar-falls.yaml"
    )
    # refs/pull/7/merge: this pull request merged onto the main of now.
    git(s.origin, "switch", "-q", "--detach", other)
    git(s.origin, "merge", "-q", "--no-ff", "-m", "Merge 7", head)
    merge = git(s.origin, "rev-parse", "HEAD")
    git(s.origin, "switch", "-q", "main")
    secrets, vars = s.crm_read()
    run = s.run(
        "pr.yml",
        pr_event(s, old_base, head, sha=merge),
        secrets=secrets,
        vars=vars,
        stubs=INSTALL,
        jobs=["plan"],
    )
    plan = run["plan"]
    assert plan.conclusion == "success", plan.log
    assert plan.step("base").outputs == {"base": other, "head": head}
    out = artifact(plan, "int360-plan-pr7")
    assert [b["bid"] for b in json.loads((out / "plan.json").read_text())["billers"]] == [104233]
    diff = json.loads((out / "diff.json").read_text())
    assert [b["bid"] for b in diff["billers"] if b["status"] != "unchanged"] == [104233]
    assert f"base `{other[:12]}`" in (out / "comment.md").read_text()


def test_pr_from_a_fork_or_dependabot_gets_the_diff_and_a_notice(scenario: Scenario) -> None:
    s = scenario
    s.branch("feature")
    head = edit_biller(s, "sftp.spring", "sftp2.spring")
    # A fork's run: no secrets, no variables of the environment, a read-only token.
    for event in (
        pr_event(s, s.base, head, fork=True),
        pr_event(s, s.base, head, actor="dependabot[bot]", number=8),
    ):
        run = s.run("pr.yml", event, stubs=STUBS)
        plan = run["plan"]
        assert plan.conclusion == "success", plan.log
        assert plan.step("plan").outputs == {"status": "skipped"}
        assert plan.step("plan").annotations[0][:2] == ("notice", "title=CRM plan skipped")
        number = event["event"]["number"]
        out = artifact(plan, f"int360-plan-pr{number}")
        assert not (out / "plan.json").exists()
        body = (out / "comment.md").read_text()
        assert "No CRM plan" in body and "The git diff of the merged settings" in body
        assert "sftp2.springfield.example.gov" in body
        assert body in plan.summary
        post = next(st for st in plan.steps if st.name == "Post the sticky comment")
        assert post.outcome == "skipped"
    assert s.gh_calls() == []  # nothing was sent to GitHub


def test_trusted_pr_without_its_read_token_fails(scenario: Scenario) -> None:
    """A deleted secret must not silently turn CRM plans off for everyone."""
    s = scenario
    s.branch("feature")
    head = edit_biller(s, "sftp.spring", "sftp2.spring")
    run = s.run("pr.yml", pr_event(s, s.base, head), stubs=INSTALL, jobs=["plan"])
    plan = run["plan"]
    assert plan.conclusion == "failure"
    assert plan.step("plan").outputs == {"status": "failed"}
    level, props, message = plan.step("plan").annotations[0]
    assert (level, props) == ("error", "title=CRM token missing")
    assert "INT360_CRM_TOKEN" in message and "fork" not in message
    body = (artifact(plan, "int360-plan-pr7") / "comment.md").read_text()
    assert "The CRM plan failed" in body
    assert plan.steps[-1].annotations[0][1] == "title=No CRM plan"


def test_merge_group_runs_the_same_checks_and_needs_the_token(scenario: Scenario) -> None:
    s = scenario
    s.start_crm()
    s.branch("gh-readonly-queue/main/pr-7")
    head = edit_biller(s, "sftp.spring", "sftp2.spring")
    event = {
        "merge_group": {
            "head_sha": head,
            "head_ref": "refs/heads/gh-readonly-queue/main/pr-7-abc",
            "base_sha": s.base,
            "base_ref": "refs/heads/main",
        },
        "repository": {"full_name": GITHUB_REPOSITORY, "default_branch": "main"},
    }
    github = s.github(
        "merge_group", event, sha=head, ref="refs/heads/gh-readonly-queue/main/pr-7-abc"
    )
    secrets, vars = s.crm_read()
    run = s.run("pr.yml", github, secrets=secrets, vars=vars, stubs=STUBS)
    assert run["checks"].conclusion == "success", run["checks"].log
    plan = run["plan"]
    assert plan.conclusion == "success", plan.log
    assert plan.step("base").outputs == {"base": s.base, "head": head}
    assert plan.step("plan").outputs == {"status": "changes"}
    assert "### CRM plan: 1 to change" in plan.summary
    assert artifact(plan, "int360-plan-merge-queue")
    assert s.gh_calls() == []  # no pull request to comment on
    # Without the token the queue's check fails, like a trusted pull request's.
    run = s.run("pr.yml", github | {"run_id": "77"}, stubs=INSTALL, jobs=["plan"])
    assert run["plan"].conclusion == "failure"


def test_pr_plan_rerun_keeps_its_artifact(scenario: Scenario) -> None:
    """Re-running the plan job uploads under the same name in the same run."""
    s = scenario
    s.start_crm()
    s.branch("feature")
    head = edit_biller(s, "sftp.spring", "sftp2.spring")
    secrets, vars = s.crm_read()
    github = pr_event(s, s.base, head)
    for attempt in ("1", "2"):
        run = s.run(
            "pr.yml",
            github | {"run_attempt": attempt},
            secrets=secrets,
            vars=vars,
            stubs=INSTALL,
            jobs=["plan"],
        )
        assert run["plan"].conclusion == "success", run["plan"].log
        assert artifact(run["plan"], "int360-plan-pr7")
    assert len(bot_comments(s, 7)) == 1


def test_pr_with_a_broken_file_fails_validate_inline(scenario: Scenario) -> None:
    s = scenario
    s.branch("feature")
    head = edit_biller(s, "partner: caselle-batch-utility", "partner: caselle-batch")
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
    assert "<code>billers/104233.yaml:" in body  # the problem itself, from validate.json
    assert plan.steps[-1].annotations[0][1] == "title=int360 diff failed"


def test_pr_comment_with_a_thousand_validation_errors_fits(scenario: Scenario) -> None:
    s = scenario
    s.branch("feature")
    template = s.read("billers/104233.yaml").replace(
        "partner: caselle-batch-utility", "partner: no-such-partner"
    )
    files: dict[str, str | None] = {
        f"billers/{900000 + i}.yaml": template.replace("bid: 104233", f"bid: {900000 + i}")
        for i in range(1000)
    }
    head = s.commit(files, "1,000 broken billers")
    run = s.run("pr.yml", pr_event(s, s.base, head, fork=True), stubs=INSTALL, jobs=["plan"])
    plan = run["plan"]
    assert plan.conclusion == "failure"
    out = artifact(plan, "int360-plan-pr7")
    problems = json.loads((out / "validate.json").read_text())["problems"]
    assert len(problems) >= 1000
    body = (out / "comment.md").read_text()
    assert len(body) <= 65_536
    assert f"{len(problems)} problem(s)" in body
    assert "more not shown here (the limit is 65,536 characters)" in body
    assert body.rstrip().endswith("</sub>")


def test_pr_over_the_apply_guard_warns(scenario: Scenario) -> None:
    s = scenario
    s.start_crm()
    s.branch("feature")
    rel = "partners/caselle-batch-utility.yaml"
    head = s.commit({rel: s.edit(rel, '"0 6 * * 1-5"', '"0 7 * * 1-5"')})
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


def test_apply_on_push_applies_the_range(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    after = edit_biller(s, "sftp.spring", "sftp2.spring")
    run = apply_push(s, s.base, after)

    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.environment == "production"  # no manual gate for pushes
    assert job.step("scope").outputs["mode"] == "range"
    assert job.step("scope").outputs["args"] == f"--changed-since {s.base}"
    report = json.loads((artifact(job, "int360-apply-report-90001-1") / "report.json").read_text())
    assert report["summary"] == {"applied": 1, "unchanged": 0, "stale": 0, "failed": 0}
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp2.springfield.example.gov"
    assert "| 1 | 0 | 0 | 0 |" in job.summary
    assert f"--changed-since {s.base}" in job.summary
    notes = json.dumps(crm.notes(104233))
    assert after[:12] in notes or after in notes  # the audit note names the commit
    # Green: nothing to report but the closing of an apply issue, if one were open.
    assert [c for c in gh_commands(s) if c[:2] == ["issue", "create"]] == []


def test_rerun_of_an_older_push_run_writes_nothing(scenario: Scenario) -> None:
    """Push A failed, push B applied; re-running A must not roll the CRM back."""
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    a = edit_biller(s, "sftp.spring", "sftp2.spring")
    b = edit_biller(s, "sftp2.spring", "sftp3.spring")
    run = apply_push(s, a, b)
    assert run["apply"].conclusion == "success", run["apply"].log
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp3.springfield.example.gov"

    for attempt in ("1", "2"):  # A's own run (late in the queue) and its re-run
        run = apply_push(s, s.base, a, github={"run_id": "90500", "run_attempt": attempt})
        job = run["apply"]
        assert job.conclusion == "success", job.log
        assert job.step("scope").outputs == {"mode": "superseded"}
        assert job.step("apply").outcome == "skipped"
        notice = job.step("scope").annotations[0]
        assert notice[:2] == ("notice", "title=Superseded")
        assert notice[2].startswith("superseded: the newest run applies this range")
        assert "superseded: the newest run applies this range" in job.summary
        assert crm.settings(104233)[0]["ftp"]["host"] == "sftp3.springfield.example.gov"


def test_rerun_of_a_dispatch_refuses(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    after = edit_biller(s, "sftp.spring", "sftp2.spring")
    secrets, vars = crm_write(s)
    inputs = {"max_billers": 5, "scope": "--bid 104233"}
    run = s.run(
        "apply.yml",
        dispatch_event(s, after, inputs) | {"run_attempt": "2"},
        secrets=secrets,
        vars=vars,
        inputs=inputs,
        stubs=INSTALL,
        step_env=vault(s),
    )
    job = run["apply"]
    assert job.conclusion == "failure"
    assert job.environment == "production-break-glass"
    level, props, message = job.step("scope").annotations[0]
    assert (level, props) == ("error", "title=Re-run of a dispatch")
    assert "dispatch again" in message and "dispatch again" in job.summary
    assert job.step("apply").outcome == "skipped"
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp.springfield.example.gov"


def test_a_cancelled_pending_push_is_applied_by_the_next_run(scenario: Scenario) -> None:
    """GitHub cancels a pending run when a newer one queues: the next run must not
    skip the cancelled run's change. A superseded run (green, nothing written) and a
    scoped break-glass run do not count as applied."""
    s = scenario
    crm = s.start_crm()
    first = edit_biller(s, "sftp.spring", "sftp2.spring")
    second = edit_biller(
        s, "username: cfpw", "username: cfpw2", rel="billers/110392-cedar-falls.yaml"
    )
    applied_runs(s, s.base, superseded=(first,))
    run = apply_push(s, first, second)
    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.step("scope").outputs["args"] == f"--changed-since {s.base}"
    assert f"from the last applied commit {s.base}" in job.step("scope").outputs["why"]
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp2.springfield.example.gov"
    assert crm.settings(110392)[0]["ftp"]["username"] == "cfpw2"


def test_scheduled_reconcile_applies_what_is_pending(scenario: Scenario) -> None:
    """A docs-only merge does not start apply (paths:); a change whose run never came
    is applied by the reconcile."""
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    edit_biller(s, "sftp.spring", "sftp2.spring")
    tip = s.commit({"docs/notes.md": "docs only\n"}, "docs")
    secrets, vars = crm_write(s)
    run = s.run(
        "apply.yml",
        schedule_event(s, tip),
        secrets=secrets,
        vars=vars,
        stubs=INSTALL,
        step_env=vault(s),
    )
    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.environment == "production"
    assert job.step("scope").outputs["args"] == f"--changed-since {s.base}"
    assert crm.settings(104233)[0]["ftp"]["host"] == "sftp2.springfield.example.gov"


def test_apply_with_no_earlier_apply_plans_everything(scenario: Scenario) -> None:
    s = scenario
    s.start_crm()
    after = edit_biller(s, "sftp.spring", "sftp2.spring")
    run = apply_push(s, ZERO, after)
    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.step("scope").outputs["args"] == "--all"
    assert "no earlier apply of the range was found" in job.step("scope").outputs["why"]
    report = json.loads((artifact(job, "int360-apply-report-90001-1") / "report.json").read_text())
    assert report["summary"]["applied"] == 1
    assert report["summary"]["unchanged"] == len(report["billers"]) - 1 > 40


def test_apply_failure_opens_one_issue_and_comments_on_the_prs(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    # 110392's CRM profile now carries BS&A's integrator ID, not Caselle's.
    crm.put_profile(110392, "Cedar Falls Public Works", 93)
    one = edit_biller(s, "sftp.spring", "sftp2.spring")
    two = edit_biller(s, "username: cfpw", "username: cfpw2", rel="billers/110392-cedar-falls.yaml")
    s.gh_seed(
        "pulls",
        {
            one: [{"number": 21, "merged_at": "2026-11-28T10:00:00Z"}],
            two: [{"number": 22, "merged_at": "2026-11-28T11:00:00Z"}],
        },
    )
    run = apply_push(s, one, two)
    job = run["apply"]
    assert job.conclusion == "failure"
    assert job.step("apply").outputs == {"exit-code": "1"}
    assert job.step("apply").annotations[0][1] == "title=Apply failed"
    report = json.loads((artifact(job, "int360-apply-report-90001-1") / "report.json").read_text())
    status = {b["bid"]: b["status"] for b in report["billers"]}
    assert status == {104233: "applied", 110392: "failed"}
    assert "1 biller(s) not applied" in job.summary
    assert "110392 Cedar Falls Public Works (caselle-batch-utility) | **failed**" in job.summary

    (issue,) = s.gh_state("issues")
    assert issue["labels"] == ["int360-apply"] and issue["state"] == "open"
    assert issue["body"].startswith(APPLY_MARKER)
    assert "failed for some billers" in issue["body"] and "#21, #22" in issue["body"]
    for number in (21, 22):
        (note,) = bot_comments(s, number)
        assert note["body"].startswith(APPLY_MARKER)
        assert f"Follow it in #{issue['number']}" in note["body"]

    # It fails again on the next push: the same issue, the same notes, updated.
    three = edit_biller(s, "username: springfield", "username: spfld")
    s.gh_seed(
        "pulls",
        s.gh_state("pulls") | {three: [{"number": 23, "merged_at": "2026-11-28T12:00:00Z"}]},
    )
    run = apply_push(s, two, three)
    assert run["apply"].conclusion == "failure"
    assert run["apply"].step("scope").outputs["args"] == f"--changed-since {s.base}"
    (issue,) = s.gh_state("issues")
    assert "#21, #22, #23" in issue["body"] and len(issue["comments"]) == 1
    assert [len(bot_comments(s, n)) for n in (21, 22, 23)] == [1, 1, 1]

    # Fixed in the CRM: the next green range closes the issue.
    crm.put_profile(110392, "Cedar Falls Public Works", 175)
    applied_runs(s, s.base)
    run = apply_push(s, three, three)
    assert run["apply"].conclusion == "success", run["apply"].log
    (issue,) = s.gh_state("issues")
    assert issue["state"] == "closed" and "Closing" in issue["comments"][-1]
    assert crm.settings(110392)[0]["ftp"]["username"] == "cfpw2"


def test_apply_guard_refusal_opens_the_issue_and_break_glass_applies(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    rel = "partners/caselle-batch-utility.yaml"
    after = s.commit({rel: s.edit(rel, '"0 6 * * 1-5"', '"0 7 * * 1-5"')})
    s.gh_seed("pulls", {after: [{"number": 31, "merged_at": "2026-11-28T10:00:00Z"}]})
    run = apply_push(s, s.base, after, env_overrides={"MAX_BILLERS": "3"})
    job = run["apply"]
    assert job.conclusion == "failure"
    assert job.step("apply").outputs == {"exit-code": "3"}
    assert job.step("apply").annotations[0][1] == "title=Apply refused by the guard"
    report = json.loads((artifact(job, "int360-apply-report-90001-1") / "report.json").read_text())
    assert report["status"] == "refused"
    changing = report["guard"]["changing"]
    assert changing > 3 and report["guard"]["max_billers"] == 3
    assert f"Refused by the apply guard: {changing} of" in job.summary
    assert "Nothing was written" in job.summary and "Actions → apply → Run workflow" in job.summary
    (issue,) = s.gh_state("issues")
    assert "was refused by the guard" in issue["body"] and "#31" in issue["body"]
    assert "refused by the apply guard" in bot_comments(s, 31)[0]["body"]
    assert crm.settings(104233)[0]["data_pump"]["schedule"] == "0 6 * * 1-5"

    # The break-glass run: by hand on main, a higher guard, the same range.
    secrets, vars = crm_write(s)
    inputs = {"max_billers": 40, "scope": ""}
    run = s.run(
        "apply.yml",
        dispatch_event(s, after, inputs),
        secrets=secrets,
        vars=vars,
        inputs=inputs,
        stubs=INSTALL,
        step_env=vault(s),
        env_overrides={"MAX_BILLERS": "3"},
    )
    job = run["apply"]
    assert job.conclusion == "success", job.log
    assert job.environment == "production-break-glass"
    outputs = job.step("scope").outputs
    assert (outputs["mode"], outputs["args"], outputs["max"]) == (
        "range",
        f"--changed-since {s.base}",
        "40",
    )
    assert outputs["why"].startswith("break-glass run by dev-jane")
    assert crm.settings(104233)[0]["data_pump"]["schedule"] == "0 7 * * 1-5"
    (issue,) = s.gh_state("issues")
    assert issue["state"] == "closed"


@pytest.mark.parametrize(
    ("inputs", "ref", "message"),
    [
        ({"max_billers": 5, "scope": "--bid 104233; touch /tmp/x"}, "main", "Bad input"),
        ({"max_billers": 5, "scope": "$(id)"}, "main", "Bad input"),
        ({"max_billers": 5, "scope": "104233"}, "main", "Bad input"),
        ({"max_billers": 5, "scope": "", "rotate_secrets": True}, "main", "Bad input"),
        ({"max_billers": 5, "max_percent": 101, "scope": ""}, "main", "Bad input"),
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
    assert job.step("report").outcome == "skipped"


def test_break_glass_scope_can_rotate_secrets_and_does_not_count(scenario: Scenario) -> None:
    s = scenario
    inputs = {"max_billers": 5, "scope": "--bid 104233", "rotate_secrets": True}
    run = s.run(
        "apply.yml",
        dispatch_event(s, s.base, inputs),
        inputs=inputs,
        stubs=INSTALL | {"apply": "echo stub", "report": "echo stub"},
    )
    outputs = run["apply"].step("scope").outputs
    assert (outputs["mode"], outputs["args"]) == ("scope", "--bid 104233 --rotate-secrets")
    assert outputs["percent"] == ""  # int360's default guard percentage
    inputs = {"max_billers": 500, "max_percent": 100, "scope": "--partner bsa"}
    run = s.run(
        "apply.yml",
        dispatch_event(s, s.base, inputs),
        inputs=inputs,
        stubs=INSTALL | {"apply": "echo stub", "report": "echo stub"},
    )
    outputs = run["apply"].step("scope").outputs
    assert (outputs["args"], outputs["max"], outputs["percent"]) == ("--partner bsa", "500", "100")


# ---------------------------------------------------------------------------
# drift.yml


def test_drift_opens_updates_and_closes_one_issue(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    crm.patch(104233, {"ftp": {"port": 2222}})  # someone changed it in the CRM
    secrets, vars = s.crm_read()

    run = s.run("drift.yml", schedule_event(s, s.base), secrets=secrets, vars=vars, stubs=INSTALL)
    assert run["drift"].conclusion == "success", run["drift"].log
    assert run["drift"].outputs == {"drift": "true", "since": s.base}
    assert run["adopt"].conclusion == "skipped"
    (issue,) = s.gh_state("issues")
    assert issue["labels"] == ["int360-drift"] and issue["state"] == "open"
    assert issue["body"].startswith("<!-- int360-drift -->")
    assert "104233" in issue["body"] and "ftp.port" in issue["body"]
    assert "ftp.port" in run["drift"].summary
    drift = json.loads((artifact(run["drift"], "int360-drift") / "drift.json").read_text())
    assert [b["bid"] for b in drift["billers"] if b["status"] == "change"] == [104233]

    crm.patch(110392, {"ftp": {"port": 2200}})  # more drift the next night
    run = s.run("drift.yml", schedule_event(s, s.base), secrets=secrets, vars=vars, stubs=INSTALL)
    assert run["drift"].conclusion == "success", run["drift"].log
    (issue,) = s.gh_state("issues")  # still one issue, updated
    assert "110392" in issue["body"] and "104233" in issue["body"]

    crm.patch(104233, {"ftp": {"port": 22}})
    crm.patch(110392, {"ftp": {"port": 22}})
    run = s.run("drift.yml", schedule_event(s, s.base), secrets=secrets, vars=vars, stubs=INSTALL)
    assert run["drift"].outputs["drift"] == "false"
    (issue,) = s.gh_state("issues")
    assert issue["state"] == "closed" and "No drift any more" in issue["comments"][0]


def test_drift_marks_pending_billers_and_adopt_skips_them(scenario: Scenario) -> None:
    """Merged but not yet applied is not drift: never offered for adoption."""
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    crm.patch(110392, {"ftp": {"port": 2200}})  # a hand edit in the CRM
    tip = edit_biller(s, "sftp.spring", "sftp2.spring")  # merged, apply not run yet
    secrets, vars = s.crm_read()
    inputs = {"adopt": True}
    run = s.run(
        "drift.yml",
        dispatch_event(s, tip, inputs),
        secrets=secrets,
        vars=vars,
        inputs=inputs,
        stubs=INSTALL,
    )
    drift = run["drift"]
    assert drift.conclusion == "success", drift.log
    out = json.loads((artifact(drift, "int360-drift") / "drift.json").read_text())
    pending = {b["bid"] for b in out["billers"] if b.get("pending")}
    hand = {b["bid"] for b in out["billers"] if b["status"] == "change" and not b.get("pending")}
    assert (pending, hand) == ({104233}, {110392})
    (issue,) = s.gh_state("issues")
    hand_part, pending_part = issue["body"].split("### Pending apply")
    assert "110392" in hand_part and "104233" not in hand_part
    assert "104233" in pending_part

    adopt = run["adopt"]
    assert adopt.conclusion == "success", adopt.log
    branch = "int360/adopt-drift"
    assert "2200" in git(s.origin, "show", f"{branch}:billers/110392-cedar-falls.yaml")
    # The pending biller's file is main's, not rewritten to the live (older) value.
    assert "sftp2.springfield" in git(s.origin, "show", f"{branch}:billers/104233.yaml")
    (pr,) = s.gh_state("prs")
    assert pr["head"] == branch and "110392" in pr["body"] and "104233" not in pr["body"]
    assert "1 biller(s) pending apply" in pr["body"]
    assert artifact(adopt, "int360-adopt")


def test_drift_adopt_updates_one_pull_request_in_place(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    crm.patch(104233, {"ftp": {"port": 2222}})
    secrets, vars = s.crm_read()
    inputs = {"adopt": True}
    for port in (2222, 2223):
        crm.patch(104233, {"ftp": {"port": port}})
        run = s.run(
            "drift.yml",
            dispatch_event(s, s.base, inputs),
            secrets=secrets,
            vars=vars,
            inputs=inputs,
            stubs=INSTALL,
        )
        assert run["adopt"].conclusion == "success", run["adopt"].log
        adopted = git(s.origin, "show", "int360/adopt-drift:billers/104233.yaml")
        assert str(port) in adopted
    (pr,) = s.gh_state("prs")  # one pull request, updated by the second run
    assert pr["edits"] == 1 and "2223" in pr["body"]
    assert git(s.origin, "log", "-1", "--format=%an", "int360/adopt-drift") == (
        "github-actions[bot]"
    )
    assert ["auth", "setup-git"] in gh_commands(s)


def test_drift_does_not_run_during_an_apply(scenario: Scenario) -> None:
    s = scenario
    crm = s.start_crm()
    applied_runs(s, s.base)
    runs = s.gh_state("runs")
    s.gh_seed(
        "runs",
        [
            *runs,
            {
                "databaseId": 6000,
                "workflow": "apply.yml",
                "branch": "main",
                "event": "push",
                "status": "in_progress",
                "conclusion": None,
                "headSha": s.base,
                "jobs": [],
            },
        ],
    )
    crm.patch(104233, {"ftp": {"port": 2222}})
    secrets, vars = s.crm_read()
    run = s.run("drift.yml", schedule_event(s, s.base), secrets=secrets, vars=vars, stubs=INSTALL)
    drift = run["drift"]
    assert drift.conclusion == "success", drift.log
    assert drift.step("quiet").outputs == {"skip": "true"}
    assert drift.step("quiet").annotations[0][1] == "title=Drift skipped"
    assert drift.step("drift").outcome == "skipped"
    assert s.gh_state("issues") == []


def test_drift_discards_its_result_when_an_apply_ran_meanwhile(scenario: Scenario) -> None:
    s = scenario
    s.start_crm()
    applied_runs(s, s.base)
    newer = s.commit({"docs/x.md": "x\n"})
    # The drift step, standing in for a slow plan during which an apply of `newer`
    # succeeded: the last applied commit moved, so the result is stale.
    moved = (
        'python3 - <<"EOF"\n'
        "import json, os\n"
        "path = os.path.join(os.environ['FAKE_GH_DIR'], 'runs.json')\n"
        "runs = json.load(open(path))\n"
        "new = dict(runs[0], databaseId=7000, headSha=os.environ['NEWER'])\n"
        "json.dump(runs + [new], open(path, 'w'))\n"
        "EOF\n"
        'mkdir -p "$RUNNER_TEMP/int360" && echo "drift" >"$RUNNER_TEMP/int360/drift.md"\n'
        'echo "drift=true" >>"$GITHUB_OUTPUT"\n'
    )
    secrets, vars = s.crm_read()
    run = s.run(
        "drift.yml",
        schedule_event(s, newer),
        secrets=secrets,
        vars=vars,
        stubs=INSTALL | {"drift": moved},
        step_env={"drift": {"NEWER": newer}},
    )
    drift = run["drift"]
    assert drift.conclusion == "success", drift.log
    (issue_step,) = [st for st in drift.steps if st.name == "Open, update or close the drift issue"]
    assert issue_step.annotations[0][1] == "title=Drift result discarded"
    assert s.gh_state("issues") == []
