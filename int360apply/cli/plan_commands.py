"""The commands that plan against the CRM: ``plan``, ``apply`` and ``drift``."""

from __future__ import annotations

# ``engine`` (and with it apply, plan, the CRM port) is imported inside the commands
# that use it: ``validate``, ``comment`` and ``--help`` start without it.
import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import jsontext
from ..errors import EXIT_FAIL, EXIT_OK, Failure, UsageError
from ..repo import Repo
from ..runtime import Tuning
from .arguments import output_file, scope_of
from .results import note_dropped, plan_exit, render_plan
from .terminal import announce, colour, confirm, err, out, progress, tee

if TYPE_CHECKING:
    from ..apply_report import Report
    from ..plan import Plan
    from ..render.report_json import ReportJson


def cmd_plan(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 plan``: desired vs live per biller; exit 0 none, 2 changes, 1 error."""
    from .. import engine
    from ..crmconn import connect

    output_file("--out", args.out)
    config = engine.valid_config(repo, tuning=tuning)
    scope = scope_of(config, args)
    with connect(config) as crm:
        announce(crm.label, args.format)
        planning = engine.Planning(engine.commit_of(repo), args.rotate_secrets)
        plan = engine.plan(config, scope, crm, planning)
    if args.out or args.format == "json":
        engine.bind(plan, config)  # a saved plan records the digest of its inputs
        _write_json(plan, to_stdout=args.format == "json", path=args.out)
    if args.format == "markdown":
        engine.note_uncommitted(plan, repo)
    if args.format != "json":
        out(render_plan(plan, args.format, args.verbose))
    return plan_exit(plan)


def _write_json(plan: Plan, *, to_stdout: bool, path: str | None) -> None:
    """The JSON plan to standard output and/or ``--out``, from one serialisation
    streamed biller by biller (a 10,000-biller plan is about 100 MB of JSON)."""
    from ..render.plan_json import json_chunks

    chunks = json_chunks(plan)
    if to_stdout:
        chunks = tee(chunks)
    if path is None:
        for _chunk in chunks:
            pass
        return
    from ..yamlwrite import write_atomic_chunks

    try:
        write_atomic_chunks(Path(path), chunks)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise Failure(f"--out {path}: {exc.strerror or exc}") from exc


def _load_plan(path: str, repo: Repo) -> Plan:
    """The saved plan of ``--plan FILE``, checked against the plan schema."""
    from ..planfile import parse_plan

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"--plan {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "\ufffd"  # not JSON either: parse_plan says so in its words
    return parse_plan(text, path, repo.schema_dir)


def cmd_apply(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 apply``: make live = desired; exit 0 all applied or unchanged, 1 otherwise,
    3 refused by the guard."""
    from .. import engine
    from ..crmconn import connect
    from ..guard import GuardLimits, GuardRefused
    from ..render.plan import text
    from ..render.report_json import ReportJson

    if args.plan and (args.bid or args.partner or args.changed_since or args.all):
        raise UsageError("--plan executes a saved plan; it takes no scope")
    if args.concurrency < 1 or args.max_billers < 0:
        raise UsageError("--concurrency must be at least 1 and --max-billers at least 0")
    if not 0 <= args.max_percent <= 100:
        raise UsageError(f"--max-percent {args.max_percent:g}: a percentage from 0 to 100")
    output_file("--report", args.report)
    tuning.io_bound()
    config = engine.valid_config(repo, positions=True, tuning=tuning)  # changes: their sources
    saved = _load_plan(args.plan, repo) if args.plan else None
    scope = scope_of(config, args) if saved is None else None  # usage errors before writes
    report_json = ReportJson()  # only with --report: lays out outcomes as writes end
    with connect(config, concurrency=args.concurrency) as crm:
        announce(crm.label, "text")
        request = engine.ApplyRequest(
            scope=scope,
            saved=saved,
            saved_name=args.plan or "the saved plan",
            yes=args.yes,
            limits=GuardLimits(args.max_billers, args.max_percent),
            concurrency=args.concurrency,
            rotate_secrets=args.rotate_secrets,
            progress=progress(),
            finished=report_json.add if args.report else None,
        )
        try:
            report = engine.apply(
                repo,
                config,
                crm,
                request,
                show_plan=lambda plan: out(text(plan, colour=colour(), verbose=args.verbose)),
                confirm=lambda count: confirm(count, args.yes),
            )
        except engine.Interrupted as stopped:
            # What was written before the interrupt.
            _show_report(stopped.partial, args.report, args.verbose, report_json)
            raise
        except GuardRefused as refused:
            # CI reads the report, not the log: a refusal still writes one.
            if refused.plan is not None:
                from ..apply_report import Report

                _write_report(args.report, Report.of_refusal(refused.plan, refused), report_json)
            raise
    if report is None:
        return EXIT_FAIL  # not confirmed: nothing was written
    if report.guard and report.guard.get("exempt") and report.guard["changing"]:
        # Only when something changed: a run with nothing to write has no guard to skip.
        out(
            "Guard: not applied, the embedded sandbox is a throwaway local CRM "
            f"({report.guard['changing']:,} of {report.guard['managed']:,} billers changed).\n"
        )
    _show_report(report, args.report, args.verbose, report_json)
    return EXIT_OK if report.ok else EXIT_FAIL


def _show_report(report: Report, path: str | None, verbose: bool, report_json: ReportJson) -> None:
    """The apply's warnings and outcome lines, and its JSON report to ``path``."""
    for warning in report.warnings:
        err(f"warning: {warning}")
    from ..render.report import text as report_text

    out(report_text(report, verbose=verbose))
    _write_report(path, report, report_json)


def _write_report(path: str | None, report: Report, report_json: ReportJson) -> None:
    if path:
        from ..yamlwrite import write_atomic_chunks

        write_atomic_chunks(Path(path), report_json.chunks(report))


def cmd_drift(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 drift``: plan of every biller; exit 0 none, 2 drift, 1 error. With
    ``--pending-since``, billers changed since are pending apply: apart, never adopted."""
    from .. import (
        engine,
        live_import,
        pending,
    )
    from ..crmconn import connect

    config = engine.valid_config(repo, tuning=tuning)
    since = args.pending_since
    waiting = pending.pending_bids(config, since) if since else set()
    with connect(config) as crm:
        announce(crm.label, args.format)
        plan = engine.drift(config, crm, commit=engine.commit_of(repo))
        if args.format == "markdown":
            engine.note_uncommitted(plan, repo)
        hand, merged = pending.split(plan, waiting)
        if since and args.format == "json":
            out(jsontext.dumps(pending.as_dict(plan, waiting), ensure_ascii=False) + "\n")
        else:
            shown = render_plan(plan, args.format, args.verbose, title="Int360 drift")
            out(shown + pending.note(merged, since))
        # Billers pending apply are merged work, not drift: no hint, never adopted.
        drifted = replace(plan, billers=[b for b in plan.billers if b.bid not in waiting])
        for hint in live_import.shared_drift(config, drifted):
            err(f"hint: {hint}")
        if args.adopt and any(b.status == "change" for b in hand):
            # What can be adopted is; what cannot is named. Either way there was drift (2).
            for adopted in live_import.adopt(config, crm, drifted):
                if adopted.error is None:
                    note_dropped(adopted.path, adopted.dropped)
                    err(f"{adopted.path}: rewritten to the live settings")
                else:
                    err(f"{adopted.path}: not adopted: {adopted.error}")
    return plan_exit(drifted)  # billers pending apply are not drift
