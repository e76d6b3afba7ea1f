"""The ``int360`` command: argparse front-ends, one function per command.

``parser`` builds the command line; one short function per command (arguments →
``engine`` → render → exit code) lives with its family: ``repo_commands``
(the repository alone), ``plan_commands`` (plan, apply, drift), ``crm_commands``
(import, secrets, billers, new), ``sandbox_commands``; ``arguments`` and
``results`` serve them all; ``terminal`` writes to the user. ``main`` maps every
error to its message and exit code in one place (the codes are documented in
``int360apply.errors``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..errors import Int360Error
from ..repo import open_repo
from ..runtime import tuned
from .parser import Handler, build_parser
from .terminal import err


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``int360``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        with tuned() as tuning:  # process tuning, undone however the command ends
            repo = open_repo(args.repo) if getattr(args, "needs_repo", True) else None
            handler: Handler = args.func
            return handler(args, repo, tuning)
    except Int360Error as exc:  # every error the user is told about, in one place
        err(exc.report())
        return exc.exit_code
    except KeyboardInterrupt:
        err("int360: interrupted")
        return 130
    except BrokenPipeError:
        return _closed_pipe()


EXIT_PIPE = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13)


def _closed_pipe() -> int:
    """The reader of stdout went away (``int360 partners | head -2``): stop quietly.

    stdout is pointed at /dev/null so that the interpreter's last flush does not
    complain either.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE


__all__ = ["build_parser", "main"]
