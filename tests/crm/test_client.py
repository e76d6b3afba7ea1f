"""The CRM client against the real sandbox: every call, errors, retries per fault kind."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from int360apply.crm import AuditNote, Profile
from int360apply.crm.client import CrmClient
from int360apply.crm.errors import (
    CrmUnavailable,
    Forbidden,
    InvalidSettings,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from int360apply.crm.port import PatchRequest
from int360apply.crm.reconcile import patch_holds
from int360apply.crm.retry import RetryPolicy
from int360apply.crm.sandbox.faults import FaultConfig
from int360apply.crm.sandbox.server import SandboxServer

from .conftest import FAST_RETRY, PROFILES, READ, WRITE, MakeSandbox

BID = PROFILES[0].bid
SECRET_VALUE = "pw-7f3a-never-echo"


def _client(server: SandboxServer, token: str | None = None, **kwargs: Any) -> CrmClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return CrmClient(server.url, token, **kwargs)


# -- the calls -----------------------------------------------------------------


def test_profiles(client: CrmClient) -> None:
    assert list(client.list_billers()) == list(PROFILES)
    assert list(client.list_billers(integrator_id=201)) == [PROFILES[1]]
    assert client.get_biller(BID) == PROFILES[0]
    with pytest.raises(NotFound, match="42"):
        client.get_biller(42)


def test_list_and_bulk_over_1200_billers(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    profiles = [Profile(400000 + i, f"Biller {i}", 93 + i % 2) for i in range(1200)]
    server = make_sandbox(profiles)
    caplog.set_level(logging.INFO, logger="int360apply.crm.sandbox")
    with _client(server) as crm:
        assert list(crm.list_billers(page_size=500)) == profiles
        assert [p.bid for p in crm.list_billers(integrator_id=94)] == [
            p.bid for p in profiles if p.integrator_id == 94
        ]
        bulk = crm.bulk_settings([p.bid for p in profiles] + [7, 7])
    assert sorted(bulk.found) == [p.bid for p in profiles]
    assert bulk.missing == [7]
    assert bulk.found[400000].settings == {}
    reads = [r for r in caplog.records if r.getMessage().startswith("GET /settings 200")]
    assert len(reads) == 3  # 1,201 distinct BIDs in chunks of 500


def test_settings_roundtrip(client: CrmClient) -> None:
    settings, etag = client.get_settings(BID)
    assert settings == {}
    patch = {
        "ftp": {
            "port": 22,
            "auth": {"method": "password", "password": {"secret": "PW", "value": SECRET_VALUE}},
        }
    }
    result = client.patch_settings(PatchRequest(BID, patch, etag))
    assert result.settings == {
        "ftp": {
            "port": 22,
            "auth": {"method": "password", "password": {"secret": "PW", "set": True}},
        }
    }
    assert result.etag != etag and not result.already_applied
    assert client.get_settings(BID) == (result.settings, result.etag)
    assert client.bulk_settings([BID]).found[BID] == (result.settings, result.etag)


def test_stale_etag_is_precondition_failed(client: CrmClient) -> None:
    _, etag = client.get_settings(BID)
    current = client.patch_settings(PatchRequest(BID, {"ftp": {"port": 22}}, etag)).etag
    with pytest.raises(PreconditionFailed) as info:
        client.patch_settings(PatchRequest(BID, {"ftp": {"port": 23}}, etag))
    assert info.value.current_etag == current
    assert info.value.status == 412


def test_invalid_settings_name_every_field(client: CrmClient) -> None:
    _, etag = client.get_settings(BID)
    with pytest.raises(InvalidSettings) as info:
        client.patch_settings(PatchRequest(BID, {"ftp": {"port": 0, "protocol": "scp"}}, etag))
    assert [d.path for d in info.value.details] == ["ftp.port", "ftp.protocol"]
    assert "ftp.port" in str(info.value) and info.value.status == 422


def test_notes(client: CrmClient) -> None:
    first = client.add_note(
        BID, AuditNote("applied", author="octocat", commit="abc1234", paths=("ftp.port",))
    )
    client.add_note(BID, AuditNote("again"))
    notes = client.list_notes(BID)
    assert notes[0] == first
    assert (first.author, first.commit, first.paths) == ("octocat", "abc1234", ("ftp.port",))
    assert [n.text for n in notes] == ["applied", "again"]
    with pytest.raises(NotFound):
        client.list_notes(42)


# -- auth ----------------------------------------------------------------------


def test_auth_errors_never_show_the_token(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(tokens=[READ, WRITE])
    with _client(server) as anonymous, pytest.raises(Unauthorized) as no_token:
        anonymous.get_biller(BID)
    with _client(server, "not-a-token-5e1f") as wrong, pytest.raises(Unauthorized) as bad:
        wrong.get_biller(BID)
    with _client(server, READ.value) as reader:
        _, etag = reader.get_settings(BID)
        with pytest.raises(Forbidden) as forbidden:
            reader.patch_settings(PatchRequest(BID, {"ftp": {"port": 22}}, etag))
    with _client(server, WRITE.value) as writer:
        assert writer.patch_settings(PatchRequest(BID, {"ftp": {"port": 22}}, etag)).settings == {
            "ftp": {"port": 22}
        }
        assert WRITE.value not in repr(writer)
    assert "INT360_CRM_TOKEN" in str(no_token.value)
    assert "not-a-token-5e1f" not in str(bad.value)
    assert READ.value not in str(forbidden.value) and "scope" in str(forbidden.value)


# -- retries -------------------------------------------------------------------


Sleeps = list[float]


def _faulty(make_sandbox: MakeSandbox, **config: Any) -> tuple[SandboxServer, CrmClient, Sleeps]:
    server = make_sandbox(faults=FaultConfig(fail_rate=1.0, retry_after=0, **config))
    sleeps: Sleeps = []
    return server, _client(server, sleep=sleeps.append), sleeps


@pytest.mark.parametrize("kind", ["unavailable", "rate_limited", "drop"])
def test_reads_are_retried_through_each_fault(make_sandbox: MakeSandbox, kind: str) -> None:
    server, crm, sleeps = _faulty(make_sandbox, kinds=(kind,), max_faults=3)
    assert crm.get_biller(BID) == PROFILES[0]
    assert len(sleeps) == 3 and server.faults.injected == 3


@pytest.mark.parametrize("kind", ["unavailable", "rate_limited"])
def test_retry_after_is_honoured(make_sandbox: MakeSandbox, kind: str) -> None:
    server = make_sandbox(
        faults=FaultConfig(fail_rate=1.0, kinds=(kind,), retry_after=1, max_faults=2)
    )
    sleeps: Sleeps = []
    with _client(server, sleep=sleeps.append) as crm:
        crm.get_settings(BID)
    assert len(sleeps) == 2 and all(s >= 1.0 for s in sleeps)


@pytest.mark.parametrize("kind", ["unavailable", "rate_limited", "drop"])
def test_failed_patch_is_resent_when_nothing_was_written(
    make_sandbox: MakeSandbox, kind: str
) -> None:
    server = make_sandbox()
    sleeps: Sleeps = []
    crm = _client(server, sleep=sleeps.append)
    _, etag = crm.get_settings(BID)
    # The PATCH fails once; the re-read and the second PATCH pass.
    server.faults.configure(FaultConfig(fail_rate=1.0, kinds=(kind,), retry_after=0, max_faults=1))
    result = crm.patch_settings(PatchRequest(BID, {"ftp": {"port": 22}}, etag))
    assert result.settings == {"ftp": {"port": 22}} and not result.already_applied
    assert len(sleeps) == 1


def test_lost_patch_response_after_a_successful_write(make_sandbox: MakeSandbox) -> None:
    """The write commits, the response is lost: the client re-reads and reports success
    without writing again."""
    server, crm, sleeps = _faulty(make_sandbox, kinds=("lost_response",), max_faults=1)
    _, etag = crm.get_settings(BID)
    before = server.store.get_settings(BID)
    patch = {
        "ftp": {
            "port": 22,
            "auth": {"method": "password", "password": {"secret": "PW", "value": "v"}},
        }
    }
    result = crm.patch_settings(PatchRequest(BID, patch, etag))
    assert result.already_applied
    assert result.settings["ftp"]["port"] == 22
    assert result.settings["ftp"]["auth"]["password"] == {"secret": "PW", "set": True}
    after = server.store.get_settings(BID)
    assert before and after and after[1] > before[1]
    assert result.etag == f'"{after[1]}"'
    assert server.faults.injected == 1 and len(sleeps) == 1


def test_lost_patch_response_then_another_writer(make_sandbox: MakeSandbox) -> None:
    """If someone else changed the biller meanwhile, the client does not guess: 412."""
    server = make_sandbox()
    other = _client(server)

    def someone_writes(delay: float) -> None:
        _, current = other.get_settings(BID)
        other.patch_settings(PatchRequest(BID, {"ftp": {"port": 2222}}, current))

    with _client(server, sleep=someone_writes) as crm, other:
        server.faults.configure(FaultConfig())
        _, etag = crm.get_settings(BID)
        server.faults.configure(FaultConfig(fail_rate=1.0, kinds=("drop",), max_faults=1))
        with pytest.raises(PreconditionFailed, match="response was lost"):
            crm.patch_settings(PatchRequest(BID, {"ftp": {"port": 22}}, etag))
    assert (server.store.get_settings(BID) or ({}, 0))[0] == {"ftp": {"port": 2222}}


def test_lost_note_response_adds_one_note(make_sandbox: MakeSandbox) -> None:
    _, crm, _ = _faulty(make_sandbox, kinds=("lost_response",), max_faults=2)
    note = crm.add_note(BID, AuditNote("applied from 9f1c2ab"))
    assert [n.id for n in crm.list_notes(BID)] == [note.id]


def test_retry_budget_per_call(make_sandbox: MakeSandbox) -> None:
    server, _, _ = _faulty(make_sandbox, kinds=("unavailable",))
    sleeps: Sleeps = []
    policy = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)
    with (
        _client(server, retry=policy, sleep=sleeps.append) as crm,
        pytest.raises(CrmUnavailable, match="gave up after 4 tries"),
    ):
        crm.get_biller(BID)
    assert len(sleeps) == 3


def test_retry_budget_per_client(make_sandbox: MakeSandbox) -> None:
    server, _, _ = _faulty(make_sandbox, kinds=("unavailable",))
    policy = RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.01, total_retries=5)
    sleeps: Sleeps = []
    with _client(server, retry=policy, sleep=sleeps.append) as crm:
        with pytest.raises(CrmUnavailable, match="budget of 5 retries"):
            crm.get_biller(BID)
        with pytest.raises(CrmUnavailable, match="budget"):
            crm.get_biller(BID)  # no retries left at all
    assert len(sleeps) == 5


def test_retry_after_beyond_the_deadline_gives_up_at_once(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(
        faults=FaultConfig(fail_rate=1.0, kinds=("rate_limited",), retry_after=120)
    )
    sleeps: Sleeps = []
    policy = RetryPolicy(deadline=10.0)
    with (
        _client(server, retry=policy, sleep=sleeps.append) as crm,
        pytest.raises(CrmUnavailable, match="deadline"),
    ):
        crm.get_biller(BID)
    assert sleeps == []


def test_every_request_has_a_timeout(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox(faults=FaultConfig(latency_ms=400))
    policy = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.001)
    with (
        _client(server, retry=policy, timeout=(1.0, 0.05)) as crm,
        pytest.raises(CrmUnavailable, match="timed out"),
    ):
        crm.get_biller(BID)


def test_backoff_is_exponential_with_full_jitter(make_sandbox: MakeSandbox) -> None:
    server, _, _ = _faulty(make_sandbox, kinds=("unavailable",), max_faults=5)
    sleeps: Sleeps = []
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=4.0)
    with _client(server, retry=policy, sleep=sleeps.append) as crm:
        crm.get_biller(BID)
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps) == 5
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


# -- patch_holds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "patch", "holds"),
    [
        ({"ftp": {"port": 22, "host": "h"}}, {"ftp": {"port": 22}}, True),
        ({"ftp": {"port": 22}}, {"ftp": {"port": 22.0}}, True),  # one JSON number
        ({"ftp": {"port": 22}}, {"ftp": {"port": 23.0}}, False),
        ({"ftp": {"enabled": True}}, {"ftp": {"enabled": 1}}, False),
        ({"ftp": {"port": 22}}, {"ftp": {"host": None}}, True),
        ({"ftp": {"host": "h"}}, {"ftp": {"host": None}}, False),
        (
            {"advanced": {"invoice_types": ["UB"]}},
            {"advanced": {"invoice_types": ["UB", "RE"]}},
            False,
        ),
        (
            {"ftp": {"pgp_public_key": {"secret": "K", "set": True}}},
            {"ftp": {"pgp_public_key": {"secret": "K", "value": "v"}}},
            True,
        ),
        (
            {"ftp": {"pgp_public_key": {"secret": "J", "set": True}}},
            {"ftp": {"pgp_public_key": {"secret": "K", "value": "v"}}},
            False,
        ),
        ({}, {"ftp": {}}, False),
    ],
)
def test_patch_holds(live: Any, patch: Any, holds: bool) -> None:
    assert patch_holds(live, patch) is holds


@pytest.mark.parametrize("kind", ["unavailable", "drop"])
def test_one_try_is_one_request(make_sandbox: MakeSandbox, kind: str) -> None:
    """The client's own loop is the only retry: the HTTP library never retries by itself."""
    server = make_sandbox(faults=FaultConfig(fail_rate=1.0, kinds=(kind,), retry_after=0))
    with (
        _client(server, retry=RetryPolicy(attempts=1)) as crm,
        pytest.raises(CrmUnavailable, match="gave up after 1 tries"),
    ):
        crm.get_biller(BID)
    assert server.faults.counts() == {kind: 1}
