"""The client against servers that break the contract (things the sandbox never does),
played by pytest-httpserver on loopback; and its configuration."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from scripted_crm import answer, calls, crm_url, refuse_other_hosts, scripted

from int360apply.crm.client import CrmClient
from int360apply.crm.environment import crm_config_from_env
from int360apply.crm.errors import CrmError, CrmProtocolError, CrmRequestError, Unauthorized
from int360apply.crm.port import PatchRequest
from int360apply.crm.retry import RetryPolicy

BASE = "https://crm.example.com/api"  # for the configuration tests, which send nothing
TOKEN = "tok-9a8b7c6d5e"
POLICY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)


@pytest.fixture
def server(httpserver: HTTPServer) -> HTTPServer:
    """A scripted CRM on loopback (plain http with a token is allowed there)."""
    return scripted(httpserver)


@pytest.fixture
def crm(server: HTTPServer) -> Iterator[CrmClient]:
    with CrmClient(crm_url(server), TOKEN, retry=POLICY, sleep=lambda s: None) as client:
        yield client


def test_non_json_body_is_a_protocol_error(server: HTTPServer, crm: CrmClient) -> None:
    answer(server, "GET", "/billers/1", body="<html>maintenance</html>", content_type="text/html")
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
def test_wrong_shape_is_a_protocol_error(server: HTTPServer, crm: CrmClient, body: object) -> None:
    answer(server, "GET", "/billers/1", json=body)
    with pytest.raises(CrmProtocolError):
        crm.get_biller(1)


def test_missing_etag_is_a_protocol_error(server: HTTPServer, crm: CrmClient) -> None:
    answer(server, "GET", "/billers/1/settings", json={})
    with pytest.raises(CrmProtocolError, match="no ETag"):
        crm.get_settings(1)
    answer(server, "PATCH", "/billers/1/settings", json={})
    with pytest.raises(CrmProtocolError, match="no ETag"):
        crm.patch_settings(PatchRequest(1, {}, '"1"'))


def test_redirects_are_not_followed(
    server: HTTPServer, crm: CrmClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_hosts = refuse_other_hosts(monkeypatch)
    answer(
        server,
        "GET",
        "/billers/1",
        status=302,
        headers={"Location": "https://evil.example.net/steal"},
    )
    with pytest.raises(CrmProtocolError, match=r"evil\.example\.net") as info:
        crm.get_biller(1)
    assert other_hosts == []  # the redirect target was never contacted (not even looked up)
    assert [c.url for c in calls(server)] == [f"{crm_url(server)}/billers/1"]
    assert TOKEN not in str(info.value)


def test_token_goes_only_to_the_crm(server: HTTPServer, crm: CrmClient) -> None:
    answer(
        server,
        "GET",
        "/billers/1",
        json={"bid": 1, "name": "x", "integrator_id": 1, "status": "active"},
    )
    crm.get_biller(1)
    assert calls(server)[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_error_messages_never_echo_the_token(server: HTTPServer, crm: CrmClient) -> None:
    body = {"error": {"code": "unauthorized", "message": f"token {TOKEN} expired", "details": []}}
    answer(server, "GET", "/billers/1", status=401, json=body)
    with pytest.raises(Unauthorized) as info:
        crm.get_biller(1)
    assert TOKEN not in str(info.value) and "***" in str(info.value)
    assert info.value.code == "unauthorized"


def test_error_without_contract_body(server: HTTPServer, crm: CrmClient) -> None:
    answer(server, "GET", "/billers/1", status=400, body="nope")
    with pytest.raises(CrmRequestError, match="HTTP 400"):
        crm.get_biller(1)


def test_unexpected_status_is_a_protocol_error(server: HTTPServer, crm: CrmClient) -> None:
    answer(server, "GET", "/billers/1", status=501, json={})
    with pytest.raises(CrmProtocolError, match="501"):
        crm.get_biller(1)


def test_retry_after_as_an_http_date(server: HTTPServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    answer(server, "GET", "/billers/1", once=True, status=503, headers={"Retry-After": when})
    answer(
        server,
        "GET",
        "/billers/1",
        json={"bid": 1, "name": "x", "integrator_id": 1, "status": "active"},
    )
    sleeps: list[float] = []
    with CrmClient(crm_url(server), TOKEN, retry=POLICY, sleep=sleeps.append) as crm:
        crm.get_biller(1)
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31


def test_a_repeated_cursor_stops_pagination(server: HTTPServer, crm: CrmClient) -> None:
    page = {"items": [], "next_cursor": "same"}
    answer(server, "GET", "/billers", json=page)
    with pytest.raises(CrmProtocolError, match="cursor"):
        list(crm.list_billers())


def test_bulk_read_must_answer_every_bid(server: HTTPServer, crm: CrmClient) -> None:
    answer(server, "GET", "/settings", json={"items": [], "missing": []})
    with pytest.raises(CrmProtocolError, match="left out 2"):
        crm.bulk_settings([1, 2])


def test_bulk_read_sends_repeated_bid_parameters(server: HTTPServer, crm: CrmClient) -> None:
    answer(server, "GET", "/settings", json={"items": [], "missing": [1, 2]})
    assert crm.bulk_settings([1, 2, 1]).missing == [1, 2]
    assert calls(server)[0].url == f"{crm_url(server)}/settings?bid=1&bid=2"


def test_patch_sends_merge_patch_and_if_match(server: HTTPServer, crm: CrmClient) -> None:
    answer(
        server, "PATCH", "/billers/1/settings", json={"ftp": {"port": 22}}, headers={"ETag": '"2"'}
    )
    result = crm.patch_settings(PatchRequest(1, {"ftp": {"port": 22}}, '"1"'))
    sent = calls(server)[0]
    assert sent.headers["If-Match"] == '"1"'
    assert sent.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(sent.get_data()) == {"ftp": {"port": 22}}
    assert result.etag == '"2"'


def test_plain_http_with_a_token_is_refused_except_on_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        CrmClient("http://crm.example.com", TOKEN)
    CrmClient("http://127.0.0.1:8360", TOKEN).close()
    CrmClient("http://crm.example.com").close()  # no token, nothing to leak
    with pytest.raises(ValueError, match="http"):
        CrmClient("ftp://crm.example.com")


def test_configuration_from_the_environment() -> None:
    assert crm_config_from_env({}).url is None  # the embedded sandbox
    assert crm_config_from_env({"INT360_CRM_URL": ""}).url is None
    assert crm_config_from_env({"INT360_CRM_URL": BASE, "INT360_CRM_TOKEN": TOKEN}) == (BASE, TOKEN)
    url, token = crm_config_from_env({"INT360_CRM_URL": BASE + "/", "INT360_CRM_TOKEN": TOKEN})
    assert url is not None
    client = CrmClient(url, token)
    assert client.base_url == BASE
    assert TOKEN not in repr(client)
    client.close()


# --- unicode digits in headers: str.isdigit() accepts them, int() does not ----------

PROFILE = {"bid": 1, "name": "x", "integrator_id": 1, "status": "active"}
SETTINGS_OK = {"ftp": {"port": 22}}


def test_unicode_digits_in_retry_after_are_no_delay_hint(server: HTTPServer) -> None:
    answer(server, "GET", "/billers/1", once=True, status=503, headers={"Retry-After": "¹²"})
    answer(server, "GET", "/billers/1", json=PROFILE)
    sleeps: list[float] = []
    with CrmClient(crm_url(server), TOKEN, retry=POLICY, sleep=sleeps.append) as crm:
        assert crm.get_biller(1).bid == 1
    assert len(sleeps) == 1 and sleeps[0] < 1  # the client's own back-off, not 12 s


def test_unicode_digits_in_audit_note_id_mean_no_confirmed_note(
    server: HTTPServer, crm: CrmClient
) -> None:
    answer(
        server,
        "PATCH",
        "/billers/1/settings",
        json=SETTINGS_OK,
        headers={"ETag": '"2"', "Audit-Note-Id": "³"},
    )
    result = crm.patch_settings(PatchRequest(1, SETTINGS_OK, '"1"'))
    assert result.etag == '"2"' and result.note_id is None


def test_unicode_digits_in_content_length_are_no_crash() -> None:
    """A raw answer: an HTTP server library would write its own Content-Length."""
    body = json.dumps(PROFILE).encode()
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: \xb9\xb2\r\nConnection: close\r\n\r\n" + body
                )

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
        with (
            CrmClient(url, TOKEN, retry=POLICY, sleep=lambda s: None) as crm,
            pytest.raises(CrmError, match=r"invalid Content-Length header \('\\xb9\\xb2'\)"),
        ):
            crm.get_biller(1)
        thread.join(timeout=5)


def test_cookies_are_never_sent_back(server: HTTPServer, crm: CrmClient) -> None:
    profile = {"bid": 1, "name": "x", "integrator_id": 1, "status": "active"}
    answer(server, "GET", "/billers/1", json=profile, headers={"Set-Cookie": "lb=node-3; Path=/"})
    crm.get_biller(1)
    crm.get_biller(1)
    assert [c.headers.get("Cookie") for c in calls(server)] == [None, None]


def test_netrc_credentials_never_replace_the_token_or_go_out_without_one(
    server: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine {server.host} login ops password hunter2\n", encoding="ascii")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    profile = {"bid": 1, "name": "x", "integrator_id": 1, "status": "active"}
    answer(server, "GET", "/billers/1", json=profile)
    with CrmClient(crm_url(server), TOKEN, retry=POLICY) as crm:
        crm.get_biller(1)
    with CrmClient(crm_url(server), retry=POLICY) as crm:
        crm.get_biller(1)
    sent = [c.headers.get("Authorization") for c in calls(server)]
    assert sent == [f"Bearer {TOKEN}", None]
