"""A scripted CRM for the tests: a real HTTP/1.1 server on 127.0.0.1 that answers what a
test registered, and records every request it received.

It stands in for a CRM that breaks the contract (things the sandbox never does: HTML
bodies, missing ETags, redirects to another host), whatever transport the client uses::

    with ScriptedCrm() as crm:
        route = crm.add("GET", "/billers/1", status=302, headers={"Location": "https://x/"})
        ...  # a client of crm.url
        assert route.call_count == 1 and route.calls[0].headers["Authorization"]

Answers for one (method, path) are served in the order registered, the last one
repeating. A request nothing was registered for gets a 404 with the contract's error
body and is listed in ``unmatched``.

``refuse_other_hosts`` stops a test from reaching any host but loopback (a client that
followed a redirect to another host would try to), and lists the hosts it refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json as json_module
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

BASE_PATH = "/api"
_UNSET: Any = object()


class Headers(Mapping[str, str]):
    """Request headers as received, looked up case-insensitively (the first of repeats)."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items_received = items
        self._first: dict[str, str] = {}
        for name, value in items:
            self._first.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def __repr__(self) -> str:
        return f"Headers({self.items_received!r})"


@dataclass(frozen=True)
class Call:
    """One request as the server received it.

    ``url`` is the whole URL, query string included; ``path`` is relative to the base
    path and without the query (the raw path when outside the base path).
    """

    method: str
    url: str
    path: str
    query: str
    headers: Headers
    body: bytes


@dataclass(frozen=True)
class Answer:
    """A canned response, or ``drop``: close the connection without answering."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False


@dataclass
class Route:
    """One registration: the request it answers, its answer, the requests it answered."""

    method: str
    path: str
    query: str | None  # None: any query string
    answer: Answer
    calls: list[Call] = field(default_factory=list)
    spent: bool = False  # served once, and a later registration answers the same requests

    @property
    def call_count(self) -> int:
        """How many requests this registration answered."""
        return len(self.calls)

    def matches(self, method: str, path: str, query: str) -> bool:
        """Whether a request is one this registration is for."""
        if method != self.method or path != self.path:
            return False
        return self.query is None or sorted(parse_qsl(query, keep_blank_values=True)) == sorted(
            parse_qsl(self.query, keep_blank_values=True)
        )


def _encode(json: Any, body: str | bytes, content_type: str | None) -> tuple[bytes, str]:
    """The body bytes and Content-Type of an answer (JSON: application/json; else text/plain)."""
    if json is not _UNSET:
        if body:
            raise ValueError("give json or body, not both")
        return json_module.dumps(json).encode(), content_type or "application/json"
    if isinstance(body, str):
        if content_type is None:
            content_type = "text/plain" if body.isascii() else "text/plain; charset=utf-8"
        return body.encode(), content_type
    return body, content_type or "text/plain"


def _not_found(method: str, path: str) -> Answer:
    error = {
        "error": {
            "code": "not_found",
            "message": f"the scripted CRM has no answer for {method} {path}",
            "details": [],
        }
    }
    return Answer(404, json_module.dumps(error).encode(), (("Content-Type", "application/json"),))


class ScriptedCrm:
    """A threaded HTTP/1.1 server on 127.0.0.1 (any free port) giving scripted answers."""

    def __init__(self, base_path: str = BASE_PATH) -> None:
        self.base_path = base_path.rstrip("/")
        self.calls: list[Call] = []
        self.unmatched: list[Call] = []
        self.errors: list[BaseException] = []
        self._routes: list[Route] = []
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.origin = f"http://{host!s}:{port}"
        self.url = self.origin + self.base_path
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scripted-crm",
            daemon=True,
        )
        self._thread.start()

    # -- scripting ----------------------------------------------------------------------

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = _UNSET,
        body: str | bytes = b"",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        drop: bool = False,
    ) -> Route:
        """Answer ``method path`` (relative to the base path) with ``status`` and ``json``
        (serialised; ``None`` is JSON null) or ``body``, plus ``headers``; or, with
        ``drop``, close the connection without answering.

        A ``path`` with ``?query`` matches that query only (in any order); without, any.
        """
        data, ctype = _encode(json, body, content_type)
        sent = dict(headers or {})
        if not any(name.lower() == "content-type" for name in sent):
            sent["Content-Type"] = ctype
        parts = urlsplit(path)
        route = Route(
            method.upper(),
            parts.path,
            parts.query if "?" in path else None,
            Answer(status, data, tuple(sent.items()), drop),
        )
        with self._lock:
            self._routes.append(route)
        return route

    def get(self, path: str, **kwargs: Any) -> Route:
        """``add("GET", path, ...)``."""
        return self.add("GET", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Route:
        """``add("PATCH", path, ...)``."""
        return self.add("PATCH", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Route:
        """``add("POST", path, ...)``."""
        return self.add("POST", path, **kwargs)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving, close the listening socket and every connection still open.

        Raises ``AssertionError`` if the server itself failed while answering (its
        traceback is on stderr): a test must not pass on a broken script.
        """
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_now = list(self._connections.items())
        for conn, _thread in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        for _conn, thread in open_now:
            thread.join(timeout=5)
        self._thread.join(timeout=5)
        if self.errors:
            raise AssertionError(f"the scripted CRM failed while answering: {self.errors!r}")

    def __enter__(self) -> ScriptedCrm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving (called from the handler threads) ----------------------------------------

    def _answer(self, call: Call, *, inside: bool) -> Answer:
        """Record ``call`` and pick its answer (none outside the base path)."""
        with self._lock:
            self.calls.append(call)
            matching = [
                r
                for r in self._routes
                if inside and not r.spent and r.matches(call.method, call.path, call.query)
            ]
            if not matching:
                self.unmatched.append(call)
                return _not_found(call.method, call.path)
            route = matching[0]
            route.spent = len(matching) > 1
            route.calls.append(call)
            return route.answer

    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections[conn] = threading.current_thread()

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.pop(conn, None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, crm: ScriptedCrm) -> None:
        self.crm = crm
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can be slow; not needed.
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up is not a failure; anything else fails the test at close."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        if exc is not None:
            self.crm.errors.append(exc)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client may reuse its connections
    timeout = 30  # an idle kept-alive connection ends on its own eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.crm._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.crm._closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``ScriptedCrm.calls`` instead."""

    def _body(self) -> bytes:
        """The whole request body (Content-Length or chunked), read before answering."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        crm = self.server.crm
        body = self._body()
        target = urlsplit(self.path)
        inside = target.path == crm.base_path or target.path.startswith(crm.base_path + "/")
        path = (target.path[len(crm.base_path) :] or "/") if inside else target.path
        url = self.path if target.netloc else crm.origin + self.path
        call = Call(
            self.command,
            url,
            path,
            target.query,
            Headers(list(self.headers.items())),
            body,
        )
        answer = crm._answer(call, inside=inside)
        if answer.drop:
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)
        self.wfile.flush()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


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
