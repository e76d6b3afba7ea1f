"""The sandbox CRM as a Flask app: every call of ``schemas/crm-api.openapi.yaml``.

Plus, outside the contract, ``PUT``/``DELETE /_sandbox/billers/{bid}`` to stage
profiles in tests.

Authentication: with tokens configured, each request needs
``Authorization: Bearer VALUE`` of one of them (401 otherwise), and writes need
a ``write`` token (403 for ``read``). With *no* tokens configured every request
is accepted as a write (the embedded default, which only listens on loopback).

``If-Match: *`` is refused with 428: every write must name the state it
replaces. Each request is logged on one line (method, path, status, duration,
injected fault); never a header or a body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from int360apply.crm import (
    AUDIT_NOTE_HEADER,
    AUDIT_NOTE_ID_HEADER,
    BODY_NOTE_LIMITS,
    HEADER_NOTE_LIMITS,
    PROFILE_STATUSES,
    Note,
    NoteLimits,
    Profile,
)
from int360apply.crm.sandbox.faults import FAULT_ENVIRON_KEY, FaultConfig, FaultInjector
from int360apply.crm.sandbox.options import Token
from int360apply.crm.sandbox.patching import FieldError, InvalidPatch, SettingsPatcher
from int360apply.crm.sandbox.store import (
    IdempotencyConflict,
    NewNote,
    SettingsUpdate,
    StaleRevision,
    Store,
    UnknownBiller,
    etag_of,
)
from int360apply.schemas import Schemas

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("int360apply.crm.sandbox")

MAX_ID = 2**53 - 1  # the largest integer every JSON parser reads exactly
MAX_BULK = 500
MAX_BODY = 1 << 20
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PATCH_TYPES = ("application/merge-patch+json", "application/json")
_DIGITS = re.compile(r"[0-9]{1,16}")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
ANONYMOUS = "anonymous"


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

    def response(self) -> Response:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [{"path": d.path, "message": d.message} for d in self.details],
            }
        }
        resp = jsonify(body)
        resp.status_code = self.status
        resp.headers.update(self.headers)
        return resp


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def create_app(
    store: Store,
    schemas: Schemas,
    *,
    tokens: Iterable[Token] = (),
    faults: FaultConfig | None = None,
) -> Flask:
    """The sandbox app over ``store``; ``app.extensions["int360_faults"]`` is its injector."""
    app = Flask("int360apply.crm.sandbox")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False  # type: ignore[attr-defined]
    api = _Api(store, SettingsPatcher(schemas), list(tokens))

    app.before_request(api.authenticate)
    app.add_url_rule("/billers", view_func=api.list_billers, methods=["GET"])
    app.add_url_rule("/billers/<bid>", view_func=api.get_biller, methods=["GET"])
    app.add_url_rule("/billers/<bid>/settings", view_func=api.get_settings, methods=["GET"])
    app.add_url_rule(
        "/billers/<bid>/settings", "patch_settings", api.patch_settings, methods=["PATCH"]
    )
    app.add_url_rule("/settings", view_func=api.bulk_settings, methods=["GET"])
    app.add_url_rule("/billers/<bid>/notes", view_func=api.list_notes, methods=["GET"])
    app.add_url_rule("/billers/<bid>/notes", "add_note", api.add_note, methods=["POST"])
    app.add_url_rule("/_sandbox/billers/<bid>", view_func=api.put_profile, methods=["PUT"])
    app.add_url_rule(
        "/_sandbox/billers/<bid>", "delete_profile", api.delete_profile, methods=["DELETE"]
    )

    app.register_error_handler(ApiError, lambda e: e.response())
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

    injector = FaultInjector(app.wsgi_app, faults)
    app.extensions["int360_faults"] = injector
    app.wsgi_app = _RequestLog(injector)  # type: ignore[method-assign]
    return app


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    message = exc.description or exc.name
    return ApiError(status, _HTTP_CODES.get(status, "error"), message, headers=headers).response()


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error")
    return ApiError(500, "internal", "internal error in the sandbox CRM").response()


class _Caller(NamedTuple):
    name: str
    scope: str


class _Api:
    """The request handlers; one instance per app."""

    def __init__(self, store: Store, patcher: SettingsPatcher, tokens: list[Token]) -> None:
        self.store = store
        self.patcher = patcher
        self.tokens = tokens

    # -- auth ---------------------------------------------------------------

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

    def _identify(self, header: str) -> _Caller | None:
        if not self.tokens:
            return _Caller(ANONYMOUS, "write")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        presented = value.strip().encode()
        found = None
        # Compare with every token in constant time: no timing hint about which matched.
        for token in self.tokens:
            if hmac.compare_digest(presented, token.value.encode()):
                found = _Caller(token.name, token.scope)
        return found

    # -- billers ------------------------------------------------------------

    def list_billers(self) -> Response:
        integrator = request.args.get("integrator_id")
        integrator_id = _int_arg("integrator_id", integrator) if integrator is not None else None
        after = _cursor_arg("billers")
        limit = _limit_arg()
        found = self.store.list_profiles(integrator_id=integrator_id, after=after, limit=limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return jsonify(
            items=[p._asdict() for p in page],
            next_cursor=_cursor("billers", page[-1].bid) if more else None,
        )

    def get_biller(self, bid: str) -> Response:
        profile = self.store.get_profile(_bid(bid))
        if profile is None:
            raise _not_found(bid)
        return jsonify(profile._asdict())

    # -- settings -----------------------------------------------------------

    def get_settings(self, bid: str) -> Response:
        found = self.store.get_settings(_bid(bid))
        if found is None:
            raise _not_found(bid)
        return _settings_response(*found)

    def bulk_settings(self) -> Response:
        raw = request.args.getlist("bid")
        if not raw:
            raise ApiError(400, "bad_request", "name at least one biller: ?bid=1&bid=2")
        if len(raw) > MAX_BULK:
            raise ApiError(400, "bad_request", f"at most {MAX_BULK} bids per call, got {len(raw)}")
        bids = list(dict.fromkeys(_int_arg("bid", b) for b in raw))
        found = self.store.bulk_settings(bids)
        return jsonify(
            items=[
                {"bid": b, "etag": etag_of(found[b][1]), "settings": found[b][0]}
                for b in bids
                if b in found
            ],
            missing=[b for b in bids if b not in found],
        )

    def patch_settings(self, bid: str) -> Response:
        number = _bid(bid)
        current = self.store.get_settings(number)
        if current is None:
            raise _not_found(bid)
        wanted = _if_match()
        if request.mimetype not in PATCH_TYPES:
            raise ApiError(
                415, "unsupported_media_type", "send the patch as application/merge-patch+json"
            )
        patch = _json_body()
        note = _audit_note_header(default_author=g.caller.name)
        # Validate outside the write lock (and before the staleness check: an invalid
        # patch is invalid whatever the state); redo it inside only if a write slipped in.
        first = _checked(self.patcher, current[0], patch)
        if current[1] not in wanted:
            # Revisions only grow: stale now means stale inside the transaction too.
            raise _stale(current[1])

        def compute(doc: dict[str, Any], revision: int) -> SettingsUpdate:
            return first if revision == current[1] else _checked(self.patcher, doc, patch)

        try:
            stored = self.store.update_settings(number, wanted.__contains__, compute, note)
        except UnknownBiller:
            raise _not_found(bid) from None
        except StaleRevision as exc:
            raise _stale(exc.current) from None
        resp = _settings_response(stored.settings, stored.revision)
        if stored.note_id is not None:
            resp.headers[AUDIT_NOTE_ID_HEADER] = str(stored.note_id)
        return resp

    # -- notes --------------------------------------------------------------

    def list_notes(self, bid: str) -> Response:
        number = _bid(bid)
        after = _cursor_arg("notes")
        limit = _limit_arg()
        if self.store.get_profile(number) is None:
            raise _not_found(bid)
        found = self.store.list_notes(number, after=after, limit=limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return jsonify(
            items=[_note_json(n) for n in page],
            next_cursor=_cursor("notes", page[-1].id) if more else None,
        )

    def add_note(self, bid: str) -> Response:
        number = _bid(bid)
        if self.store.get_profile(number) is None:
            raise _not_found(bid)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(400, "bad_request", "Idempotency-Key: 1-200 printable ASCII characters")
        if request.mimetype != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the note as application/json")
        note = _new_note(_json_body(), default_author=g.caller.name)
        fingerprint = hashlib.sha256(
            json.dumps(note._asdict(), sort_keys=True).encode()
        ).hexdigest()
        try:
            saved, created = self.store.add_note(number, note, key=key, fingerprint=fingerprint)
        except UnknownBiller:
            raise _not_found(bid) from None
        except IdempotencyConflict:
            raise ApiError(
                409, "idempotency_conflict", "this Idempotency-Key was used for another note"
            ) from None
        resp = jsonify(_note_json(saved))
        resp.status_code = 201 if created else 200
        return resp

    # -- sandbox staging (not in the contract) ------------------------------

    def put_profile(self, bid: str) -> Response:
        number = _bid(bid)
        if request.mimetype != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the profile as application/json")
        profile = _profile_body(number, _json_body())
        created = self.store.put_profile(profile)
        resp = jsonify(profile._asdict())
        resp.status_code = 201 if created else 200
        return resp

    def delete_profile(self, bid: str) -> Response:
        if not self.store.delete_profile(_bid(bid)):
            raise _not_found(bid)
        return Response(status=204)


# -- request parsing ---------------------------------------------------------


def _bid(raw: str) -> int:
    """A BID from the path; anything that cannot be one is simply not found."""
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_ID:
        raise _not_found(raw)
    return int(raw)


def _not_found(bid: object) -> ApiError:
    return ApiError(404, "not_found", f"no biller with BID {str(bid)[:40]!s}")


def _stale(current: int) -> ApiError:
    return ApiError(
        412,
        "precondition_failed",
        "the settings changed since that ETag; read them again and recompute the change",
        headers={"ETag": etag_of(current)},
    )


def _int_arg(name: str, raw: str) -> int:
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_ID:
        raise ApiError(400, "bad_request", f"{name} must be a positive integer")
    return int(raw)


def _limit_arg() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return 100
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= 1000:
        raise ApiError(400, "bad_request", "limit must be an integer from 1 to 1000")
    return int(raw)


def _cursor(kind: str, after: int) -> str:
    raw = json.dumps({"k": kind, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_arg(kind: str) -> int:
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


def _if_match() -> frozenset[int]:
    """The revisions If-Match names (strong ETags only); 428 when missing or ``*``."""
    header = request.headers.get("If-Match", "").strip()
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_body() -> Any:
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_request", "the body is not valid JSON") from None


def _checked(patcher: SettingsPatcher, current: dict[str, Any], patch: Any) -> SettingsUpdate:
    try:
        return patcher.apply(current, patch)
    except InvalidPatch as exc:
        raise ApiError(
            422, "invalid_settings", "the patched settings would be invalid", exc.errors
        ) from None


def _settings_response(settings: dict[str, Any], revision: int) -> Response:
    # Encoded here rather than by jsonify: every settings read and write answers with
    # the whole settings, and Flask's JSON provider costs more than the encoding.
    return Response(
        json.dumps(settings, separators=(",", ":")),
        mimetype="application/json",
        headers={"ETag": etag_of(revision)},
    )


def _audit_note_header(*, default_author: str) -> NewNote | None:
    """The note of a PATCH's ``Audit-Note`` header (a JSON ``NoteCreate``), or None."""
    raw = request.headers.get(AUDIT_NOTE_HEADER)
    if raw is None:
        return None
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(
            422,
            "invalid_note",
            f"the {AUDIT_NOTE_HEADER} header is not JSON",
            [FieldError("", "not JSON")],
        ) from None
    return _new_note(body, default_author=default_author, limits=HEADER_NOTE_LIMITS)


