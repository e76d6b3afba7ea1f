"""The commands that talk to the CRM or git: plan, apply, diff, drift, import, sandbox."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli import EXIT_CHANGES, EXIT_FAIL, EXIT_OK, UsageError, _err, _out
from .collector import freeze_loaded
from .config import Config, load_config
from .repo import Repo, RepoError, git

if TYPE_CHECKING:
    from .plan import BillerPlan, Plan
    from .scope import Scope


def _scope_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--bid", type=int, nargs="+", metavar="BID", help="these billers")
    group.add_argument(
        "--partner", nargs="+", metavar="SLUG", help="every biller of these partners"
    )
    group.add_argument("--changed-since", metavar="GITREF", help="billers whose files changed")
    group.add_argument("--all", action="store_true", help="every biller (the default)")


def _format_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")


def add_commands(sub: Any) -> None:
    """Register the applier commands on the ``int360`` sub-parsers."""
    p = sub.add_parser("plan", help="show what apply would change in the CRM")
    _scope_args(p)
    _format_arg(p)
    p.add_argument("--out", metavar="FILE", help="also write the JSON plan (for apply --plan)")
    p.add_argument("--rotate-secrets", action="store_true", help="plan secret values too")
    _verbose_arg(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("apply", help="make the CRM match the repository")
    _scope_args(p)
    p.add_argument("--plan", metavar="FILE", help="execute this saved plan (stale billers skipped)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--max-billers", type=int, default=50, metavar="N", help="refuse above N (50)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="parallel writes (8)")
    p.add_argument("--report", metavar="FILE", help="write the JSON report")
    p.add_argument("--rotate-secrets", action="store_true", help="rewrite secret values too")
    _verbose_arg(p)
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("diff", help="merged settings at a git revision vs the working tree")
    p.add_argument(
        "--base", metavar="GITREF", help="default: merge base with origin/main, else HEAD"
    )
    _format_arg(p)
    _verbose_arg(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("drift", help="plan every biller; report what changed in the CRM")
    _format_arg(p)
    p.add_argument("--adopt", action="store_true", help="rewrite drifted billers' files to match")
    _verbose_arg(p)
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser("import", help="write biller files from live CRM settings")
    p.add_argument("bids", type=int, nargs="*", metavar="BID")
    p.add_argument("--integrator-id", type=int, metavar="N", help="every biller with this ID")
    p.add_argument("--partner", metavar="SLUG", help="the partner (default: by integrator ID)")
    p.add_argument("--force", action="store_true", help="overwrite existing biller files")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("billers", help="the CRM's biller profiles beside the files")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--partner", metavar="SLUG", help="billers of this partner")
    which.add_argument("--integrator-id", type=int, metavar="N", help="profiles or files on ID N")
    p.add_argument("--name", metavar="TEXT", help="names containing TEXT (any case)")
    p.add_argument("--unmanaged", action="store_true", help="only profiles without a file")
    _format_arg(p)
    p.set_defaults(func=cmd_billers)

    p = sub.add_parser("new", help="start a biller file from its CRM profile")
    p.add_argument("bid", type=int, metavar="BID")
    p.add_argument("--partner", metavar="SLUG", help="the partner (default: by integrator ID)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("sandbox", help="the sandbox CRM")
    sandbox = p.add_subparsers(dest="sandbox_command", metavar="COMMAND", parser_class=type(p))
    sandbox.required = True
    serve = sandbox.add_parser("serve", help="run the sandbox CRM on 127.0.0.1")
    from .crm.sandbox.options import add_serve_arguments

    add_serve_arguments(serve)
    serve.set_defaults(func=cmd_sandbox_serve, needs_repo=False)


# --- shared ---------------------------------------------------------------


def _plan(
    config: Config,
    scope: Scope,
    crm: Any,
    commit: str | None,
    args: argparse.Namespace,
    on_entry: Callable[[BillerPlan], None] | None = None,
) -> Plan:
    """``build_plan`` with the command line's options (``plan`` and ``apply``)."""
    from .planner import build_plan

    plan = build_plan(
        config,
        scope,
        crm.client,
        crm=crm.label,
        commit=commit,
        rotate_secrets=args.rotate_secrets,
        on_entry=on_entry,
    )
    plan.uncommitted = commit is not None and _uncommitted(config.repo)
    return plan


