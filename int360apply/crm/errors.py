"""Errors of the CRM client, one type per thing a caller handles differently.

Messages name the call (``PATCH /billers/7/settings``), what the CRM said and
what to do next; they never contain the token or a secret value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..errors import Int360Error


class FieldProblem(NamedTuple):
    """One per-field problem of a 422: a dotted path (``ftp.port``) and a message."""

    path: str
    message: str


class CrmError(Int360Error):
    """Anything that went wrong talking to the CRM."""

    prefix = "the CRM call failed: "

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Sequence[FieldProblem] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = list(details)


class CrmConfigError(CrmError, ValueError):
    """The CRM cannot be reached as configured (its URL, a proxy, a CA bundle): a
    setting to fix, not a failure to retry."""

    prefix = ""


class CrmProtocolError(CrmError):
    """The CRM answered something the contract does not allow (not JSON, wrong
    shape, a missing ETag, a redirect)."""


class CrmUnavailable(CrmError):
    """The CRM kept failing (429, 5xx, connection errors) until the retry budget was spent."""


class CrmRequestError(CrmError):
    """The CRM refused the request as malformed (400, 409, 413, 415, 428, other 4xx)."""


class Unauthorized(CrmError):
    """401: no token, or the CRM does not accept it."""


class Forbidden(CrmError):
    """403: the token may not do this (a read token writing)."""


class NotFound(CrmError):
    """404: the CRM knows no biller with this BID."""


class PreconditionFailed(CrmError):
    """412: the settings changed since the ETag the change was computed from.

    ``current_etag`` is the ETag the CRM reported, when it did; read the
    settings again and recompute the change.
    """

    def __init__(
        self,
        message: str,
        *,
        current_etag: str | None = None,
        status: int | None = 412,
        code: str | None = None,
        details: Sequence[FieldProblem] = (),
    ) -> None:
        super().__init__(message, status=status, code=code, details=details)
        self.current_etag = current_etag


class InvalidSettings(CrmError):
    """422: the CRM refused the change; ``details`` lists every offending field."""


__all__ = [
    "CrmConfigError",
    "CrmError",
    "CrmProtocolError",
    "CrmRequestError",
    "CrmUnavailable",
    "FieldProblem",
    "Forbidden",
    "InvalidSettings",
    "NotFound",
    "PreconditionFailed",
    "Unauthorized",
]