def _new_note(body: Any, *, default_author: str, limits: NoteLimits = BODY_NOTE_LIMITS) -> NewNote:
    """A note from a request body (or header, with its ``limits``); 422 listing every problem."""
    if not isinstance(body, dict):
        raise ApiError(
            422, "invalid_note", "a note is a JSON object", [FieldError("", "not an object")]
        )
    fields: dict[str, Any] = body
    errors = [FieldError(k, "unknown field") for k in sorted(set(fields) - set(NewNote._fields))]
    text: Any = fields.get("text")
    author: Any = fields.get("author", default_author)
    commit: Any = fields.get("commit")
    paths: Any = fields.get("paths")
    if not isinstance(text, str) or not 1 <= len(text) <= limits.text:
        errors.append(FieldError("text", f"required: a string of 1-{limits.text} characters"))
    if not isinstance(author, str) or not 1 <= len(author) <= 200:
        errors.append(FieldError("author", "a string of 1-200 characters"))
    # Optional fields are left out when unknown; an explicit null is an error.
    if "commit" in fields and not (isinstance(commit, str) and _COMMIT.fullmatch(commit)):
        errors.append(FieldError("commit", "a git commit SHA: 7-64 lowercase hex digits"))
    if "paths" in fields and not (
        isinstance(paths, list)
        and len(paths) <= limits.paths
        and all(isinstance(p, str) and 1 <= len(p) <= limits.path for p in paths)
    ):
        errors.append(
            FieldError("paths", f"at most {limits.paths} strings of 1-{limits.path} characters")
        )
    if errors:
        raise ApiError(422, "invalid_note", "the note is invalid", errors)
    return NewNote(author, text, commit, tuple(paths) if paths is not None else None)


