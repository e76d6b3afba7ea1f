"""The benchmark tools (not their timings): the synthetic fleet is valid and
reproducible, and the runner refuses a target it does not have."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.fleet import make_fleet
from benchmarks.run import STEPS, main
from int360apply.repo import Repo
from int360apply.validate_run import run_validate

pytestmark = pytest.mark.slow  # generates and validates benchmark fleets

REPO_ROOT = Path(__file__).resolve().parents[1]


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
