"""Where the environment says the CRM's traffic goes: a proxy and a CA bundle.

The variables are the ones ``requests``, curl and most tools read:
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` (a scheme-less value means
``http://``; ``user:password@`` in it is sent as ``Proxy-Authorization``),
``NO_PROXY`` (host names, domain suffixes, IP addresses and CIDR ranges), and
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (a PEM file or a directory of
certificates; without one, the system's trust store). Only a CRM that is not
on loopback uses them.

A setting that cannot work raises ``CrmConfigError`` naming the variable; no
message shows a proxy's credentials.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from int360apply.crm.errors import CrmConfigError

CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class Proxy(NamedTuple):
    """A proxy to send requests through: its URL (without credentials) and the
    headers it needs (``Proxy-Authorization`` when the URL carried credentials)."""

    url: str
    headers: dict[str, str]


def proxy_for(scheme: str, host: str, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy for ``scheme://host``, or None (none set, or ``NO_PROXY`` exempts it)."""
    env = os.environ if environ is None else environ
    names = (f"{scheme}_proxy", "all_proxy")
    raw = next((v for n in names for v in (env.get(n), env.get(n.upper())) if v), None)
    if not raw or _bypassed(host, env.get("no_proxy") or env.get("NO_PROXY") or ""):
        return None
    value = raw if "://" in raw else f"http://{raw}"
    parts = urlsplit(value)
    shown = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CrmConfigError(
            f"the proxy {shown} for {scheme}:// cannot be used: set HTTPS_PROXY (or "
            "HTTP_PROXY) to an http:// or https:// proxy, or NO_PROXY to bypass it"
        )
    headers: dict[str, str] = {}
    if parts.username is not None:
        from urllib3.util import make_headers

        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = make_headers(proxy_basic_auth=credentials)
    return Proxy(shown, headers)


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names ``host``: ``*``, the host, a domain it is in
    (``example.com``, ``.example.com`` or ``*.example.com``), its IP address or a CIDR
    range holding it."""
    host = host.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        entry = entry.split(":")[0] if entry.count(":") == 1 else entry  # host:port
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        suffix = entry.removeprefix("*").lstrip(".")  # *.example.com, .example.com
        if host == suffix or host.endswith(f".{suffix}"):
            return True
    return False


def ca_options(scheme: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """urllib3's options for the CA bundle the environment names (none for http://)."""
    env = os.environ if environ is None else environ
    if scheme != "https":
        return {}
    for name in CA_BUNDLE_VARIABLES:
        value = env.get(name)
        if not value:
            continue
        if os.path.isdir(value):
            return {"ca_cert_dir": value}
        if os.path.isfile(value):
            return {"ca_certs": value}
        raise CrmConfigError(f"{name}={value}: no such file or directory of certificates")
    return {}
