"""The commands that bring billers and secrets from the CRM: ``import``, ``secrets``,
``billers`` and ``new``."""

from __future__ import annotations

# ``engine`` (and with it apply, plan, the CRM port) is imported inside the commands
# that use it: ``validate``, ``comment`` and ``--help`` start without it.
import argparse

from ..errors import EXIT_FAIL, EXIT_OK, UsageError
from ..repo import Repo
from ..runtime import Tuning
from .arguments import scope_of
from .results import note_dropped
from .terminal import announce, err, out


def cmd_import(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 import``: biller files with the minimal overrides of the live settings."""
    from .. import engine, live_import
    from ..crmconn import connect

    config = engine.load(repo)
    live_import.check_import(
        config, bids=args.bids, integrator_id=args.integrator_id, partner=args.partner
    )
    status = EXIT_OK
    with connect(config) as crm:
        announce(crm.label, "text")
        for imported in live_import.import_billers(
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
                note_dropped(str(imported.written), imported.dropped)
                out(f"wrote {imported.written}\n")
    return status


def cmd_secrets(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 secrets [SCOPE]``: every referenced secret, set in the CRM, available from
    the source; never a value. Exit 0 when every needed secret is available, else 1."""
    from .. import engine
    from ..crmconn import connect
    from ..secrets.inventory import as_json, as_text

    config = engine.valid_config(repo, tuning=tuning)
    scope = scope_of(config, args)
    with connect(config) as crm:
        announce(crm.label, args.format)
        inventory = engine.secrets(config, scope, crm)
    out(as_json(inventory) if args.format == "json" else as_text(inventory))
    return EXIT_OK if inventory.ok else EXIT_FAIL


def cmd_billers(args: argparse.Namespace, repo: Repo, tuning: Tuning) -> int:
    """``int360 billers``: the CRM's profiles beside the files; exit 0."""
    from .. import engine
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
    from .. import engine
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
