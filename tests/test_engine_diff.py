"""``int360 diff``'s plan (engine.diff): merged settings at a git revision against the
working tree, in real git."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from int360apply.config import load_config
from int360apply.engine import diff as diff_since
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
