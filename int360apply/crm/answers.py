"""What the CRM answered, checked against the contract's shapes: JSON bodies, profiles,
notes, ETags and error bodies. Anything else is a ``CrmProtocolError``."""

from __future__ import annotations

from typing import Any

from int360apply.crm import Note, Profile
from int360apply.crm.errors import CrmProtocolError, FieldProblem
from int360apply.crm.results import Versioned
from int360apply.crm.transport import Answer
from int360apply.jsonvalue import loads


def json_body(method: str, path: str, resp: Answer) -> Any:
    """The JSON value of a response body (no NaN, no absurd nesting)."""
    try:
        return loads(resp.body)
    except (ValueError, RecursionError):
        ctype = resp.headers.get("Content-Type") or "no content type"
        raise CrmProtocolError(
            f"{method} {path}: HTTP {resp.status} with a body that is not JSON ({ctype})",
            status=resp.status,
        ) from None


def bulk_page(value: Any, chunk: list[int], what: str) -> tuple[dict[int, Versioned], list[int]]:
    """The found settings and missing BIDs of one bulk read page asking for ``chunk``."""
    page = _object(value, what)
    found: dict[int, Versioned] = {}
    for item in _list(page.get("items"), f"{what}: items"):
        entry = _object(item, f"{what}: item")
        bid = _int(entry.get("bid"), f"{what}: item bid")
        etag = entry.get("etag")
        if not isinstance(etag, str) or not etag:
            raise CrmProtocolError(f"{what}: biller {bid} has no etag")
        found[bid] = Versioned(_object(entry.get("settings"), f"{what}: settings"), etag)
    missing = [_int(b, f"{what}: missing") for b in _list(page.get("missing"), what)]
    unanswered = set(chunk) - set(found) - set(missing)
    if unanswered:
        raise CrmProtocolError(
            f"{what}: the CRM left out {len(unanswered)} BID(s), e.g. {min(unanswered)}"
        )
    return found, missing


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CrmProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise CrmProtocolError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return value


def _int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise CrmProtocolError(f"{what}: expected an integer, got {type(value).__name__}")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise CrmProtocolError(f"{what}: expected a string, got {type(value).__name__}")
    return value


def _profile(value: Any, what: str) -> Profile:
    obj = _object(value, f"{what}: profile")
    return Profile(
        bid=_int(obj.get("bid"), f"{what}: bid"),
        name=_str(obj.get("name"), f"{what}: name"),
        integrator_id=_int(obj.get("integrator_id"), f"{what}: integrator_id"),
        status=_str(obj.get("status"), f"{what}: status"),
    )


def _note(value: Any, what: str) -> Note:
    obj = _object(value, f"{what}: note")
    commit = obj.get("commit")
    paths = obj.get("paths")
    return Note(
        id=_int(obj.get("id"), f"{what}: id"),
        created_at=_str(obj.get("created_at"), f"{what}: created_at"),
        author=_str(obj.get("author"), f"{what}: author"),
        text=_str(obj.get("text"), f"{what}: text"),
        commit=_str(commit, f"{what}: commit") if commit is not None else None,
        paths=(
            tuple(_str(p, f"{what}: paths") for p in _list(paths, f"{what}: paths"))
            if paths is not None
            else None
        ),
    )


def _etag(resp: Answer, method: str, path: str) -> str:
    etag = resp.headers.get("ETag")
    if not etag:
        raise CrmProtocolError(f"{method} {path}: the response has no ETag")
    return etag


def _error_body(resp: Answer) -> tuple[str | None, str, list[FieldProblem]]:
    """Code, message and details of a contract error body; a fallback for anything else."""
    fallback = resp.reason or "error"
    try:
        error = loads(resp.body)["error"]
        code = error.get("code")
        message = error.get("message")
        raw_details = error.get("details") or []
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None, f"{fallback} (no error body of the contract)", []
    details = [
        FieldProblem(str(d.get("path", "")), str(d.get("message", "")))
        for d in (raw_details if isinstance(raw_details, list) else [])
        if isinstance(d, dict)
    ]
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else fallback,
        details,
    )
