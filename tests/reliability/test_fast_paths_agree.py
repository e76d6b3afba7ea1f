"""The fast paths of ``validate`` agree with the careful one.

``validate`` answers most documents with a quick yes from jsonschema-rs, works out
positions only for files with a problem, spreads large repositories over worker
processes, and reuses the last verdict when nothing changed. ``validate --careful``
does none of that: one process, no cache, the full validator on every document.
Both must print exactly the same problems (rule, file, line, column, message) on
every hostile input of the corpus and on generated fleets, good and bad.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from int360apply.cli import main
from int360apply.validate_run import PARALLEL_THRESHOLD

from .conftest import CORPUS, copy_repo, make_fleet
from .test_hostile_input import CASES, Case

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

Problems = list[dict[str, Any]]


def _validate(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Problems]:
    capsys.readouterr()
    code = main(["--repo", str(root), "validate", "--format", "json", *args])
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is (code == 0)
    return code, report["problems"]


def _agree(root: Path, capsys: pytest.CaptureFixture[str], *paths: str) -> Problems:
    """The problems both paths report (they must be the same, in the same order)."""
    fast = _validate(root, capsys, *paths)
    careful = _validate(root, capsys, "--careful", *paths)
    assert fast == careful
    return fast[1]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fast_and_careful_agree_on_every_hostile_input(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_repo(tmp_path / "repo")
    case.place(root, case.dest)
    problems = _agree(root, capsys)
    assert problems, "a hostile input must be refused"
    if case.dest.startswith("billers/") and (root / case.dest).is_file():
        assert _agree(root, capsys, str(root / case.dest))


def _bad_fleet(root: Path, count: int) -> list[str]:
    """A generated fleet with every committed bad biller of the corpus among its files."""
    make_fleet(root, count, seed=7)
    placed = []
    for index, source in enumerate(sorted((CORPUS / "billers").glob("*.yaml"))):
        if source.name.startswith("filename__") or source.name.startswith("duplicate-bid__"):
            continue  # their point is their name or their neighbour
        dest = root / "billers" / f"{990000 + index}.yaml"
        text = source.read_text(encoding="utf-8", errors="replace")
        dest.write_text(text.replace("bid: 900001", f"bid: {990000 + index}"), encoding="utf-8")
        placed.append(f"billers/{dest.name}")
    return placed


def test_a_large_bad_fleet_in_worker_processes_agrees_with_the_careful_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "fleet"
    placed = _bad_fleet(root, PARALLEL_THRESHOLD + 100)
    problems = _agree(root, capsys)
    # Every bad file is refused, and no generated (valid) file is.
    assert {p["path"] for p in problems if p["path"].startswith("billers/")} == set(placed)
    for rel in placed[:8]:
        assert _agree(root, capsys, str(root / rel))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_valid_fleets_are_valid_on_both_paths(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_fleet(tmp_path / "fleet", 300, seed=seed).root
    assert _agree(root, capsys) == []


def test_a_broken_partner_in_a_fleet_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_fleet(tmp_path / "fleet", 300, seed=4).root
    partner = root / "partners" / "bsa.yaml"
    partner.write_text(
        partner.read_text(encoding="utf-8").replace("port: 22", "port: 70000"),
        encoding="utf-8",
    )
    problems = _agree(root, capsys)
    assert any(p["path"] == "partners/bsa.yaml" for p in problems)
