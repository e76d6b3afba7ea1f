"""Fault injection: deterministic, each kind as advertised, never on /_sandbox."""

from __future__ import annotations

import json
import time

import pytest
import requests

from int360apply.crm.sandbox.faults import FaultConfig

from .conftest import PROFILES, MakeSandbox

BID = PROFILES[0].bid


def _statuses(url: str, count: int) -> list[str]:
    out = []
    for _ in range(count):
        try:
            out.append(str(requests.get(f"{url}/billers/{BID}", timeout=5).status_code))
        except requests.ConnectionError:
            out.append("dropped")
    return out


def test_faults_follow_the_seed(make_sandbox: MakeSandbox) -> None:
    config = FaultConfig(fail_rate=0.5, seed=7, retry_after=0)
    server = make_sandbox(faults=config)
    first = _statuses(server.url, 30)
    server.faults.configure(config)
    assert _statuses(server.url, 30) == first
    assert {"200", "503", "429", "dropped"} <= set(first)
    server.faults.configure(FaultConfig(fail_rate=0.5, seed=8, retry_after=0))
    assert _statuses(server.url, 30) != first


@pytest.mark.parametrize(("kind", "status"), [("unavailable", 503), ("rate_limited", 429)])
def test_error_faults_carry_retry_after(make_sandbox: MakeSandbox, kind: str, status: int) -> None:
    server = make_sandbox(faults=FaultConfig(fail_rate=1.0, kinds=(kind,), retry_after=1))
    resp = requests.get(f"{server.url}/billers/{BID}", timeout=5)
    assert resp.status_code == status
    assert resp.headers["Retry-After"] == "1"
    assert resp.json()["error"]["code"] == kind


def test_drop_closes_without_a_response_and_writes_nothing(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(faults=FaultConfig(fail_rate=1.0, kinds=("drop",), max_faults=1))
    before = server.store.get_settings(BID)
    with pytest.raises(requests.ConnectionError):
        requests.patch(
            f"{server.url}/billers/{BID}/settings",
            data=json.dumps({"ftp": {"port": 22}}),
            headers={"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
            timeout=5,
        )
    assert server.store.get_settings(BID) == before
    # max_faults reached: the next request passes.
    assert requests.get(f"{server.url}/billers/{BID}", timeout=5).status_code == 200


def test_lost_response_commits_the_write(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(faults=FaultConfig(fail_rate=1.0, kinds=("lost_response",)))
    # Reads are never "lost responses": they pass.
    etag = requests.get(f"{server.url}/billers/{BID}/settings", timeout=5).headers["ETag"]
    with pytest.raises(requests.ConnectionError):
        requests.patch(
            f"{server.url}/billers/{BID}/settings",
            data=json.dumps({"ftp": {"port": 22}}),
            headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
            timeout=5,
        )
    settings, revision = server.store.get_settings(BID) or ({}, 0)
    assert settings == {"ftp": {"port": 22}} and f'"{revision}"' != etag
    assert server.faults.injected == 1


def test_writes_only_faults_writes_and_lets_every_read_through(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(
        faults=FaultConfig(fail_rate=1.0, kinds=("unavailable",), writes_only=True)
    )
    assert _statuses(server.url, 10) == ["200"] * 10
    etag = requests.get(f"{server.url}/billers/{BID}/settings", timeout=5).headers["ETag"]
    resp = requests.patch(
        f"{server.url}/billers/{BID}/settings",
        data=json.dumps({"ftp": {"port": 22}}),
        headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
        timeout=5,
    )
    assert resp.status_code == 503
    assert server.faults.injected == 1


def test_staging_calls_are_never_faulted_or_delayed(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(faults=FaultConfig(fail_rate=1.0, latency_ms=300))
    started = time.monotonic()
    for bid in range(10):
        resp = requests.put(
            f"{server.url}/_sandbox/billers/{900 + bid}",
            json={"name": "x", "integrator_id": 1},
            timeout=5,
        )
        assert resp.status_code == 201
    assert time.monotonic() - started < 1.0
    assert server.faults.injected == 0


def test_latency_is_added(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(faults=FaultConfig(latency_ms=100))
    started = time.monotonic()
    assert requests.get(f"{server.url}/billers/{BID}", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.1


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        FaultConfig(fail_rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig(kinds=("meteor",))
