"""Where the environment says the CRM is (``INT360_CRM_URL``, ``INT360_CRM_TOKEN``)
and where its traffic goes: a proxy and a CA bundle.

``requests`` reads them, the way it does for every tool built on it:
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` (a scheme-less value means
``http://``; ``user:password@`` in it is sent as ``Proxy-Authorization``),
``NO_PROXY`` (host names, domain suffixes, IP addresses and CIDR ranges), and
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (a PEM file or a directory of
certificates). Without one the system's trust store is used, as the urllib3 client
did before (requests alone would use certifi's bundle, and a private CA installed
in the system would stop verifying). Only a CRM that is not on loopback uses them.

They are read once, when the client is made: a setting that cannot work
raises ``CrmConfigError`` naming the variable then, not on the first request
of an apply; no message shows a proxy's credentials.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from requests.utils import get_environ_proxies, select_proxy

from int360apply.crm.errors import CrmConfigError
from int360apply.crm.settings import ENV_TOKEN, ENV_URL, checked

CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class CrmConfig(NamedTuple):
    """Where the CRM is, from the environment; ``url`` None means the embedded sandbox."""

    url: str | None
    token: str | None


def crm_config_from_env(env: Mapping[str, str] | None = None) -> CrmConfig:
    """``INT360_CRM_URL`` and ``INT360_CRM_TOKEN``; empty values count as unset.

    A value with a control character (a pasted trailing newline) raises
    ``CrmConfigError`` naming the variable, never the value.
    """
    env = os.environ if env is None else env
    url = env.get(ENV_URL) or None
    token = env.get(ENV_TOKEN) or None
    return CrmConfig(
        url=checked(ENV_URL, url) if url is not None else None,
        token=checked(ENV_TOKEN, token) if token is not None else None,
    )


class Route(NamedTuple):
    """How to reach the CRM: through ``proxy`` (a URL, credentials included; None:
    directly), trusting ``verify`` (a path: that bundle or directory; True: certifi's)."""

    proxy: str | None
    verify: bool | str


DIRECT = Route(None, True)


def route_from_environment(base_url: str) -> Route:
    """The proxy and CA bundle ``requests`` would use for ``base_url``, checked."""
    scheme = urlsplit(base_url).scheme
    proxy = select_proxy(base_url, get_environ_proxies(base_url))
    if proxy is not None:
        # requests would take ``user`` of a scheme-less ``user:pw@host:port`` for a scheme.
        proxy = proxy if "://" in proxy else f"http://{proxy}"
        _check_proxy(proxy, scheme)
    return Route(proxy, _ca_bundle() if scheme == "https" else True)


def _check_proxy(proxy: str, scheme: str) -> None:
    """A proxy urllib3 cannot use (socks without PySocks, no host) fails here, once."""
    parts = urlsplit(proxy)
    shown = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CrmConfigError(
            f"the proxy {shown} for {scheme}:// cannot be used: set HTTPS_PROXY (or "
            "HTTP_PROXY) to an http:// or https:// proxy, or NO_PROXY to bypass it"
        )


def _ca_bundle() -> bool | str:
    """The bundle ``requests`` would pick (the first variable set), which must exist."""
    for name in CA_BUNDLE_VARIABLES:
        value = os.environ.get(name)
        if not value:
            continue
        if not os.path.exists(value):
            raise CrmConfigError(f"{name}={value}: no such file or directory of certificates")
        return value
    return _system_trust()


def _system_trust() -> bool | str:
    """The system's CA file or directory as OpenSSL finds it (``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` included); True (certifi's bundle) when it has none."""
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.capath or True


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine: no proxy or remote
    trust applies to it."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
