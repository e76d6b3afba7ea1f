"""Run the sandbox CRM: in the foreground (``int360 sandbox serve``) or in a
background thread (the embedded default of ``plan``/``apply``, and tests).

Both serve over waitress on 127.0.0.1 (``listener``), so the embedded default is
real HTTP, exactly like a remote CRM. This module owns the lifecycle: open and
seed the database, bind, serve, stop.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from int360apply.crm import IO_SWITCH_INTERVAL, Profile
from int360apply.crm.sandbox.app import create_app
from int360apply.crm.sandbox.faults import FaultConfig, FaultInjector
from int360apply.crm.sandbox.listener import HOST, Listener
from int360apply.crm.sandbox.options import Token
from int360apply.crm.sandbox.patching import InvalidPatch, SettingsPatcher
from int360apply.crm.sandbox.seeding import SeedBiller, split
from int360apply.crm.sandbox.store import Store
from int360apply.errors import Failure
from int360apply.schemas import Schemas, SchemaSetupError, schemas_for

log = logging.getLogger("int360apply.crm.sandbox")

ProfileLike = Profile | tuple[int, str, int] | SeedBiller


class SandboxOptions(TypedDict, total=False):
    """How ``build_server`` opens and serves a sandbox; every key may be left out.

    ``schemas`` (default: read from ``schema_dir``, else from the nearest
    ``schemas/``); ``seed`` (default True: seed a new database); ``tokens``
    (default none: every request is accepted as a write, see ``auth``);
    ``faults`` (default none); ``port`` (default 0: a free one).
    """

    schemas: Schemas | None
    schema_dir: Path | None
    seed: bool
    tokens: Iterable[Token]
    faults: FaultConfig | None
    port: int


class SandboxServer:
    """A running sandbox CRM: ``url``, ``store`` and ``faults``; ``stop()`` ends it."""

    def __init__(self, server: Listener, store: Store, faults: FaultInjector) -> None:
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
    db_path: Path, profiles: Iterable[ProfileLike] = (), **options: Unpack[SandboxOptions]
) -> SandboxServer:
    """Open (and seed) the database and bind the server on 127.0.0.1; not serving yet.

    ``profiles`` (``Profile``, ``(bid, name, integrator_id)`` or ``SeedBiller``
    with settings) seed a new database, unless ``options`` say ``seed=False``; a
    database seeded before gets nothing (see ``Store.seed``).
    """
    if unknown := options.keys() - SandboxOptions.__optional_keys__:
        raise TypeError(f"unknown sandbox options: {', '.join(sorted(unknown))}")
    schemas = options.get("schemas")
    if schemas is None:
        schema_dir = options.get("schema_dir")
        schemas = schemas_for(schema_dir if schema_dir is not None else find_schema_dir())
    store = Store(db_path)
    try:
        if options.get("seed", True) and not store.seeded():
            added = _seed(store, schemas, list(profiles))
            log.info("seeded %d biller profile(s) into the new database %s", added, db_path)
        app = create_app(
            store, schemas, tokens=options.get("tokens", ()), faults=options.get("faults")
        )
        server = Listener(HOST, options.get("port", 0), app)
    except BaseException:
        store.close()
        raise
    return SandboxServer(server, store, app.extensions["int360_faults"])


class InvalidSeed(Failure):
    """A biller's merged settings, meant to seed a new sandbox, break the CRM's rules
    (``sandbox serve`` loads files it has not validated); exit 1, nothing served."""


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
                raise InvalidSeed(
                    f"cannot seed the sandbox: the settings of biller {biller.profile.bid} "
                    f"are invalid ({where}); int360 validate names the file to fix"
                ) from None
    return store.seed([b.profile for b in billers], settings)


def start_background(
    db_path: Path, profiles: Iterable[ProfileLike] = (), **options: Unpack[SandboxOptions]
) -> SandboxServer:
    """Start the sandbox CRM in a daemon thread, on an ephemeral loopback port unless
    ``options`` name one (see ``build_server``).

    Returns the running server (``.url``, ``.stop()``; also a context manager).
    With no ``tokens`` it accepts any request (see ``auth``).
    """
    server = build_server(db_path, profiles, **options)
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
