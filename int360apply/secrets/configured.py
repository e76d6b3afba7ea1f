"""The secret source a run reads: ``INT360_SECRET_SOURCE`` picks the environment
(``sources.EnvSource``) or Azure Key Vault (``keyvault.KeyVaultSource``, at the
vault of ``INT360_KEYVAULT_URL``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from .sources import (
    SOURCE_VARIABLE,
    SOURCES,
    VAULT_URL_VARIABLE,
    EnvSource,
    SecretSource,
    SecretSourceError,
    shown,
)


def source_from_environment(environ: Mapping[str, str] | None = None) -> SecretSource:
    """The source ``INT360_SECRET_SOURCE`` configures (``env`` when unset).

    Raises ``SecretSourceError`` for an unknown source, a missing or malformed
    vault URL, or the Azure extra not installed. Nothing is fetched here.
    """
    env = os.environ if environ is None else environ
    kind = env.get(SOURCE_VARIABLE, "").strip() or "env"
    if kind == "env":
        return EnvSource(env)
    if kind == "azure-keyvault":
        url = vault_url(env.get(VAULT_URL_VARIABLE))
        from .keyvault import KeyVaultSource

        return KeyVaultSource(url)
    raise SecretSourceError(
        f"{SOURCE_VARIABLE} is {shown(kind)!r}, not a secret source: use " + " or ".join(SOURCES)
    )


def vault_url(raw: str | None) -> str:
    """The vault URL of ``INT360_KEYVAULT_URL``, normalised to end with ``/``.

    It must be ``https://HOST[:PORT]/`` with nothing else: a path, query or user
    name there is a mistake (and a user:password must not be echoed).
    """
    if raw is None or not raw.strip():
        raise SecretSourceError(
            f"{SOURCE_VARIABLE}=azure-keyvault needs the vault's URL in {VAULT_URL_VARIABLE} "
            "(e.g. https://my-vault.vault.azure.net/)"
        )
    url = raw.strip()
    bad = f"{VAULT_URL_VARIABLE} must be a vault URL https://NAME.vault.azure.net/"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise SecretSourceError(f"{bad}; it holds a control character or a space")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise SecretSourceError(f"{bad}; it is not a URL") from None
    if parts.username is not None or parts.password is not None:
        raise SecretSourceError(f"{bad}, without a user name or password")
    if parts.scheme != "https" or not parts.hostname:
        raise SecretSourceError(f"{bad} (the Azure SDK speaks only HTTPS)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SecretSourceError(f"{bad}, without a path or query")
    return f"https://{parts.netloc}/"
