"""One HTTP exchange with the CRM over a pool of kept-alive connections (urllib3).

The client of the contract (``client.py``) decides what to retry and how; this
module only sends one request and hands back the whole answer, or raises
``TransportFailure`` (worth retrying: the connection failed, dropped or timed
out) or ``TransportError`` (not worth retrying: TLS, a proxy that refuses, a
body that cannot be decoded).

urllib3 directly rather than through ``requests``: the client needs none of
what ``requests`` adds (cookies, hooks, auth handlers, redirects), and that
layer cost about 0.5 ms of CPU per request, which a 1,000-biller apply pays
on the threads that wait for the CRM.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

# Certificate bundles named the way ``requests`` and curl users already set them.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


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
    """The response body was longer than the limit (``size``: bytes read before stopping)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class Transport:
    """Requests to one base URL over at most ``pool_size`` kept-alive connections.

    Thread-safe. Redirects are never followed and urllib3 never retries on its
    own. Proxy and CA-bundle settings come from the environment (``HTTPS_PROXY``,
    ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``…) unless ``use_environment`` is False.
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
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        options: dict[str, object] = {"maxsize": pool_size, "block": False, "retries": False}
        if use_environment:
            bundles = [os.environ[v] for v in CA_BUNDLE_VARIABLES if os.environ.get(v)]
            if bundles and parts.scheme == "https":
                options["ca_certs"] = bundles[0]
        proxy = _proxy_for(parts.scheme, parts.hostname or "") if use_environment else None
        self._manager: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, num_pools=1, **options)  # type: ignore[arg-type]
            if proxy
            else urllib3.PoolManager(num_pools=1, **options)  # type: ignore[arg-type]
        )
        # Through a proxy every request names the whole URL; without one the pool
        # of the CRM's host is looked up once and sent paths.
        self._urlopen: Callable[..., urllib3.BaseHTTPResponse]
        if proxy:
            self._urlopen, self._url_base = self._manager.urlopen, self._origin
        else:
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
                data = resp.read(limit + 1, decode_content=True)
                if len(data) > limit:
                    resp.close()  # unread bytes must not reach the next request
                    raise BodyTooLarge(len(data))
                if resp.read(1, decode_content=True):  # a decoder may stop short of the limit
                    resp.close()
                    raise BodyTooLarge(limit + 1)
            finally:
                resp.release_conn()
        except (ProxyError, SSLError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        except NewConnectionError:
            raise TransportFailure("connection failed (could not connect)") from None
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


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the environment names for ``scheme``, unless ``NO_PROXY`` exempts ``host``."""
    import urllib.request  # only for a remote CRM: it is slow to import

    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


def _cause(exc: ProtocolError) -> str:
    """The underlying error's class name (e.g. ``ConnectionResetError``), not its text."""
    inner = exc.args[1] if len(exc.args) > 1 else None
    return type(inner).__name__ if isinstance(inner, BaseException) else type(exc).__name__
