"""Secrets: spotting literals in files, and resolving values at apply time.

``literals`` finds secrets written into files; ``configured`` picks the source
a run reads values from (``sources``: the environment; ``keyvault``: Azure Key
Vault); ``resolver`` shares one fetch per name among the apply's threads.
"""

from __future__ import annotations

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

__all__ = [
    "ENV_PREFIX",
    "EnvSource",
    "SecretSource",
    "SecretSourceError",
    "SecretUnavailable",
    "SharedResolver",
    "is_reference",
    "plaintext_secrets",
    "source_from_environment",
    "with_references",
]
