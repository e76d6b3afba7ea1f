"""Concurrent writers: two ``apply`` processes over the same scope at once, and an edit
made through the CRM API while an ``apply --plan`` runs.

Two applies converge without lost or doubled updates (each biller is written by exactly
one of them: the other gets 412 and re-reads), and a saved plan never clobbers an edit
made in the CRM after the plan was made: that biller is reported stale.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from int360apply.crm.port import PatchRequest
from int360apply.crm.sandbox.faults import FaultConfig
from int360apply.crmconn import profiles
from int360apply.load import load_config
from int360apply.repo import Repo

from .conftest import (
    MakeSandbox,
    child_env,
    fast_client,
    git_init,
    limit_memory,
    make_fleet,
    not_at_desired,
    run_int360,
)

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

EDITED_LABEL = "Edited in the CRM by a person"


class _Apply:
    """An ``int360 apply --yes --max-percent 100`` child; its output goes to files (a plan
    can be long)."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        self.out = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in finish
        self.err = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            # Every biller of the fleet changes: over the guard's 30 % of managed billers.
            [
                *(sys.executable, "-m", "int360apply", "--repo", str(root), "apply", "--yes"),
                *("--max-percent", "100", *args),
            ],
            env=env,
            stdout=self.out,
            stderr=self.err,
            preexec_fn=limit_memory,
        )

    def poll(self) -> int | None:
        return self.process.poll()

    def finish(self) -> tuple[int, str, str]:
        code = self.process.wait(timeout=120)
        texts = []
        for stream in (self.out, self.err):
            stream.seek(0)
            texts.append(stream.read())
            stream.close()
        return code, texts[0], texts[1]


def _start_apply(root: Path, env: dict[str, str], *args: str) -> _Apply:
    return _Apply(root, env, *args)


def _finish(child: _Apply) -> tuple[int, str, str]:
    return child.finish()


def _statuses(report: Path) -> dict[int, str]:
    return {
        b["bid"]: b["status"] for b in json.loads(report.read_text(encoding="utf-8"))["billers"]
    }


def test_two_applies_at_once_converge_and_write_each_biller_once(
    tmp_path: Path, make_sandbox: MakeSandbox, figure: Callable[[str, int], None]
) -> None:
    fleet = make_fleet(tmp_path / "repo", 80, seed=2)
    git_init(fleet.root)
    config = load_config(Repo(fleet.root))
    server = make_sandbox(list(profiles(config)), faults=FaultConfig(latency_ms=8))
    env = child_env({"INT360_CRM_URL": server.url, **fleet.secret_env})
    reports = [tmp_path / "a.json", tmp_path / "b.json"]
    children = [
        _start_apply(
            fleet.root, env, "--max-billers", "1000", "--concurrency", "4", "--report", str(r)
        )
        for r in reports
    ]
    results = [_finish(child) for child in children]
    for code, out, err in results:
        assert code == 0, out + err
        assert "Traceback" not in err
    first, second = (_statuses(r) for r in reports)
    assert set(first) == set(second) == set(fleet.bids)
    for bid in fleet.bids:
        # Exactly one of the two wrote it; the other found it done (412, re-read).
        assert sorted([first[bid], second[bid]]) == ["applied", "unchanged"], bid
    with fast_client(server.url) as client:
        assert not_at_desired(config, client, fleet.bids) == {}
        for bid in fleet.bids:
            assert len(client.list_notes(bid)) == 1, bid
    overlap = sum(1 for bid in fleet.bids if second[bid] == "applied")
    print(f"applied by the first process: {len(fleet.bids) - overlap}, by the second: {overlap}")
    figure("billers converged", len(fleet.bids))


def _wait_for_progress(server: object, bids: list[int], child: _Apply) -> None:
    """Until the apply has written the first biller (it runs in BID order, one at a time)."""
    store = server.store  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if store.list_notes(bids[0], after=0, limit=1):
            return
        assert child.poll() is None, "the apply ended before writing anything"
        time.sleep(0.01)
    raise AssertionError("the apply wrote nothing within 60 s")


