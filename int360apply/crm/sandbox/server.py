"""Run the sandbox CRM: in the foreground (``int360 sandbox serve``) or in a
background thread (the embedded default of ``plan``/``apply``, and tests).

Both use werkzeug's threaded server on 127.0.0.1 (one thread per connection),
so the embedded default is real HTTP, exactly like a remote CRM.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

from int360apply.crm import IO_SWITCH_INTERVAL, Profile
from int360apply.crm.sandbox.app import create_app
from int360apply.crm.sandbox.faults import FaultConfig, FaultInjector
from int360apply.crm.sandbox.options import Token
from int360apply.crm.sandbox.store import Store
from int360apply.schemas import Schemas, SchemaSetupError, schemas_for

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

HOST = "127.0.0.1"
log = logging.getLogger("int360apply.crm.sandbox")

ProfileLike = Profile | tuple[int, str, int]


# An unread request body (an error answered before reading it) up to this size is
# read and dropped so the connection can serve the next request; a larger one closes it.
DRAIN_LIMIT = 1 << 20
# An idle kept-alive connection is closed after this many seconds.
IDLE_TIMEOUT = 30.0
# Before closing on an unread body, read and drop up to this much, waiting this long.
LINGER_LIMIT = 16 << 20
LINGER_TIMEOUT = 2.0


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, knowing its open connections so ``stop`` can end them."""

    def __init__(self, host: str, port: int, app: WSGIApplication) -> None:
        super().__init__(host, port, app, _QuietHandler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        """Shut every open connection: a kept-alive one must not outlive the server."""
        with self.connections_lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's request handler with HTTP/1.1 keep-alive, and nothing from a request
    in the logs.

    werkzeug closes every connection after one response (http.server cannot skip
    an unread request body, so werkzeug drains the socket, which would swallow a
    kept-alive client's next request). Here ``run_wsgi`` is our own: the body is
    read through a ``LimitedStream`` of its ``Content-Length`` and whatever the
    app left unread is drained after the response, so a client's pooled
    connection serves request after request: one TCP handshake and one thread
    per connection, not per request. The response is buffered (the sandbox's
    are small) and always has a ``Content-Length``.

    Errors http.server answers itself (a header line over 64 KiB: 431; a
    malformed request line: 400) use the contract's JSON error shape.
    """

    server: _Server
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True
    error_content_type = "application/json"
    error_message_format = (
        '{"error": {"code": "%(code)d", "message": "%(message)s", "details": []}}'
    )

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the app logs each request itself, without the query string

    def log_error(self, format: str, *args: Any) -> None:
        # http.server puts the raw request line (which may be body bytes) in these.
        log.warning("rejected a malformed HTTP request from %s", self.address_string())

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        body: LimitedStream | None = None
        if not environ.get("wsgi.input_terminated"):  # a chunked body is not kept alive
            raw = environ.get("CONTENT_LENGTH") or "0"
            if raw.isdigit():
                body = LimitedStream(self.rfile, int(raw))  # type: ignore[arg-type]
                environ["wsgi.input"] = body
        try:
            status, headers, chunks = _call(self.server.app, environ)
        except (ConnectionError, TimeoutError):
            # A dropped connection (injected, or the client's) gets no response; an
            # unread body must not be read as the next request.
            self.close_connection = True
            return
        except Exception:
            log.exception("error on %s %s", self.command, environ.get("PATH_INFO"))
            status, headers, chunks = _INTERNAL_ERROR
            self.close_connection = True
        if body is None or body.limit - body.tell() > DRAIN_LIMIT:
            self.close_connection = True
        elif not self.close_connection:
            try:
                body.exhaust()  # what the app left unread, so the next request starts clean
            except Exception:  # the client sent less than it announced, or went away
                self.close_connection = True
        self._respond(status, headers, b"".join(chunks))
        if self.close_connection and body is not None:
            self._linger(body)

    def _linger(self, body: LimitedStream) -> None:
        """Read what is left of a body we answered without reading, before closing: a
        close with unread data resets the connection, and the client, still sending,
        would see that instead of our response (a bounded "lingering close")."""
        with contextlib.suppress(Exception):
            self.connection.settimeout(LINGER_TIMEOUT)
            left = min(body.limit - body.tell(), LINGER_LIMIT)
            while left > 0 and (chunk := self.rfile.read1(min(left, 65536))):
                left -= len(chunk)

    def _respond(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write: two small writes on a kept-alive connection
        # would wait out the client's delayed ACK.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
        self.flush_headers()


_INTERNAL_ERROR = (
    "500 INTERNAL SERVER ERROR",
    [("Content-Type", "application/json")],
    [b'{"error": {"code": "internal", "message": "internal error", "details": []}}'],
)


def _call(
    app: WSGIApplication, environ: WSGIEnvironment
) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Run a WSGI app to completion: its status, headers and body chunks."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [(status, list(headers))]
        return written.append

    result = app(environ, start_response)
    try:
        chunks = [*written, *result]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the app returned without start_response")
    return started[0][0], started[0][1], chunks


class SandboxServer:
    """A running sandbox CRM: ``url``, ``store`` and ``faults``; ``stop()`` ends it."""

    def __init__(self, server: _Server, store: Store, faults: FaultInjector) -> None:
        self._server = server
        self.store = store
        self.faults = faults
        self.url = f"http://{HOST}:{server.server_port}"
        self._thread: threading.Thread | None = None

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"int360-sandbox-{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop()`` (from another thread) or Ctrl-C."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving, close the socket and the database. Idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()
        self._server.close_connections()
        self.store.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def find_schema_dir(start: Path | None = None) -> Path:
    """The nearest ``schemas/`` with a settings schema, from ``start`` (cwd) upward."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "schemas" / "settings.schema.json").is_file():
            return folder / "schemas"
    raise FileNotFoundError(f"no schemas/settings.schema.json in {here} or above it")


def build_server(
    db_path: Path,
    profiles: Iterable[ProfileLike] = (),
    *,
    schemas: Schemas | None = None,
    schema_dir: Path | None = None,
    seed: bool = True,
    tokens: Iterable[Token] = (),
    faults: FaultConfig | None = None,
    port: int = 0,
) -> SandboxServer:
    """Open (and seed) the database and bind the server on 127.0.0.1:``port``; not serving yet.

    ``profiles`` are added when never seeded before (unless ``seed`` is
    False); see ``Store.seed``. ``port=0`` picks a free port.
    """
    if schemas is None:
        schemas = schemas_for(schema_dir if schema_dir is not None else find_schema_dir())
    store = Store(db_path)
    try:
        if seed:
            added = store.seed(Profile(*p) for p in profiles)
            if added:
                log.info("seeded %d new biller profile(s) into %s", added, db_path)
        app = create_app(store, schemas, tokens=tokens, faults=faults)
        server = _Server(HOST, port, app)
    except BaseException:
        store.close()
        raise
    return SandboxServer(server, store, app.extensions["int360_faults"])


def start_background(
    db_path: Path,
    profiles: Iterable[ProfileLike] = (),
    *,
    schemas: Schemas | None = None,
    schema_dir: Path | None = None,
    seed: bool = True,
    tokens: Iterable[Token] = (),
    faults: FaultConfig | None = None,
    port: int = 0,
) -> SandboxServer:
    """Start the sandbox CRM in a daemon thread on an ephemeral loopback port.

    Returns the running server (``.url``, ``.stop()``; also a context manager).
    With no ``tokens`` it accepts any request (see ``app``).
    """
    server = build_server(
        db_path,
        profiles,
        schemas=schemas,
        schema_dir=schema_dir,
        seed=seed,
        tokens=tokens,
        faults=faults,
        port=port,
    )
    server._start_thread()
    return server


# -- int360 sandbox serve --------------------------------------------------------


def run_serve(
    args: argparse.Namespace,
    profiles: Iterable[ProfileLike],
    *,
    schema_dir: Path | None = None,
) -> int:
    """``int360 sandbox serve``: serve in the foreground until Ctrl-C; the exit code.

    ``profiles`` (one per biller file) are only read when seeding.
    """
    # Request threads hold the GIL for short bursts between waits; a thread woken by
    # its socket should not wait out Python's default 5 ms switch interval.
    sys.setswitchinterval(IO_SWITCH_INTERVAL)
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    faults = FaultConfig(latency_ms=args.latency_ms, fail_rate=args.fail_rate, seed=args.seed)
    tokens: Sequence[Token] = args.token
    try:
        schemas = schemas_for(schema_dir if schema_dir is not None else find_schema_dir())
    except (OSError, SchemaSetupError) as exc:
        print(f"int360 sandbox: {exc}", file=sys.stderr)
        return 1
    try:
        server = build_server(
            args.db,
            profiles,
            schemas=schemas,
            seed=not args.no_seed,
            tokens=tokens,
            faults=faults,
            port=args.port,
        )
    except OSError as exc:
        print(f"int360 sandbox: cannot serve on {HOST}:{args.port}: {exc}", file=sys.stderr)
        return 1
    auth = (
        f"{len(tokens)} token(s)" if tokens else "no tokens: every request is accepted as a write"
    )
    print(f"int360 sandbox CRM on {server.url} (db {args.db}; {auth}); Ctrl-C stops it", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
