"""One short function per ``int360`` command: arguments → engine → render → exit code.

Each takes the parsed arguments, the repository (None for ``sandbox serve``) and
the run's process ``Tuning``. Errors go up to ``main`` as ``Int360Error``s.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import engine
from ..errors import EXIT_CHANGES, EXIT_FAIL, EXIT_OK, Failure, UsageError
from ..repo import Repo, RepoError, biller_paths, open_repo
from ..runtime import Tuning
from .terminal import announce, colour, confirm, err, out, progress, tee

if TYPE_CHECKING:
    from ..apply import Report
    from ..config import Config
    from ..plan import Plan
    from ..scope import Scope

Handler = Callable[..., int]  # (args, repo, tuning) -> exit code


# --- the repository alone ----------------------------------------------------


def cmd_validate(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 validate [PATH…]``: every problem in one run; exit 0 valid, 1 invalid."""
    from ..render.problems import FORMATS
    from ..validate_run import run_validate

    problems = run_validate(repo, [Path(p) for p in args.paths] or None, careful=args.careful)
    out(FORMATS[args.format](problems))
    if not problems and args.format == "text":
        err("valid")
    return EXIT_FAIL if problems else EXIT_OK


def cmd_render(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 render BID``: the merged settings of one biller."""
    from ..load import load_config
    from ..render import settings as render
    from ..render.problems import text
    from ..validate import biller_problems

    if args.live:
        return _render_live(args, repo)
    config = load_config(repo, biller_paths(repo, args.bid))
    biller = config.billers.get(args.bid)
    if biller is None:
        problems = [p for p in config.problems if p.location.path.startswith("billers/")]
        if problems:
            err(text(problems))
        else:
            from ..config import stray_problems

            # A billers/<bid>.yml or a file in a sub-folder is never read: say so.
            stray = [
                p
                for p in stray_problems(repo)
                if p.location.path.rsplit("/", 1)[-1].startswith(str(args.bid))
            ]
            err(text(stray) if stray else f"no biller {args.bid}: no file billers/{args.bid}.yaml")
        return EXIT_FAIL
    own = [p for p in config.problems if p.location.path == biller.doc.path]
    problems = sorted(set(own + biller_problems(config, biller)))
    if own or biller.partner not in config.partners:
        err(text(problems) or f"partner '{biller.partner}' has errors; run int360 validate")
        return EXIT_FAIL
    desired = config.desired(biller)
    if args.explain:
        fn = render.explain_json if args.format == "json" else render.explain_yaml
        locks = render.partner_locks(config.partners[biller.partner])
        out(fn(desired, config.provenance(biller), locks))
    elif args.format == "json":
        out(json.dumps(desired, indent=2) + "\n")
    else:
        out(render.as_yaml(desired))
    if problems:
        err(text(problems))
        return EXIT_FAIL
    return EXIT_OK


def _render_live(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 render BID --live``: the CRM's current settings, secrets by name."""
    from ..crmconn import connect
    from ..onboarding import live_settings
    from ..render.live import live_json, live_yaml

    if args.explain:
        raise UsageError("--explain shows where the files set each value; --live has no files")
    config = engine.load(repo)
    with connect(config) as crm:
        if args.format == "json":
            err(f"CRM: {crm.label}")
        settings, etag = live_settings(crm.client, args.bid)
        render = live_json if args.format == "json" else live_yaml
        out(render(args.bid, crm.label, etag, settings, config.schemas))
    return EXIT_OK


def cmd_partners(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 partners``: slug, name, integrator IDs and biller count."""
    from ..load import load_config

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
        out("  ".join(cells).rstrip() + "\n")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 diff``: from git alone; exit 0 none, 2 differences, 1 error."""
    config = engine.valid_config(repo, tuning=tuning)
    plan = engine.diff(config, args.base)
    out(_render(plan, args.format, args.verbose, title="Int360 diff"))
    return EXIT_CHANGES if plan.summary["change"] or plan.summary.get("removed") else EXIT_OK


# --- the CRM -----------------------------------------------------------------


def _scope_of(config: Config, args: argparse.Namespace) -> Scope:
    return engine.scope(
        config, bids=args.bid or (), partners=args.partner or (), changed_since=args.changed_since
    )


def _render(plan: Plan, fmt: str, verbose: bool = False, **kwargs: Any) -> str:
    from ..render import plan as render
    from ..render.plan_json import as_json

    if fmt == "json":
        return as_json(plan)
    if fmt == "markdown":
        return render.markdown(plan, **kwargs)
    return render.text(plan, colour=colour(), verbose=verbose)


def _plan_exit(plan: Plan) -> int:
    summary = plan.summary
    if summary["error"]:
        return EXIT_FAIL
    return EXIT_CHANGES if summary["change"] else EXIT_OK


def cmd_plan(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 plan``: desired vs live per biller; exit 0 none, 2 changes, 1 error."""
    from ..crmconn import connect

    _output_file("--out", args.out)
    config = engine.valid_config(repo, tuning=tuning)
    scope = _scope_of(config, args)
    with connect(config) as crm:
        announce(crm.label, args.format)
        commit = engine.commit_of(repo)
        plan = engine.plan(config, scope, crm, commit=commit, rotate_secrets=args.rotate_secrets)
    if args.out or args.format == "json":
        engine.bind(plan, config)  # a saved plan records the digest of its inputs
        _write_json(plan, to_stdout=args.format == "json", path=args.out)
    if args.format != "json":
        out(_render(plan, args.format, args.verbose))
    return _plan_exit(plan)


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


def _output_file(flag: str, value: str | None) -> None:
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


def cmd_apply(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 apply``: make live = desired; exit 0 all applied or unchanged, 1 otherwise,
    3 refused by the guard."""
    from ..crmconn import connect
    from ..guard import GuardLimits, GuardRefused
    from ..render.plan import text

    if args.plan and (args.bid or args.partner or args.changed_since or args.all):
        raise UsageError("--plan executes a saved plan; it takes no scope")
    if args.concurrency < 1 or args.max_billers < 0:
        raise UsageError("--concurrency must be at least 1 and --max-billers at least 0")
    if not 0 <= args.max_percent <= 100:
        raise UsageError(f"--max-percent {args.max_percent:g}: a percentage from 0 to 100")
    _output_file("--report", args.report)
    tuning.io_bound()
    config = engine.valid_config(repo, positions=True, tuning=tuning)  # changes: their sources
    saved = _load_plan(args.plan, repo) if args.plan else None
    scope = _scope_of(config, args) if saved is None else None  # usage errors before writes
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
            _show_report(stopped.partial, args.report, args.verbose)  # what was written
            raise
        except GuardRefused as refused:
            # CI reads the report, not the log: a refusal still writes one.
            if refused.plan is not None:
                from ..apply import Report

                _write_report(args.report, Report.of_refusal(refused.plan, refused))
            raise
    if report is None:
        return EXIT_FAIL  # not confirmed: nothing was written
    if report.guard and report.guard.get("exempt") and report.guard["changing"]:
        # Only when something changed: a run with nothing to write has no guard to skip.
        out(
            "Guard: not applied, the embedded sandbox is a throwaway local CRM "
            f"({report.guard['changing']:,} of {report.guard['managed']:,} billers changed).\n"
        )
    _show_report(report, args.report, args.verbose)
    return EXIT_OK if report.ok else EXIT_FAIL


def _show_report(report: Report, path: str | None, verbose: bool = False) -> None:
    """The apply's warnings and outcome lines, and its JSON report to ``path``."""
    for warning in report.warnings:
        err(f"warning: {warning}")
    from ..render.report import text as report_text

    out(report_text(report, verbose=verbose))
    _write_report(path, report)


def _write_report(path: str | None, report: Report) -> None:
    if path:
        from ..yamlwrite import write_atomic

        write_atomic(Path(path), json.dumps(report.as_dict(), indent=2) + "\n")


def cmd_drift(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 drift``: plan of every biller; exit 0 none, 2 drift, 1 error. With
    ``--pending-since``, billers changed since are pending apply: apart, never adopted."""
    from .. import pending
    from ..crmconn import connect

    config = engine.valid_config(repo, tuning=tuning)
    since = args.pending_since
    waiting = pending.pending_bids(config, since) if since else set()
    with connect(config) as crm:
        announce(crm.label, args.format)
        plan = engine.drift(config, crm, commit=engine.commit_of(repo))
        hand, merged = pending.split(plan, waiting)
        if since and args.format == "json":
            out(json.dumps(pending.as_dict(plan, waiting), indent=2, ensure_ascii=False) + "\n")
        else:
            shown = _render(plan, args.format, args.verbose, title="Int360 drift")
            out(shown + pending.note(merged, since))
        # Billers pending apply are merged work, not drift: no hint, never adopted.
        drifted = replace(plan, billers=[b for b in plan.billers if b.bid not in waiting])
        for hint in engine.shared_drift(config, drifted):
            err(f"hint: {hint}")
        if args.adopt and any(b.status == "change" for b in hand):
            # What can be adopted is; what cannot is named. Either way there was drift (2).
            for adopted in engine.adopt(config, crm, drifted):
                if adopted.error is None:
                    _note_dropped(adopted.path, adopted.dropped)
                    err(f"{adopted.path}: rewritten to the live settings")
                else:
                    err(f"{adopted.path}: not adopted: {adopted.error}")
    if since:
        return (
            EXIT_FAIL
            if any(b.status == "error" for b in hand)
            else EXIT_CHANGES
            if hand
            else EXIT_OK
        )
    return _plan_exit(plan)


def cmd_import(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 import``: biller files with the minimal overrides of the live settings."""
    from ..crmconn import connect

    config = engine.load(repo)
    engine.check_import(
        config, bids=args.bids, integrator_id=args.integrator_id, partner=args.partner
    )
    status = EXIT_OK
    with connect(config) as crm:
        announce(crm.label, "text")
        for imported in engine.import_billers(
            config,
            crm,
            bids=args.bids,
            integrator_id=args.integrator_id,
            partner=args.partner,
            force=args.force,
        ):
            if imported.problem is not None:
                err(imported.problem)
                status = status if imported.skipped else EXIT_FAIL
            else:
                _note_dropped(str(imported.written), imported.dropped)
                out(f"wrote {imported.written}\n")
    return status


def _note_dropped(path: str, dropped: tuple[str, ...]) -> None:
    if dropped:
        err(
            f"{path}: left out what the CRM holds at {', '.join(dropped)}: "
            "no such field in schemas/settings.schema.json"
        )


def cmd_secrets(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 secrets [SCOPE]``: every referenced secret, set in the CRM, available from
    the source; never a value. Exit 0 when every needed secret is available, else 1."""
    from ..crmconn import connect
    from ..secrets.inventory import as_json, as_text

    config = engine.valid_config(repo, tuning=tuning)
    scope = _scope_of(config, args)
    with connect(config) as crm:
        announce(crm.label, args.format)
        inventory = engine.secrets(config, scope, crm)
    out(as_json(inventory) if args.format == "json" else as_text(inventory))
    return EXIT_OK if inventory.ok else EXIT_FAIL


def cmd_billers(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 billers``: the CRM's profiles beside the files; exit 0."""
    from ..crmconn import connect
    from ..fleet_view import FORMATS, Filters
    from ..onboarding import billers_view

    config = engine.load(repo)
    if args.partner and args.partner not in config.partners:
        raise UsageError(f"--partner {args.partner}: no such partner (see int360 partners)")
    filters = Filters(args.partner, args.integrator_id, args.name, args.unmanaged)
    with connect(config) as crm:
        announce(crm.label, args.format)
        view = billers_view(config, crm.client, filters)
    out(FORMATS[args.format](view))
    return EXIT_OK


def cmd_new(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 new BID``: a biller file from its CRM profile, then what is left to fill;
    exit 0 valid, 1 still to fill (or not written)."""
    from ..crmconn import connect
    from ..onboarding import start_biller
    from ..render.problems import text
    from ..validate_run import run_validate

    config = engine.load(repo)  # every file: a new embedded sandbox is seeded from them
    if args.partner and args.partner not in config.partners:
        raise UsageError(f"--partner {args.partner}: no such partner (see int360 partners)")
    with connect(config) as crm:
        announce(crm.label, "text")
        started = start_biller(
            config, crm.client, args.bid, args.partner, embedded_sandbox=crm.embedded
        )
    out(f"wrote {started.rel} (partner {started.partner})\n")
    if started.profile.status != "active":
        err(f"note: the CRM profile of {args.bid} is {started.profile.status}")
    problems = run_validate(repo, [started.path])
    if not problems:
        out(f"{started.rel} is valid: nothing left to fill.\n")
        return EXIT_OK
    out(text(problems))
    out(f"Fill those in, then run: int360 validate {started.rel}\n")
    return EXIT_FAIL


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
