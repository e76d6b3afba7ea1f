"""``PUT``/``DELETE /_sandbox/billers/{bid}``: staging profiles in tests.

Outside the contract: a real CRM's profiles are not written through its API.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from int360apply.crm import PROFILE_STATUSES, Profile
from int360apply.crm.sandbox.api_error import ApiError, not_found
from int360apply.crm.sandbox.patching import FieldError
from int360apply.crm.sandbox.records import MAX_ID
from int360apply.crm.sandbox.request_args import bid_arg, json_body
from int360apply.crm.sandbox.store import Store

PATH = "/_sandbox/billers/<bid>"


def add_staging_routes(app: Flask, store: Store) -> None:
    """Serve the staging calls of ``store`` on ``app``."""
    staging = _Staging(store)
    app.add_url_rule(PATH, view_func=staging.put_profile, methods=["PUT"])
    app.add_url_rule(PATH, "delete_profile", staging.delete_profile, methods=["DELETE"])


class _Staging:
    def __init__(self, store: Store) -> None:
        self.store = store

    def put_profile(self, bid: str) -> Response:
        number = bid_arg(bid)
        if request.mimetype != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the profile as application/json")
        profile = _profile_body(number, json_body())
        created = self.store.put_profile(profile)
        resp = jsonify(profile._asdict())
        resp.status_code = 201 if created else 200
        return resp

    def delete_profile(self, bid: str) -> Response:
        if not self.store.delete_profile(bid_arg(bid)):
            raise not_found(bid)
        return Response(status=204)


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
