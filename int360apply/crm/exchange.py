"""One call of the CRM contract over the transport: a 2xx answer, or the error it means.

``Exchange.call`` retries a transient failure (429, 5xx, a connection that
failed or dropped) with the client's backoff; ``Exchange.send`` is one try, for
the settings PATCH, whose lost response the client reconciles itself
(``CrmClient.patch_settings``). No message carries the token or a secret value
sent (``scrub.py``); the statuses' errors are ``status_errors.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from int360apply.crm.errors import CrmError, CrmProtocolError
from int360apply.crm.retry import RETRY_STATUSES, Backoff, _retry_after, _Transient
from int360apply.crm.scrub import Scrubber
from int360apply.crm.status_errors import status_error
from int360apply.crm.transport import (
    Answer,
    BodyTooLarge,
    Transport,
    TransportError,
    TransportFailure,
)

MAX_BODY_BYTES = 16 * 1024 * 1024  # read at each call: tests lower it
NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Exchange:
    """The calls of one client: its transport, backoff and scrubber; thread-safe."""

    def __init__(self, transport: Transport, backoff: Backoff, scrub: Scrubber) -> None:
        """``backoff`` waits between the tries of every call; ``scrub`` cleans messages."""
        self.backoff = backoff
        self.scrub = scrub
        self._transport = transport

    def close(self) -> None:
        """Close the transport's pooled connections."""
        self._transport.close()

    def call(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes | None = None,
        headers: Mapping[str, str] = NO_HEADERS,
    ) -> Answer:
        """One request, retried on transient failures; a 2xx answer. ``query`` is
        encoded already; ``headers`` are those besides the session's (session.py)."""
        attempts = self.backoff.start()
        while True:
            try:
                return self.send(method, path, query, body, headers)
            except _Transient as failure:
                self.backoff.wait(attempts, failure, method, path)

    def send(
        self, method: str, path: str, query: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Answer:
        """One try of ``call``: a 2xx answer, ``_Transient``, or the ``CrmError`` of the
        status."""
        try:
            resp = self._transport.send(
                method, path, query=query, body=body, headers=headers, limit=MAX_BODY_BYTES
            )
        except TransportFailure as failure:
            raise _Transient(failure.reason) from None
        except TransportError as exc:
            raise CrmError(self.scrub(f"{method} {path}: {exc}")) from None
        except BodyTooLarge:
            raise CrmProtocolError(
                f"{method} {path}: the CRM answered more than {MAX_BODY_BYTES} bytes; refused"
            ) from None
        if resp.status in RETRY_STATUSES:
            raise _Transient(
                f"HTTP {resp.status}",
                retry_after=_retry_after(resp.headers.get("Retry-After")),
            )
        if 200 <= resp.status < 300:
            return resp
        raise status_error(method, path, resp, self.scrub)
