"""One HTTP exchange with the CRM over a pool of kept-alive connections (``requests``).

The client of the contract (``client.py``) decides what to retry and how; this
module only sends one request and hands back the whole answer, or raises
``TransportFailure`` (worth retrying: the connection failed, dropped or timed
out, a TLS handshake or a proxy failed) or ``TransportError`` (not worth
retrying: a certificate that does not verify, a proxy that wants credentials, a
body that cannot be decoded).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from typing import NamedTuple

import requests
from requests import exceptions as rex
from urllib3.exceptions import NameResolutionError

from int360apply.crm.environment import DIRECT, route_from_environment
from int360apply.crm.session import make_session

CHUNK = 64 * 1024  # bytes decoded per read: a gzip bomb stops at the limit plus one chunk


class Answer(NamedTuple):
    """A whole HTTP response: status, reason, headers (case-insensitive) and body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class TransportFailure(Exception):
    """The exchange failed in a way a retry may cure (``reason`` says how)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransportError(Exception):
    """The exchange failed in a way a retry will not cure."""


class BodyTooLarge(Exception):
    """The response body was longer than the limit."""


class Transport:
    """Requests to one base URL over at most ``pool_size`` kept-alive connections.

    Thread-safe. Redirects are never followed and nothing is retried here. With
    ``use_environment``, a proxy and a CA bundle come from the environment
    (``environment.py``); a setting there that cannot work raises ``CrmConfigError``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        pool_size: int,
        timeout: tuple[float, float],
        use_environment: bool,
        token: str | None = None,
    ) -> None:
        """``timeout`` is (connect, read) seconds."""
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        route = route_from_environment(base_url) if use_environment else DIRECT
        self._session = make_session(base_url, token, pool_size=pool_size, route=route)
        # What ``Session.request`` would work out on every call, worked out once: the
        # adapter (the pool), the route and the headers. Each request is prepared by
        # ``requests`` and sent through its adapter, as ``Session.send`` does, without
        # its cookie and hook merging (this client keeps no cookie and sets no hook) or
        # its redirect pass, which even with redirects off read a 3xx's whole body
        # with no limit and parsed its Location (0.1 ms of CPU a request in all: see
        # benchmarks/transport.py).
        self._adapter = self._session.get_adapter(self._base)
        self._proxies = dict(self._session.proxies)
        self._verify = route.verify
        self._headers = dict(self._session.headers)
        self._auth = self._session.auth

    def close(self) -> None:
        """Close every pooled connection."""
        self._session.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None,
        headers: Mapping[str, str],
        limit: int,
    ) -> Answer:
        """One request to ``base_url + path`` (``query`` already encoded); the answer.

        Raises ``BodyTooLarge`` when the body exceeds ``limit`` bytes (the
        connection is closed, not returned to the pool).
        """
        url = self._base + path + (f"?{query}" if query else "")
        try:
            prepared = requests.PreparedRequest()
            prepared.prepare(
                method=method,
                url=url,
                headers={**self._headers, **headers} if headers else self._headers,
                data=body,
                auth=self._auth,
            )
            resp = self._adapter.send(
                prepared,
                stream=True,
                timeout=self._timeout,
                verify=self._verify,
                proxies=self._proxies,
            )
            try:
                length = resp.headers.get("Content-Length")
                if length is not None and not _valid_length(length):
                    # Where the body ends is unknown: the connection is unusable.
                    raise TransportError(
                        f"the CRM sent an invalid Content-Length header ({length!a})"
                    )
                data = _read(resp, limit)
            finally:
                resp.close()  # a body read to the end frees the connection; else it is dropped
        except rex.SSLError as exc:
            chain = _chain(exc)
            cause = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
            if cause is not None:
                raise TransportError(
                    f"the CRM's TLS certificate does not verify ({cause}); if it is signed "
                    "by a private CA, name its bundle in REQUESTS_CA_BUNDLE"
                ) from None
            raise TransportFailure(f"TLS handshake failed ({_cause(exc)})") from None
        except rex.ProxyError as exc:
            if "407" in str(exc):
                raise TransportError(
                    "the proxy refused the request (407 Proxy Authentication Required): "
                    "check the credentials in HTTPS_PROXY"
                ) from None
            raise TransportFailure(f"the proxy failed ({_cause(exc)})") from None
        except rex.Timeout:
            raise TransportFailure("timed out") from None
        except (rex.ConnectionError, rex.ChunkedEncodingError) as exc:
            if any(isinstance(e, NameResolutionError | socket.gaierror) for e in _chain(exc)):
                raise TransportFailure("connection failed (could not resolve the host)") from None
            raise TransportFailure(f"connection failed ({_cause(exc)})") from None
        except rex.ContentDecodingError as exc:
            raise TransportError(f"the response body could not be decoded: {exc}") from None
        except rex.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:  # a socket error nothing wrapped
            raise TransportFailure(f"connection failed ({type(exc).__name__})") from None
        return Answer(resp.status_code, resp.reason or "", resp.headers, data)


def _valid_length(value: str) -> bool:
    """A Content-Length of ASCII digits (repeats, joined by commas, must agree): urllib3
    would take ``"١٢"`` for 12, and read to the connection's end for ``"¹²"``."""
    parts = {part.strip() for part in value.split(",")}
    return len(parts) == 1 and all(p.isascii() and p.isdigit() for p in parts)


def _read(resp: requests.Response, limit: int) -> bytes:
    """The decoded body, read in chunks; ``BodyTooLarge`` past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()  # the caller closes the connection: its rest is unread
        chunks.append(chunk)
    return b"".join(chunks)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every error wrapped in it (requests wraps urllib3's, which wraps the
    socket's), outermost first."""
    found: list[BaseException] = []
    todo = [exc]
    while todo:
        error = todo.pop(0)
        if any(error is e for e in found):
            continue
        found.append(error)
        inner = (getattr(error, "reason", None), *error.args, error.__cause__, error.__context__)
        todo.extend(e for e in inner if isinstance(e, BaseException))
    return found


def _cause(exc: BaseException) -> str:
    """The class name of the innermost error (e.g. ``ConnectionRefusedError``), not its
    text (which may name hosts or carry more than a log line should)."""
    return type(_chain(exc)[-1]).__name__
