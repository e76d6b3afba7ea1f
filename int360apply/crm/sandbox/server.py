"""Run the sandbox CRM: in the foreground (``int360 sandbox serve``) or in a
background thread (the embedded default of ``plan``/``apply``, and tests).

Both use werkzeug's threaded server on 127.0.0.1 (one thread per connection),
so the embedded default is real HTTP, exactly like a remote CRM.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from int360apply.crm import Profile
from int360apply.crm.sandbox.app import create_app
from int360apply.crm.sandbox.faults import DROPPED_ENVIRON_KEY, FaultConfig, FaultInjector
from int360apply.crm.sandbox.options import (
    Token,
)
from int360apply.crm.sandbox.store import Store
from int360apply.schemas import Schemas, SchemaSetupError, schemas_for

HOST = "127.0.0.1"
log = logging.getLogger("int360apply.crm.sandbox")

ProfileLike = Profile | tuple[int, str, int]


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's request handler, minus what could leak request data into logs.

    Errors http.server answers itself (a header line over 64 KiB: 431; a
    malformed request line: 400) use the contract's JSON error shape.
    """

    error_content_type = "application/json"
    error_message_format = (
        '{"error": {"code": "%(code)d", "message": "%(message)s", "details": []}}'
    )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the app logs each request itself, without the query string

    def log_error(self, format: str, *args: Any) -> None:
        # http.server puts the raw request line (which may be body bytes) in these.
        log.warning("rejected a malformed HTTP request from %s", self.address_string())

    def run_wsgi(self) -> None:
        super().run_wsgi()
        if getattr(self, "environ", {}).get(DROPPED_ENVIRON_KEY):
            # A dropped connection has no response; do not read an unread body
            # left in the buffer as the next request.
            self.close_connection = True


class SandboxServer:
    """A running sandbox CRM: ``url``, ``store`` and ``faults``; ``stop()`` ends it."""

    def __init__(self, server: BaseWSGIServer, store: Store, faults: FaultInjector) -> None:
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
        server = make_server(HOST, port, app, threaded=True, request_handler=_QuietHandler)
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
