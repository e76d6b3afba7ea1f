"""The client never lets a secret value it sent, or its token, into a message, and the
sandbox's 422 never quotes what was sent; a token or URL with a control character is a
configuration error naming the variable; URL credentials never show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer
from scripted_crm import answer, calls, crm_url, origin, scripted

from int360apply.crm.client import CrmClient
from int360apply.crm.environment import crm_config_from_env
from int360apply.crm.errors import CrmConfigError, CrmRequestError, InvalidSettings
from int360apply.crm.port import PatchRequest
from int360apply.crm.retry import RetryPolicy
from int360apply.crm.sandbox.server import start_background
from int360apply.crm.settings import redact_url

TOKEN = "tok-echoed-5e4d3c2b1a"
SECRET = 'pä$$"word-7f1c0e'  # JSON escapes its quote and umlaut: both forms are scrubbed
POLICY = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.001)
REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture
def server(httpserver: HTTPServer) -> HTTPServer:
    return scripted(httpserver)


def _echoing_error(status: int, sent: str) -> dict[str, object]:
    """An error body that quotes the request, as a careless CRM would."""
    return {
        "error": {
            "code": f"bad {TOKEN}",
            "message": f"cannot store {sent} (Authorization: Bearer {TOKEN})",
            "details": [{"path": f"ftp.{SECRET}", "message": f"value {sent} rejected"}],
        }
    }


@pytest.mark.parametrize("status", [400, 409, 422])
def test_an_error_that_echoes_the_body_shows_no_secret_value_and_no_token(
    server: HTTPServer, status: int
) -> None:
    patch = {"ftp": {"auth": {"password": {"secret": "FTP_X", "value": SECRET}}}}
    sent = json.dumps(patch)  # with SECRET escaped as JSON writes it
    assert SECRET not in sent
    answer(
        server,
        "PATCH",
        "/billers/7/settings",
        status=status,
        json=_echoing_error(status, sent + " " + SECRET),
    )
    with (
        CrmClient(crm_url(server), TOKEN, retry=POLICY) as client,
        pytest.raises((CrmRequestError, InvalidSettings)) as failure,
    ):
        client.patch_settings(PatchRequest(7, patch, '"1"'))
    error = failure.value
    text = " ".join(
        [str(error), str(error.code), *(f"{d.path} {d.message}" for d in error.details)]
    )
    for needle in (SECRET, json.dumps(SECRET)[1:-1], TOKEN):
        assert needle not in text
    assert "***" in str(error) and f"HTTP {status}" in str(error)
    # The request really carried the value (the scrub is not vacuous).
    assert json.loads(calls(server)[0].get_data())["ftp"]["auth"]["password"]["value"] == SECRET


def test_a_later_error_does_not_show_a_value_sent_earlier(server: HTTPServer) -> None:
    answer(server, "PATCH", "/billers/7/settings", json={}, headers={"ETag": '"2"'})
    answer(
        server, "GET", "/billers/8", status=400, json={"error": {"code": "x", "message": SECRET}}
    )
    with CrmClient(crm_url(server), None, retry=POLICY) as client:
        client.patch_settings(
            PatchRequest(
                7, {"ftp": {"auth": {"password": {"secret": "A_B", "value": SECRET}}}}, '"1"'
            )
        )
        with pytest.raises(CrmRequestError) as failure:
            client.get_biller(8)
    assert SECRET not in str(failure.value)


def test_the_sandbox_422_never_quotes_a_write_form_at_a_path_that_is_not_a_secret(
    tmp_path: Path,
) -> None:
    server = start_background(tmp_path / "crm.sqlite", [], schema_dir=REPO_SCHEMAS, seed=False)
    try:
        session = requests.Session()
        session.trust_env = False
        resp = session.put(
            f"{server.url}/_sandbox/billers/9", json={"name": "N", "integrator_id": 93}, timeout=10
        )
        assert resp.status_code in (200, 201), resp.text
        etag = session.get(f"{server.url}/billers/9/settings", timeout=10).headers["ETag"]
        patch = {
            "ftp": {
                "host": {"secret": "FTP_HOST", "value": SECRET},
                "port": SECRET,
                "username": ["x", SECRET],
            },
            "advanced": {"account_number_label": {"value": SECRET}},
        }
        resp = session.patch(
            f"{server.url}/billers/9/settings",
            data=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json", "If-Match": etag},
            timeout=10,
        )
    finally:
        server.stop()
    assert resp.status_code == 422
    body = resp.text
    assert SECRET not in body and json.dumps(SECRET)[1:-1] not in body
    paths = {d["path"] for d in resp.json()["error"]["details"]}
    assert {"ftp.host", "ftp.port", "ftp.username", "advanced.account_number_label"} <= paths


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("INT360_CRM_TOKEN", TOKEN + "\n"),
        ("INT360_CRM_TOKEN", TOKEN + "\r"),
        ("INT360_CRM_TOKEN", "tok\x00" + TOKEN),
        ("INT360_CRM_TOKEN", TOKEN + "é"),
        ("INT360_CRM_URL", "https://crm.example.com/api\n"),
        ("INT360_CRM_URL", "https://crm.example.com/\tapi"),
        ("INT360_CRM_URL", "https://crm.example.com/api\x85"),
    ],
)
def test_a_control_character_is_a_configuration_error_naming_the_variable(
    variable: str, value: str
) -> None:
    env = {"INT360_CRM_URL": "https://crm.example.com/api", "INT360_CRM_TOKEN": TOKEN}
    env[variable] = value
    with pytest.raises(CrmConfigError) as failure:
        crm_config_from_env(env)
    assert variable in str(failure.value)
    assert TOKEN not in str(failure.value) and "crm.example.com" not in str(failure.value)
    with pytest.raises(CrmConfigError) as direct:
        CrmClient(env["INT360_CRM_URL"], env["INT360_CRM_TOKEN"])
    assert variable in str(direct.value) and TOKEN not in str(direct.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ops:pw-9f8e@crm.example.com/api", "https://***@crm.example.com/api"),
        ("https://ops@crm.example.com:8443/", "https://***@crm.example.com:8443/"),
        ("https://a:b@c@crm.example.com/x?y=1", "https://***@crm.example.com/x?y=1"),
        ("https://crm.example.com/api", "https://crm.example.com/api"),
    ],
)
def test_url_credentials_are_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    with CrmClient(url, None) as client:
        assert repr(client) == f"CrmClient({shown.rstrip('/')!r})"


@pytest.mark.parametrize(
    "url", ["ftp://ops:pw-9f8e@crm.example.com/api", "https://ops:pw-9f8e@crm.example.com:99999/"]
)
def test_a_malformed_url_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(CrmConfigError) as failure:
        CrmClient(url, None)
    assert "pw-9f8e" not in str(failure.value) and "INT360_CRM_URL" in str(failure.value)


def test_a_proxy_never_sees_the_urls_credentials(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``server`` plays the proxy: the absolute URL it is sent has no user:password."""
    monkeypatch.setenv("HTTP_PROXY", origin(server))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer(
        server,
        "GET",
        "/billers/1",
        json={"bid": 1, "name": "One", "integrator_id": 93, "status": "active"},
    )
    with CrmClient("http://ops:pw-3e2d@crm.example.test/api", None, retry=POLICY) as client:
        assert client.get_biller(1).name == "One"
    assert [c.url for c in calls(server)] == ["http://crm.example.test/api/billers/1"]
