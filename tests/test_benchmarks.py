"""The benchmark tools (not their timings): the synthetic fleet is valid and
reproducible, the runner reads its results from the commands' JSON (a real plan
and a real apply report), and refuses a target or a revision it does not have."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.fleet import make_fleet
from benchmarks.run import (
    STEPS,
    CommandFailed,
    Run,
    Target,
    _plan_summary,
    _report_summary,
    code_at,
    main,
    table,
)
from int360apply.repo import Repo
from int360apply.validate_run import run_validate

pytestmark = pytest.mark.slow  # generates and validates benchmark fleets

REPO_ROOT = Path(__file__).resolve().parents[1]
INT360 = (sys.executable, "-m", "int360apply")


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((root / "billers").glob("*.yaml")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_a_generated_fleet_is_valid_and_the_same_for_the_same_seed(tmp_path: Path) -> None:
    first = make_fleet(tmp_path / "a", 60)
    again = make_fleet(tmp_path / "b", 60)
    other = make_fleet(tmp_path / "c", 60, seed=7)
    assert len(list((first / "billers").glob("*.yaml"))) == 60
    assert run_validate(Repo(first), None, careful=True) == []
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)


@pytest.mark.parametrize("only", ["7", "", "1,x"])
def test_only_names_targets_that_exist(only: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--only", only])
    assert exit_.value.code == 2
    assert ",".join(STEPS) in capsys.readouterr().err


def test_the_runner_starts_from_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--only" in done.stdout


def _run(out: Path) -> Run:
    return Run(1.0, 2, 1024, None, 0.5, 0.1, out, out.with_suffix(".err"))


@pytest.fixture
def real_plan(tmp_path: Path, tmp_repo: Any) -> tuple[Path, Path]:
    """A plan of the sample billers against a fresh embedded sandbox (all change),
    printed and written with ``--out`` by the real command."""
    saved = tmp_path / "plan.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INT360_")}
    done = subprocess.run(
        [*INT360, "--repo", str(tmp_repo.root), "plan", "--format", "json", "--out", str(saved)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    printed = tmp_path / "plan.out"
    printed.write_text(done.stdout, encoding="utf-8")
    return printed, saved


def test_the_plan_summary_is_read_from_the_json_plan(real_plan: tuple[Path, Path]) -> None:
    printed, saved = real_plan
    summary = _plan_summary(saved, _run(printed))
    count = len(json.loads(saved.read_text(encoding="utf-8"))["billers"])
    assert summary == {"change": count, "unchanged": 0, "error": 0}


def test_a_plan_on_stdout_unlike_the_out_file_or_not_json_fails_the_run(
    real_plan: tuple[Path, Path], tmp_path: Path
) -> None:
    printed, _saved = real_plan
    other = tmp_path / "other.json"
    other.write_text(printed.read_text(encoding="utf-8").replace('"change"', '"change" ', 1))
    with pytest.raises(CommandFailed, match="different plans"):
        _plan_summary(other, _run(printed))
    text = tmp_path / "text.out"
    text.write_text("Plan: 3 to change, 0 unchanged, 0 with errors.\n", encoding="utf-8")
    with pytest.raises(CommandFailed, match="is not JSON"):
        _plan_summary(None, _run(text))


def test_the_apply_summary_is_read_from_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps({"summary": {"applied": 1000, "unchanged": 0, "stale": 0, "failed": 0}})
    )
    assert _report_summary(report)["applied"] == 1000
    report.write_text(json.dumps({"billers": []}))
    with pytest.raises(CommandFailed, match="without a summary"):
        _report_summary(report)


def test_an_older_revision_is_its_own_source_tree_first_on_pythonpath(tmp_path: Path) -> None:
    code = code_at("HEAD", tmp_path / "src")
    assert code.label.startswith("before ")
    assert code.pythonpath is not None
    assert (code.pythonpath / "int360apply" / "__init__.py").is_file()
    with pytest.raises(CommandFailed, match="--before no-such-revision"):
        code_at("no-such-revision", tmp_path / "none")


def test_the_table_names_the_code_of_each_row_when_two_are_compared() -> None:
    rows = [
        Target("4j", "plan json", "s", "≤ 10 s", "before abc1234", samples=[21.0]),
        Target("4j", "plan json", "s", "≤ 10 s", "after def5678", samples=[4.0, 5.0]),
    ]
    lines = table(rows).splitlines()
    assert lines[0].split()[:2] == ["#", "code"]
    assert "before abc1234" in lines[2] and "21.000 s" in lines[2]
    assert "after def5678" in lines[3] and "4.500 s" in lines[3]
    assert "code" not in table([Target("4", "plan", "s", "≤ 10 s", samples=[1.0])])


@pytest.mark.slow
def test_the_transport_benchmark_measures_both_clients(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import transport

    assert transport.main(["--requests", "40", "--repeat", "1"]) == 0
    printed = capsys.readouterr().out
    for client in ("requests", "urllib3"):
        line = next(line for line in printed.splitlines() if line.strip().startswith(client))
        assert float(line.split()[1]) > 0, line
    assert "requests / urllib3:" in printed
