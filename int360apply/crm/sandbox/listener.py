"""The sandbox's socket and threads: waitress on a loopback port with our
connection class and limits, running the app with its answer buffered whole,
stoppable from any thread.

waitress reads requests in one I/O thread and hands only *complete* requests to
a fixed pool of worker threads: a client that sends half a request holds no
thread, the thread count is bounded whatever the number of connections, and a
body over the limit, announced or chunked, gets 413 before it is read any further.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from waitress import wasyncore
from waitress.channel import ClientDisconnected
from waitress.server import TcpWSGIServer

from int360apply.crm.sandbox.app import MAX_BODY
from int360apply.crm.sandbox.channel import Channel
from int360apply.crm.sandbox.wsgi_run import run_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("int360apply.crm.sandbox")

HOST = "127.0.0.1"

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

# waitress's settings (its ``Adjustments``) from the limits above, for every listener.
WAITRESS_SETTINGS: dict[str, Any] = {
    "threads": THREADS,
    "connection_limit": CONNECTION_LIMIT,
    "max_request_body_size": BODY_LIMIT,
    "max_request_header_size": HEADER_LIMIT,
    "channel_timeout": IDLE_TIMEOUT,
    "cleanup_interval": min(IDLE_TIMEOUT, 30),
    "asyncore_use_poll": True,  # select() cannot watch descriptors above 1023
    "ident": "int360-sandbox",
    "clear_untrusted_proxy_headers": False,
}


class Listener:
    """waitress on ``host:port`` with our channel and limits, stoppable from any thread."""

    def __init__(self, host: str, port: int, app: WSGIApplication) -> None:
        self._map: dict[int, Any] = {}
        self._waitress = TcpWSGIServer(
            _Buffered(app), map=self._map, host=host, port=port, **WAITRESS_SETTINGS
        )
        self._waitress.channel_class = Channel
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


class _Buffered:
    """The app run to completion with its body buffered (the sandbox's answers are
    small), so every response has a ``Content-Length``; an injected drop closes the
    connection without a response, and anything raised around Flask still gets the
    contract's JSON 500 and a closed connection."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        try:
            status, headers, chunks = run_app(self._app, environ)
        except ConnectionError:
            raise ClientDisconnected from None  # waitress closes without answering
        except Exception:
            # waitress answers it (a JSON 500, see channel.JsonErrorTask) and closes the connection.
            log.exception("error on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            raise
        data = b"".join(chunks)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(data)))])
        return [data]
