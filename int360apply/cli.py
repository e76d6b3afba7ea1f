"""The ``int360`` command: argparse front-ends, one function per command.

Exit codes: 0 success or nothing to do, 1 invalid input or a failure,
2 differences found (``diff``, ``plan``, ``drift``), 64 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .collector import thaw
from .repo import Repo, RepoError, open_repo
from .schemas import SchemaSetupError

EXIT_OK, EXIT_FAIL, EXIT_CHANGES, EXIT_USAGE = 0, 1, 2, 64


class UsageError(Exception):
    """A command line that cannot be acted on (exit 64)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


# --- validate -------------------------------------------------------------


def cmd_validate(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 validate [PATH…]``: every problem in one run; exit 0 valid, 1 invalid."""
    from .render.problems import FORMATS
    from .validate_run import run_validate

    problems = run_validate(repo, [Path(p) for p in args.paths] or None, careful=args.careful)
    _out(FORMATS[args.format](problems))
    if not problems and args.format == "text":
        _err("valid")
    return EXIT_FAIL if problems else EXIT_OK


# --- render / partners ----------------------------------------------------


def cmd_render(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 render BID``: the merged settings of one biller."""
    from .config import load_config
    from .render import settings as render
    from .render.problems import text
    from .validate import biller_problems

    if args.live:
        return _render_live(args, repo)
    config = load_config(repo, _biller_paths(repo, args.bid))
    biller = config.billers.get(args.bid)
    if biller is None:
        problems = [p for p in config.problems if p.location.path.startswith("billers/")]
        if problems:
            _err(text(problems))
        else:
            _err(f"no biller {args.bid}: no file billers/{args.bid}.yaml")
        return EXIT_FAIL
    own = [p for p in config.problems if p.location.path == biller.doc.path]
    problems = sorted(set(own + biller_problems(config, biller)))
    if own or biller.partner not in config.partners:
        _err(text(problems) or f"partner '{biller.partner}' has errors; run int360 validate")
        return EXIT_FAIL
    desired = config.desired(biller)
    if args.explain:
        provenance = config.provenance(biller)
        fn = render.explain_json if args.format == "json" else render.explain_yaml
        _out(fn(desired, provenance))
    elif args.format == "json":
        import json

        _out(json.dumps(desired, indent=2) + "\n")
    else:
        _out(render.as_yaml(desired))
    if problems:
        _err(text(problems))
        return EXIT_FAIL
    return EXIT_OK


def _render_live(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 render BID --live``: the CRM's current settings, secrets by name."""
    from .config import load_config
    from .crmconn import connect
    from .onboarding import OnboardingError, live_settings
    from .render.live import live_json, live_yaml

    if args.explain:
        raise UsageError("--explain shows where the files set each value; --live has no files")
    config = load_config(repo)
    with connect(config) as crm:
        if args.format == "json":
            _err(f"CRM: {crm.label}")
        try:
            settings, etag = live_settings(crm.client, args.bid)
        except OnboardingError as exc:
            _err(f"int360: {exc}")
            return EXIT_FAIL
        render = live_json if args.format == "json" else live_yaml
        _out(render(args.bid, crm.label, etag, settings, config.schemas))
    return EXIT_OK


def _biller_paths(repo: Repo, bid: int) -> list[Path]:
    folder = repo.root / "billers"
    return sorted(set(folder.glob(f"{bid}.yaml")) | set(folder.glob(f"{bid}-*.yaml")))


def cmd_partners(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 partners``: slug, name, integrator IDs and biller count."""
    from .config import load_config

    config = load_config(repo)
    counts: dict[str, int] = {}
    for biller in config.billers.values():
        counts[biller.partner] = counts.get(biller.partner, 0) + 1
    rows = [("SLUG", "NAME", "INTEGRATOR IDS", "BILLERS")]
    for slug, partner in sorted(config.partners.items()):
        ids = ", ".join(map(str, partner.integrator_ids))
        rows.append((slug, partner.name, ids, str(counts.get(slug, 0))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3].rjust(widths[3])]
        _out("  ".join(cells).rstrip() + "\n")
    return EXIT_OK


# --- wiring ---------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    from .helptext import attach

    parser = _Parser(prog="int360")
    parser.add_argument("--repo", metavar="DIR", help="the repository (default: found upward)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("validate", help="check files against schemas and rules")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files to check (default: all)")
    p.add_argument("--format", choices=("text", "github", "json"), default="text")
    p.add_argument(
        "--careful",
        action="store_true",
        help="no cache, no worker processes, the full schema validator on every file "
        "(slower; the reference the fast paths agree with)",
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("render", help="show a biller's merged settings")
    p.add_argument("bid", type=int, metavar="BID")
    p.add_argument("--explain", action="store_true", help="show the source of every value")
    p.add_argument("--live", action="store_true", help="the CRM's current settings instead")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("partners", help="list partners with their biller counts")
    p.set_defaults(func=cmd_partners)

    _add_applier_commands(sub)
    attach(parser)
    return parser


def version() -> str:
    """The installed distribution's version (the package's own when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from . import __version__

    try:
        return installed("int360-as-code")
    except PackageNotFoundError:
        return __version__


def _add_applier_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """plan, apply, diff, drift, import and sandbox (wired in ``cli_apply``)."""
    try:
        from .cli_apply import add_commands
    except ImportError:  # pragma: no cover - during bootstrap only
        return
    add_commands(sub)


Handler = Callable[[argparse.Namespace, Repo], int]
EXIT_PIPE = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13)


def _closed_pipe() -> int:
    """The reader of stdout went away (``int360 partners | head -2``): stop quietly.

    Point stdout at /dev/null so the interpreter's last flush does not complain too.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``int360``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        repo = open_repo(args.repo) if getattr(args, "needs_repo", True) else None
        handler: Handler = args.func
        return handler(args, repo)  # type: ignore[arg-type]
    except BrokenPipeError:
        return _closed_pipe()
    except UsageError as exc:
        _err(f"int360: error: {exc}")
        return EXIT_USAGE
    except (RepoError, SchemaSetupError) as exc:
        _err(f"int360: {exc}")
        return EXIT_FAIL
    except Exception as exc:
        from .crm.errors import CrmConfigError, CrmError

        if isinstance(exc, CrmConfigError):
            _err(f"int360: {exc}")
            return EXIT_FAIL
        if isinstance(exc, CrmError):
            _err(f"int360: the CRM call failed: {exc}")
            return EXIT_FAIL
        raise
    except KeyboardInterrupt:
        _err("int360: interrupted")
        return 130
    finally:
        thaw()  # what the command froze (main also runs in-process)
