"""The client's HTTP exchange (``int360apply.crm.transport``) against real servers:
bodies over the limit, compressed bodies, dropped and refused connections, and proxies
from the environment (a remote CRM only)."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator

import pytest
from scripted_crm import ScriptedCrm, refuse_other_hosts

from int360apply.crm import client as client_module
from int360apply.crm.client import CrmClient, RetryPolicy
from int360apply.crm.errors import CrmError, CrmProtocolError, CrmUnavailable

PROFILE = {"bid": 1, "name": "One", "integrator_id": 93, "status": "active"}
POLICY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)


@pytest.fixture
def server() -> Iterator[ScriptedCrm]:
    with ScriptedCrm() as crm:
        yield crm


def _client(url: str) -> CrmClient:
    return CrmClient(url, retry=POLICY, sleep=lambda s: None)


def test_a_body_over_the_limit_is_refused_and_the_connection_not_reused(
    server: ScriptedCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 1000)
    server.get("/billers/1", json={**PROFILE, "name": "x" * 5000})
    server.get("/billers/2", json={**PROFILE, "bid": 2})
    with CrmClient(server.url, retry=RetryPolicy(attempts=1)) as crm:
        with pytest.raises(CrmProtocolError, match="more than 1000 bytes"):
            crm.get_biller(1)
        # The unread rest of the big body must not spoil the next exchange (no retry here).
        assert crm.get_biller(2).bid == 2


def test_a_compressed_body_is_decoded_and_its_limit_applies_after_decoding(
    server: ScriptedCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    gzipped = {"Content-Encoding": "gzip"}
    server.get("/billers/1", body=gzip.compress(json.dumps(PROFILE).encode()), headers=gzipped)
    bomb = gzip.compress(json.dumps({**PROFILE, "name": "x" * 100_000}).encode())
    assert len(bomb) < 1000  # small on the wire, large once decoded
    server.get("/billers/2", body=bomb, headers=gzipped)
    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 10_000)
    with _client(server.url) as crm:
        assert crm.get_biller(1).name == "One"
        with pytest.raises(CrmProtocolError, match="more than 10000 bytes"):
            crm.get_biller(2)
    assert "gzip" in server.calls[0].headers["Accept-Encoding"]


def test_a_body_that_does_not_decode_is_an_error_without_retries(server: ScriptedCrm) -> None:
    route = server.get("/billers/1", body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with _client(server.url) as crm, pytest.raises(CrmError, match="could not be decoded"):
        crm.get_biller(1)
    assert route.call_count == 1


def test_a_dropped_connection_is_retried_on_a_new_one(server: ScriptedCrm) -> None:
    dropped = server.get("/billers/1", drop=True)
    answered = server.get("/billers/1", json=PROFILE)
    with _client(server.url) as crm:
        assert crm.get_biller(1).name == "One"
    assert (dropped.call_count, answered.call_count) == (1, 1)


def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with (
        CrmClient(f"http://127.0.0.1:{port}/api", retry=POLICY, sleep=sleeps.append) as crm,
        pytest.raises(CrmUnavailable, match=r"connection failed .*gave up after 3 tries"),
    ):
        crm.get_biller(1)
    assert len(sleeps) == 2


def test_a_remote_crm_goes_through_the_proxy_the_environment_names(
    server: ScriptedCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``server`` plays the proxy: it receives the whole URL of the remote CRM."""
    refused = refuse_other_hosts(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", server.origin)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    route = server.get("/billers/1", json=PROFILE)
    with _client("http://crm.example.test/api") as crm:
        assert crm.get_biller(1).name == "One"
    assert route.call_count == 1
    assert server.calls[0].url == "http://crm.example.test/api/billers/1"
    assert refused == []  # the CRM's own name was never looked up: the proxy was asked


def test_no_proxy_exempts_a_host_and_loopback_never_uses_one(
    server: ScriptedCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = refuse_other_hosts(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.test:3128")
    monkeypatch.setenv("NO_PROXY", "crm.example.test")
    with _client("http://crm.example.test/api") as crm, pytest.raises(CrmUnavailable):
        crm.get_biller(1)
    assert set(refused) == {"crm.example.test"}  # direct, not through the proxy
    server.get("/billers/1", json=PROFILE)
    monkeypatch.delenv("NO_PROXY")
    with _client(server.url) as crm:
        assert crm.get_biller(1).name == "One"  # loopback: the proxy is not asked
    assert "proxy.example.test" not in refused
