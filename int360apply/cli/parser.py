"""The argument parser of every ``int360`` command (argparse only)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from ..errors import EXIT_USAGE
from . import comment, crm_commands, plan_commands, repo_commands, sandbox_commands

Handler = Callable[..., int]  # a command's function: (args, repo, tuning) -> exit code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _scope_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--bid", type=int, nargs="+", metavar="BID", help="these billers")
    group.add_argument(
        "--partner", nargs="+", metavar="SLUG", help="every biller of these partners"
    )
    group.add_argument(
        "--changed-since",
        metavar="GITREF",
        help="billers whose files changed (all of them when _defaults, schemas/, "
        "int360apply/, pyproject.toml or a lockfile changed)",
    )
    group.add_argument("--all", action="store_true", help="every biller (the default)")


def _format_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")


def _verbose_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every biller and change (text)"
    )


def version() -> str:
    """The installed distribution's version (the package's own when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from .. import __version__

    try:
        return installed("int360-as-code")
    except PackageNotFoundError:
        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command; each sets ``func`` (and ``needs_repo``)."""
    from ..helptext import attach

    parser = _Parser(prog="int360")
    parser.add_argument("--repo", metavar="DIR", help="the repository (default: found upward)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_repository_commands(sub)
    _add_crm_commands(sub)
    comment.add_command(sub)
    attach(parser)  # descriptions, examples and exit codes (helptext)
    return parser


def _add_repository_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("validate", help="check files against schemas and rules")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files to check (default: all)")
    p.add_argument("--format", choices=("text", "github", "json"), default="text")
    p.add_argument(
        "--careful",
        action="store_true",
        help="no cache, no worker processes, the full schema validator on every file "
        "(slower; the reference the fast paths agree with)",
    )
    p.set_defaults(func=repo_commands.cmd_validate)

    p = sub.add_parser("render", help="show a biller's merged settings")
    p.add_argument("bid", type=int, metavar="BID")
    p.add_argument("--explain", action="store_true", help="show the source of every value")
    p.add_argument("--live", action="store_true", help="the CRM's current settings instead")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.set_defaults(func=repo_commands.cmd_render)

    p = sub.add_parser("partners", help="list partners with their biller counts")
    p.set_defaults(func=repo_commands.cmd_partners)


def _add_crm_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("plan", help="show what apply would change in the CRM")
    _scope_args(p)
    _format_arg(p)
    p.add_argument("--out", metavar="FILE", help="also write the JSON plan (for apply --plan)")
    p.add_argument("--rotate-secrets", action="store_true", help="plan secret values too")
    _verbose_arg(p)
    p.set_defaults(func=plan_commands.cmd_plan)

    p = sub.add_parser("apply", help="make the CRM match the repository")
    _scope_args(p)
    p.add_argument(
        "--plan",
        metavar="FILE",
        help="apply only if a fresh plan equals this saved one (stale billers skipped)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--max-billers", type=int, default=50, metavar="N", help="refuse above N changing (50)"
    )
    p.add_argument(
        "--max-percent",
        type=float,
        default=30.0,
        metavar="P",
        help="refuse above P%% of the managed billers changing, once 10 change (30)",
    )
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel writes (8)")
    p.add_argument("--report", metavar="FILE", help="write the JSON report")
    p.add_argument("--rotate-secrets", action="store_true", help="rewrite secret values too")
    _verbose_arg(p)
    p.set_defaults(func=plan_commands.cmd_apply)

    p = sub.add_parser("diff", help="merged settings at a git revision vs the working tree")
    p.add_argument(
        "--base", metavar="GITREF", help="default: merge base with origin/main, else HEAD"
    )
    _format_arg(p)
    _verbose_arg(p)
    p.set_defaults(func=repo_commands.cmd_diff)

    p = sub.add_parser("drift", help="plan every biller; report what changed in the CRM")
    _format_arg(p)
    p.add_argument("--adopt", action="store_true", help="rewrite drifted billers' files to match")
    p.add_argument(
        "--pending-since",
        metavar="SHA",
        help="the last applied commit: billers changed since are pending apply, not drift",
    )
    _verbose_arg(p)
    p.set_defaults(func=plan_commands.cmd_drift)

    p = sub.add_parser("import", help="write biller files from live CRM settings")
    p.add_argument("bids", type=int, nargs="*", metavar="BID")
    p.add_argument("--integrator-id", type=int, metavar="N", help="every biller with this ID")
    p.add_argument("--partner", metavar="SLUG", help="the partner (default: by integrator ID)")
    p.add_argument("--force", action="store_true", help="overwrite existing biller files")
    p.set_defaults(func=crm_commands.cmd_import)

    p = sub.add_parser(
        "secrets",
        help="each referenced secret: set in the CRM? available from the source? (no values)",
    )
    _scope_args(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=crm_commands.cmd_secrets)

    p = sub.add_parser("billers", help="the CRM's biller profiles beside the files")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--partner", metavar="SLUG", help="billers of this partner")
    which.add_argument("--integrator-id", type=int, metavar="N", help="profiles or files on ID N")
    p.add_argument("--name", metavar="TEXT", help="names containing TEXT (any case)")
    p.add_argument("--unmanaged", action="store_true", help="only profiles without a file")
    _format_arg(p)
    p.set_defaults(func=crm_commands.cmd_billers)

    p = sub.add_parser("new", help="start a biller file from its CRM profile")
    p.add_argument("bid", type=int, metavar="BID")
    p.add_argument("--partner", metavar="SLUG", help="the partner (default: by integrator ID)")
    p.set_defaults(func=crm_commands.cmd_new)

    p = sub.add_parser("sandbox", help="the sandbox CRM")
    sandbox = p.add_subparsers(dest="sandbox_command", metavar="COMMAND", parser_class=_Parser)
    sandbox.required = True
    serve = sandbox.add_parser("serve", help="run the sandbox CRM on 127.0.0.1")
    from ..crm.sandbox.options import add_serve_arguments

    add_serve_arguments(serve)
    serve.set_defaults(func=sandbox_commands.cmd_sandbox_serve, needs_repo=False)

    from ..crm.sandbox import commands as sandbox_edits

    for name, what, epilog, add_arguments, func in (
        (
            "set",
            "change a biller's live settings in the sandbox, as a CRM user would",
            sandbox_edits.SET_EPILOG,
            sandbox_edits.add_set_arguments,
            sandbox_commands.cmd_sandbox_set,
        ),
        (
            "profile",
            "create or change a biller's profile in the sandbox",
            sandbox_edits.PROFILE_EPILOG,
            sandbox_edits.add_profile_arguments,
            sandbox_commands.cmd_sandbox_profile,
        ),
    ):
        # The epilogs are worked examples: their line breaks are kept.
        p = sandbox.add_parser(
            name,
            help=what,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_arguments(p)
        p.set_defaults(func=func, needs_repo=False)
