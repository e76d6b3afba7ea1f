"""What the command line names, checked and turned into values: the scope of a run,
an output file that can be written."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Config
from ..errors import UsageError
from ..scope import Scope, select


def scope_of(config: Config, args: argparse.Namespace) -> Scope:
    """The billers ``--bid``, ``--partner`` or ``--changed-since`` name (all when none)."""
    return select(
        config, bids=args.bid or (), partners=args.partner or (), changed_since=args.changed_since
    )


def output_file(flag: str, value: str | None) -> None:
    """A usage error, before anything is written, for an output file that cannot be
    one (a directory, a folder that does not exist): found only after the writes, it
    lost the report."""
    if value is None:
        return
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"{flag} {value}: is a directory; name a file")
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"{flag} {value}: {path.parent} is a file, not a folder")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {value}: the folder {path.parent} does not exist")
