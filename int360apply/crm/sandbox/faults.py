"""Fault injection for the sandbox CRM: latency, 503/429, dropped connections.

A WSGI middleware in front of the app. Which request gets which fault follows
from ``seed`` (one ``random.Random`` consulted once per request, in arrival
order), so a sequential run is reproducible. The ``/_sandbox/...`` staging
calls are never delayed or faulted: tests must be able to set the stage.

Fault kinds:

* ``unavailable`` — 503 with ``Retry-After``; nothing happens.
* ``rate_limited`` — 429 with ``Retry-After``; nothing happens.
* ``drop`` — the connection is closed without a response; nothing happens.
* ``lost_response`` — writes only: the write commits, then the connection is
  closed without a response, so the client cannot know it succeeded.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from int360apply.crm.sandbox.api_error import error_document
from int360apply.crm.sandbox.wsgi_run import run_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

FAULT_KINDS = ("unavailable", "rate_limited", "drop", "lost_response")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Read by the request log, so the log line says which fault a request got.
FAULT_ENVIRON_KEY = "int360.fault"


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. ``max_faults`` stops injecting after that many faults (tests)."""

    latency_ms: int = 0
    fail_rate: float = 0.0
    seed: int = 0
    retry_after: int = 1
    kinds: tuple[str, ...] = FAULT_KINDS
    max_faults: int | None = None
    writes_only: bool = False  # reads always answer: a plan is made, then its writes fail

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"fail rate must be between 0 and 1, not {self.fail_rate}")
        if self.latency_ms < 0 or self.retry_after < 0:
            raise ValueError("latency and Retry-After must not be negative")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s): {', '.join(sorted(unknown))}")


class DroppedConnection(ConnectionAbortedError):
    """Raised through the WSGI server, which then closes without a response."""


class FaultInjector:
    """WSGI middleware injecting the faults of a (replaceable) ``FaultConfig``."""

    def __init__(self, app: WSGIApplication, config: FaultConfig | None = None) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration and restart the random sequence from its seed."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._counts: Counter[str] = Counter()

    @property
    def injected(self) -> int:
        """How many faults were injected since the last ``configure``."""
        with self._lock:
            return self._counts.total()

    def counts(self) -> dict[str, int]:
        """Faults injected since the last ``configure``, per kind."""
        with self._lock:
            return dict(self._counts)

    def _decide(self, method: str) -> tuple[FaultConfig, str | None]:
        with self._lock:
            config = self._config
            if config.fail_rate <= 0.0:
                return config, None
            if config.max_faults is not None and self._counts.total() >= config.max_faults:
                return config, None
            if config.writes_only and method not in WRITE_METHODS:
                return config, None
            # Always draw, so whether a request is faulted depends only on its rank.
            roll = self._rng.random()
            kinds = [k for k in config.kinds if k != "lost_response" or method in WRITE_METHODS]
            if roll >= config.fail_rate or not kinds:
                return config, None
            kind = self._rng.choice(kinds)
            self._counts[kind] += 1
            return config, kind

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/_sandbox/"):
            return self._app(environ, start_response)
        config, kind = self._decide(str(environ.get("REQUEST_METHOD", "GET")))
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        if kind is None:
            return self._app(environ, start_response)
        environ[FAULT_ENVIRON_KEY] = kind
        if kind == "unavailable":
            return _error(start_response, "503 SERVICE UNAVAILABLE", "unavailable", config)
        if kind == "rate_limited":
            return _error(start_response, "429 TOO MANY REQUESTS", "rate_limited", config)
        if kind == "lost_response":
            run_app(self._app, environ)  # the write commits; its answer is lost
        _drop(environ)


def _error(
    start_response: StartResponse, status: str, code: str, config: FaultConfig
) -> list[bytes]:
    message = f"injected fault: {code}; retry after {config.retry_after} s"
    body = json.dumps(error_document(code, message)).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(config.retry_after)),
        ],
    )
    return [body]


def _drop(environ: WSGIEnvironment) -> NoReturn:
    """Close the client connection without a response: the server closes it on this
    exception (waitress gives no socket to the app; a server that does, like
    werkzeug's, is shut here at once)."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already gone: the client sees the same
            sock.shutdown(socket.SHUT_RDWR)
    raise DroppedConnection("injected fault: connection dropped")
