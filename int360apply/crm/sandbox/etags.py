"""Settings revisions as ETags, and the ``If-Match`` a write must send.

Without the web framework: ``int360 sandbox set`` prints ETags too.
"""

from __future__ import annotations

import re

from int360apply.crm.sandbox.api_error import ApiError


def etag_of(revision: int) -> str:
    """The ETag of a settings revision: the revision, quoted (a strong ETag)."""
    return f'"{revision}"'


def if_match(header: str) -> frozenset[int]:
    """The revisions an ``If-Match`` header names (strong ETags only); 428 when it
    is missing (empty) or ``*``: every write must name the state it replaces."""
    header = header.strip()
    if not header:
        raise ApiError(
            428, "precondition_required", "If-Match is required: the ETag the patch is based on"
        )
    if header == "*":
        raise ApiError(
            428,
            "precondition_required",
            "If-Match: * is refused; name the ETag the patch is based on",
        )
    revisions = set()
    for tag in header.split(","):
        match = re.fullmatch(r'\s*"([0-9]{1,16})"\s*', tag)
        if match:
            revisions.add(int(match.group(1)))
    return frozenset(revisions)


def stale(current: int) -> ApiError:
    """412 for a write based on another revision than ``current``, which it names."""
    return ApiError(
        412,
        "precondition_failed",
        "the settings changed since that ETag; read them again and recompute the change",
        headers={"ETag": etag_of(current)},
    )
