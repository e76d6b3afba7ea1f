"""Proxy and CA-bundle settings from the environment (``int360apply.crm.environment``)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from int360apply.crm.environment import ca_options, proxy_for
from int360apply.crm.errors import CrmConfigError


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "http://proxy.corp:3128"),
        ({"https_proxy": "proxy.corp:3128"}, "http://proxy.corp:3128"),  # no scheme
        ({"ALL_PROXY": "https://proxy.corp"}, "https://proxy.corp"),
        ({"HTTP_PROXY": "http://other:1"}, None),  # for http:// only
        ({}, None),
    ],
)
def test_the_proxy_for_https(env: dict[str, str], url: str | None) -> None:
    found = proxy_for("https", "crm.example.com", env)
    assert (found.url if found else None) == url


def test_credentials_become_a_header_and_leave_the_url() -> None:
    found = proxy_for("https", "crm.example.com", {"HTTPS_PROXY": "http://ops:p%40ss@proxy:8080"})
    assert found is not None and found.url == "http://proxy:8080"
    scheme, value = found.headers["proxy-authorization"].split()
    assert scheme == "Basic" and base64.b64decode(value) == b"ops:p@ss"


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("crm.example.com", "example.com", True),
        ("crm.example.com", ".example.com", True),
        ("crm.example.com", "*.example.com", True),
        ("crm.example.com", "*.other.com", False),
        ("crm.example.com", "crm.example.com:443", True),
        ("crm.example.com", "ample.com", False),
        ("crm.example.com", "other.org, *", True),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "192.168.0.0/16,10.1.2.3", True),
        ("10.1.2.3", "192.168.0.0/16", False),
        ("fd00::5", "fd00::/8", True),
        ("crm.example.com", "", False),
    ],
)
def test_no_proxy(host: str, no_proxy: str, bypassed: bool) -> None:
    env = {"HTTPS_PROXY": "http://proxy:8080", "NO_PROXY": no_proxy}
    assert (proxy_for("https", host, env) is None) is bypassed


@pytest.mark.parametrize("value", ["socks5://ops:hunter2@proxy:1080", "http://"])
def test_a_proxy_that_cannot_work_is_a_configuration_error(value: str) -> None:
    with pytest.raises(CrmConfigError, match="HTTPS_PROXY") as raised:
        proxy_for("https", "crm.example.com", {"HTTPS_PROXY": value})
    assert "hunter2" not in str(raised.value) and "ops" not in str(raised.value)


def test_a_ca_bundle_may_be_a_file_or_a_directory(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    assert ca_options("https", {"REQUESTS_CA_BUNDLE": str(pem)}) == {"ca_certs": str(pem)}
    assert ca_options("https", {"CURL_CA_BUNDLE": str(tmp_path)}) == {"ca_cert_dir": str(tmp_path)}
    assert ca_options("http", {"REQUESTS_CA_BUNDLE": str(pem)}) == {}
    assert ca_options("https", {}) == {}
    with pytest.raises(CrmConfigError, match="CURL_CA_BUNDLE"):
        ca_options("https", {"CURL_CA_BUNDLE": str(tmp_path / "missing.pem")})


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
