"""Secret values from Azure Key Vault (the optional extra ``int360-as-code[azure]``).

Naming rule: a vault's secret names allow only ``0-9``, ``a-z``, ``A-Z`` and
``-``, so secret ``FTP_SPRINGFIELD_KEY`` is read as ``ftp-springfield-key``
(lowercased, ``_`` → ``-``). The repository's names (``^[A-Z][A-Z0-9_]{1,63}$``)
all map, and no two map to the same vault name.

The credential is ``DefaultAzureCredential`` unless the caller passes one: in a
workflow after ``azure/login`` over OIDC, on a workstation after ``az login``,
on an Azure machine its managed identity.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import urlsplit

from ..crm.environment import is_loopback
from .sources import AZURE_EXTRA, SOURCE_VARIABLE, SecretSourceError, SecretUnavailable, shown

try:
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
    )
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient
except ImportError:  # the extra is not installed: said once, as a configuration error
    _MISSING_SDK = True
else:
    _MISSING_SDK = False

# The SDK logs a failed sign-in as a multi-line warning; our own one-line error
# says it better. A NullHandler keeps it off stderr unless the caller set up logging.
logging.getLogger("azure").addHandler(logging.NullHandler())

_REPO_NAME = re.compile(r"[A-Z0-9_]{1,127}")
ROLE_HINT = (
    "the identity needs the role Key Vault Secrets User on the vault "
    "(or get permission on secrets in its access policy)"
)
SIGN_IN_HINT = (
    "no Azure credential could get a token: sign in with az login, use azure/login "
    "in a workflow, or run where a managed identity is assigned"
)


def vault_name(name: str) -> str:
    """The vault's name for secret ``name``: ``FTP_SPRINGFIELD_KEY`` → ``ftp-springfield-key``.

    Raises ``SecretUnavailable`` for a name outside ``A-Z``, ``0-9`` and ``_``
    (1 to 127 characters): it has no vault name that could not collide.
    """
    if not _REPO_NAME.fullmatch(name):
        raise SecretUnavailable(
            name,
            "has no Azure Key Vault name: only A-Z, 0-9 and _ (1 to 127 characters) map "
            "(lowercased, _ as -)",
            code="secret-unreadable",
        )
    return name.lower().replace("_", "-")


class KeyVaultSource:
    """Reads secret NAME from the vault at ``vault_url`` as ``vault_name(NAME)``.

    ``client_options`` go to ``SecretClient`` (e.g. ``connection_verify`` for a
    private CA). The client is made on the first fetch and shared by every
    thread; a vault on a loopback address (a local stand-in) cannot name the
    token's resource, so the challenge's resource check is off for it alone.
    """

    def __init__(self, vault_url: str, credential: Any = None, **client_options: Any) -> None:
        if _MISSING_SDK:
            raise SecretSourceError(
                f"{SOURCE_VARIABLE}=azure-keyvault needs the Azure SDK: {AZURE_EXTRA}"
            )
        self.vault_url = vault_url
        self._credential = credential
        self._options = client_options
        self._client: Any = None
        self._lock = threading.Lock()
        self._sign_in_failed = False

    def describe(self) -> str:
        """``Azure Key Vault https://…/``."""
        return f"Azure Key Vault {self.vault_url}"

    def _secret_client(self) -> Any:
        with self._lock:
            if self._client is None:
                options = dict(self._options)
                if is_loopback(urlsplit(self.vault_url).hostname or ""):
                    options.setdefault("verify_challenge_resource", False)
                credential = self._credential or DefaultAzureCredential()
                self._client = SecretClient(self.vault_url, credential, **options)
            return self._client

    def fetch(self, name: str) -> str:
        """The secret's current value; ``SecretUnavailable`` names the secret, the
        vault and the vault name, and says what to do (never a value)."""
        as_named = vault_name(name)
        where = f"{self.describe()} (as {as_named})"
        if self._sign_in_failed:
            raise SecretUnavailable(
                name, f"not read from {where}: {SIGN_IN_HINT}", "secret-unreadable"
            )
        try:
            secret = self._secret_client().get_secret(as_named)
        except ResourceNotFoundError:
            raise SecretUnavailable(name, f"not found in {where}") from None
        except ClientAuthenticationError as exc:
            if exc.status_code is None:  # the credential failed, not the vault
                self._sign_in_failed = True
                reason = SIGN_IN_HINT
            else:
                reason = f"the vault refused the token ({exc.status_code})"
            raise SecretUnavailable(
                name, f"not read from {where}: {reason}", "secret-unreadable"
            ) from None
        except HttpResponseError as exc:
            code, inner = _error_codes(exc)
            if "SecretDisabled" in (code, inner):
                reason = "the secret is disabled in the vault"
            elif exc.status_code == 403:
                label = ", ".join(c for c in (code, inner) if c) or "403"
                reason = f"access denied ({label}): {ROLE_HINT}"
            else:
                reason = f"the vault answered {exc.status_code} {code or ''}".rstrip()
            raise SecretUnavailable(
                name, f"not read from {where}: {reason}", "secret-unreadable"
            ) from None
        except AzureError as exc:
            # Connection failures, after the SDK's own retries; their text may hold
            # a URL or a proxy, not a value, but the type says enough.
            raise SecretUnavailable(
                name, f"not read from {where}: {type(exc).__name__}", "secret-unreadable"
            ) from None
        value = secret.value
        if not isinstance(value, str):
            raise SecretUnavailable(name, f"{where} returned no value", "secret-unreadable")
        return value


def _error_codes(exc: Any) -> tuple[str | None, str | None]:
    """The vault's error code and inner error code (``Forbidden``, ``SecretDisabled``)."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    inner = getattr(error, "innererror", None)
    inner_code = inner.get("code") if isinstance(inner, dict) else None

    def safe(text: Any) -> str | None:
        return shown(text) if isinstance(text, str) and text else None

    return safe(code), safe(inner_code)
