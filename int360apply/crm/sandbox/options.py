"""The options of ``int360 sandbox serve`` and the token type, without the web framework.

Building the command line needs these for every ``int360`` command; keeping
them apart from ``app`` and ``server`` keeps Flask out of every start-up but
the sandbox's own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

DEFAULT_DB = Path(".int360") / "sandbox.sqlite"
DEFAULT_PORT = 8360
SCOPES = ("read", "write")


class Token(NamedTuple):
    """A bearer token the sandbox accepts: who it is, what it may do, its value."""

    name: str
    scope: str
    value: str


def parse_token(spec: str) -> Token:
    """``NAME:SCOPE:VALUE`` (the value may contain colons) → ``Token``."""
    name, scope, value = [*spec.split(":", 2), "", ""][:3]
    if not name or scope not in SCOPES or not value:
        raise argparse.ArgumentTypeError(
            "expected NAME:SCOPE:VALUE with SCOPE read or write, e.g. ci:read:s3cret"
        )
    return Token(name, scope, value)


def _fail_rate(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a fraction from 0 to 1, e.g. 0.3")
    return value


def _non_negative(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError("a whole number, 0 or more")
    return value


# The fault injection's options (``faults.FaultConfig``): flag, type, default, help.
_FAULT_OPTIONS: tuple[tuple[str, Callable[[str], float], float, str], ...] = (
    ("--latency-ms", _non_negative, 0, "delay every request by N ms"),
    (
        "--fail-rate",
        _fail_rate,
        0.0,
        "fraction of requests that get a fault: 503 or 429 with Retry-After, a dropped "
        "connection, or (writes) a committed write whose response is lost",
    ),
    ("--seed", _non_negative, 0, "random seed of the fault injection"),
)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``int360 sandbox serve``."""
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"SQLite database (default {DEFAULT_DB})"
    )
    parser.add_argument(
        "--port",
        type=_non_negative,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks one)",
    )
    parser.add_argument(
        "--token",
        type=parse_token,
        action="append",
        default=[],
        metavar="NAME:SCOPE:VALUE",
        help="accept this bearer token (scope read or write); repeatable. "
        "Without any --token every request is accepted as a write.",
    )
    for flag, convert, default, text in _FAULT_OPTIONS:
        parser.add_argument(flag, type=convert, default=default, help=text)
    parser.add_argument(
        "--no-seed",
        action="store_true",
        help="do not seed a new database (a profile per biller file and a few CRM-only "
        "billers per partner); a database seeded before is never seeded again",
    )
