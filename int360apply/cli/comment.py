"""``int360 comment KIND``: the ``github-comment`` format, from the JSON reports.

The workflows post what this prints (pull-request comment, job summaries, the
apply and drift issues, the adopt pull request): int360 renders, the workflow
glue only calls ``gh``. A report file that does not exist is "no report" (a plan
that was skipped, an apply that stopped early); one that exists but is not JSON
is an error (exit 1) naming the file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import EXIT_OK, Failure, Int360Error
from ..guard import DEFAULT_MAX_BILLERS, DEFAULT_MAX_PERCENT
from ..runtime import Tuning
from .terminal import out

KINDS = ("pr", "apply-summary", "apply-issue", "apply-pr-note", "drift-issue", "adopt-body")


class ReportError(Failure):
    """A report file that exists but cannot be read as a JSON object (exit 1)."""


def add_command(sub: Any) -> None:
    """Register ``comment`` on the ``int360`` sub-parsers."""
    from ..render.pr_comment import PLAN_STATES

    p = sub.add_parser("comment", help="render a GitHub comment or summary from JSON reports")
    p.add_argument("kind", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    p.add_argument("--plan", metavar="FILE", help="pr: the plan (plan --format json)")
    p.add_argument("--diff", metavar="FILE", help="pr: the diff (diff --format json)")
    p.add_argument("--problems", metavar="FILE", help="pr: validate --format json")
    p.add_argument("--plan-state", choices=PLAN_STATES, default="failed")
    p.add_argument("--head", default="", metavar="SHA")
    p.add_argument("--base", default="", metavar="SHA")
    p.add_argument("--max-billers", type=int, default=DEFAULT_MAX_BILLERS, metavar="N")
    p.add_argument(
        "--max-percent",
        type=float,
        default=DEFAULT_MAX_PERCENT,
        metavar="P",
        help="pr: the apply guard's percentage of the managed billers (billers/ of --repo)",
    )
    p.add_argument("--artifact", default="", metavar="NAME")
    p.add_argument("--report", metavar="FILE", help="apply-*: the apply report (--report)")
    p.add_argument("--exit-code", type=int, default=0, metavar="N", help="apply-*: its exit code")
    p.add_argument("--commit", default="", metavar="SHA")
    p.add_argument("--scope", default="")
    p.add_argument("--why", default="")
    p.add_argument("--pulls", type=int, nargs="*", default=[], metavar="N")
    p.add_argument("--issue", type=int, metavar="N", help="apply-pr-note: the apply issue")
    p.add_argument("--drift", metavar="FILE", help="drift-issue, adopt-body: drift --format json")
    p.add_argument("--run-url", default="", metavar="URL")
    p.add_argument("--runbook-url", default="", metavar="URL")
    p.set_defaults(func=cmd_comment, needs_repo=False)


def read_report(path: str | None) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when no path is given or the file does not exist."""
    if not path:
        return None
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a JSON object")
    return data


def render(args: argparse.Namespace) -> str:
    """The text of one comment kind (``ReportError`` for an unreadable report)."""
    from ..render.apply_comment import apply_issue, apply_pr_note, apply_summary
    from ..render.drift_comment import adopt_body, drift_issue
    from ..render.pr_comment import pr_comment

    if args.kind == "pr":
        return pr_comment(
            head=args.head,
            base=args.base,
            plan=read_report(args.plan),
            plan_state=args.plan_state,
            diff=read_report(args.diff),
            problems=read_report(args.problems),
            max_billers=args.max_billers,
            max_percent=args.max_percent,
            managed=_managed(getattr(args, "repo", None)),
            run_url=args.run_url,
            artifact=args.artifact,
        )
    if args.kind in ("apply-summary", "apply-issue"):
        common = {
            "exit_code": args.exit_code,
            "commit": args.commit,
            "scope": args.scope,
            "why": args.why,
            "runbook_url": args.runbook_url,
            "run_url": args.run_url,
        }
        report = read_report(args.report)
        if args.kind == "apply-summary":
            return apply_summary(report, **common)
        return apply_issue(report, pulls=args.pulls, **common)
    if args.kind == "apply-pr-note":
        return apply_pr_note(
            read_report(args.report),
            exit_code=args.exit_code,
            commit=args.commit,
            issue=args.issue,
            run_url=args.run_url,
        )
    drift = read_report(args.drift)
    if args.kind == "drift-issue":
        return drift_issue(drift, run_url=args.run_url)
    return adopt_body(drift, run_url=args.run_url)


def _managed(root: str | None) -> int | None:
    """How many billers the checkout manages (its ``billers/*.yaml``): of ``--repo``
    (an error when it is not a repository), else of the current directory's
    repository; None outside one (the warning then applies ``--max-billers`` only)."""
    from ..repo import open_repo

    if root is not None:
        return len(open_repo(root).biller_files())
    try:
        return len(open_repo(None).biller_files())
    except Int360Error:
        return None


def cmd_comment(args: argparse.Namespace, repo: object, tuning: Tuning) -> int:
    """``int360 comment KIND``: print the rendered text (an unreadable report: exit 1)."""
    text = render(args)
    out(text if text.endswith("\n") else text + "\n")
    return EXIT_OK
