"""Run the sandbox CRM: in the foreground (``int360 sandbox serve``) or in a
background thread (the embedded default of ``plan``/``apply``, and tests).

Both serve over waitress on 127.0.0.1, so the embedded default is real HTTP,
exactly like a remote CRM. waitress reads requests in one I/O thread and hands
only *complete* requests to a fixed pool of worker threads: a client that sends
half a request holds no thread, the thread count is bounded whatever the number
of connections, and a body over the limit, announced or chunked, gets 413
before it is read any further.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from waitress import wasyncore
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import BadRequest

from int360apply.crm import IO_SWITCH_INTERVAL, Profile
from int360apply.crm.sandbox.app import MAX_BODY, create_app
from int360apply.crm.sandbox.faults import FaultConfig, FaultInjector
from int360apply.crm.sandbox.options import Token
from int360apply.crm.sandbox.patching import InvalidPatch, SettingsPatcher
from int360apply.crm.sandbox.seeding import SeedBiller, split
from int360apply.crm.sandbox.store import Store
from int360apply.schemas import Schemas, SchemaSetupError, schemas_for

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

HOST = "127.0.0.1"
log = logging.getLogger("int360apply.crm.sandbox")

ProfileLike = Profile | tuple[int, str, int] | SeedBiller

# Worker threads: requests served at once. Injected latency sleeps in a worker, so
# this bounds the throughput of a slow sandbox (8 / 20 ms = 400 requests a second),
# matching the applier's default concurrency of 8. Each thread costs address space
# (its stack, and a malloc arena once it allocates): 16 no longer start under the
# 1 GiB limit the reliability tests give a child process.
THREADS = 8
# Open connections accepted at once (each costs a file descriptor, not a thread).
CONNECTION_LIMIT = 1000
# A request body over this size gets 413 (the app's own limit: one place decides).
BODY_LIMIT = MAX_BODY
# The request line and headers together; over it: 431.
HEADER_LIMIT = 64 << 10
# An idle kept-alive connection (or a half-sent request) is closed after this many seconds.
IDLE_TIMEOUT = 30.0
# After an error answered before the request was read whole (413, 431, 400), read and
# drop up to this much more, waiting this long, before closing ("lingering close").
LINGER_LIMIT = 16 << 20
LINGER_TIMEOUT = 2.0

_ERROR_CODES = {413: "payload_too_large", 500: "internal"}


class _JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's answer to a request it refuses itself (431, 413, a malformed
    request: 400), in the contract's JSON error shape."""

    def execute(self) -> None:
        error = self.request.error
        code = _ERROR_CODES.get(error.code, str(error.code))
        message = "internal error" if error.code == 500 else f"{error.reason}: {error.body}"
        body = json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.channel.linger_on_close = True
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    """waitress's connection, plus two things a client deserves.

    A request cut short (the client closed its side before the body it announced
    was complete) is answered 400 instead of silence. After an error answered
    before the request was read (a body over the limit: 413), the connection is
    half-closed and what the client still sends is read and dropped for a bounded
    time before closing: closing with unread data resets the connection, and the
    client, still sending, would see the reset instead of our answer.
    """

    error_task_class = _JsonErrorTask
    logger = log
    linger_on_close = False
    _linger_until = 0.0
    _linger_left = 0

    def readable(self) -> bool:
        if self._linger_until:
            if time.monotonic() < self._linger_until:
                return True
            super().handle_close()
            return False
        return bool(super().readable())

    def writable(self) -> bool:
        return not self._linger_until and bool(super().writable())

    def handle_close(self) -> None:
        if self.linger_on_close and not self._linger_until and self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is flushed: FIN after it
            except OSError:
                super().handle_close()
                return
            self._linger_until = time.monotonic() + LINGER_TIMEOUT
            self._linger_left = LINGER_LIMIT
            return
        super().handle_close()

    def handle_read(self) -> None:
        try:
            data = self.socket.recv(self.adj.recv_bytes)
        except BlockingIOError:
            return
        except OSError:
            super().handle_close()
            return
        if self._linger_until:
            self._linger_left -= len(data)
            if not data or self._linger_left <= 0:
                super().handle_close()
            return
        if data:
            self.last_activity = time.time()
            self.received(data)
            return
        with self.requests_lock:
            request: Any = cast(Any, self).request  # untyped in waitress
            if request is None or not request.headers_finished or self.requests:
                self.connected = False
                super().handle_close()
                return
            self.request = None
            request.error = BadRequest("the connection ended before the request body was complete")
            request.completed = True
            self.requests.append(request)
            self.server.add_task(self)


