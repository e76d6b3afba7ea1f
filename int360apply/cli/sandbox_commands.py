"""The ``sandbox`` commands: serve the sandbox CRM, edit its settings and profiles."""

from __future__ import annotations

import argparse

from ..repo import Repo, RepoError, open_repo
from ..runtime import Tuning


def cmd_sandbox_serve(args: argparse.Namespace, repo: Repo | None, tuning: Tuning) -> int:
    """``int360 sandbox serve``: the sandbox CRM in the foreground."""
    from ..crm.sandbox.server import run_serve
    from ..crmconn import seed_billers
    from ..load import load_config

    try:
        found = open_repo(getattr(args, "repo", None))
    except RepoError:
        return int(run_serve(args, []))
    return int(run_serve(args, seed_billers(load_config(found)), schema_dir=found.schema_dir))


def _sandbox_repo(args: argparse.Namespace) -> Repo | None:
    """The repository whose embedded sandbox ``sandbox set``/``profile`` edit (None
    with ``--db``: the database is named, the repository is optional)."""
    try:
        return open_repo(getattr(args, "repo", None))
    except RepoError:
        if args.db is None:
            raise
        return None


def cmd_sandbox_set(args: argparse.Namespace, repo: Repo | None, tuning: Tuning) -> int:
    """``int360 sandbox set BID PATH=VALUE…``: a hand edit of the sandbox's live settings."""
    from ..crm.sandbox.commands import run_set

    found = _sandbox_repo(args)
    root = found.root if found is not None else None
    return run_set(args, root, found.schema_dir if found is not None else None)


def cmd_sandbox_profile(args: argparse.Namespace, repo: Repo | None, tuning: Tuning) -> int:
    """``int360 sandbox profile BID …``: create or change a profile in the sandbox."""
    from ..crm.sandbox.commands import biller_name, run_profile

    found = _sandbox_repo(args)
    root = found.root if found is not None else None
    return run_profile(args, root, biller_name(root, args.bid) if args.name is None else None)
