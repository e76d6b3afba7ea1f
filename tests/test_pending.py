"""pending.py: billers merged since the last applied commit are pending apply, not drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from int360apply import pending
from int360apply.load import load_config
from int360apply.plan import BillerPlan, Plan
from int360apply.repo import Repo
from tests.gitrepo import commit_all, git, init


def _plan() -> Plan:
    return Plan(
        crm="fake",
        commit=None,
        billers=[
            BillerPlan(1, "one", "bsa", "change"),
            BillerPlan(2, "two", "bsa", "change"),
            BillerPlan(3, "three", "bsa", "unchanged"),
            BillerPlan(4, "four", "bsa", "error"),
        ],
    )


def test_split_separates_hand_edits_from_merged_work() -> None:
    drifted, waiting = pending.split(_plan(), [2, 3, 4])
    assert [b.bid for b in drifted] == [1]
    assert [b.bid for b in waiting] == [2, 4]  # 3 is unchanged: nothing pending


def test_as_dict_marks_only_differing_pending_billers() -> None:
    data = pending.as_dict(_plan(), {2, 3})
    marks = {b["bid"]: b.get("pending") for b in data["billers"]}
    assert marks == {1: None, 2: True, 3: None, 4: None}


def test_note_names_the_pending_billers_and_shortens_the_sha() -> None:
    waiting = [BillerPlan(b, "", "", "change") for b in (7, 8)]
    line = pending.note(waiting, "0123456789abcdef0123")
    assert line.startswith("Pending apply (files changed since 0123456789ab,")
    assert line.endswith(": 7, 8\n")
    assert pending.note([], "0123") == ""
    assert pending.note(waiting, None) == ""


def test_note_lists_fifty_and_counts_the_rest() -> None:
    waiting = [BillerPlan(b, "", "", "change") for b in range(1, 61)]
    line = pending.note(waiting, "abc")
    assert ", 50 and 10 more\n" in line
    assert ", 51" not in line


@pytest.fixture
def root(tmp_repo: Any) -> Path:
    init(tmp_repo.root)
    return Path(tmp_repo.root)


def test_pending_bids_follow_changed_since_rules(root: Path) -> None:
    since = git(root, "rev-parse", "HEAD").strip()
    path = root / "partners/caselle-realtime-utility.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# edit\n", encoding="utf-8")
    commit_all(root, "partner edit")
    assert pending.pending_bids(load_config(Repo(root)), since) == {500102}


def test_pending_since_an_unknown_commit_is_a_usage_error(root: Path) -> None:
    with pytest.raises(pending.PendingRefError) as caught:
        pending.pending_bids(load_config(Repo(root)), "deadbeef")
    assert caught.value.exit_code == 64
    assert str(caught.value).startswith("--pending-since deadbeef: not a commit here (")
