"""A small TCP fault proxy for the tests: it sits between a client and the sandbox CRM
on 127.0.0.1 and, per request, passes it through or injects one of:

* ``drop_mid_request`` — forwards the request head and only half of the body (half the
  head when there is no body) to the server, then closes both connections: the server
  never sees a whole request, the client never sees a response;
* ``stall`` — forwards the whole request, waits for the server's response, then holds it
  past the client's read timeout and closes without sending it;
* ``lost_response`` — forwards the whole request, reads the server's whole response (the
  write has committed) and closes the client's connection without sending it.

It handles one request per client connection (it asks the server for
``Connection: close`` and passes that on, so the client never reuses a connection).
``on_fault`` is called after each injected fault, once the server is done with the
request, so a test can read the biller back at that moment.
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MODES = ("drop_mid_request", "stall", "lost_response")
_HEADER_END = b"\r\n\r\n"
_BID = re.compile(r"^/billers/([0-9]+)(?:/|$)")


@dataclass(frozen=True)
class Fault:
    """One injected fault: which, on which request."""

    mode: str
    method: str
    path: str

    @property
    def bid(self) -> int | None:
        """The biller the request was about, if any."""
        found = _BID.match(self.path)
        return int(found.group(1)) if found else None


class FaultProxy:
    """A threaded TCP proxy to ``127.0.0.1:upstream_port`` that injects faults."""

    def __init__(
        self,
        upstream_port: int,
        *,
        fail_rate: float,
        seed: int = 0,
        modes: tuple[str, ...] = MODES,
        stall_seconds: float = 0.6,
        settle_seconds: float = 0.05,
        on_fault: Callable[[Fault], None] | None = None,
    ) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.fail_rate = fail_rate
        self.modes = modes
        self.stall_seconds = stall_seconds
        self.settle_seconds = settle_seconds
        self.on_fault = on_fault
        self.faults: list[Fault] = []
        self.passed = 0
        self.errors: list[str] = []
        self._rng = random.Random(seed)
        self._write_faults: dict[str, int] = {}
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._acceptor.start()

    # -- lifecycle ------------------------------------------------------------------

    def stop(self) -> None:
        """Stop accepting, wait for the connections in flight."""
        self._stopping.set()
        self._acceptor.join(timeout=5)
        for thread in list(self._threads):
            thread.join(timeout=self.stall_seconds + 5)
        self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def counts(self) -> dict[str, int]:
        """Faults injected so far, per mode."""
        with self._lock:
            out = dict.fromkeys(self.modes, 0)
            for fault in self.faults:
                out[fault.mode] += 1
            return out

    # -- plumbing -------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _decide(self, method: str, path: str) -> str | None:
        """Whether to fault this request, and how. Each write method takes the modes in
        turn, so every mode hits a PATCH even in a short run."""
        with self._lock:
            if self._rng.random() >= self.fail_rate:
                return None
            if method in ("PATCH", "POST", "PUT", "DELETE"):
                turn = self._write_faults.get(method, 0)
                self._write_faults[method] = turn + 1
                return self.modes[turn % len(self.modes)]
            return self._rng.choice(self.modes)

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(10)
                request = _read_request(conn)
                if request is None:
                    return
                head, body = request
                method, path = _request_line(head)
                mode = self._decide(method, path)
                if mode == "drop_mid_request":
                    self._drop_mid_request(head, body)
                    conn.shutdown(socket.SHUT_RDWR)
                    self._record(Fault(mode, method, path), settle=True)
                    return
                response = self._forward(_close_after(head), body)
                if mode is None:
                    conn.sendall(response)
                    with self._lock:
                        self.passed += 1
                    return
                if mode == "stall":
                    time.sleep(self.stall_seconds)
                conn.shutdown(socket.SHUT_RDWR)
                self._record(Fault(mode, method, path), settle=False)
        except OSError as exc:  # the client gave up first: nothing to do
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _record(self, fault: Fault, *, settle: bool) -> None:
        with self._lock:
            self.faults.append(fault)
        if settle:
            time.sleep(self.settle_seconds)  # let the server finish with the broken request
        if self.on_fault is not None:
            self.on_fault(fault)

    def _drop_mid_request(self, head: bytes, body: bytes) -> None:
        with socket.create_connection(self.upstream, timeout=10) as up:
            if body:
                up.sendall(_close_after(head) + body[: max(1, len(body) // 2)])
            else:
                up.sendall(head[: len(head) // 2])
            up.shutdown(socket.SHUT_RDWR)

    def _forward(self, head: bytes, body: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=30) as up:
            up.sendall(head + body)
            chunks = []
            while True:
                chunk = up.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)


def _read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 request: its head (through the blank line) and its body."""
    data = b""
    while _HEADER_END not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    end = data.index(_HEADER_END) + len(_HEADER_END)
    head, body = data[:end], data[end:]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body[:length]


def _request_line(head: bytes) -> tuple[str, str]:
    method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    return method, target.split("?", 1)[0]


def _close_after(head: bytes) -> bytes:
    """The head with ``Connection: close`` (one request per connection)."""
    lines = head[: -len(_HEADER_END)].split(b"\r\n")
    kept = [line for line in lines if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*kept, b"Connection: close"]) + _HEADER_END