def _valid_config(repo: Repo, *, positions: bool = False) -> Config:
    from .render.problems import text
    from .validate_run import validated_config

    config, problems = validated_config(repo, positions=positions)
    if problems:
        _err(text(problems))
        raise _Invalid()
    freeze_loaded()  # the config lives, unchanged, until the command ends
    return config


class _Invalid(Exception):
    pass


def _commit(repo: Repo) -> str | None:
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        return git(repo, "rev-parse", "HEAD").strip()
    except RepoError:
        return None


def _uncommitted(repo: Repo) -> bool:
    """Whether the files that decide desired settings differ from ``HEAD`` (so the plan
    is not the commit's)."""
    try:
        out = git(repo, "status", "--porcelain", "--", "partners", "billers", "schemas")
    except RepoError:
        return False
    return bool(out.strip())


def _actor(repo: Repo) -> str:
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return actor
    try:
        name = git(repo, "config", "user.name").strip()
    except RepoError:
        name = ""
    return name or os.environ.get("USER", "unknown")


def _scope(config: Config, args: argparse.Namespace) -> Any:
    from .scope import select

    return select(
        config,
        bids=args.bid or (),
        partners=args.partner or (),
        changed_since=args.changed_since,
    )


def _announce(label: str, fmt: str) -> None:
    line = f"CRM: {label}\n"
    if fmt == "text":
        _out(line)
    else:
        _err(line)


def _verbose_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every biller and change (text)"
    )


def _render(plan: Any, fmt: str, verbose: bool = False, **kwargs: Any) -> str:
    from .render import plan as render

    if fmt == "json":
        return render.as_json(plan)
    if fmt == "markdown":
        return render.markdown(plan, **kwargs)
    return render.text(plan, colour=sys.stdout.isatty(), verbose=verbose)


def _plan_exit(plan: Any) -> int:
    summary = plan.summary
    if summary["error"]:
        return EXIT_FAIL
    return EXIT_CHANGES if summary["change"] else EXIT_OK


# --- plan / apply ------------------------------------------------------------


