"""The sandbox CRM as a Flask app: every call of ``schemas/crm-api.openapi.yaml``.

Plus, outside the contract, ``PUT``/``DELETE /_sandbox/billers/{bid}`` to stage
profiles in tests (``staging``).

Every request is authenticated (``auth``) and logged on one line (method, path,
status, duration, injected fault; never a header or a body: ``request_log``).
``If-Match: *`` is refused with 428: every write must name the state it
replaces (``etags``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, g, jsonify, request

from int360apply.crm import AUDIT_NOTE_ID_HEADER
from int360apply.crm.sandbox.api_error import ApiError, not_found
from int360apply.crm.sandbox.auth import Authenticator
from int360apply.crm.sandbox.error_responses import register_error_handlers
from int360apply.crm.sandbox.etags import etag_of, if_match, stale
from int360apply.crm.sandbox.faults import FaultConfig, FaultInjector
from int360apply.crm.sandbox.note_bodies import audit_note_header, new_note, note_json
from int360apply.crm.sandbox.options import Token
from int360apply.crm.sandbox.patching import InvalidPatch, SettingsPatcher
from int360apply.crm.sandbox.records import (
    IdempotencyConflict,
    SettingsUpdate,
    StaleRevision,
    UnknownBiller,
)
from int360apply.crm.sandbox.request_args import (
    bid_arg,
    cursor,
    cursor_arg,
    int_arg,
    json_body,
    limit_arg,
)
from int360apply.crm.sandbox.request_log import RequestLog
from int360apply.crm.sandbox.staging import add_staging_routes
from int360apply.crm.sandbox.store import Store
from int360apply.schemas import Schemas

MAX_BULK = 500
MAX_BODY = 1 << 20
PATCH_TYPES = ("application/merge-patch+json", "application/json")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


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
    api = _Api(store, SettingsPatcher(schemas))

    app.before_request(Authenticator(tokens).authenticate)
    app.add_url_rule("/billers", view_func=api.list_billers, methods=["GET"])
    app.add_url_rule("/billers/<bid>", view_func=api.get_biller, methods=["GET"])
    app.add_url_rule("/billers/<bid>/settings", view_func=api.get_settings, methods=["GET"])
    app.add_url_rule(
        "/billers/<bid>/settings", "patch_settings", api.patch_settings, methods=["PATCH"]
    )
    app.add_url_rule("/settings", view_func=api.bulk_settings, methods=["GET"])
    app.add_url_rule("/billers/<bid>/notes", view_func=api.list_notes, methods=["GET"])
    app.add_url_rule("/billers/<bid>/notes", "add_note", api.add_note, methods=["POST"])
    add_staging_routes(app, store)
    register_error_handlers(app)

    injector = FaultInjector(app.wsgi_app, faults)
    app.extensions["int360_faults"] = injector
    app.wsgi_app = RequestLog(injector)  # type: ignore[method-assign]
    return app


class _Api:
    """The request handlers of the contract's calls; one instance per app."""

    def __init__(self, store: Store, patcher: SettingsPatcher) -> None:
        self.store = store
        self.patcher = patcher

    # -- billers ------------------------------------------------------------

    def list_billers(self) -> Response:
        integrator = request.args.get("integrator_id")
        integrator_id = int_arg("integrator_id", integrator) if integrator is not None else None
        after = cursor_arg("billers")
        limit = limit_arg()
        found = self.store.list_profiles(integrator_id=integrator_id, after=after, limit=limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return jsonify(
            items=[p._asdict() for p in page],
            next_cursor=cursor("billers", page[-1].bid) if more else None,
        )

    def get_biller(self, bid: str) -> Response:
        profile = self.store.get_profile(bid_arg(bid))
        if profile is None:
            raise not_found(bid)
        return jsonify(profile._asdict())

    # -- settings -----------------------------------------------------------

    def get_settings(self, bid: str) -> Response:
        found = self.store.get_settings(bid_arg(bid))
        if found is None:
            raise not_found(bid)
        return _settings_response(*found)

    def bulk_settings(self) -> Response:
        raw = request.args.getlist("bid")
        if not raw:
            raise ApiError(400, "bad_request", "name at least one biller: ?bid=1&bid=2")
        if len(raw) > MAX_BULK:
            raise ApiError(400, "bad_request", f"at most {MAX_BULK} bids per call, got {len(raw)}")
        bids = list(dict.fromkeys(int_arg("bid", b) for b in raw))
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
        number = bid_arg(bid)
        current = self.store.get_settings(number)
        if current is None:
            raise not_found(bid)
        wanted = if_match(request.headers.get("If-Match", ""))
        if request.mimetype not in PATCH_TYPES:
            raise ApiError(
                415, "unsupported_media_type", "send the patch as application/merge-patch+json"
            )
        patch = json_body()
        note = audit_note_header(default_author=g.caller.name)
        # Validate outside the write lock (and before the staleness check: an invalid
        # patch is invalid whatever the state); redo it inside only if a write slipped in.
        first = _checked(self.patcher, current[0], patch)
        if current[1] not in wanted:
            # Revisions only grow: stale now means stale inside the transaction too.
            raise stale(current[1])

        def compute(doc: dict[str, Any], revision: int) -> SettingsUpdate:
            return first if revision == current[1] else _checked(self.patcher, doc, patch)

        try:
            stored = self.store.update_settings(number, wanted.__contains__, compute, note)
        except UnknownBiller:
            raise not_found(bid) from None
        except StaleRevision as exc:
            raise stale(exc.current) from None
        resp = _settings_response(stored.settings, stored.revision)
        if stored.note_id is not None:
            resp.headers[AUDIT_NOTE_ID_HEADER] = str(stored.note_id)
        return resp

    # -- notes --------------------------------------------------------------

    def list_notes(self, bid: str) -> Response:
        number = bid_arg(bid)
        after = cursor_arg("notes")
        limit = limit_arg()
        if self.store.get_profile(number) is None:
            raise not_found(bid)
        found = self.store.list_notes(number, after=after, limit=limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return jsonify(
            items=[note_json(n) for n in page],
            next_cursor=cursor("notes", page[-1].id) if more else None,
        )

    def add_note(self, bid: str) -> Response:
        number = bid_arg(bid)
        if self.store.get_profile(number) is None:
            raise not_found(bid)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(400, "bad_request", "Idempotency-Key: 1-200 printable ASCII characters")
        if request.mimetype != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the note as application/json")
        note = new_note(json_body(), default_author=g.caller.name)
        fingerprint = hashlib.sha256(
            json.dumps(note._asdict(), sort_keys=True).encode()
        ).hexdigest()
        try:
            saved, created = self.store.add_note(number, note, key=key, fingerprint=fingerprint)
        except UnknownBiller:
            raise not_found(bid) from None
        except IdempotencyConflict:
            raise ApiError(
                409, "idempotency_conflict", "this Idempotency-Key was used for another note"
            ) from None
        resp = jsonify(note_json(saved))
        resp.status_code = 201 if created else 200
        return resp


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
