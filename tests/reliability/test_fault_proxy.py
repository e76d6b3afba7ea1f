"""Faults between client and server, from the suite's own TCP proxy: connections dropped
mid-request, responses stalled past the client's read timeout, responses lost after the
server committed. After every fault the biller is read back (directly from the sandbox):
it is exactly at its state before the apply or exactly at its desired state, never in
between — one PATCH per biller is atomic. At the end every biller is at its desired
state with one audit note per apply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from int360apply.apply import ApplyOptions, apply_plan
from int360apply.crmconn import profiles
from int360apply.guard import GuardLimits
from int360apply.load import load_config
from int360apply.planner import build_plan
from int360apply.repo import Repo
from int360apply.scope import Scope

from .conftest import MakeSandbox, fast_client, make_fleet, not_at_desired
from .fault_proxy import MODES, Fault, FaultProxy

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

COMMIT = "0123456789abcdef" * 2 + "01234567"
READ_TIMEOUT = 0.4

# A template change that touches every group of every biller that inherits it.
DEFAULTS_EDITS = (
    ("    min_payment_amount: 100\n", "    min_payment_amount: 250\n"),
    ("    inbound_dir: /ToInvoiceCloud\n", "    inbound_dir: /ToInvoiceCloud/v2\n"),
    ('    cutoff_time: "17:00"\n', '    cutoff_time: "16:30"\n'),
    ("    purge_after_days: 730\n", "    purge_after_days: 900\n"),
)


def _apply(config: Any, url: str, secrets: dict[str, str], **client_kwargs: Any) -> Any:
    with fast_client(url, concurrency=4, **client_kwargs) as client:
        plan = build_plan(config, Scope(set(config.billers)), client, crm=url, commit=COMMIT)
        options = ApplyOptions(
            concurrency=4,
            limits=GuardLimits(max_billers=1000, max_percent=100),
            actor="reliability",
            environ=secrets,
        )
        return plan, apply_plan(plan, client, options, config)


def test_no_biller_is_ever_half_changed_through_a_faulty_network(
    tmp_path: Path, make_sandbox: MakeSandbox, figure: Callable[[str, int], None]
) -> None:
    fleet = make_fleet(tmp_path / "repo", 40, seed=404)
    config = load_config(Repo(fleet.root))
    server = make_sandbox(list(profiles(config)))

    # State A: everything applied once, without faults.
    _plan, report = _apply(config, server.url, fleet.secret_env)
    assert report.ok
    with fast_client(server.url) as direct:
        before = {bid: v.settings for bid, v in direct.bulk_settings(fleet.bids).found.items()}

    # Change the template: every biller that inherits these fields changes in 4 groups.
    defaults = fleet.root / "partners" / "_defaults.yaml"
    text = defaults.read_text(encoding="utf-8")
    for old, new in DEFAULTS_EDITS:
        assert old in text
        text = text.replace(old, new)
    defaults.write_text(text, encoding="utf-8")
    config = load_config(Repo(fleet.root))

    observed: list[tuple[Fault, int, str]] = []
    lock = threading.Lock()
    direct = fast_client(server.url)

    def read_back(fault: Fault) -> None:
        bid = fault.bid
        if bid is None:
            return
        live = direct.get_settings(bid).settings
        if live == before[bid]:
            state = "before"
        elif not not_at_desired(config, direct, [bid]):
            state = "desired"
        else:
            state = "HALF"
        with lock:
            observed.append((fault, bid, state))

    with FaultProxy(
        int(server.url.rsplit(":", 1)[1]),
        fail_rate=0.25,
        seed=25,
        stall_seconds=READ_TIMEOUT + 0.3,
        on_fault=read_back,
    ) as proxy:
        plan, report = _apply(config, proxy.url, fleet.secret_env, timeout=(2.0, READ_TIMEOUT))
    try:
        changed = {entry.bid for entry in plan.changed}
        assert len(changed) >= 30
        assert report.summary["failed"] == 0, [o.as_dict() for o in report.outcomes]
        assert report.summary["stale"] == 0
        assert report.summary["applied"] == len(changed)

        half = [(f, bid) for f, bid, state in observed if state == "HALF"]
        assert half == [], f"billers seen half-changed after a fault: {half}"
        counts = proxy.counts()
        assert all(counts[mode] > 0 for mode in MODES), counts
        writes = [f for f, _bid, _state in observed if f.method == "PATCH"]
        assert {f.mode for f in writes} == set(MODES), "every fault kind should hit a PATCH"

        assert not_at_desired(config, direct, fleet.bids) == {}
        for bid in fleet.bids:
            notes = direct.list_notes(bid)
            assert len(notes) == (2 if bid in changed else 1), (bid, notes)
    finally:
        direct.close()
    figure("faults injected and survived (proxy)", sum(counts.values()))
    figure("read-backs after a fault, none half-changed", len(observed))
    print("proxy faults by mode:", counts, "read back:", len(observed))
