"""The ``CrmError`` a CRM's answer means when it is neither a 2xx nor worth a retry.

Each status the contract allows has its error (401, 403, 404, 412, 422, other
4xx); a redirect is refused (the token must only ever reach the configured
host); anything else is a ``CrmProtocolError``. Every text taken from the
answer goes through the client's scrubber first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from int360apply.crm.answers import _error_body
from int360apply.crm.errors import (
    CrmError,
    CrmProtocolError,
    CrmRequestError,
    FieldProblem,
    Forbidden,
    InvalidSettings,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from int360apply.crm.settings import ENV_TOKEN, ENV_URL
from int360apply.crm.transport import Answer


def status_error(method: str, path: str, resp: Answer, scrub: Callable[[str], str]) -> CrmError:
    """The error of ``resp`` (a 3xx, 4xx or 5xx answer to ``method path``)."""
    status = resp.status
    where = f"{method} {path}"
    if 300 <= status < 400:
        target = urlsplit(resp.headers.get("Location", ""))
        return CrmProtocolError(
            scrub(
                f"{where}: the CRM redirected (HTTP {status}) to {target.netloc or 'nowhere'}; "
                f"redirects are not followed, check {ENV_URL}"
            ),
            status=status,
        )
    code, message, details = _error_body(resp)
    details = [FieldProblem(scrub(d.path), scrub(d.message)) for d in details]
    code = scrub(code) if code is not None else None
    text = scrub(f"{where}: HTTP {status}{f' {code}' if code else ''}: {message}")
    kwargs: dict[str, Any] = {"status": status, "code": code, "details": details}
    if status == 401:
        return Unauthorized(f"{text} (check {ENV_TOKEN})", **kwargs)
    if status == 403:
        return Forbidden(f"{text} (does {ENV_TOKEN} have write scope?)", **kwargs)
    if status == 404:
        return NotFound(text, **kwargs)
    if status == 412:
        return PreconditionFailed(text, current_etag=resp.headers.get("ETag"), **kwargs)
    if status == 422:
        listed = "; ".join(f"{d.path or '(body)'}: {d.message}" for d in details[:20])
        return InvalidSettings(scrub(f"{text}: {listed}" if listed else text), **kwargs)
    if 400 <= status < 500:
        return CrmRequestError(text, **kwargs)
    return CrmProtocolError(f"{text} (not a status the contract allows)", **kwargs)
