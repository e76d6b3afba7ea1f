"""The client's HTTP exchange (``int360apply.crm.transport``) against real servers:
bodies over the limit, compressed bodies, dropped and refused connections, TLS
certificates, and proxies from the environment (a remote CRM only)."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from pytest_httpserver import HTTPServer
from scripted_crm import DROPPED, answer, calls, crm_url, drop, origin, refuse_other_hosts, scripted

from int360apply.crm import client as client_module
from int360apply.crm import exchange
from int360apply.crm.client import CrmClient
from int360apply.crm.errors import CrmConfigError, CrmError, CrmProtocolError, CrmUnavailable
from int360apply.crm.retry import RetryPolicy

PROFILE = {"bid": 1, "name": "One", "integrator_id": 93, "status": "active"}
POLICY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)


@pytest.fixture
def server(httpserver: HTTPServer) -> HTTPServer:
    return scripted(httpserver)


def _client(url: str) -> CrmClient:
    return CrmClient(url, retry=POLICY, sleep=lambda s: None)


def test_a_body_over_the_limit_is_refused_and_the_connection_not_reused(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange, "MAX_BODY_BYTES", 1000)
    answer(server, "GET", "/billers/1", json={**PROFILE, "name": "x" * 5000})
    answer(server, "GET", "/billers/2", json={**PROFILE, "bid": 2})
    with CrmClient(crm_url(server), retry=RetryPolicy(attempts=1)) as crm:
        with pytest.raises(CrmProtocolError, match="more than 1000 bytes"):
            crm.get_biller(1)
        # The unread rest of the big body must not spoil the next exchange (no retry here).
        assert crm.get_biller(2).bid == 2


def test_a_compressed_body_is_decoded_and_its_limit_applies_after_decoding(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    gzipped = {"Content-Encoding": "gzip"}
    answer(
        server,
        "GET",
        "/billers/1",
        body=gzip.compress(json.dumps(PROFILE).encode()),
        headers=gzipped,
    )
    bomb = gzip.compress(json.dumps({**PROFILE, "name": "x" * 100_000}).encode())
    assert len(bomb) < 1000  # small on the wire, large once decoded
    answer(server, "GET", "/billers/2", body=bomb, headers=gzipped)
    monkeypatch.setattr(exchange, "MAX_BODY_BYTES", 10_000)
    with _client(crm_url(server)) as crm:
        assert crm.get_biller(1).name == "One"
        with pytest.raises(CrmProtocolError, match="more than 10000 bytes"):
            crm.get_biller(2)
    assert "gzip" in calls(server)[0].headers["Accept-Encoding"]


def test_a_redirect_is_not_followed_and_its_body_has_the_same_limit(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 302 whose gzip body is small on the wire and large once decoded: not read past
    # the limit, and its Location (a port nothing listens on) never asked.
    bomb = gzip.compress(b"x" * 100_000)
    answer(
        server,
        "GET",
        "/billers/1",
        status=302,
        body=bomb,
        headers={"Content-Encoding": "gzip", "Location": "http://127.0.0.1:9/elsewhere"},
    )
    monkeypatch.setattr(exchange, "MAX_BODY_BYTES", 10_000)
    with _client(crm_url(server)) as crm, pytest.raises(CrmProtocolError, match="more than 10000"):
        crm.get_biller(1)
    assert [c.path for c in calls(server)] == ["/api/billers/1"]


def test_a_body_that_does_not_decode_is_an_error_without_retries(server: HTTPServer) -> None:
    answer(
        server, "GET", "/billers/1", body=b"not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    with _client(crm_url(server)) as crm, pytest.raises(CrmError, match="could not be decoded"):
        crm.get_biller(1)
    assert len(calls(server)) == 1


def test_a_dropped_connection_is_retried_on_a_new_one(server: HTTPServer) -> None:
    drop(server, "GET", "/billers/1")
    answer(server, "GET", "/billers/1", json=PROFILE)
    with _client(crm_url(server)) as crm:
        assert crm.get_biller(1).name == "One"
    assert [response.status_code for _request, response in server.log] == [DROPPED, 200]


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
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``server`` plays the proxy: it receives the whole URL of the remote CRM."""
    refused = refuse_other_hosts(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", origin(server))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer(server, "GET", "/billers/1", json=PROFILE)
    with _client("http://crm.example.test/api") as crm:
        assert crm.get_biller(1).name == "One"
    assert [c.url for c in calls(server)] == ["http://crm.example.test/api/billers/1"]
    assert refused == []  # the CRM's own name was never looked up: the proxy was asked


def test_no_proxy_exempts_a_host_and_loopback_never_uses_one(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = refuse_other_hosts(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.test:3128")
    monkeypatch.setenv("NO_PROXY", "crm.example.test")
    with _client("http://crm.example.test/api") as crm, pytest.raises(CrmUnavailable):
        crm.get_biller(1)
    assert set(refused) == {"crm.example.test"}  # direct, not through the proxy
    answer(server, "GET", "/billers/1", json=PROFILE)
    monkeypatch.delenv("NO_PROXY")
    with _client(crm_url(server)) as crm:
        assert crm.get_biller(1).name == "One"  # loopback: the proxy is not asked
    assert "proxy.example.test" not in refused


# -- TLS ---------------------------------------------------------------------------


class _TlsCrm:
    """A one-route HTTPS server (``GET /api/billers/1``) with a certificate from ``ca``."""

    def __init__(self, ca: trustme.CA) -> None:
        cert = ca.issue_cert("127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self.handshakes = 0
        crm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = json.dumps(PROFILE).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                conn, addr = super().get_request()
                crm.handshakes += 1
                return context.wrap_socket(conn, server_side=True), addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that refuses our certificate hangs up mid-handshake

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/api"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_crm(ca: trustme.CA) -> Iterator[_TlsCrm]:
    server = _TlsCrm(ca)
    yield server
    server.close()


@pytest.fixture
def remote_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat 127.0.0.1 as a remote CRM, so the environment's TLS settings apply."""
    monkeypatch.setattr(client_module, "is_loopback", lambda host: False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("remote_tls")
def test_a_certificate_that_does_not_verify_fails_at_once_with_advice(tls_crm: _TlsCrm) -> None:
    sleeps: list[float] = []
    with (
        CrmClient(tls_crm.url, retry=POLICY, sleep=sleeps.append) as crm,
        pytest.raises(CrmError, match=r"does not verify.*REQUESTS_CA_BUNDLE") as raised,
    ):
        crm.get_biller(1)
    assert not isinstance(raised.value, CrmUnavailable)
    assert sleeps == [] and tls_crm.handshakes == 1  # not retried


@pytest.mark.usefixtures("remote_tls")
def test_a_ca_bundle_from_the_environment_is_trusted(
    tls_crm: _TlsCrm, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with _client(tls_crm.url) as crm:
        assert crm.get_biller(1).name == "One"


@pytest.mark.usefixtures("remote_tls")
def test_a_ca_bundle_that_does_not_exist_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    with pytest.raises(CrmConfigError, match=r"REQUESTS_CA_BUNDLE=/nonexistent/ca\.pem"):
        CrmClient("https://127.0.0.1:1/api")


# -- proxies -------------------------------------------------------------------------


def test_proxy_credentials_go_in_proxy_authorization(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_other_hosts(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"ops:p%40ss@127.0.0.1:{server.port}")  # no scheme: http://
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer(server, "GET", "/billers/1", json=PROFILE)
    with _client("http://crm.example.test/api") as crm:
        assert crm.get_biller(1).name == "One"
    sent = calls(server)[0].headers["Proxy-Authorization"]
    assert base64.b64decode(sent.split()[1]) == b"ops:p@ss"


def test_a_proxy_that_is_down_is_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_other_hosts(monkeypatch)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with (
        _client("http://crm.example.test/api") as crm,
        pytest.raises(CrmUnavailable, match=r"the proxy failed .*gave up after 3 tries"),
    ):
        crm.get_biller(1)


def test_a_proxy_that_wants_credentials_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An https CRM through a proxy that answers the tunnel's CONNECT with 407."""

    class Refusing(BaseHTTPRequestHandler):
        def do_CONNECT(self) -> None:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    refuse_other_hosts(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    sleeps: list[float] = []
    try:
        with (
            CrmClient("https://crm.example.test/api", retry=POLICY, sleep=sleeps.append) as crm,
            pytest.raises(CrmError, match=r"407 Proxy Authentication Required.*HTTPS_PROXY"),
        ):
            crm.get_biller(1)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert sleeps == []


def test_an_unknown_host_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_other_hosts(monkeypatch)
    monkeypatch.setenv("NO_PROXY", "*")
    with (
        _client("http://no-such-host.invalid/api") as crm,
        pytest.raises(CrmUnavailable, match="could not resolve the host"),
    ):
        crm.get_biller(1)
