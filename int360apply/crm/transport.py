"""One HTTP exchange with the CRM over a pool of kept-alive connections (urllib3).

The client of the contract (``client.py``) decides what to retry and how; this
module only sends one request and hands back the whole answer, or raises
``TransportFailure`` (worth retrying: the connection failed, dropped or timed
out, a TLS handshake or a proxy failed) or ``TransportError`` (not worth
retrying: a certificate that does not verify, a proxy that wants credentials, a
body that cannot be decoded).

urllib3 is used directly: the client needs none of what ``requests`` adds on
top (cookies, hooks, auth handlers, redirects), and every request pays for it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    DecodeError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from int360apply.crm.environment import ca_options, proxy_for


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

    Thread-safe. Redirects are never followed and urllib3 never retries on its
    own. With ``use_environment``, a proxy and a CA bundle come from the
    environment (``environment.py``); a setting there that cannot work raises
    ``CrmConfigError``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        pool_size: int,
        timeout: tuple[float, float],
        use_environment: bool,
    ) -> None:
        """``timeout`` is (connect, read) seconds."""
        parts = urlsplit(base_url)
        self._prefix = parts.path.rstrip("/")
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        options: dict[str, object] = {"maxsize": pool_size, "block": False, "retries": False}
        proxy = None
        if use_environment:
            options.update(ca_options(parts.scheme))
            proxy = proxy_for(parts.scheme, parts.hostname or "")
        self._manager: urllib3.PoolManager
        self._urlopen: Callable[..., urllib3.BaseHTTPResponse]
        if proxy is not None:
            # Through a proxy every request names the whole URL.
            self._manager = urllib3.ProxyManager(
                proxy.url,
                num_pools=1,
                proxy_headers=proxy.headers,
                **options,  # type: ignore[arg-type]
            )
            self._urlopen = self._manager.urlopen
            self._url_base = f"{parts.scheme}://{parts.netloc}"
        else:
            # Without one, the pool of the CRM's host is looked up once and sent paths.
            self._manager = urllib3.PoolManager(num_pools=1, **options)  # type: ignore[arg-type]
            self._urlopen = self._manager.connection_from_url(base_url).urlopen
            self._url_base = ""

    def close(self) -> None:
        """Close every pooled connection."""
        self._manager.clear()

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
        target = self._prefix + path + (f"?{query}" if query else "")
        try:
            resp = self._urlopen(
                method,
                self._url_base + target,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                timeout=self._timeout,
                preload_content=False,
            )
            try:
                length = resp.headers.get("Content-Length")
                if length is not None and not _valid_length(length):
                    resp.close()  # where the body ends is unknown: the connection is unusable
                    raise TransportError(
                        f"the CRM sent an invalid Content-Length header ({length!a})"
                    )
                data = resp.read(limit + 1, decode_content=True)
                if len(data) > limit:
                    resp.close()  # unread bytes must not reach the next request
                    raise BodyTooLarge()
            finally:
                resp.release_conn()
        except SSLError as exc:
            cause = exc.args[0] if exc.args else exc
            if isinstance(cause, ssl.SSLCertVerificationError):
                raise TransportError(
                    f"the CRM's TLS certificate does not verify ({cause}); if it is signed "
                    "by a private CA, name its bundle in REQUESTS_CA_BUNDLE"
                ) from None
            raise TransportFailure(f"TLS handshake failed ({type(cause).__name__})") from None
        except ProxyError as exc:
            if "407" in str(exc):
                raise TransportError(
                    "the proxy refused the request (407 Proxy Authentication Required): "
                    "check the credentials in HTTPS_PROXY"
                ) from None
            raise TransportFailure(f"the proxy failed ({_cause(exc)})") from None
        except NameResolutionError:
            raise TransportFailure("connection failed (could not resolve the host)") from None
        except NewConnectionError as exc:
            raise TransportFailure(f"connection failed ({_cause(exc)})") from None
        except Urllib3Timeout:
            raise TransportFailure("timed out") from None
        except ProtocolError as exc:
            raise TransportFailure(f"connection failed ({_cause(exc)})") from None
        except DecodeError as exc:
            raise TransportError(f"the response body could not be decoded: {exc}") from None
        except HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:  # a socket error urllib3 did not wrap
            raise TransportFailure(f"connection failed ({type(exc).__name__})") from None
        return Answer(resp.status, resp.reason or "", resp.headers, data)


def _valid_length(value: str) -> bool:
    """A Content-Length of ASCII digits (repeats, joined by commas, must agree): urllib3
    would take ``"١٢"`` for 12, and read to the connection's end for ``"¹²"``."""
    parts = {part.strip() for part in value.split(",")}
    return len(parts) == 1 and all(p.isascii() and p.isdigit() for p in parts)


def _cause(exc: HTTPError) -> str:
    """The class name of the error underneath (e.g. ``ConnectionRefusedError``), not its
    text (which may name hosts or carry more than a log line should)."""
    for inner in (exc.__context__, *exc.args[1:]):
        if isinstance(inner, BaseException):
            return type(inner).__name__
    return type(exc).__name__
