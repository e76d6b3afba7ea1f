"""A local HTTPS stand-in for Azure Key Vault, speaking the REST calls that the real
``azure-keyvault-secrets`` ``SecretClient`` makes to read a secret:

* a request without a token gets 401 and the challenge
  ``WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
  resource="https://vault.azure.net"``;
* ``GET /secrets/{name}?api-version=…`` with ``Authorization: Bearer <token>`` gets
  ``{"value", "id", "attributes"}``, or 404 ``SecretNotFound``, or 403 ``Forbidden``
  for a name the identity may not read (as a vault without the RBAC role answers).

It serves on 127.0.0.1 with a certificate from a ``trustme`` CA, and counts every
authorised read per vault name, so tests can say what was fetched and how often.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

TENANT = "00000000-0000-0000-0000-00000000feed"
CHALLENGE = (
    f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
    'resource="https://vault.azure.net"'
)


class VaultStandIn:
    """The stand-in's state: secrets by vault name, who may read what, what was read."""

    def __init__(self, ca: trustme.CA, token: str) -> None:
        self.token = token
        self.secrets: dict[str, str] = {}
        self.forbidden: set[str] = set()
        self.disabled: set[str] = set()
        # name -> (status, body): any other answer a vault might give
        self.answers: dict[str, tuple[int, Any]] = {}
        self.fetches: Counter[str] = Counter()
        self.challenges = 0
        self.bad_tokens = 0
        self.lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._server = _Server(context, self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def put(self, vault_name: str, value: str) -> None:
        """Store a secret as ``az keyvault secret set`` would."""
        self.secrets[vault_name] = value

    def reset_counts(self) -> None:
        with self.lock:
            self.fetches.clear()
            self.challenges = 0

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, vault: VaultStandIn) -> None:
        self.context = context
        self.vault = vault
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        # The TLS handshake happens in the handler's thread, not the accept loop.
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that drops a keep-alive connection is not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        self._send(status, {"error": {"code": code, "message": message}}, headers)

    def do_GET(self) -> None:
        vault = self.server.vault
        parts = urlsplit(self.path)
        if "api-version" not in parse_qs(parts.query):
            self._error(400, "MissingApiVersionParameter", "api-version is required")
            return
        auth = self.headers.get("Authorization")
        if auth is None:
            with vault.lock:
                vault.challenges += 1
            self._error(
                401,
                "Unauthorized",
                "AKV10000: Request is missing a Bearer token.",
                **{"WWW-Authenticate": CHALLENGE},
            )
            return
        if auth != f"Bearer {vault.token}":
            with vault.lock:
                vault.bad_tokens += 1
            self._error(
                401,
                "Unauthorized",
                "AKV10032: Invalid issuer.",
                **{"WWW-Authenticate": CHALLENGE},
            )
            return
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) not in (2, 3) or segments[0] != "secrets":
            self._error(404, "NotFound", "no such operation")
            return
        name = segments[1]
        with vault.lock:
            vault.fetches[name] += 1
        if name in vault.answers:
            self._send(*vault.answers[name])
            return
        if name in vault.disabled:
            self._send(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Operation get is not allowed on a disabled secret.",
                        "innererror": {"code": "SecretDisabled"},
                    }
                },
            )
            return
        if name in vault.forbidden:
            self._send(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Caller is not authorized to perform action on resource. "
                        "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
                        "innererror": {"code": "ForbiddenByRbac"},
                    }
                },
            )
            return
        if name not in vault.secrets:
            self._error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {name} was not found in this key vault.",
            )
            return
        version = "0123456789abcdef0123456789abcdef"
        self._send(
            200,
            {
                "value": vault.secrets[name],
                "id": f"{vault.url}secrets/{name}/{version}",
                "attributes": {
                    "enabled": True,
                    "created": 1700000000,
                    "updated": 1700000000,
                    "recoveryLevel": "Recoverable+Purgeable",
                    "recoverableDays": 90,
                },
                "tags": {},
            },
        )
