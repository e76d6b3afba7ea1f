"""Secrets: spotting literals in files, and resolving values at apply time.

``literals`` finds secrets written into files; ``sources`` reads values from
the configured source (``configured``: the environment, or Azure Key Vault in
``keyvault``);
``resolver`` shares one fetch per name among the apply's threads.
"""

from __future__ import annotations

from collections.abc import Mapping

from .configured import source_from_environment
from .literals import is_reference, plaintext_secrets, with_references
from .resolver import SharedResolver
from .sources import (
    ENV_PREFIX,
    EnvSource,
    SecretSource,
    SecretSourceError,
    SecretUnavailable,
)


def resolve(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of secret ``name`` from ``INT360_SECRET_<NAME>``, or None when unset."""
    try:
        return EnvSource(environ).fetch(name)
    except SecretUnavailable:
        return None


__all__ = [
    "ENV_PREFIX",
    "EnvSource",
    "SecretSource",
    "SecretSourceError",
    "SecretUnavailable",
    "SharedResolver",
    "is_reference",
    "plaintext_secrets",
    "resolve",
    "source_from_environment",
    "with_references",
]