def test_an_edit_made_in_the_crm_during_an_apply_with_a_plan_is_not_clobbered(
    tmp_path: Path, make_sandbox: MakeSandbox
) -> None:
    fleet = make_fleet(tmp_path / "repo", 30, seed=3)
    git_init(fleet.root)
    config = load_config(Repo(fleet.root))
    server = make_sandbox(list(profiles(config)))
    env = child_env({"INT360_CRM_URL": server.url, **fleet.secret_env})
    plan_file = tmp_path / "plan.json"
    planned = run_int360(
        "plan", "--format", "json", "--out", str(plan_file), repo=fleet.root, env=env, timeout=60
    )
    assert planned.returncode == 2, planned.stdout + planned.stderr

    server.faults.configure(FaultConfig(latency_ms=40))  # slow enough to edit mid-run
    report = tmp_path / "report.json"
    child = _start_apply(
        fleet.root, env, "--plan", str(plan_file), "--concurrency", "1", "--report", str(report)
    )
    edited = fleet.bids[-3:]
    try:
        _wait_for_progress(server, fleet.bids, child)
        with fast_client(server.url) as client:
            for bid in edited:
                assert not client.list_notes(bid), "the apply already reached this biller"
                current = client.get_settings(bid)
                client.patch_settings(
                    PatchRequest(
                        bid, {"advanced": {"account_number_label": EDITED_LABEL}}, current.etag
                    )
                )
        assert child.poll() is None, "the edit must land while the apply runs"
    finally:
        code, out, err = _finish(child)
    assert code == 1, out + err  # stale billers make the run fail
    assert "Traceback" not in err
    statuses = _statuses(report)
    assert {bid for bid, s in statuses.items() if s == "stale"} == set(edited)
    assert all(statuses[bid] == "applied" for bid in fleet.bids if bid not in edited)
    with fast_client(server.url) as client:
        for bid in edited:
            live = client.get_settings(bid).settings
            assert live == {"advanced": {"account_number_label": EDITED_LABEL}}, live
            assert client.list_notes(bid) == []
        assert set(not_at_desired(config, client, fleet.bids)) == set(edited)


def test_two_applies_of_one_plan_with_an_edit_during_the_run_neither_clobbers_it(
    tmp_path: Path, make_sandbox: MakeSandbox
) -> None:
    fleet = make_fleet(tmp_path / "repo", 30, seed=4)
    git_init(fleet.root)
    config = load_config(Repo(fleet.root))
    server = make_sandbox(list(profiles(config)))
    env = child_env({"INT360_CRM_URL": server.url, **fleet.secret_env})
    plan_file = tmp_path / "plan.json"
    planned = run_int360(
        "plan", "--format", "json", "--out", str(plan_file), repo=fleet.root, env=env, timeout=60
    )
    assert planned.returncode == 2, planned.stdout + planned.stderr

    server.faults.configure(FaultConfig(latency_ms=25))
    reports = [tmp_path / "a.json", tmp_path / "b.json"]
    children = [
        _start_apply(
            fleet.root, env, "--plan", str(plan_file), "--concurrency", "1", "--report", str(r)
        )
        for r in reports
    ]
    edited = fleet.bids[-2:]
    try:
        _wait_for_progress(server, fleet.bids, children[0])
        with fast_client(server.url) as client:
            for bid in edited:
                current = client.get_settings(bid)
                client.patch_settings(
                    PatchRequest(
                        bid, {"advanced": {"account_number_label": EDITED_LABEL}}, current.etag
                    )
                )
        assert all(child.poll() is None for child in children)
    finally:
        results = [_finish(child) for child in children]
    for code, out, err in results:
        assert code == 1, out + err
        assert "Traceback" not in err
    first, second = (_statuses(r) for r in reports)
    for bid in fleet.bids:
        if bid in edited:
            assert first[bid] == second[bid] == "stale"
        else:
            assert sorted([first[bid], second[bid]]) == ["applied", "stale"], bid
    with fast_client(server.url) as client:
        for bid in edited:
            assert client.get_settings(bid).settings == {
                "advanced": {"account_number_label": EDITED_LABEL}
            }
            assert client.list_notes(bid) == []
        for bid in fleet.bids:
            if bid not in edited:
                assert len(client.list_notes(bid)) == 1
        assert set(not_at_desired(config, client, fleet.bids)) == set(edited)
