"""The sandbox CRM's error answers as an exception, without the web framework.

A handler raises ``ApiError``; ``error_responses`` turns it into the contract's
JSON error body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from int360apply.crm.sandbox.patching import FieldError


# The contract's error code of an HTTP status the framework or the server answers itself.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal",
}


def error_document(code: str, message: str, details: Sequence[FieldError] = ()) -> dict[str, Any]:
    """The contract's JSON error body: ``{"error": {"code", "message", "details"}}``."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [{"path": d.path, "message": d.message} for d in details],
        }
    }


class ApiError(Exception):
    """An error response in the contract's shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


def not_found(bid: object) -> ApiError:
    """404 for a BID (as the path gave it, capped) that names no biller."""
    return ApiError(404, "not_found", f"no biller with BID {str(bid)[:40]!s}")
