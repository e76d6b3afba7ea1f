"""The sandbox keeps HTTP/1.1 connections alive, and nothing a request leaves behind
(an unread body, a chunked body, an HTTP/1.0 client) leaks into the next request."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from int360apply.crm.sandbox.listener import BODY_LIMIT
from int360apply.crm.sandbox.server import SandboxServer

from .conftest import PROFILES, MakeSandbox

BID = PROFILES[0].bid


def _connect(server: SandboxServer) -> http.client.HTTPConnection:
    host, port = server.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def _get(conn: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    return resp


def test_one_connection_serves_many_requests(sandbox: SandboxServer) -> None:
    conn = _connect(sandbox)
    _get(conn, f"/billers/{BID}")
    first = conn.sock
    for _ in range(5):
        resp = _get(conn, f"/billers/{BID}/settings")
        assert resp.status == 200
        assert resp.getheader("Connection") != "close"
    assert conn.sock is first, "the connection was not kept alive"
    conn.close()


def test_an_unread_body_does_not_become_the_next_request(sandbox: SandboxServer) -> None:
    conn = _connect(sandbox)
    # Refused before the body is read: the wrong media type.
    body = json.dumps({"text": "x" * 5000}).encode()
    conn.request("POST", f"/billers/{BID}/notes", body=body, headers={"Content-Type": "text/plain"})
    refused = conn.getresponse()
    refused.read()
    assert refused.status == 415
    resp = _get(conn, f"/billers/{BID}")
    assert resp.status == 200
    assert conn.sock is not None
    conn.close()


def test_a_large_unread_body_closes_the_connection(sandbox: SandboxServer) -> None:
    conn = _connect(sandbox)
    body = b"x" * (BODY_LIMIT + 1)
    conn.request("POST", f"/billers/{BID}/notes", body=body, headers={"Content-Type": "text/plain"})
    refused = conn.getresponse()
    refused.read()
    assert refused.status in (413, 415)
    assert refused.getheader("Connection") == "close"
    conn.close()


def test_an_http_1_0_client_gets_its_connection_closed(sandbox: SandboxServer) -> None:
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET /billers/{BID} HTTP/1.0\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
    assert json.loads(body)["bid"] == BID


def test_a_chunked_request_body_is_read_whole_and_the_connection_kept(
    sandbox: SandboxServer,
) -> None:
    """A chunked body ends where its last chunk says: the server reads all of it, so
    the connection safely serves the next request."""
    conn = _connect(sandbox)
    conn.request(
        "POST",
        f"/billers/{BID}/notes",
        body=iter([b'{"text": ', b'"chunked"}']),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    assert json.loads(resp.read())["text"] == "chunked"
    assert resp.status == 201
    first = conn.sock
    assert _get(conn, f"/billers/{BID}").status == 200
    assert conn.sock is first
    conn.close()


def test_a_chunked_body_over_the_limit_is_413(sandbox: SandboxServer) -> None:
    """No Content-Length to refuse up front: the limit still holds, with the right status."""
    conn = _connect(sandbox)
    piece = b" " * 65536
    conn.request(
        "POST",
        f"/billers/{BID}/notes",
        body=iter([b"{", *[piece] * (BODY_LIMIT // len(piece) + 1), b"}"]),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert resp.getheader("Connection") == "close"
    conn.close()
    assert _get(_connect(sandbox), f"/billers/{BID}").status == 200  # still serving


def test_stop_ends_kept_alive_connections(make_sandbox: MakeSandbox) -> None:
    server = make_sandbox()
    conn = _connect(server)
    assert _get(conn, f"/billers/{BID}").status == 200
    server.stop()
    assert conn.sock is not None
    conn.sock.settimeout(5)
    # The server shut the idle connection: the client reads end-of-stream, not a hang.
    assert conn.sock.recv(1) == b""
    conn.close()


def test_a_body_shorter_than_announced_is_a_clean_error(
    sandbox: SandboxServer, capfd: pytest.CaptureFixture[str]
) -> None:
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"POST /billers/{BID}/notes HTTP/1.1\r\nHost: x\r\n"
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text"'.encode()
        )
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400"), data[:200]
    assert b"Connection: close" in data
    assert _get(_connect(sandbox), f"/billers/{BID}").status == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err


def test_an_app_that_fails_outside_flask_gets_a_json_500_and_a_closed_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Flask answers its own errors; anything raised around it (middleware) still gets
    the contract's error shape, and the connection is not reused."""
    import threading

    from int360apply.crm.sandbox.listener import HOST, Listener

    def broken(environ: object, start_response: object) -> list[bytes]:
        raise ValueError("boom")

    server = Listener(HOST, 0, broken)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        conn = http.client.HTTPConnection(HOST, server.server_port, timeout=5)
        resp = _get(conn, "/anything")
        assert resp.status == 500
        assert resp.getheader("Connection") == "close"
        conn.request("GET", "/anything")
        assert json.loads(conn.getresponse().read())["error"]["code"] == "internal"
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert "error on GET /anything" in caplog.text


def test_many_half_sent_requests_hold_no_threads(sandbox: SandboxServer) -> None:
    """300 clients that send half a request each: the thread count stays bounded
    and the server goes on answering everyone else."""
    import threading

    from int360apply.crm.sandbox.listener import THREADS

    host, port = sandbox.url.removeprefix("http://").split(":")
    assert _get(_connect(sandbox), f"/billers/{BID}").status == 200
    before = threading.active_count()
    stalled: list[socket.socket] = []
    try:
        for i in range(300):
            sock = socket.create_connection((host, int(port)), timeout=5)
            # Headers complete but the body not (odd), or headers cut off (even).
            half = (
                f"POST /billers/{BID}/notes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{"
                if i % 2
                else f"GET /billers/{BID} HTTP/1.1\r\nHost: x\r\nX-Wait: "
            )
            sock.sendall(half.encode())
            stalled.append(sock)
        resp = _get(_connect(sandbox), f"/billers/{BID}")
        assert resp.status == 200
        assert threading.active_count() <= before, (threading.active_count(), before, THREADS)
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.parametrize("length", ["²", "١٢", "+2", "0x2"])
def test_a_content_length_that_is_not_ascii_digits_is_a_clean_400(
    sandbox: SandboxServer, length: str
) -> None:
    """Unicode digits pass ``str.isdigit``; the server must still answer, not crash."""
    host, port = sandbox.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            f"PATCH /billers/100001/settings HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {length}\r\nContent-Type: application/json\r\n\r\n{{}}".encode()
        )
        assert raw.recv(64).startswith(b"HTTP/1.1 400 ")
    # The server goes on answering.
    conn = _connect(sandbox)
    assert _get(conn, "/billers/100001").status == 200
