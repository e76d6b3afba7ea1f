"""The commands that read the repository alone: ``validate``, ``render``, ``partners``
and ``diff`` (``render --live`` reads one biller from the CRM)."""

from __future__ import annotations

# ``engine`` (and with it apply, plan, the CRM port) is imported inside the commands
# that use it: ``validate``, ``comment`` and ``--help`` start without it.
import argparse
import json
from pathlib import Path

from ..errors import EXIT_CHANGES, EXIT_FAIL, EXIT_OK, UsageError
from ..repo import Repo, biller_paths
from ..runtime import Tuning
from .results import render_plan
from .terminal import err, out


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
            from ..validate.files import stray_problems

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
    from .. import engine
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
    from .. import engine

    config = engine.valid_config(repo, tuning=tuning)
    plan = engine.diff(config, args.base)
    out(render_plan(plan, args.format, args.verbose, title="Int360 diff"))
    return EXIT_CHANGES if plan.summary["change"] or plan.summary.get("removed") else EXIT_OK
