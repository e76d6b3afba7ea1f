"""One error base for everything ``int360`` reports to its user, carrying its exit code.

Exit codes of the ``int360`` command:

* ``0`` (``EXIT_OK``): success, or nothing to do.
* ``1`` (``EXIT_FAIL``): invalid input, or a failure (the CRM, git, a file).
* ``2`` (``EXIT_CHANGES``): differences found (``diff``, ``plan``, ``drift``).
* ``3`` (``EXIT_REFUSED``): refused by the apply guard (nothing was written).
* ``64`` (``EXIT_USAGE``): a command line that cannot be acted on.

``main`` maps an ``Int360Error`` to its message and exit code in one place;
each subclass says how its message is introduced (``report``).
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_CHANGES = 2
EXIT_REFUSED = 3
EXIT_USAGE = 64


class Int360Error(Exception):
    """An error the user is told about in one line, ending the command with ``exit_code``."""

    exit_code: ClassVar[int] = EXIT_FAIL
    # What introduces the message after ``int360: `` (e.g. "the CRM call failed: ").
    prefix: ClassVar[str] = ""

    def report(self) -> str:
        """The text ``main`` writes to stderr for this error."""
        return f"int360: {self.prefix}{self}"


class UsageError(Int360Error):
    """A command line that cannot be acted on (exit 64)."""

    exit_code = EXIT_USAGE
    prefix = "error: "


class Failure(Int360Error):
    """A general failure (exit 1)."""


class Reported(Failure):
    """A failure whose message is complete as it is (e.g. the problems of a repository
    that does not validate): written without the ``int360:`` introduction."""

    def report(self) -> str:
        """The message itself."""
        return str(self)


__all__ = [
    "EXIT_CHANGES",
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "Failure",
    "Int360Error",
    "Reported",
    "UsageError",
]