def cmd_plan(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 plan``: desired vs live per biller; exit 0 none, 2 changes, 1 error."""
    from .crmconn import connect

    try:
        config = _valid_config(repo)
    except _Invalid:
        return EXIT_FAIL
    scope = _scope(config, args)
    with connect(config) as crm:
        _announce(crm.label, args.format)
        plan = _plan(config, scope, crm, _commit(repo), args)
    _out(_render(plan, args.format, args.verbose))
    if args.out:
        from .render.plan import as_json
        from .yamlwrite import write_atomic

        write_atomic(Path(args.out), as_json(plan))
    return _plan_exit(plan)


def _load_plan(path: str) -> Any:
    from .plan import PlanFormatError, plan_from_dict

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return plan_from_dict(data)
    except (OSError, ValueError, PlanFormatError) as exc:
        raise UsageError(f"--plan {path}: {exc}") from exc


def _confirm(count: int, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        _err("int360: apply needs --yes when not run on a terminal; nothing was written")
        return False
    answer = input(f"Apply changes to {count} biller(s)? Only 'yes' is accepted: ")
    return answer.strip() == "yes"


def cmd_apply(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 apply``: make live = desired; exit 0 all applied or unchanged, 1 otherwise."""
    from .crm import IO_SWITCH_INTERVAL

    if args.plan and (args.bid or args.partner or args.changed_since or args.all):
        raise UsageError("--plan executes a saved plan; it takes no scope")
    if args.concurrency < 1 or args.max_billers < 0:
        raise UsageError("--concurrency must be at least 1 and --max-billers at least 0")
    # Worker threads wait on the CRM while the main thread plans: a worker whose
    # response arrived should not wait out Python's default 5 ms switch interval.
    # Put back afterwards: main also runs in-process.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(IO_SWITCH_INTERVAL)
    try:
        return _apply(args, repo)
    finally:
        sys.setswitchinterval(previous)


def _apply(args: argparse.Namespace, repo: Repo) -> int:
    from .apply import Applier, ApplyOptions, ApplyRefused, apply_plan, guard
    from .crmconn import connect
    from .render.plan import text

    try:
        config = _valid_config(repo, positions=True)  # an apply expects changes: their sources
    except _Invalid:
        return EXIT_FAIL
    saved = _load_plan(args.plan) if args.plan else None
    with connect(config, concurrency=args.concurrency) as crm:
        _announce(crm.label, "text")
        if saved is not None:
            if saved.crm != crm.label:
                _err(
                    f"int360: the plan was made against {saved.crm}, not {crm.label}; "
                    "nothing was written"
                )
                return EXIT_FAIL
            plan = saved
        # The embedded sandbox holds nothing anyone relies on: no guard (the quick start's
        # first apply writes every biller of the repository).
        limit = sys.maxsize if crm.embedded else args.max_billers
        options = ApplyOptions(
            concurrency=args.concurrency,
            max_billers=limit,
            from_file=saved is not None,
            rotate_secrets=args.rotate_secrets,
            embedded=crm.embedded,
            actor=_actor(repo),
            progress=_progress if sys.stderr.isatty() else None,
        )
        scope = _scope(config, args) if saved is None else None
        if scope is not None and args.yes and len(scope.bids) <= limit:
            # Confirmed up front and no guard to trip: write each biller as soon as it
            # is planned, overlapping the writes with planning the rest.
            commit = _commit(repo)
            with Applier(crm.client, options, commit, config) as applier:
                plan = _plan(config, scope, crm, commit, args, applier.submit)
                _out(text(plan, colour=sys.stdout.isatty(), verbose=args.verbose))
                report = applier.finish(plan)
        else:
            if scope is not None:
                plan = _plan(config, scope, crm, _commit(repo), args)
            _out(text(plan, colour=sys.stdout.isatty(), verbose=args.verbose))
            try:
                guard(plan, limit)
            except ApplyRefused as exc:
                _err(f"int360: {exc}")
                return EXIT_FAIL
            if plan.changed and not _confirm(len(plan.changed), args.yes):
                return EXIT_FAIL
            report = apply_plan(plan, crm.client, options, config)
    for warning in report.warnings:
        _err(f"warning: {warning}")
    if limit != args.max_billers and len(plan.changed) > args.max_billers:
        _err(
            f"note: {len(plan.changed):,} billers changed, more than --max-billers "
            f"{args.max_billers}: the embedded sandbox is exempt from the guard"
        )
    from .render.report import text as report_text

    _out(report_text(report, verbose=args.verbose))
    if args.report:
        from .yamlwrite import write_atomic

        write_atomic(Path(args.report), json.dumps(report.as_dict(), indent=2) + "\n")
    return EXIT_OK if report.ok else EXIT_FAIL


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\rapplying {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# --- diff / drift / import ----------------------------------------------------


def cmd_diff(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 diff``: from git alone; exit 0 none, 2 differences, 1 error."""
    from .gitdiff import diff_since
    from .scope import default_base

    try:
        config = _valid_config(repo)
    except _Invalid:
        return EXIT_FAIL
    base = args.base or default_base(repo)
    plan = diff_since(config, base)
    _out(_render(plan, args.format, args.verbose, title="Int360 diff"))
    return EXIT_CHANGES if plan.summary["change"] or plan.summary.get("removed") else EXIT_OK


def cmd_drift(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 drift``: plan of every biller; exit 0 none, 2 drift, 1 error."""
    from .adopt import AdoptError, minimal_overrides
    from .crmconn import connect
    from .planner import build_plan
    from .scope import Scope
    from .yamlwrite import rewrite_overrides

    try:
        config = _valid_config(repo)
    except _Invalid:
        return EXIT_FAIL
    with connect(config) as crm:
        _announce(crm.label, args.format)
        plan = build_plan(
            config, Scope(set(config.billers)), crm.client, crm=crm.label, commit=_commit(repo)
        )
        _out(_render(plan, args.format, args.verbose, title="Int360 drift"))
        if args.adopt and plan.changed:
            failed = False
            for entry in plan.changed:
                biller = config.billers[entry.bid]
                live, _etag = crm.client.get_settings(entry.bid)
                try:
                    overrides = minimal_overrides(config, biller.partner, live)
                except AdoptError as exc:
                    _err(f"{biller.doc.path}: not adopted: {exc}")
                    failed = True
                    continue
                rewrite_overrides(repo.root / biller.doc.path, overrides)
                _err(f"{biller.doc.path}: rewritten to the live settings")
            if failed:
                return EXIT_FAIL
    return _plan_exit(plan)


def cmd_import(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 import``: biller files with the minimal overrides of the live settings."""
    from .adopt import AdoptError, minimal_overrides
    from .crm.errors import CrmError
    from .crmconn import connect
    from .yamlwrite import biller_text, write_atomic

    if not args.bids and args.integrator_id is None:
        raise UsageError("name billers (BID…) or --integrator-id N")
    config = load_config(repo)
    if args.partner and args.partner not in config.partners:
        raise UsageError(f"--partner {args.partner}: no such partner")
    status = EXIT_OK
    with connect(config) as crm:
        _announce(crm.label, "text")
        client = crm.client
        profiles = (
            [client.get_biller(b) for b in args.bids]
            if args.bids
            else list(client.list_billers(integrator_id=args.integrator_id))
        )
        for profile in profiles:
            slug = args.partner or _partner_of(config, profile.integrator_id)
            existing = sorted((repo.root / "billers").glob(f"{profile.bid}.yaml")) + sorted(
                (repo.root / "billers").glob(f"{profile.bid}-*.yaml")
            )
            if slug is None:
                _err(
                    f"{profile.bid}: no partner has integrator ID {profile.integrator_id}; "
                    "pass --partner SLUG"
                )
                status = EXIT_FAIL
                continue
            if existing and not args.force:
                _err(f"{existing[0].relative_to(repo.root)}: exists; pass --force to overwrite")
                status = EXIT_FAIL
                continue
            try:
                live, _etag = client.get_settings(profile.bid)
                overrides = minimal_overrides(config, slug, live)
            except (AdoptError, CrmError) as exc:
                _err(f"{profile.bid}: not imported: {exc}")
                status = EXIT_FAIL
                continue
            partner = config.partners[slug]
            iid = profile.integrator_id if len(partner.integrator_ids) > 1 else None
            target = existing[0] if existing else repo.root / "billers" / f"{profile.bid}.yaml"
            write_atomic(target, biller_text(profile.bid, profile.name, slug, iid, overrides))
            _out(f"wrote {target.relative_to(repo.root).as_posix()}\n")
    return status


def _partner_of(config: Config, integrator_id: int) -> str | None:
    for slug, partner in config.partners.items():
        if integrator_id in partner.integrator_ids:
            return slug
    return None


def cmd_billers(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 billers``: the CRM's profiles beside the files; exit 0."""
    from .crmconn import connect
    from .fleet_view import FORMATS, Filters
    from .onboarding import billers_view

    config = load_config(repo)
    if args.partner and args.partner not in config.partners:
        raise UsageError(f"--partner {args.partner}: no such partner (see int360 partners)")
    filters = Filters(args.partner, args.integrator_id, args.name, args.unmanaged)
    with connect(config) as crm:
        _announce(crm.label, args.format)
        view = billers_view(config, crm.client, filters)
    _out(FORMATS[args.format](view))
    return EXIT_OK


def cmd_new(args: argparse.Namespace, repo: Repo) -> int:
    """``int360 new BID``: a biller file from its CRM profile, then what is left to fill;
    exit 0 valid, 1 still to fill (or not written)."""
    from .crmconn import connect
    from .onboarding import OnboardingError, start_biller
    from .render.problems import text
    from .validate_run import run_validate

    config = load_config(repo, [])
    if args.partner and args.partner not in config.partners:
        raise UsageError(f"--partner {args.partner}: no such partner (see int360 partners)")
    with connect(config) as crm:
        _announce(crm.label, "text")
        try:
            started = start_biller(config, crm.client, args.bid, args.partner)
        except OnboardingError as exc:
            _err(f"int360: {exc}")
            return EXIT_FAIL
    _out(f"wrote {started.rel} (partner {started.partner})\n")
    if started.profile.status != "active":
        _err(f"note: the CRM profile of {args.bid} is {started.profile.status}")
    problems = run_validate(repo, [started.path])
    if not problems:
        _out(f"{started.rel} is valid: nothing left to fill.\n")
        return EXIT_OK
    _out(text(problems))
    _out(f"Fill those in, then run: int360 validate {started.rel}\n")
    return EXIT_FAIL


def cmd_sandbox_serve(args: argparse.Namespace, repo: Repo | None) -> int:
    """``int360 sandbox serve``: the sandbox CRM in the foreground."""
    from .crm.sandbox.server import run_serve
    from .crmconn import profiles
    from .repo import open_repo

    try:
        found = open_repo(getattr(args, "repo", None))
    except RepoError:
        return int(run_serve(args, []))
    return int(run_serve(args, list(profiles(load_config(found))), schema_dir=found.schema_dir))
