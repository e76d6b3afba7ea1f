"""A scripted CRM for the tests: pytest-httpserver's ``httpserver`` (a real HTTP server on
loopback) answering what a test registered, for a CRM that breaks the contract (things the
sandbox never does: HTML bodies, missing ETags, redirects to another host)::

    def test_x(httpserver: HTTPServer) -> None:
        server = scripted(httpserver)
        answer(server, "GET", "/billers/1", status=302, headers={"Location": "https://x/"})
        ...  # a client of crm_url(server)
        assert calls(server)[0].headers["Authorization"]

Paths are relative to ``API``, the scripted CRM's base path. An answer registered with
``once`` is served once, before the permanent ones (so: a dropped connection, then an
answer). A request nothing was registered for gets a 404 and is listed in
the server's ``assertions``.

``drop`` hangs up without answering; ``refuse_other_hosts`` stops a test from reaching any
host but loopback (a client that followed a redirect to another host would try to), and
lists the hosts it refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

API = "/api"
DROPPED = 599  # the status the server's log shows for a request ``drop`` hung up on
_UNSET: Any = object()


def scripted(httpserver: HTTPServer) -> HTTPServer:
    """pytest-httpserver's server (the ``httpserver`` fixture, cleared before each test),
    answering 404 (not 500, which a client retries) to a request nothing was registered
    for."""
    httpserver.no_handler_status_code = 404
    return httpserver


def crm_url(server: HTTPServer) -> str:
    """The base URL of the scripted CRM."""
    return server.url_for(API)


def origin(server: HTTPServer) -> str:
    """``http://host:port`` of the server (to name it as a proxy)."""
    return f"http://{server.host}:{server.port}"


def answer(
    server: HTTPServer,
    method: str,
    path: str,
    *,
    once: bool = False,
    status: int = 200,
    json: Any = _UNSET,
    body: str | bytes = b"",
    content_type: str = "text/plain",
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer ``method path`` with ``status`` and ``json`` (serialised; None is null) or
    ``body`` (of ``content_type``), plus ``headers``."""
    expect = server.expect_oneshot_request if once else server.expect_request
    handler = expect(API + path, method=method)
    if json is not _UNSET:
        handler.respond_with_json(json, status=status, headers=dict(headers or {}))
    else:
        handler.respond_with_data(
            body, status=status, headers=dict(headers or {}), content_type=content_type
        )


def drop(server: HTTPServer, method: str, path: str) -> None:
    """Hang up on the next ``method path`` without answering (a lost response)."""

    def hang_up(request: Request) -> Response:
        request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        return Response(status=DROPPED)  # never sent: the connection is gone

    server.expect_oneshot_request(API + path, method=method).respond_with_handler(hang_up)


def calls(server: HTTPServer) -> list[Request]:
    """The requests the server received, in order."""
    return [request for request, _response in server.log]


def refuse_other_hosts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Let name resolution (which every connection goes through) reach loopback only.

    Any other host is refused as if it did not exist and appended to the returned list,
    so a test can assert that nothing tried to reach it.
    """
    refused: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost":
            try:
                loopback = ipaddress.ip_address(name.strip("[]")).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                refused.append(name)
                raise socket.gaierror(socket.EAI_NONAME, f"{name}: refused by the test")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused
