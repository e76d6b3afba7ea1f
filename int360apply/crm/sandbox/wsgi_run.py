"""A WSGI app run to completion in-process: its status, headers and body.

The sandbox's listener runs each request this way to answer with a
``Content-Length``; the fault injector runs a request whose response it then
loses (the write commits, the client never hears of it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment


def run_app(
    app: WSGIApplication, environ: WSGIEnvironment
) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Run ``app`` on ``environ`` to the end of its body; its status, headers and body
    chunks (``close`` called on its result, as a server must)."""
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
