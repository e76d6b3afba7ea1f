"""Where secret values come from at apply time, chosen by configuration.

``INT360_SECRET_SOURCE`` names the source: ``env`` (the default: the value of
secret NAME is ``INT360_SECRET_<NAME>``) or ``azure-keyvault`` (the vault of
``INT360_KEYVAULT_URL``, see ``keyvault``). A source answers one name at a time
and says what went wrong in words that name the secret and the source, never a
value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Protocol

from ..crm.errors import CrmConfigError

ENV_PREFIX = "INT360_SECRET_"
SOURCE_VARIABLE = "INT360_SECRET_SOURCE"
VAULT_URL_VARIABLE = "INT360_KEYVAULT_URL"
SOURCES = ("env", "azure-keyvault")
AZURE_EXTRA = "pip install 'int360-as-code[azure]'"

_SHOWABLE = re.compile(r"[\x21-\x7e]{1,64}")


class SecretSourceError(CrmConfigError):
    """The secret source is misconfigured (a variable to fix): the run stops before
    any write, with one line naming the variable."""


class SecretUnavailable(Exception):
    """One secret could not be read: fails the biller that needs it, not the run.

    ``code`` is the report's error code (``secret-missing`` when the source has no
    such secret, ``secret-unreadable`` when it refused or could not be asked).
    """

    def __init__(self, name: str, reason: str, code: str = "secret-missing") -> None:
        self.name = name
        self.code = code
        self.message = f"secret {shown(name)}: {reason}"
        super().__init__(self.message)


class SecretSource(Protocol):
    """Reads secret values by name."""

    def fetch(self, name: str) -> str:
        """The value of secret ``name``; raises ``SecretUnavailable``."""
        ...

    def describe(self) -> str:
        """The source in words, for messages (``the environment``, the vault URL)."""
        ...


def shown(text: str) -> str:
    """``text`` if it can be shown safely in a message (short, printable, one
    line), else its length: a key pasted where a name goes is never echoed."""
    return text if _SHOWABLE.fullmatch(text) else f"(a name of {len(text)} characters)"


class EnvSource:
    """Secret NAME is the environment variable ``INT360_SECRET_<NAME>``."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def fetch(self, name: str) -> str:
        """The variable's value; ``SecretUnavailable`` when it is unset."""
        value = self._environ.get(ENV_PREFIX + name)
        if value is None:
            raise SecretUnavailable(
                name, f"not set in the environment: set {ENV_PREFIX}{shown(name)}"
            )
        return value

    def describe(self) -> str:
        """``the environment (INT360_SECRET_<NAME>)``."""
        return f"the environment ({ENV_PREFIX}<NAME>)"
