"""Who calls the sandbox CRM, and whether they may.

With tokens configured, each request needs ``Authorization: Bearer VALUE`` of
one of them (401 otherwise), and writes need a ``write`` token (403 for
``read``). With *no* tokens configured every request is accepted as a write
(the embedded default, which only listens on loopback).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import NamedTuple

from flask import g, request

from int360apply.crm.sandbox.api_error import ApiError
from int360apply.crm.sandbox.options import Token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANONYMOUS = "anonymous"


class Caller(NamedTuple):
    """Who made a request (``g.caller``): a token's name and scope."""

    name: str
    scope: str


class Authenticator:
    """Checks every request against the configured tokens."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens = list(tokens)

    def authenticate(self) -> None:
        """Before every request: 401 without a valid token, 403 for a write with a read one."""
        caller = self._identify(request.headers.get("Authorization", ""))
        if caller is None:
            raise ApiError(
                401,
                "unauthorized",
                "a valid bearer token is required (Authorization: Bearer …)",
                headers={"WWW-Authenticate": 'Bearer realm="int360-sandbox"'},
            )
        if request.method not in SAFE_METHODS and caller.scope != "write":
            raise ApiError(
                403, "forbidden", f"token {caller.name!r} has scope read; writes need write"
            )
        g.caller = caller

    def _identify(self, header: str) -> Caller | None:
        if not self.tokens:
            return Caller(ANONYMOUS, "write")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        presented = value.strip().encode()
        found = None
        # Compare with every token in constant time: no timing hint about which matched.
        for token in self.tokens:
            if hmac.compare_digest(presented, token.value.encode()):
                found = Caller(token.name, token.scope)
        return found
