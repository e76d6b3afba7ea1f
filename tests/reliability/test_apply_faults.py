"""Faults during ``apply``: the sandbox's injected faults (503, 429, dropped connections,
responses lost after the write committed), a retry budget that runs out, and a SIGKILL.

Every run must end with each biller exactly at its desired state and one audit note per
applied biller — or, when the budget runs out, with exit 1, a report naming the billers
left behind, and a rerun that converges.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import int360apply.crm.client as client_module
from int360apply.apply import ApplyOptions, apply_plan
from int360apply.cli import main
from int360apply.crm.retry import RetryPolicy
from int360apply.crm.sandbox.faults import FAULT_KINDS, FaultConfig
from int360apply.crmconn import profiles
from int360apply.guard import GuardLimits
from int360apply.load import load_config
from int360apply.planner import build_plan
from int360apply.repo import Repo
from int360apply.scope import Scope
from int360apply.validate import validate

from .conftest import (
    MakeSandbox,
    child_env,
    fast_client,
    git_init,
    limit_memory,
    make_fleet,
    not_at_desired,
)

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

COMMIT = "c0ffee" * 6 + "abcd"


def _fault_counts(server: object) -> dict[str, int]:
    faults = server.faults  # type: ignore[attr-defined]
    counts = getattr(faults, "counts", None)
    return dict(counts()) if callable(counts) else {"all": faults.injected}


def test_apply_of_300_billers_under_a_30_percent_fault_rate_converges(
    tmp_path: Path, make_sandbox: MakeSandbox, figure: Callable[[str, int], None]
) -> None:
    fleet = make_fleet(tmp_path / "repo", 300)
    config = load_config(Repo(fleet.root))
    assert validate(config) == []
    server = make_sandbox(
        list(profiles(config)),
        faults=FaultConfig(fail_rate=0.3, seed=30, retry_after=0, kinds=FAULT_KINDS),
    )
    with fast_client(server.url, concurrency=8) as client:
        plan = build_plan(config, Scope(set(config.billers)), client, crm=server.url, commit=COMMIT)
        assert len(plan.changed) == 300
        options = ApplyOptions(
            concurrency=8,
            limits=GuardLimits(max_billers=1000, max_percent=100),
            actor="reliability",
            environ=fleet.secret_env,
        )
        report = apply_plan(plan, client, options, config)
    injected = _fault_counts(server)
    server.faults.configure(FaultConfig())  # read back without faults

    assert report.summary == {"applied": 300, "unchanged": 0, "stale": 0, "failed": 0}, [
        o.as_dict() for o in report.outcomes if o.status != "applied"
    ]
    assert sum(injected.values()) > 100  # about 0.3 of ~500 requests (PATCHes, retries, re-reads)
    if "lost_response" in injected:
        assert injected["lost_response"] > 0
    with fast_client(server.url) as clean:
        assert not_at_desired(config, clean, fleet.bids) == {}
        for outcome in report.outcomes:
            notes = clean.list_notes(outcome.bid)
            assert len(notes) == 1, (outcome.bid, notes)
            assert notes[0].commit == COMMIT
            assert set(notes[0].paths or ()) == {c.path for c in outcome.changes}
    # The secret values written are the environment's, not placeholders.
    for bid in fleet.bids[:40]:
        for name, value in server.store.secret_values(bid).values():
            assert fleet.secrets[name] == value
    figure("faults injected and survived (sandbox, 300-biller apply)", sum(injected.values()))
    figure("billers converged", 300)
    print("faults by kind:", injected)


# --- a retry budget that runs out ------------------------------------------------------


@pytest.fixture
def tiny_retry_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[RetryPolicy]:
    """Every client the CLI makes gets 3 tries per call and 25 retries in all, fast."""
    tiny = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005, deadline=10, total_retries=25)
    monkeypatch.setattr(client_module, "RetryPolicy", lambda: tiny)
    yield tiny


def test_when_the_retry_budget_runs_out_the_report_names_who_is_left_and_a_rerun_converges(
    tmp_path: Path,
    make_sandbox: MakeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tiny_retry_budget: RetryPolicy,
    figure: Callable[[str, int], None],
) -> None:
    fleet = make_fleet(tmp_path / "repo", 60, seed=61)
    git_init(fleet.root)
    config = load_config(Repo(fleet.root))
    server = make_sandbox(list(profiles(config)))
    monkeypatch.setenv("INT360_CRM_URL", server.url)
    monkeypatch.delenv("INT360_CRM_TOKEN", raising=False)
    for name, value in fleet.secret_env.items():
        monkeypatch.setenv(name, value)
    root = str(fleet.root)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--repo", root, *args])
        out, err = capsys.readouterr()
        return code, out, err

    plan_file, first, second = tmp_path / "plan.json", tmp_path / "r1.json", tmp_path / "r2.json"
    code, out, err = run("plan", "--format", "json", "--out", str(plan_file))
    assert code == 2, out + err

    # Writes only: apply --plan plans again first, and that must see the CRM.
    server.faults.configure(FaultConfig(fail_rate=0.6, seed=6, retry_after=0, writes_only=True))
    code, out, err = run(
        "apply",
        "--plan",
        str(plan_file),
        "--yes",
        "--max-billers",
        "1000",
        "--max-percent",
        "100",
        "--report",
        str(first),
    )
    injected = server.faults.injected
    server.faults.configure(FaultConfig())
    first_err = err
    assert code == 1, out + err
    assert "Traceback" not in err
    report = json.loads(first.read_text(encoding="utf-8"))
    status = {b["bid"]: b["status"] for b in report["billers"]}
    failed = {bid for bid, s in status.items() if s == "failed"}
    assert failed, "the budget should have run out for some billers"
    assert report["summary"]["failed"] == len(failed)
    assert set(status) == set(fleet.bids)
    for entry in report["billers"]:
        if entry["status"] == "failed":
            assert entry["errors"] and all(e["message"] for e in entry["errors"])
            assert f"{entry['bid']}" in out  # the summary names it too
    with fast_client(server.url) as clean:
        left_behind = set(not_at_desired(config, clean, fleet.bids))
    # Every biller not at its desired state is named as failed in the report.
    assert left_behind <= failed
    assert left_behind, "some billers should really have been left behind"

    code, out, err = run(
        "apply", "--yes", "--max-billers", "1000", "--max-percent", "100", "--report", str(second)
    )
    assert code == 0, out + err
    rerun = json.loads(second.read_text(encoding="utf-8"))
    # The rerun writes exactly the billers left behind, nothing that already holds.
    assert rerun["summary"]["applied"] == len(left_behind)
    assert {b["bid"] for b in rerun["billers"] if b["status"] == "applied"} == left_behind
    with fast_client(server.url) as clean:
        assert not_at_desired(config, clean, fleet.bids) == {}
        notes = {bid: len(clean.list_notes(bid)) for bid in fleet.bids}
    # The note is committed with the change: a write whose response was lost when the
    # budget ran out (reported failed, found done by the rerun) has its note too.
    assert set(notes.values()) == {1}, {bid: n for bid, n in notes.items() if n != 1}
    assert "audit note not written" not in first_err
    figure("faults injected and survived (sandbox, budget run)", injected)
    figure("billers converged", len(fleet.bids))
    print(f"left behind by the first run: {len(left_behind)}; failed in report: {len(failed)}")


# --- SIGKILL in the middle of an apply ---------------------------------------------------


def test_a_sigkill_in_the_middle_of_an_apply_then_a_rerun_converges(
    tmp_path: Path, make_sandbox: MakeSandbox, figure: Callable[[str, int], None]
) -> None:
    fleet = make_fleet(tmp_path / "repo", 120, seed=120)
    git_init(fleet.root)
    config = load_config(Repo(fleet.root))
    # 120 writes at 60 ms, 4 at a time: about 2 s, long enough to be killed mid-way
    # even on a loaded machine.
    server = make_sandbox(list(profiles(config)), faults=FaultConfig(latency_ms=60))
    initial = {bid: server.store.get_settings(bid)[1] for bid in fleet.bids}
    env = child_env({"INT360_CRM_URL": server.url, **fleet.secret_env})
    command = [
        sys.executable,
        "-m",
        "int360apply",
        "--repo",
        str(fleet.root),
        "apply",
        "--yes",
        "--max-billers",
        "1000",
        "--max-percent",
        "100",
        "--concurrency",
        "4",
    ]
    child = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit_memory,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            written = sum(1 for b in fleet.bids if server.store.get_settings(b)[1] != initial[b])
            if written >= 10:
                break
            time.sleep(0.02)
        time.sleep(random.Random(9).uniform(0.05, 0.4))
        assert child.poll() is None, "the apply finished before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with fast_client(server.url) as clean:
        off_before = set(not_at_desired(config, clean, fleet.bids))
    assert 0 < len(off_before) < len(fleet.bids), "the kill should land mid-apply"

    report_file = tmp_path / "rerun.json"
    rerun = subprocess.run(
        [*command, "--report", str(report_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    applied = {b["bid"] for b in report["billers"] if b["status"] == "applied"}
    assert applied == off_before  # nothing that already held was written again
    with fast_client(server.url) as clean:
        assert not_at_desired(config, clean, fleet.bids) == {}
        notes = {bid: len(clean.list_notes(bid)) for bid in fleet.bids}
    # Even the billers in flight at the kill: their note was committed with their change.
    assert set(notes.values()) == {1}, {bid: n for bid, n in notes.items() if n != 1}
    figure("billers converged", len(fleet.bids))
    print(f"killed with {len(off_before)} of {len(fleet.bids)} billers still to apply")
