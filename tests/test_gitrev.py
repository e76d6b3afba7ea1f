"""``crm.gitrev``: the settings at a git revision read as a CRM, and plans against them
(real git repositories in ``tmp_path``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from int360apply import engine
from int360apply.config import Config
from int360apply.crm import AuditNote, Profile
from int360apply.crm.errors import NotFound
from int360apply.crm.gitrev import GitRevReader, ReadOnlyError, temp_tree
from int360apply.crm.port import PatchRequest
from int360apply.crmconn import profiles
from int360apply.load import load_config
from int360apply.planner import build_plan
from int360apply.repo import Repo, RepoError
from int360apply.scope import Scope

SPRINGFIELD = 104233  # caselle-batch-utility, integrator ID 201, secret FTP_SPRINGFIELD_KEY
MAPLE_GROVE = 200145  # bsa, secret FTP_MAPLE_GROVE_KEY


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with no user or system configuration; its output."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Pat Reviewer",
        "GIT_AUTHOR_EMAIL": "pat@example.invalid",
        "GIT_COMMITTER_NAME": "Pat Reviewer",
        "GIT_COMMITTER_EMAIL": "pat@example.invalid",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def commit_all(top: Path, message: str) -> str:
    git(top, "add", "-A")
    git(top, "commit", "-q", "--allow-empty", "-m", message)
    return git(top, "rev-parse", "HEAD").strip()


@pytest.fixture
def root(tmp_repo: Any) -> Path:
    """The sample repository, committed as the only commit of a new git repository."""
    path: Path = tmp_repo.root
    git(path, "init", "-q", "-b", "main")
    commit_all(path, "fixture")
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def now(root: Path) -> Config:
    return load_config(Repo(root))


def reader_at(root: Path, ref: str = "HEAD") -> GitRevReader:
    return GitRevReader.at(Repo(root), ref, profiles(now(root)))


def plan_against(root: Path, ref: str = "HEAD") -> dict[int, Any]:
    """The plan of every biller of the working tree against ``ref``, by BID."""
    config = now(root)
    reader = GitRevReader.at(config.repo, ref, profiles(config))
    plan = build_plan(config, Scope(set(config.billers)), reader, crm="git", commit=None)
    return {b.bid: b for b in plan.billers}


# --- reading -----------------------------------------------------------------------


def test_the_settings_at_a_revision_are_the_merged_settings_with_secrets_in_read_form(
    root: Path,
) -> None:
    config = now(root)
    reader = reader_at(root)
    head = git(root, "rev-parse", "HEAD").strip()
    settings, etag = reader.get_settings(MAPLE_GROVE)
    assert etag == f'"{head}"'
    assert settings["ftp"]["auth"]["private_key"] == {"secret": "FTP_MAPLE_GROVE_KEY", "set": True}
    assert settings["advanced"]["account_number_label"] == "Parcel Number"
    # Everything but the secret's read-form flag is the desired settings.
    desired = config.desired(config.billers[MAPLE_GROVE])
    settings["ftp"]["auth"]["private_key"].pop("set")
    assert settings == desired


def test_a_later_commit_does_not_change_what_the_reader_of_an_earlier_one_answers(
    root: Path,
) -> None:
    first = git(root, "rev-parse", "HEAD").strip()
    edit(root / "billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    commit_all(root, "springfield: new FTP user")
    settings, etag = reader_at(root, first).get_settings(SPRINGFIELD)
    assert settings["ftp"]["username"] == "springfield"
    assert etag == f'"{first}"'
    assert reader_at(root, "HEAD").get_settings(SPRINGFIELD).settings["ftp"]["username"] == (
        "springfield-ops"
    )


def test_profiles_are_those_given_and_a_bid_without_one_is_not_found(root: Path) -> None:
    reader = GitRevReader.at(Repo(root), "HEAD", [Profile(SPRINGFIELD, "Springfield", 201)])
    assert list(reader.list_billers()) == [Profile(SPRINGFIELD, "Springfield", 201)]
    assert list(reader.list_billers(integrator_id=93)) == []
    assert reader.get_biller(SPRINGFIELD).integrator_id == 201
    with pytest.raises(NotFound, match=f"no biller {MAPLE_GROVE}"):
        reader.get_biller(MAPLE_GROVE)
    with pytest.raises(NotFound):
        reader.get_settings(MAPLE_GROVE)
    found, missing = reader.bulk_settings([MAPLE_GROVE, SPRINGFIELD])
    assert list(found) == [SPRINGFIELD] and missing == [MAPLE_GROVE]


def test_the_reader_is_read_only(root: Path) -> None:
    reader = reader_at(root)
    head = git(root, "rev-parse", "HEAD").strip()
    etag = reader.get_settings(SPRINGFIELD).etag
    with pytest.raises(ReadOnlyError, match=f"git {head[:12]} is read-only") as refused:
        reader.patch_settings(
            PatchRequest(SPRINGFIELD, {"ftp": {"port": 2222}}, etag, note=AuditNote("x"))
        )
    assert str(refused.value).startswith("PATCH /billers/104233/settings: ")
    with pytest.raises(ReadOnlyError, match="POST /billers/104233/notes"):
        reader.add_note(SPRINGFIELD, AuditNote("a note"))
    assert reader.get_settings(SPRINGFIELD).settings["ftp"]["port"] == 22


def test_a_revision_git_cannot_resolve_is_one_clear_error(root: Path) -> None:
    with pytest.raises(RepoError) as failed:
        reader_at(root, "no-such-branch")
    message = str(failed.value)
    assert message.startswith("git rev-parse --verify --quiet no-such-branch^{commit}")
    assert "\n" not in message


def test_a_failed_checkout_leaves_no_temporary_folder(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(RepoError, match=r"^git ls-tree no-such-branch: "):
        temp_tree(Repo(root), "no-such-branch")
    assert list(scratch.iterdir()) == []


def test_a_revision_with_none_of_the_folders_reads_as_no_biller(tmp_repo: Any) -> None:
    top = tmp_repo.root.parent
    git(top, "init", "-q", "-b", "main")
    (top / "README.md").write_text("# Int360 as code\n", encoding="utf-8")
    git(top, "add", "README.md")
    git(top, "commit", "-q", "-m", "only a README")  # the configuration is not added
    first = git(top, "rev-parse", "HEAD").strip()
    with temp_tree(Repo(tmp_repo.root), first) as folder:
        assert sorted(p.name for p in Path(folder).iterdir()) == ["billers", "partners", "schemas"]
        assert not any(Path(folder).rglob("*.*"))
    reader = reader_at(tmp_repo.root, first)
    assert reader.base is None and reader.commit == first
    assert reader.get_settings(SPRINGFIELD) == (({}), f'"{first}"')
    found, missing = reader.bulk_settings([SPRINGFIELD, 1])
    assert found == {SPRINGFIELD: ({}, f'"{first}"')} and missing == [1]


def test_a_repository_in_a_sub_folder_of_the_git_work_tree_is_read(tmp_repo: Any) -> None:
    top = tmp_repo.root.parent
    git(top, "init", "-q", "-b", "main")
    (top / "README.txt").write_text("the configuration lives in repo/\n", encoding="utf-8")
    commit_all(top, "fixture in repo/")
    settings = reader_at(tmp_repo.root).get_settings(SPRINGFIELD).settings
    assert settings["ftp"]["username"] == "springfield"


# --- plans against a revision ------------------------------------------------------


def test_the_working_tree_at_its_own_commit_plans_no_change(root: Path) -> None:
    entries = plan_against(root)
    assert {b.status for b in entries.values()} == {"unchanged"}


def test_a_changed_value_and_a_renamed_secret_are_changes(root: Path) -> None:
    edit(root / "billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    edit(root / "billers/200145.yaml", "FTP_MAPLE_GROVE_KEY}", "FTP_MAPLE_GROVE_KEY_2025}")
    entries = plan_against(root)
    (user,) = entries[SPRINGFIELD].changes
    assert (user.path, user.before, user.after) == (
        "ftp.username",
        "springfield",
        "springfield-ops",
    )
    assert user.source is not None and user.source.startswith("billers/104233.yaml:")
    (key,) = entries[MAPLE_GROVE].changes
    assert key.path == "ftp.auth.private_key" and key.secret
    assert key.before == {"secret": "FTP_MAPLE_GROVE_KEY"}
    assert key.after == {"secret": "FTP_MAPLE_GROVE_KEY_2025"}
    assert {b for b, e in entries.items() if e.status == "change"} == {SPRINGFIELD, MAPLE_GROVE}


def test_a_biller_added_since_the_revision_shows_every_leaf_as_new(root: Path) -> None:
    shutil.copy(root / "billers/104233.yaml", root / "billers/104999.yaml")
    edit(root / "billers/104999.yaml", "bid: 104233", "bid: 104999")
    config = now(root)
    entry = plan_against(root)[104999]
    assert entry.status == "change"
    assert all(c.before is None for c in entry.changes)
    desired = config.desired(config.billers[104999])
    assert {c.path.split(".")[0] for c in entry.changes} == set(desired)
    assert "ftp.username" in {c.path for c in entry.changes}


def test_a_file_that_was_a_symlink_out_of_the_tree_reads_as_no_biller(
    root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.yaml"
    biller = root / "billers/104233.yaml"
    outside.write_text(biller.read_text(encoding="utf-8"), encoding="utf-8")
    biller.unlink()
    biller.symlink_to(outside)
    commit_all(root, "a biller file that is a symlink to an absolute path")
    biller.unlink()
    shutil.copy(outside, biller)
    assert reader_at(root).settings_at(SPRINGFIELD) == {}
    assert plan_against(root)[SPRINGFIELD].status == "change"


def test_engine_diff_scopes_to_the_changes_and_lists_deleted_billers(root: Path) -> None:
    edit(root / "billers/104233.yaml", "username: springfield\n", "username: springfield-ops\n")
    git(root, "rm", "-q", "billers/200145.yaml")
    plan = engine.diff(now(root), "HEAD")
    assert plan.crm == "git HEAD → working tree" and plan.commit is None
    assert [(b.bid, b.status) for b in plan.billers] == [
        (SPRINGFIELD, "change"),
        (MAPLE_GROVE, "removed"),
    ]
    assert plan.billers[1].name == "billers/200145.yaml"
    # A revision has no ETag: the plan document says null, as it always has for a diff.
    assert [b.etag for b in plan.billers] == [None, None]
    assert plan.summary == {"change": 1, "unchanged": 0, "error": 0, "removed": 1}
