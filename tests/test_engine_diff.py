"""``int360 diff``'s plan (engine.diff): merged settings at a git revision against the
working tree, in real git."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from int360apply.engine import diff as diff_since
from int360apply.load import load_config
from int360apply.plan import Plan
from int360apply.repo import Repo, RepoError
from tests.gitrepo import commit_all, git, init


@pytest.fixture
def root(tmp_repo: Any) -> Path:
    init(tmp_repo.root)
    return Path(tmp_repo.root)


def _diff(root: Path, ref: str = "HEAD") -> Plan:
    return diff_since(load_config(Repo(root)), ref)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_no_change_is_an_empty_plan(root: Path) -> None:
    plan = _diff(root)
    assert plan.billers == []
    assert plan.crm == "git HEAD → working tree"
    assert plan.commit is None


def test_an_override_edit_is_one_leaf_change(root: Path) -> None:
    _edit(root / "billers/104233.yaml", "sftp.springfield.example.gov", "sftp2.example.gov")
    [entry] = _diff(root).billers
    assert (entry.bid, entry.status, entry.partner) == (104233, "change", "caselle-batch-utility")
    assert [(c.path, c.before, c.after) for c in entry.changes] == [
        ("ftp.host", "sftp.springfield.example.gov", "sftp2.example.gov")
    ]


def test_a_partner_edit_changes_each_of_its_billers_and_counts_the_fanout(root: Path) -> None:
    base = git(root, "rev-parse", "HEAD").strip()
    _edit(root / "partners/caselle-batch-utility.yaml", "port: 22", "port: 2222")
    commit_all(root, "new port")
    plan = _diff(root, base)
    assert {b.bid for b in plan.billers} == {104233, 110392}
    for entry in plan.billers:
        assert entry.status == "change"
        assert [(c.path, c.before, c.after) for c in entry.changes] == [("ftp.port", 22, 2222)]
    assert plan.fanout == {"caselle-batch-utility": 2}


def test_a_comment_only_edit_scopes_the_biller_but_changes_nothing(root: Path) -> None:
    path = root / "billers/200145.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# a note\n", encoding="utf-8")
    [entry] = _diff(root).billers
    assert (entry.bid, entry.status, entry.changes) == (200145, "unchanged", [])


def test_a_deleted_biller_is_listed_as_removed(root: Path) -> None:
    (root / "billers/200145.yaml").unlink()
    [entry] = _diff(root).billers
    assert (entry.bid, entry.status, entry.name) == (200145, "removed", "billers/200145.yaml")


def test_a_new_biller_shows_every_leaf_as_added(root: Path) -> None:
    text = (root / "billers/200145.yaml").read_text(encoding="utf-8")
    (root / "billers/200999.yaml").write_text(text.replace("200145", "200999"), encoding="utf-8")
    [entry] = _diff(root).billers
    assert (entry.bid, entry.status) == (200999, "change")
    assert entry.changes and all(c.before is None for c in entry.changes)


def test_secrets_compare_by_reference_name(root: Path) -> None:
    _edit(root / "billers/104233.yaml", "FTP_SPRINGFIELD_KEY", "FTP_SPRINGFIELD_KEY_2")
    [entry] = _diff(root).billers
    [change] = entry.changes
    assert change.path == "ftp.auth.private_key"
    assert change.secret
    assert "FTP_SPRINGFIELD_KEY_2" in str(change.as_dict())


def test_an_unknown_ref_is_a_repository_error(root: Path) -> None:
    with pytest.raises(RepoError):
        _diff(root, "no-such-ref")


# --- a revision without the folders of a configuration -----------------------------


def _readme_first(root: Path) -> str:
    """Make ``root``'s history begin with a commit of a README alone (a repository
    started on a hosting site), the configuration committed after it; that first SHA."""
    shutil.rmtree(root / ".git")
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# Int360 as code\n", encoding="utf-8")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "initial commit")
    first = git(root, "rev-parse", "HEAD").strip()
    commit_all(root, "configuration")
    return first


def _drop_at_head(root: Path, *paths: str) -> None:
    """Commit the removal of ``paths``, then put them back in the working tree only."""
    git(root, "rm", "-r", "-q", *paths)
    commit_all(root, f"drop {' '.join(paths)}")
    git(root, "checkout", "-q", "HEAD~1", "--", *paths)


def test_a_revision_from_before_the_first_biller_shows_every_biller_as_added(
    root: Path,
) -> None:
    first = _readme_first(root)
    plan = _diff(root, first)
    config = load_config(Repo(root))
    assert {b.bid for b in plan.billers} == set(config.billers)
    for entry in plan.billers:
        assert entry.status == "change"
        assert entry.changes and all(c.before is None for c in entry.changes)
    assert plan.crm == f"git {first} → working tree"


def test_a_revision_without_partners_reads_its_billers_as_new(root: Path) -> None:
    _drop_at_head(root, "partners")
    plan = _diff(root, "HEAD")
    assert {b.bid for b in plan.billers} == set(load_config(Repo(root)).billers)
    assert all(c.before is None for b in plan.billers for c in b.changes)


def test_a_revision_with_billers_but_no_schemas_is_one_clear_error(root: Path) -> None:
    _drop_at_head(root, "schemas")
    with pytest.raises(RepoError) as failed:
        _diff(root, "HEAD")
    assert str(failed.value) == (
        "git HEAD: it has billers/ but no schemas/, so its settings cannot be read; "
        "compare with a later revision"
    )


def test_a_revision_missing_one_schema_file_names_it(root: Path) -> None:
    _drop_at_head(root, "schemas/defaults.schema.json")
    with pytest.raises(RepoError) as failed:
        _diff(root, "HEAD")
    assert str(failed.value).startswith(
        "git HEAD: it has billers/ but no schemas/defaults.schema.json, so its settings"
    )


def test_a_schema_that_was_not_json_at_the_revision_is_named_relative_to_the_repo(
    root: Path,
) -> None:
    good = (root / "schemas/settings.schema.json").read_text(encoding="utf-8")
    (root / "schemas/settings.schema.json").write_text("{not json", encoding="utf-8")
    commit_all(root, "a broken schema")
    (root / "schemas/settings.schema.json").write_text(good, encoding="utf-8")
    with pytest.raises(RepoError) as failed:
        _diff(root, "HEAD")
    message = str(failed.value)
    assert message.startswith("git HEAD: schemas/settings.schema.json: cannot load schema: ")
    assert "int360-base-" not in message and "\n" not in message
