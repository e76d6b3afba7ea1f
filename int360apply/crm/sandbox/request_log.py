"""The sandbox CRM's request log: one line per request.

Method, path, status, duration and injected fault; never a header (the
token) or a body (secret values), and the query string is left out too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from int360apply.crm.sandbox.faults import FAULT_ENVIRON_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("int360apply.crm.sandbox")


class RequestLog:
    """WSGI middleware logging one line per request of the app it wraps."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["-"]

        def recording(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            return self._app(environ, recording)
        except ConnectionError:
            status[0] = "dropped"
            raise
        finally:
            fault = environ.get(FAULT_ENVIRON_KEY)
            log.info(
                "%s %s %s %.1fms%s",
                _printable(str(environ.get("REQUEST_METHOD", "")), 16),
                _printable(str(environ.get("PATH_INFO", "")), 200),
                status[0],
                (time.perf_counter() - started) * 1000,
                f" fault={fault}" if fault else "",
            )


def _printable(text: str, limit: int) -> str:
    """``text`` safe for a one-line log: control characters escaped, length capped."""
    shown = text[:limit]
    safe = (
        shown
        if shown.isprintable()
        else "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)
    )
    return safe + ("…" if len(text) > limit else "")
