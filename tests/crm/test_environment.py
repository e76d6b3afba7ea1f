"""Proxy and CA-bundle settings from the environment (``int360apply.crm.environment``),
as ``requests`` reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from int360apply.crm.environment import route_from_environment
from int360apply.crm.errors import CrmConfigError

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without proxy or CA-bundle settings (either case)."""
    for name in PROXY_VARIABLES + CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _proxy(env: pytest.MonkeyPatch, url: str, **variables: str) -> str | None:
    for name, value in variables.items():
        env.setenv(name, value)
    return route_from_environment(url).proxy


@pytest.mark.parametrize(
    ("variables", "url"),
    [
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "http://proxy.corp:3128"),
        ({"https_proxy": "proxy.corp:3128"}, "http://proxy.corp:3128"),  # no scheme
        ({"ALL_PROXY": "https://proxy.corp"}, "https://proxy.corp"),
        ({"HTTP_PROXY": "http://other:1"}, None),  # for http:// only
        ({}, None),
    ],
)
def test_the_proxy_for_https(
    env: pytest.MonkeyPatch, variables: dict[str, str], url: str | None
) -> None:
    assert _proxy(env, "https://crm.example.com/api", **variables) == url


# requests' NO_PROXY differs from the hand-written one it replaced (issue 17): no
# ``*.example.com`` (write ``.example.com``), ``*`` only as the whole value, a port
# only against a URL naming it, and CIDR ranges of IPv4 only (as curl's before 7.86).
@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("crm.example.com", "example.com", True),
        ("crm.example.com", ".example.com", True),
        ("crm.example.com", "*.example.com", False),
        ("crm.example.com", "*.other.com", False),
        ("crm.example.com", "crm.example.com:443", False),
        ("crm.example.com:443", "crm.example.com:443", True),
        ("crm.example.com", "ample.com", False),
        ("crm.example.com", "*", True),
        ("crm.example.com", "other.org, *", False),
        ("crm.example.com", "other.org, crm.example.com", True),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "192.168.0.0/16,10.1.2.3", True),
        ("10.1.2.3", "192.168.0.0/16", False),
        ("[fd00::5]", "fd00::/8", False),
        ("crm.example.com", "", False),
    ],
)
def test_no_proxy(env: pytest.MonkeyPatch, host: str, no_proxy: str, bypassed: bool) -> None:
    found = _proxy(env, f"https://{host}/api", HTTPS_PROXY="http://proxy:8080", NO_PROXY=no_proxy)
    assert (found is None) is bypassed


@pytest.mark.parametrize("value", ["socks5://ops:hunter2@proxy:1080", "http://"])
def test_a_proxy_that_cannot_work_is_a_configuration_error(
    env: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(CrmConfigError, match="HTTPS_PROXY") as raised:
        _proxy(env, "https://crm.example.com/api", HTTPS_PROXY=value)
    assert "hunter2" not in str(raised.value) and "ops" not in str(raised.value)


def test_a_ca_bundle_may_be_a_file_or_a_directory(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    https, http = "https://crm.example.com/api", "http://crm.example.com/api"
    env.setenv("SSL_CERT_FILE", str(pem))  # the system's trust store, as OpenSSL finds it
    assert route_from_environment(https).verify == str(pem)
    other = tmp_path / "other.pem"
    other.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    env.setenv("REQUESTS_CA_BUNDLE", str(other))
    assert route_from_environment(https).verify == str(other)
    assert route_from_environment(http).verify is True
    env.delenv("REQUESTS_CA_BUNDLE")
    env.setenv("CURL_CA_BUNDLE", str(tmp_path))
    assert route_from_environment(https).verify == str(tmp_path)
    env.setenv("CURL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(CrmConfigError, match="CURL_CA_BUNDLE"):
        route_from_environment(https)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INT360_CRM_URL": "ftp://crm.example.com"}, "INT360_CRM_URL must be http(s)://"),
        (
            {"INT360_CRM_URL": "https://crm.example.com", "HTTPS_PROXY": "socks5://u:pw9@p:1"},
            "the proxy socks5://p:1 for https:// cannot be used",
        ),
    ],
)
def test_the_cli_reports_a_crm_setting_that_cannot_work(
    tmp_repo: object, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = tmp_repo.run("plan")  # type: ignore[attr-defined]
    assert done.code == 1
    assert done.err.strip().startswith("int360: ") and message in done.err
    assert "Traceback" not in done.err and "pw9" not in done.err