def _note_json(note: Note) -> dict[str, Any]:
    out = {k: v for k, v in note._asdict().items() if v is not None}
    if note.paths is not None:
        out["paths"] = list(note.paths)
    return out


def _profile_body(bid: int, body: Any) -> Profile:
    """A profile from a ``PUT /_sandbox/billers/{bid}`` body; 422 listing every problem."""
    if not isinstance(body, dict):
        raise ApiError(
            422, "invalid_profile", "a profile is a JSON object", [FieldError("", "not an object")]
        )
    fields: dict[str, Any] = body
    errors: list[FieldError] = []
    name: Any = fields.get("name")
    integrator: Any = fields.get("integrator_id")
    status = fields.get("status", "active")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        errors.append(FieldError("name", "required: a string of 1-200 characters"))
    if type(integrator) is not int or not 1 <= integrator <= MAX_ID:
        errors.append(FieldError("integrator_id", "required: a positive integer"))
    if status not in PROFILE_STATUSES:
        errors.append(FieldError("status", f"one of {', '.join(PROFILE_STATUSES)}"))
    errors.extend(
        FieldError(k, "unknown field")
        for k in sorted(set(fields) - {"name", "integrator_id", "status"})
    )
    if errors:
        raise ApiError(422, "invalid_profile", "the profile is invalid", errors)
    return Profile(bid, name, integrator, status)


# -- request log ---------------------------------------------------------------


class _RequestLog:
    """One log line per request: method, path, status, duration, injected fault.

    Never a header (the token) or a body (secret values); the query string is
    left out too.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["-"]

        def recording(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            return self._app(environ, recording)
        except ConnectionError:
            status[0] = "dropped"
            raise
        finally:
            fault = environ.get(FAULT_ENVIRON_KEY)
            log.info(
                "%s %s %s %.1fms%s",
                _printable(str(environ.get("REQUEST_METHOD", "")), 16),
                _printable(str(environ.get("PATH_INFO", "")), 200),
                status[0],
                (time.perf_counter() - started) * 1000,
                f" fault={fault}" if fault else "",
            )


def _printable(text: str, limit: int) -> str:
    """``text`` safe for a one-line log: control characters escaped, length capped."""
    shown = text[:limit]
    safe = (
        shown
        if shown.isprintable()
        else "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)
    )
    return safe + ("…" if len(text) > limit else "")