class _Server:
    """waitress on ``host:port`` with our channel and limits, stoppable from any thread."""

    def __init__(self, host: str, port: int, app: WSGIApplication) -> None:
        self._map: dict[int, Any] = {}
        self._waitress = TcpWSGIServer(
            _Guarded(app),
            map=self._map,
            host=host,
            port=port,
            threads=THREADS,
            connection_limit=CONNECTION_LIMIT,
            max_request_body_size=BODY_LIMIT,
            max_request_header_size=HEADER_LIMIT,
            channel_timeout=IDLE_TIMEOUT,
            cleanup_interval=min(IDLE_TIMEOUT, 30),
            asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
            ident="int360-sandbox",
            clear_untrusted_proxy_headers=False,
        )
        self._waitress.channel_class = _Channel
        self.server_port = int(self._waitress.effective_port)
        self._stopped = threading.Event()
        self._serving = threading.Event()

    def serve_forever(self, poll_interval: float = 1.0) -> None:
        """Serve until ``shutdown`` (or Ctrl-C in the main thread)."""
        self._serving.set()
        try:
            while not self._stopped.is_set():
                wasyncore.poll2(poll_interval, self._map)
            self._close_connections()
        finally:
            self._serving.clear()

    def shutdown(self) -> None:
        """Stop serving: the I/O loop ends every connection and returns."""
        self._stopped.set()
        with contextlib.suppress(OSError):  # already closed: nothing left to wake
            self._waitress.trigger.pull_trigger()

    def _close_connections(self) -> None:
        # Only the thread running the I/O loop (or, once it is gone, the closer)
        # touches the map. The trigger stays open: a worker still finishing a
        # request pulls it, and a closed descriptor may already be someone else's.
        for dispatcher in list(self._map.values()):
            if dispatcher is self._waitress:
                wasyncore.dispatcher.close(dispatcher)  # its own close() closes the trigger
            elif dispatcher is not self._waitress.trigger:
                dispatcher.close()

    def server_close(self, timeout: float = 10.0) -> None:
        """After ``shutdown``: wait for the I/O loop, stop the workers, close everything."""
        self._stopped.set()
        deadline = time.monotonic() + timeout
        while self._serving.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._waitress.task_dispatcher.shutdown(timeout=5)
        if not self._serving.is_set():
            self._close_connections()
            self._waitress.trigger.close()

    def close_connections(self) -> None:
        """Kept for callers of the former server: connections end with ``server_close``."""


class _Guarded:
    """The app run to completion with its body buffered (the sandbox's answers are
    small), so every response has a ``Content-Length``; an injected drop closes the
    connection without a response, and anything raised around Flask still gets the
    contract's JSON 500 and a closed connection."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        try:
            status, headers, chunks = _call(self._app, environ)
        except ConnectionError:
            raise ClientDisconnected from None  # waitress closes without answering
        except Exception:
            # waitress answers it (a JSON 500, see _JsonErrorTask) and closes the connection.
            log.exception("error on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            raise
        data = b"".join(chunks)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(data)))])
        return [data]


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
        close: Callable[[], None] | None = getattr(result, "close", None)
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

    ``profiles`` (``Profile``, ``(bid, name, integrator_id)`` or ``SeedBiller``
    with settings) seed a new database, unless ``seed`` is False; a database
    seeded before gets nothing (see ``Store.seed``). ``port=0`` picks a free port.
    """
    if schemas is None:
        schemas = schemas_for(schema_dir if schema_dir is not None else find_schema_dir())
    store = Store(db_path)
    try:
        if seed and not store.seeded():
            added = _seed(store, schemas, list(profiles))
            log.info("seeded %d biller profile(s) into the new database %s", added, db_path)
        app = create_app(store, schemas, tokens=tokens, faults=faults)
        server = _Server(HOST, port, app)
    except BaseException:
        store.close()
        raise
    return SandboxServer(server, store, app.extensions["int360_faults"])


def _seed(store: Store, schemas: Schemas, items: list[ProfileLike]) -> int:
    """Seed ``store`` with ``items``; their settings go through the CRM's own checks."""
    billers = split(items)
    patcher = SettingsPatcher(schemas)
    settings = {}
    for biller in billers:
        if biller.settings is not None:
            try:
                settings[biller.profile.bid] = patcher.apply({}, biller.settings)
            except InvalidPatch as exc:
                first = exc.errors[0] if exc.errors else None
                where = f"{first.path}: {first.message}" if first else "invalid"
                raise ValueError(f"seed settings of {biller.profile.bid}: {where}") from None
    return store.seed([b.profile for b in billers], settings)


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
