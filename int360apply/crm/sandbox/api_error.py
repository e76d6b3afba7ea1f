"""The sandbox CRM's error answers as an exception, without the web framework.

A handler raises ``ApiError``; ``error_responses`` turns it into the contract's
JSON error body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from int360apply.crm.sandbox.patching import FieldError


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
