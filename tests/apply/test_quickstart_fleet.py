"""The quick start's main job on a real fleet: ``int360 apply --yes`` against the
embedded sandbox in a repository of 1,000 billers works, says so in under 100 lines,
and a second run says nothing changed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.fleet import make_fleet

from ._support import clean_env

FLEET = 1000


def _run(root: Path, env: dict[str, str], *args: str) -> tuple[int, list[str], str]:
    result = subprocess.run(
        [sys.executable, "-m", "int360apply", "--repo", str(root), *args],
        cwd=root.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    both = result.stdout + result.stderr
    return result.returncode, both.splitlines(), both


@pytest.mark.slow
def test_first_apply_of_1000_billers_on_the_embedded_sandbox(tmp_path: Path) -> None:
    root = make_fleet(tmp_path / "repo", FLEET)
    (root / ".gitignore").write_text(".int360/\n", encoding="utf-8")
    env = clean_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    for args in (
        ("init", "-q", "-b", "main"),
        ("add", "-A"),
        ("-c", "user.name=Newcomer", "-c", "user.email=n@example.invalid", "commit", "-qm", "x"),
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    code, lines, out = _run(root, env, "apply", "--yes")
    assert code == 0, out
    assert lines[0] == "CRM: embedded sandbox (.int360/sandbox.sqlite)"
    assert len(lines) < 100, out
    assert "Apply: 1,000 applied, 0 unchanged, 0 stale, 0 failed." in lines, out
    assert "Plan: 1,000 to change, 0 unchanged, 0 with errors." in lines
    grouped = [
        line
        for line in lines
        if re.search(r" on 1,000 billers   \[partners/_defaults\.yaml:\d+:\d+\]$", line)
    ]
    assert grouped, "a change every biller shares is one grouped line"
    assert max(len(line) for line in lines) < 400, "no line lists the whole fleet"
    assert "the embedded sandbox is exempt from the guard" in out

    code, lines, out = _run(root, env, "apply", "--yes")
    assert code == 0, out
    assert lines == [
        "CRM: embedded sandbox (.int360/sandbox.sqlite)",
        "Plan: 0 to change, 1,000 unchanged, 0 with errors.",
        "Apply: 0 applied, 1,000 unchanged, 0 stale, 0 failed.",
    ]
