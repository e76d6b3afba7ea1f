"""scope.py against real git repositories in tmp_path: which billers a change touches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from int360apply.crm.gitrev import checkout_tree, temp_tree
from int360apply.load import load_config
from int360apply.repo import Repo, RepoError
from int360apply.scope import (
    GitChanges,
    ScopeError,
    changed_files,
    default_base,
    scope_from_changes,
    select,
)
from tests.gitrepo import commit_all, git, init

ALL = {104233, 110392, 500102, 200145}


@pytest.fixture
def root(tmp_repo: Any) -> Path:
    init(tmp_repo.root)
    return Path(tmp_repo.root)


def _changes(changed: set[str] = set(), deleted: set[str] = set()) -> GitChanges:  # noqa: B006
    return GitChanges(frozenset(changed), frozenset(deleted))


def test_changed_files_sees_edits_untracked_deletes_and_renames(root: Path) -> None:
    repo = Repo(root)
    base = git(root, "rev-parse", "HEAD").strip()
    (root / "billers/104233.yaml").write_text(
        (root / "billers/104233.yaml").read_text() + "# edited\n"
    )
    (root / "billers/300001.yaml").write_text("bid: 300001\n")  # untracked
    (root / "billers/200145.yaml").unlink()
    git(root, "mv", "billers/500102-red-mesa.yaml", "billers/500102-mesa.yaml")
    changes = changed_files(repo, base)
    assert "billers/104233.yaml" in changes.changed
    assert "billers/300001.yaml" in changes.changed
    assert "billers/500102-mesa.yaml" in changes.changed
    assert changes.deleted == {"billers/200145.yaml", "billers/500102-red-mesa.yaml"}


def test_changed_files_of_a_committed_change(root: Path) -> None:
    base = git(root, "rev-parse", "HEAD").strip()
    path = root / "partners/bsa.yaml"
    path.write_text(path.read_text() + "# note\n")
    commit_all(root, "edit bsa")
    changes = changed_files(Repo(root), base)
    assert changes.changed == {"partners/bsa.yaml"}
    assert not changes.deleted
    assert not changed_files(Repo(root), "HEAD").changed


def test_changed_files_refuses_a_ref_that_is_no_commit(root: Path) -> None:
    with pytest.raises(RepoError):
        changed_files(Repo(root), "no-such-branch")


def test_paths_are_relative_to_a_repository_below_the_git_root(tmp_repo: Any) -> None:
    outer = Path(tmp_repo.root).parent
    init(outer)
    (tmp_repo.root / "billers/104233.yaml").write_text(
        (tmp_repo.root / "billers/104233.yaml").read_text() + "# edited\n"
    )
    changes = changed_files(Repo(tmp_repo.root), "HEAD")
    assert changes.changed == {"billers/104233.yaml"}


def test_default_base_is_head_without_origin_and_merge_base_with_it(root: Path) -> None:
    repo = Repo(root)
    assert default_base(repo) == "HEAD"
    first = git(root, "rev-parse", "HEAD").strip()
    git(root, "update-ref", "refs/remotes/origin/main", first)
    (root / "billers/104233.yaml").write_text("# moved on\n", encoding="utf-8")
    commit_all(root, "local work")
    assert default_base(repo) == first


def test_a_changed_biller_file_scopes_that_biller(tmp_repo: Any) -> None:
    config = load_config(Repo(tmp_repo.root))
    scope = scope_from_changes(config, _changes({"billers/110392-cedar-falls.yaml"}), "HEAD")
    assert scope.bids == {110392}
    assert not scope.removed and not scope.partners_changed


def test_a_changed_partner_scopes_all_its_billers(tmp_repo: Any) -> None:
    config = load_config(Repo(tmp_repo.root))
    scope = scope_from_changes(config, _changes({"partners/caselle-batch-utility.yaml"}), "HEAD")
    assert scope.bids == {104233, 110392}
    assert scope.partners_changed == {"caselle-batch-utility"}


@pytest.mark.parametrize("path", ["partners/_defaults.yaml", "schemas/biller.schema.json"])
def test_defaults_or_a_schema_scope_every_biller(tmp_repo: Any, path: str) -> None:
    config = load_config(Repo(tmp_repo.root))
    assert scope_from_changes(config, _changes(deleted={path}), "HEAD").bids == ALL
    assert scope_from_changes(config, _changes({path}), "HEAD").bids == ALL


def test_a_deleted_biller_file_is_removed_not_planned(tmp_repo: Any) -> None:
    tmp_repo.remove("billers/200145.yaml")
    config = load_config(Repo(tmp_repo.root))
    scope = scope_from_changes(config, _changes(deleted={"billers/200145.yaml"}), "HEAD")
    assert scope.bids == set()
    assert scope.removed == {200145: "billers/200145.yaml"}


def test_files_that_name_no_biller_are_ignored(tmp_repo: Any) -> None:
    config = load_config(Repo(tmp_repo.root))
    scope = scope_from_changes(
        config,
        _changes(
            {"billers/README.md", "billers/not-a-bid.yaml", "docs/x.yaml", "billers/999999.yaml"},
            {"billers/104233.yaml"},  # deleted, but its file still loads (renamed): not removed
        ),
        "HEAD",
    )
    assert (scope.bids, scope.removed, scope.partners_changed) == (set(), {}, set())


def test_select_by_bid_partner_or_all(tmp_repo: Any) -> None:
    config = load_config(Repo(tmp_repo.root))
    assert select(config).bids == ALL
    assert select(config, bids=[200145]).bids == {200145}
    assert select(config, partners=["caselle-realtime-utility"]).bids == {500102}
    assert select(config, bids=[200145], partners=["caselle-batch-utility"]).bids == {
        104233,
        110392,
        200145,
    }


def test_select_changed_since_reads_git(root: Path) -> None:
    (root / "billers/200145.yaml").write_text(
        (root / "billers/200145.yaml").read_text() + "# edited\n"
    )
    config = load_config(Repo(root))
    assert select(config, changed_since="HEAD").bids == {200145}


def test_unknown_bids_and_partners_are_named_with_a_hint(tmp_repo: Any) -> None:
    config = load_config(Repo(tmp_repo.root))
    with pytest.raises(ScopeError) as caught:
        select(config, bids=[1, 2, 3, 4], partners=["caselle-batch-utilty", "zzz"])
    message = str(caught.value)
    assert "--bid 1 2 3 4: no biller file (billers/1.yaml, billers/2.yaml, billers/3.yaml, …)" in (
        message
    )
    assert (
        "--partner caselle-batch-utilty: no such partner; did you mean 'caselle-batch-utility'?"
        in (message)
    )
    assert "--partner zzz: no such partner; see int360 partners" in message


def test_checkout_tree_writes_the_config_as_it_was(root: Path, tmp_path: Path) -> None:
    first = git(root, "rev-parse", "HEAD").strip()
    (root / "billers/104233.yaml").unlink()
    commit_all(root, "drop 104233")
    into = tmp_path / "old"
    into.mkdir()
    checkout_tree(Repo(root), first, into)
    assert (into / "billers/104233.yaml").read_text() == git(
        root, "show", f"{first}:billers/104233.yaml"
    )
    assert (into / "partners/bsa.yaml").is_file()
    assert (into / "schemas").is_dir()
    with temp_tree(Repo(root), "HEAD") as folder:
        assert not (Path(folder) / "billers/104233.yaml").exists()
        assert (Path(folder) / "billers/200145.yaml").is_file()
    assert not Path(folder).exists()


def test_checkout_tree_leaves_out_a_symlink_out_of_the_tree(root: Path, tmp_path: Path) -> None:
    os.symlink("/etc/passwd", root / "billers/300001.yaml")
    commit_all(root, "hostile symlink")
    into = tmp_path / "old"
    into.mkdir()
    checkout_tree(Repo(root), "HEAD", into)
    assert not (into / "billers/300001.yaml").exists()
    assert not (into / "billers/300001.yaml").is_symlink()
    assert (into / "billers/200145.yaml").is_file()
