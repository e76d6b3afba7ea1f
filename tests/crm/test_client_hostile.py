"""The client against servers that break the contract (things the sandbox never does),
played by a scripted HTTP server on loopback; and its configuration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from scripted_crm import ScriptedCrm, refuse_other_hosts

from int360apply.crm.client import (
    CrmClient,
    RetryPolicy,
    client_from_env,
    crm_config_from_env,
)
from int360apply.crm.errors import CrmError, CrmProtocolError, CrmRequestError, Unauthorized

BASE = "https://crm.example.com/api"  # for the configuration tests, which send nothing
TOKEN = "tok-9a8b7c6d5e"
POLICY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)


@pytest.fixture
def server() -> Iterator[ScriptedCrm]:
    """A scripted CRM on loopback (plain http with a token is allowed there)."""
    with ScriptedCrm() as scripted:
        yield scripted


@pytest.fixture
def crm(server: ScriptedCrm) -> Iterator[CrmClient]:
    with CrmClient(server.url, TOKEN, retry=POLICY, sleep=lambda s: None) as client:
        yield client


def test_non_json_body_is_a_protocol_error(server: ScriptedCrm, crm: CrmClient) -> None:
    server.get("/billers/1", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(CrmProtocolError, match="not JSON"):
        crm.get_biller(1)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"bid": "1", "name": "x", "integrator_id": 1, "status": "active"},
        {"bid": True, "name": "x", "integrator_id": 1, "status": "active"},
        {"bid": 1, "integrator_id": 1, "status": "active"},
    ],
)
def test_wrong_shape_is_a_protocol_error(server: ScriptedCrm, crm: CrmClient, body: object) -> None:
    server.get("/billers/1", json=body)
    with pytest.raises(CrmProtocolError):
        crm.get_biller(1)


def test_missing_etag_is_a_protocol_error(server: ScriptedCrm, crm: CrmClient) -> None:
    server.get("/billers/1/settings", json={})
    with pytest.raises(CrmProtocolError, match="no ETag"):
        crm.get_settings(1)
    server.patch("/billers/1/settings", json={})
    with pytest.raises(CrmProtocolError, match="no ETag"):
        crm.patch_settings(1, {}, '"1"')


def test_redirects_are_not_followed(
    server: ScriptedCrm, crm: CrmClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_hosts = refuse_other_hosts(monkeypatch)
    server.get("/billers/1", status=302, headers={"Location": "https://evil.example.net/steal"})
    with pytest.raises(CrmProtocolError, match=r"evil\.example\.net") as info:
        crm.get_biller(1)
    assert other_hosts == []  # the redirect target was never contacted (not even looked up)
    assert [c.url for c in server.calls] == [f"{server.url}/billers/1"]
    assert TOKEN not in str(info.value)


def test_token_goes_only_to_the_crm(server: ScriptedCrm, crm: CrmClient) -> None:
    call = server.get(
        "/billers/1", json={"bid": 1, "name": "x", "integrator_id": 1, "status": "active"}
    )
    crm.get_biller(1)
    assert call.calls[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_error_messages_never_echo_the_token(server: ScriptedCrm, crm: CrmClient) -> None:
    body = {"error": {"code": "unauthorized", "message": f"token {TOKEN} expired", "details": []}}
    server.get("/billers/1", status=401, json=body)
    with pytest.raises(Unauthorized) as info:
        crm.get_biller(1)
    assert TOKEN not in str(info.value) and "***" in str(info.value)
    assert info.value.code == "unauthorized"


def test_error_without_contract_body(server: ScriptedCrm, crm: CrmClient) -> None:
    server.get("/billers/1", status=400, body="nope")
    with pytest.raises(CrmRequestError, match="HTTP 400"):
        crm.get_biller(1)


def test_unexpected_status_is_a_protocol_error(server: ScriptedCrm, crm: CrmClient) -> None:
    server.get("/billers/1", status=501, json={})
    with pytest.raises(CrmProtocolError, match="501"):
        crm.get_biller(1)


def test_retry_after_as_an_http_date(server: ScriptedCrm) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.get("/billers/1", status=503, headers={"Retry-After": when})
    server.get("/billers/1", json={"bid": 1, "name": "x", "integrator_id": 1, "status": "active"})
    sleeps: list[float] = []
    with CrmClient(server.url, TOKEN, retry=POLICY, sleep=sleeps.append) as crm:
        crm.get_biller(1)
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31


def test_a_repeated_cursor_stops_pagination(server: ScriptedCrm, crm: CrmClient) -> None:
    page = {"items": [], "next_cursor": "same"}
    server.get("/billers", json=page)
    with pytest.raises(CrmProtocolError, match="cursor"):
        list(crm.list_billers())


def test_bulk_read_must_answer_every_bid(server: ScriptedCrm, crm: CrmClient) -> None:
    server.get("/settings", json={"items": [], "missing": []})
    with pytest.raises(CrmProtocolError, match="left out 2"):
        crm.bulk_settings([1, 2])


def test_bulk_read_sends_repeated_bid_parameters(server: ScriptedCrm, crm: CrmClient) -> None:
    call = server.get("/settings", json={"items": [], "missing": [1, 2]})
    assert crm.bulk_settings([1, 2, 1]).missing == [1, 2]
    assert call.calls[0].url == f"{server.url}/settings?bid=1&bid=2"


def test_patch_sends_merge_patch_and_if_match(server: ScriptedCrm, crm: CrmClient) -> None:
    call = server.patch("/billers/1/settings", json={"ftp": {"port": 22}}, headers={"ETag": '"2"'})
    result = crm.patch_settings(1, {"ftp": {"port": 22}}, '"1"')
    sent = call.calls[0]
    assert sent.headers["If-Match"] == '"1"'
    assert sent.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(sent.body) == {"ftp": {"port": 22}}
    assert result.etag == '"2"'


def test_plain_http_with_a_token_is_refused_except_on_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        CrmClient("http://crm.example.com", TOKEN)
    CrmClient("http://127.0.0.1:8360", TOKEN).close()
    CrmClient("http://crm.example.com").close()  # no token, nothing to leak
    with pytest.raises(ValueError, match="http"):
        CrmClient("ftp://crm.example.com")


def test_configuration_from_the_environment() -> None:
    assert client_from_env({}) is None  # the embedded sandbox
    assert client_from_env({"INT360_CRM_URL": ""}) is None
    assert crm_config_from_env({"INT360_CRM_URL": BASE, "INT360_CRM_TOKEN": TOKEN}) == (BASE, TOKEN)
    client = client_from_env({"INT360_CRM_URL": BASE + "/", "INT360_CRM_TOKEN": TOKEN})
    assert client is not None and client.base_url == BASE
    assert TOKEN not in repr(client)
    client.close()


# --- unicode digits in headers (issue 15): str.isdigit() accepts them, int() does not ----


SETTINGS_OK = {"ftp": {"port": 22}}


def test_unicode_digits_in_retry_after_are_no_delay_hint(server: ScriptedCrm) -> None:
    server.get("/billers/1", status=503, headers={"Retry-After": "\u00b9\u00b2"})  # ¹²
    server.get("/billers/1", json={"bid": 1, "name": "x", "integrator_id": 1, "status": "active"})
    sleeps: list[float] = []
    with CrmClient(server.url, TOKEN, retry=POLICY, sleep=sleeps.append) as crm:
        assert crm.get_biller(1).bid == 1
    assert len(sleeps) == 1 and sleeps[0] < 1  # the client's own back-off, not 12 s


def test_unicode_digits_in_audit_note_id_mean_no_confirmed_note(
    server: ScriptedCrm, crm: CrmClient
) -> None:
    server.patch(
        "/billers/1/settings",
        json=SETTINGS_OK,
        headers={"ETag": '"2"', "Audit-Note-Id": "\u00b3"},  # ³
    )
    result = crm.patch_settings(1, SETTINGS_OK, '"1"')
    assert result.etag == '"2"' and result.note_id is None


def test_unicode_digits_in_content_length_are_no_crash(server: ScriptedCrm, crm: CrmClient) -> None:
    server.get(
        "/billers/1",
        json={"bid": 1, "name": "x", "integrator_id": 1, "status": "active"},
        headers={"Content-Length": "\u00b9\u00b2"},
    )
    with pytest.raises(CrmError, match=r"invalid Content-Length header \('\\xb9\\xb2, \d+'\)"):
        crm.get_biller(1)
