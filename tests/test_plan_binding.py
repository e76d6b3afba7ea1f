"""What binds a saved plan to the repository: the inputs digest, the scope of a git change,
and the reading of a plan file (schema first, one line per problem)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO_ROOT, TmpRepo

from int360apply.digest import inputs_digest
from int360apply.load import load_config
from int360apply.planfile import PlanFileError, parse_plan
from int360apply.repo import Repo
from int360apply.scope import GitChanges, decides_everything, scope_from_changes

SPRINGFIELD, RED_MESA = 104233, 500102


def digest(tmp_repo: TmpRepo, *bids: int) -> str:
    return inputs_digest(load_config(Repo(tmp_repo.root)), bids)


def test_digest_covers_the_billers_planned_their_partners_defaults_and_schemas(
    tmp_repo: TmpRepo,
) -> None:
    first = digest(tmp_repo, SPRINGFIELD)
    assert first.startswith("sha256:") and len(first) == 71
    assert digest(tmp_repo, SPRINGFIELD) == first, "stable"

    # Another biller's file is not an input of this plan.
    other = "billers/500102-red-mesa.yaml"
    tmp_repo.write(other, tmp_repo.read(other) + "# note\n")
    assert digest(tmp_repo, SPRINGFIELD) == first

    for rel in (
        "billers/104233.yaml",
        "partners/caselle-batch-utility.yaml",
        "partners/_defaults.yaml",
        "schemas/settings.schema.json",
    ):
        original = tmp_repo.read(rel)
        tmp_repo.write(rel, original + "\n")
        assert digest(tmp_repo, SPRINGFIELD) != first, rel
        tmp_repo.write(rel, original)
        assert digest(tmp_repo, SPRINGFIELD) == first, rel

    # A file added to schemas/ counts too.
    tmp_repo.write("schemas/extra.json", "{}\n")
    assert digest(tmp_repo, SPRINGFIELD) != first
    tmp_repo.remove("schemas/extra.json")

    # Which billers are planned is part of it.
    assert digest(tmp_repo, SPRINGFIELD, RED_MESA) != first


def test_digest_does_not_see_line_endings(tmp_repo: TmpRepo) -> None:
    first = digest(tmp_repo, SPRINGFIELD)
    rel = "billers/104233.yaml"
    tmp_repo.write(rel, tmp_repo.read(rel).replace("\n", "\r\n").encode())
    assert digest(tmp_repo, SPRINGFIELD) == first


@pytest.mark.parametrize(
    ("path", "everything"),
    [
        ("partners/_defaults.yaml", True),
        ("schemas/settings.schema.json", True),
        ("int360apply/merge.py", True),
        ("int360apply/render/plan.py", True),
        ("pyproject.toml", True),
        ("uv.lock", True),
        ("poetry.lock", True),
        ("requirements.txt", True),
        ("requirements-dev.txt", True),
        ("ci/requirements-ci.txt", True),
        ("partners/bsa.yaml", False),
        ("billers/104233.yaml", False),
        ("README.md", False),
        ("docs/requirements.md", False),
        ("tests/test_merge.py", False),
        ("int360apply.txt", False),
    ],
)
def test_what_decides_every_biller(path: str, everything: bool) -> None:
    assert decides_everything(path) is everything


def test_a_code_change_puts_every_biller_in_scope(tmp_repo: TmpRepo) -> None:
    config = load_config(Repo(tmp_repo.root))
    code = scope_from_changes(
        config, GitChanges(frozenset({"int360apply/merge.py", "README.md"}), frozenset()), "HEAD"
    )
    assert code.bids == set(config.billers)
    assert code.description == "all billers (int360apply/merge.py changed since HEAD)"
    assert code.as_dict() == {
        "description": code.description,
        "selector": ["--changed-since", "HEAD"],
    }
    removed_lock = scope_from_changes(
        config, GitChanges(frozenset(), frozenset({"uv.lock"})), "main"
    )
    assert removed_lock.bids == set(config.billers)
    docs = scope_from_changes(config, GitChanges(frozenset({"README.md"}), frozenset()), "HEAD")
    assert docs.bids == set()


def test_untracked_code_and_schema_files_count_as_changes(tmp_repo: TmpRepo) -> None:
    from int360apply.scope import changed_files

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_repo.root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@x.invalid", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@x.invalid", "commit", "-qm", "fixture")
    tmp_repo.write("int360apply/new_rule.py", "RULE = 1\n")
    tmp_repo.write("schemas/extra.schema.json", "{}\n")
    changes = changed_files(Repo(tmp_repo.root), "HEAD")
    assert {"int360apply/new_rule.py", "schemas/extra.schema.json"} <= changes.changed


# --- reading a plan file ---------------------------------------------------------------


def minimal_plan() -> dict[str, object]:
    return {
        "format_version": 2,
        "crm": "http://crm.invalid",
        "commit": "0" * 40,
        "scope": {"description": "all billers", "selector": ["--all"]},
        "inputs_digest": "sha256:" + "a" * 64,
        "int360": "0.1.0",
        "summary": {"change": 0, "unchanged": 1, "error": 0},
        "billers": [
            {
                "bid": 1,
                "name": "One",
                "partner": "bsa",
                "status": "unchanged",
                "etag": '"1"',
                "changes": [],
                "errors": [],
            }
        ],
    }


SCHEMAS = REPO_ROOT / "schemas"


def test_a_plan_file_that_follows_the_schema_is_read() -> None:
    plan = parse_plan(json.dumps(minimal_plan()), "plan.json", SCHEMAS)
    assert plan.billers[0].bid == 1 and plan.inputs_digest == "sha256:" + "a" * 64
    assert plan.scope == {"description": "all billers", "selector": ["--all"]}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format_version=1), "plan.json: format_version 1, this int360"),
        (lambda d: d.pop("scope"), "at the top: 'scope' is a required property"),
        (lambda d: d.update(commit="not a sha"), "at commit:"),
        (lambda d: d.update(inputs_digest="md5:00"), "at inputs_digest:"),
        (lambda d: d["billers"][0].update(status="applied"), "at billers[0].status:"),
        (lambda d: d["billers"][0].update(bid=0), "at billers[0].bid:"),
        (lambda d: d["billers"][0].pop("etag"), "'etag' is a required property"),
        (lambda d: d["billers"][0].update(extra=1), "at billers[0]:"),
        (
            lambda d: d["billers"][0]["changes"].append(
                {"path": "FTP/../x", "before": None, "after": 1, "source": None}
            ),
            "at billers[0].changes[0].path:",
        ),
        (lambda d: d.update(status="ok"), "an apply report, not a plan"),
        (lambda d: d["summary"].update(unchanged=2), "the summary does not count"),
    ],
)
def test_a_plan_file_off_the_schema_is_one_line(edit: object, message: str) -> None:
    doc = minimal_plan()
    edit(doc)  # type: ignore[operator]
    with pytest.raises(PlanFileError) as refused:
        parse_plan(json.dumps(doc), "plan.json", SCHEMAS)
    text = str(refused.value)
    assert message in text and "\n" not in text, text
    assert text.startswith("plan.json: ")


def test_a_long_value_from_the_file_is_clipped(tmp_path: Path) -> None:
    doc = minimal_plan()
    doc["commit"] = "z" * 5000
    with pytest.raises(PlanFileError) as refused:
        parse_plan(json.dumps(doc), "plan.json", SCHEMAS)
    assert len(str(refused.value)) < 300


def test_a_missing_plan_schema_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    (tmp_path / "schemas" / "plan.schema.json").unlink()
    with pytest.raises(PlanFileError, match=r"cannot load the plan schema"):
        parse_plan(json.dumps(minimal_plan()), "plan.json", tmp_path / "schemas")


def test_a_plan_schema_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    schema = tmp_path / "schemas" / "plan.schema.json"
    schema.write_text("[]", encoding="utf-8")
    with pytest.raises(PlanFileError) as refused:
        parse_plan(json.dumps(minimal_plan()), "plan.json", tmp_path / "schemas")
    assert str(refused.value) == f"{schema}: cannot load the plan schema: not a JSON object"
