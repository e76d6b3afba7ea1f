"""The sandbox CRM's error answers as Flask responses: ours (``ApiError``), the
framework's own (404, 405, 413, …) and anything unexpected, all in the
contract's JSON error shape.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from int360apply.crm.sandbox.api_error import HTTP_CODES, ApiError, error_document

log = logging.getLogger("int360apply.crm.sandbox")


def register_error_handlers(app: Flask) -> None:
    """Answer every error ``app`` meets in the contract's shape."""
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def error_response(error: ApiError) -> Response:
    """``error`` as the contract's JSON error body, with its status and headers."""
    resp = jsonify(error_document(error.code, error.message, error.details))
    resp.status_code = error.status
    resp.headers.update(error.headers)
    return resp


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    message = exc.description or exc.name
    return error_response(
        ApiError(status, HTTP_CODES.get(status, "error"), message, headers=headers)
    )


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error")
    return error_response(ApiError(500, "internal", "internal error in the sandbox CRM"))
