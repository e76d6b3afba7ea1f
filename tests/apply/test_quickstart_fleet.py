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
    assert (
        "Guard: not applied, the embedded sandbox is a throwaway local CRM "
        "(1,000 of 1,000 billers changed)."
    ) in lines, out

    code, lines, out = _run(root, env, "apply", "--yes")
    assert code == 0, out
    assert lines == [
        "CRM: embedded sandbox (.int360/sandbox.sqlite)",
        "Plan: 0 to change, 1,000 unchanged, 0 with errors.",
        "Apply: 0 applied, 1,000 unchanged, 0 stale, 0 failed.",
    ]

    # A template change: one _defaults value, on every biller that does not override it.
    defaults = root / "partners" / "_defaults.yaml"
    text = defaults.read_text(encoding="utf-8")
    assert text.count("purge_after_days: 730\n") == 1
    defaults.write_text(text.replace("purge_after_days: 730\n", "purge_after_days: 731\n"))
    code, lines, out = _run(root, env, "plan")
    assert code == 2, out
    grouped = [
        line for line in lines if line.startswith("  invoicing.purge_after_days: 730 → 731 on ")
    ]
    assert len(grouped) == 1, out
    count = int(re.search(r" on ([\d,]+) billers", grouped[0]).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 900 < count < 1000
    assert re.search(r"\[partners/_defaults\.yaml:\d+:\d+\]$", grouped[0]), grouped[0]
    assert f"Plan: {count:,} to change, {1000 - count:,} unchanged, 0 with errors." in lines
    assert len(lines) < 40, out

    code, lines, out = _run(root, env, "plan", "-v")
    assert code == 2
    assert sum(line.startswith("~ ") for line in lines) == count
    assert sum(line.startswith("= ") for line in lines) == 1000 - count

    code, lines, out = _run(root, env, "plan", "--changed-since", "HEAD", "--format", "markdown")
    assert code == 2
    assert (
        f"- `partners/_defaults.yaml` changed: used by 1,000 billers in scope, {count:,} to change"
        in lines
    )
    assert "**made from uncommitted changes in the working tree** on top of commit `" in out
    assert out.count("<details>") == 20
    assert len(out) < 20_000
