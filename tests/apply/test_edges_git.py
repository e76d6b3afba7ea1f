"""Awkward git layouts: a repository in a sub-folder of the git work tree, a base
revision holding a symlink that leads out of the tree (issue 15, "Files")."""

from __future__ import annotations

import shutil

import pytest

from ._support import Workspace, assert_plan_document, statuses


def _move_git_up(ws: Workspace) -> None:
    """Make the repository a sub-folder (``repo/``) of a git work tree one level up."""
    shutil.rmtree(ws.root / ".git")
    (ws.tmp / ".gitignore").write_text("home/\n*.sqlite*\nrepo/.int360/\n", encoding="utf-8")
    ws.git("init", "-q", "-b", "main", str(ws.tmp))
    ws.git("config", "user.name", "Pat Reviewer")
    ws.git("config", "user.email", "pat@example.invalid")
    ws.git("add", "-A", str(ws.tmp))
    ws.git("commit", "-q", "-m", "the configuration lives in repo/")


def test_diff_sees_changes_when_the_repository_is_a_sub_folder(ws: Workspace) -> None:
    _move_git_up(ws)
    ws.replace("billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    run = ws.run("diff", "--base", "HEAD")
    assert run.code == 2, run
    assert 'ftp.username: "springfield" → "springfield-ops"' in run.out
    assert "1 to change" in run.out


def test_changed_since_scopes_the_plan_when_the_repository_is_a_sub_folder(
    ws: Workspace,
) -> None:
    _move_git_up(ws)
    ws.replace("billers/200145.yaml", "FTP_MAPLE_GROVE_KEY}", "FTP_MAPLE_GROVE_KEY_2025}")
    ws.git("rm", "-q", "billers/112006.yaml")
    ws.env["INT360_SECRET_FTP_MAPLE_GROVE_KEY_2025"] = "sv-rotated-for-the-test"
    run = ws.run("plan", "--changed-since", "HEAD", "--format", "json")
    assert run.code == 2, run
    doc = run.json()
    assert_plan_document(doc)
    assert statuses(doc) == {200145: "change", 112006: "removed"}


def test_diff_base_with_a_symlink_out_of_the_tree_is_no_traceback(ws: Workspace) -> None:
    outside = ws.tmp / "elsewhere.yaml"
    outside.write_text(ws.read("billers/104233.yaml"), encoding="utf-8")
    ws.path("billers/104233.yaml").unlink()
    ws.path("billers/104233.yaml").symlink_to(outside)  # absolute: refused by git archive's tar
    ws.commit("a biller file that is a symlink to an absolute path")
    ws.git("rm", "-q", "billers/104233.yaml")
    ws.write("billers/104233.yaml", outside.read_text(encoding="utf-8"))
    run = ws.run("diff", "--base", "HEAD")
    assert "Traceback" not in run.err, run
    # At the base that file was no valid biller file: the biller reads as new.
    assert run.code == 2, run
    assert "~ 104233 Springfield Water & Sewer" in run.out


@pytest.mark.slow  # real processes; tests/test_engine_diff.py holds the same in-process
def test_diff_base_before_the_first_biller_shows_every_biller_as_added(ws: Workspace) -> None:
    # A repository begun with a README alone, the configuration committed after it.
    shutil.rmtree(ws.root / ".git")
    ws.git("init", "-q", "-b", "main")
    ws.git("config", "user.name", "Pat Reviewer")
    ws.git("config", "user.email", "pat@example.invalid")
    ws.write("README.md", "# Int360 as code\n")
    ws.git("add", "README.md")
    ws.git("commit", "-q", "--no-gpg-sign", "-m", "initial commit")
    first = ws.head()
    ws.commit("configuration")
    run = ws.run("diff", "--base", first, "--format", "json")
    assert "Traceback" not in run.err, run
    assert run.code == 2, run
    doc = run.json()
    assert set(statuses(doc).values()) == {"change"}
    assert len(doc["billers"]) == len(list(ws.path("billers").glob("*.yaml")))
    assert all(c["before"] is None for b in doc["billers"] for c in b["changes"])


@pytest.mark.slow  # a real process, for the exit code and the one line of stderr
def test_diff_base_without_schemas_is_one_line_and_exit_1(ws: Workspace) -> None:
    ws.git("rm", "-r", "-q", "schemas")
    no_schemas = ws.commit("schemas moved out")
    ws.git("checkout", "-q", "HEAD~1", "--", "schemas")
    run = ws.run("diff", "--base", no_schemas[:12])
    assert run.code == 1, run
    assert run.out == ""
    assert run.err == (
        f"int360: git {no_schemas[:12]}: it has billers/ but no schemas/, so its settings "
        "cannot be read; compare with a later revision\n"
    )
