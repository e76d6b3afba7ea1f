"""The workflow glue on its own (.github/scripts/int360_ci.py) against the fake ``gh``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GITHUB_REPOSITORY, Scenario, git

pytestmark = pytest.mark.slow  # real git and a fake gh per call

SCRIPT = Path(__file__).resolve().parents[2] / ".github" / "scripts" / "int360_ci.py"


def glue(s: Scenario, *args: str) -> subprocess.CompletedProcess[str]:
    env = s.env(GH_TOKEN="t", GITHUB_REPOSITORY=GITHUB_REPOSITORY)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=s.origin,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def run_record(number: int, sha: str, apply_step: str) -> dict[str, object]:
    return {
        "databaseId": number,
        "workflow": "apply.yml",
        "branch": "main",
        "status": "completed",
        "conclusion": "success",
        "headSha": sha,
        "jobs": [{"steps": [{"name": "Apply the range", "conclusion": apply_step}]}],
    }


def test_last_applied_takes_the_nearest_applied_ancestor(scenario: Scenario) -> None:
    s = scenario
    first = s.commit({"docs/a.md": "a\n"})
    second = s.commit({"docs/b.md": "b\n"})
    git(s.origin, "switch", "-q", "-c", "elsewhere", s.base)
    stray = s.commit({"docs/c.md": "c\n"})  # applied once, not in main's history
    git(s.origin, "switch", "-q", "main")
    s.gh_seed(
        "runs",
        [
            run_record(1, first, "success"),
            run_record(2, stray, "success"),
            run_record(3, s.base, "success"),  # a re-run of an old run: newest, yet older
            run_record(4, second, "skipped"),  # superseded: wrote nothing
        ],
    )
    proc = glue(s, "last-applied", "--workflow", "apply.yml", "--branch", "main", "--head", second)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == first
    s.gh_seed("runs", [])
    proc = glue(s, "last-applied", "--workflow", "apply.yml", "--branch", "main", "--head", second)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_gh_failures_and_bad_arguments_are_one_clear_line(scenario: Scenario) -> None:
    s = scenario
    proc = glue(s, "tip", "--branch", "no-such-branch")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "gh api repos/int360/int360-as-code/git/ref/heads/no-such-branch … failed (exit 1): "
        "gh: Not Found (HTTP 404)"
    ]
    proc = glue(s, "issue", "--label", "x", "--title", "y")
    assert proc.returncode == 2 and "issue: --body-file, or --close" in proc.stderr
    assert glue(s, "tip", "--branch", "main").stdout.strip() == s.base
