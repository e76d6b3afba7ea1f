"""The ``requests.Session`` the client talks through: one pool for the CRM's host,
sized to the concurrency, and the route (proxy, CA bundle) from the environment."""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from int360apply.crm.environment import Route

USER_AGENT = "int360-as-code/0.1"


class _Bearer(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` on every request.

    As the session's auth it also keeps ``requests`` from looking for ``~/.netrc``
    credentials, which would replace the token.
    """

    def __init__(self, token: str | None) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"  # never the token


def make_session(
    base_url: str, token: str | None, *, pool_size: int, route: Route
) -> requests.Session:
    """A session for ``base_url`` keeping up to ``pool_size`` connections alive.

    The environment was read once into ``route`` (``environment.py``), so
    ``trust_env`` is off: ``requests`` would otherwise read it again on every
    request (proxies, CA bundle, ``~/.netrc``).
    """
    session = requests.Session()
    session.trust_env = False
    session.auth = _Bearer(token)
    # The contract is stateless: no cookie a load balancer sets is stored or sent back.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.headers.update(
        {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": USER_AGENT,
        }
    )
    if route.proxy is not None:
        session.proxies = {urlsplit(base_url).scheme: route.proxy}
    session.verify = route.verify
    # Every retry is the client's (retry.py): a run-wide budget, a per-call deadline and
    # the lost-PATCH reconciliation are beyond urllib3's Retry, which would also retry
    # connect errors out of the budget's sight. So the pool itself never retries.
    adapter = HTTPAdapter(
        pool_connections=1,
        pool_maxsize=pool_size,
        pool_block=False,
        max_retries=Retry(total=0, read=False, redirect=False),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
