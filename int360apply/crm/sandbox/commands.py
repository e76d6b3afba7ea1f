"""``int360 sandbox set`` and ``int360 sandbox profile``: the command-line side of
``edit`` (arguments, which database, one line out, exit codes).

Both act on the repository's embedded sandbox database (``.int360/sandbox.sqlite``)
unless ``--db`` names another. Exit 0 done, 1 refused (unknown biller, a value
the CRM refuses), 64 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from int360apply.crm import PROFILE_STATUSES
from int360apply.crm.sandbox.options import DEFAULT_DB
from int360apply.crm.sandbox.records import MAX_ID

SET_EPILOG = """examples:
  int360 sandbox set 104233 data_pump.schedule='0 7 * * 1-5'
  int360 sandbox set 104233 ftp.port=2222 ftp.enabled=true
  int360 sandbox set 104233 'ftp.auth.private_key={secret: NEW_KEY}'
  int360 sandbox set 104233 data_pump.notify_emails=null      # remove the field

VALUE is read as YAML 1.2 (a scalar or a flow value); a secret is set by name
and the sandbox stores a placeholder, never a value. The change gets an audit
note and a new ETag, like an edit in the CRM: `int360 drift` then shows it.

exit codes: 0 changed, 1 refused (unknown biller, a value the CRM refuses),
64 usage error"""

PROFILE_EPILOG = """examples:
  int360 sandbox profile 104299 --integrator-id 201     # create (name from the file)
  int360 sandbox profile 104233 --integrator-id 175     # move it to another ID
  int360 sandbox profile 104233 --status inactive

exit codes: 0 done, 1 error, 64 usage error"""


def _bid(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise argparse.ArgumentTypeError(f"not a BID: {raw[:40]!r} (a positive whole number)")
    return int(raw)


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help=f"the sandbox database (default: the repository's {DEFAULT_DB})",
    )


def add_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``int360 sandbox set``."""
    parser.add_argument("bid", type=_bid, metavar="BID")
    parser.add_argument("assignments", nargs="+", metavar="PATH=VALUE")
    _db_argument(parser)


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``int360 sandbox profile``."""
    parser.add_argument("bid", type=_bid, metavar="BID")
    parser.add_argument("--name", help="the biller's name (default: its file's, when creating)")
    parser.add_argument(
        "--integrator-id", type=_bid, metavar="N", help="its Integration Partner ID"
    )
    parser.add_argument("--status", choices=PROFILE_STATUSES)
    _db_argument(parser)


def _database(args: argparse.Namespace, root: Path | None) -> Path:
    if args.db is not None:
        return Path(args.db)
    return (root or Path.cwd()) / DEFAULT_DB


def run_set(args: argparse.Namespace, root: Path | None, schema_dir: Path | None = None) -> int:
    """``int360 sandbox set BID PATH=VALUE…``; the exit code."""
    from int360apply.crm.sandbox.edit import EditError, open_store, set_values
    from int360apply.crm.sandbox.server import find_schema_dir
    from int360apply.schemas import SchemaSetupError, schemas_for

    try:
        schemas = schemas_for(schema_dir or find_schema_dir(root))
    except (OSError, SchemaSetupError) as exc:
        return _fail("set", str(exc), 1)
    db = _database(args, root)
    try:
        store = open_store(db)
        try:
            etag = set_values(store, schemas, args.bid, args.assignments)
        finally:
            store.close()
    except EditError as exc:
        return _fail("set", exc.message, exc.code)
    paths = ", ".join(a.partition("=")[0] for a in args.assignments)
    print(f"sandbox ({db}): biller {args.bid} changed: {paths} (ETag {etag})")
    return 0


def run_profile(
    args: argparse.Namespace, root: Path | None, default_name: str | None = None
) -> int:
    """``int360 sandbox profile BID [--name] [--integrator-id] [--status]``; the exit code."""
    from int360apply.crm.sandbox.edit import EditError, open_store, put_profile

    db = _database(args, root)
    try:
        store = open_store(db)
        try:
            profile, created = put_profile(
                store,
                args.bid,
                name=args.name,
                integrator_id=args.integrator_id,
                status=args.status,
                default_name=default_name,
            )
        finally:
            store.close()
    except EditError as exc:
        return _fail("profile", exc.message, exc.code)
    verb = "created" if created else "changed"
    print(
        f"sandbox ({db}): {verb} profile {profile.bid} {profile.name!r}, "
        f"integrator ID {profile.integrator_id}, {profile.status}"
    )
    return 0


def _fail(command: str, message: str, code: int) -> int:
    print(f"int360 sandbox {command}: {message}", file=sys.stderr)
    return code


def biller_name(root: Path | None, bid: int) -> str | None:
    """The name in the repository's biller file of ``bid``, if there is one."""
    if root is None:
        return None
    from int360apply.load import load_config
    from int360apply.repo import Repo

    biller: Any = load_config(Repo(root)).billers.get(bid)
    return str(biller.name) if biller is not None else None
