"""The sandbox's connections under waitress: the JSON answer to a request
waitress refuses itself, and the connection that answers a request cut short
and lingers after an early error.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any, cast

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask
from waitress.utilities import BadRequest

from int360apply.crm.sandbox.api_error import HTTP_CODES, error_document

log = logging.getLogger("int360apply.crm.sandbox")

# After an error answered before the request was read whole (413, 431, 400), read and
# drop up to this much more, waiting this long, before closing ("lingering close").
LINGER_LIMIT = 16 << 20
LINGER_TIMEOUT = 2.0


class JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's answer to a request it refuses itself (431, 413, a malformed
    request: 400), in the contract's JSON error shape."""

    def execute(self) -> None:
        error = self.request.error
        code = HTTP_CODES.get(error.code, str(error.code))
        message = "internal error" if error.code == 500 else f"{error.reason}: {error.body}"
        body = json.dumps(error_document(code, message)).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.channel.linger_on_close = True
        self.content_length = len(body)
        self.write(body)


class Channel(HTTPChannel):  # type: ignore[misc]
    """waitress's connection, plus two things a client deserves.

    A request cut short (the client closed its side before the body it announced
    was complete) is answered 400 instead of silence. After an error answered
    before the request was read (a body over the limit: 413), the connection is
    half-closed and what the client still sends is read and dropped for a bounded
    time before closing: closing with unread data resets the connection, and the
    client, still sending, would see the reset instead of our answer.
    """

    error_task_class = JsonErrorTask
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
