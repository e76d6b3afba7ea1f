"""What a sandbox request names: the BID of its path, its query arguments
(numbers, page size, cursors) and its JSON body; a clear 400 (404 for a BID)
for anything else.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from flask import request

from int360apply.crm.sandbox.api_error import ApiError, not_found
from int360apply.crm.sandbox.records import MAX_ID
from int360apply.jsonvalue import loads

_DIGITS = re.compile(r"[0-9]{1,16}")


def bid_arg(raw: str) -> int:
    """A BID from the path; anything that cannot be one is simply not found."""
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_ID:
        raise not_found(raw)
    return int(raw)


def int_arg(name: str, raw: str) -> int:
    """A positive integer query argument ``name``; 400 otherwise."""
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_ID:
        raise ApiError(400, "bad_request", f"{name} must be a positive integer")
    return int(raw)


def limit_arg() -> int:
    """The page size ``?limit=`` asks for (100 without one)."""
    raw = request.args.get("limit")
    if raw is None:
        return 100
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "bad_request", "limit must be an integer from 1 to 1000")
    return int(raw)


def cursor(kind: str, after: int) -> str:
    """The cursor of the page after position ``after`` of a ``kind`` listing."""
    raw = json.dumps({"k": kind, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_arg(kind: str) -> int:
    """The position a cursor continues after (0 without one); 400 for a foreign cursor."""
    raw = request.args.get("cursor")
    if raw is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        after = data["after"]
        valid = data["k"] == kind and type(after) is int and 0 <= after <= MAX_ID
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise ApiError(400, "bad_request", "cursor is not one this call returned")
    return int(after)


def json_body() -> Any:
    """The request body as JSON; 400 when it is not."""
    raw = request.get_data(cache=False)
    try:
        return loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_request", "the body is not valid JSON") from None
