"""The orchestrator: validated config → scope → plan → apply | drift | diff | secrets.

Every function returns values (a ``Plan``, a ``Report``, an inventory); the
commands in ``cli`` render them and map them to exit codes. The CRM is a
connected ``crmconn.Crm``; the engine never opens one itself. Writing the CRM's
live settings into files (``drift --adopt``, ``import``) is ``live_import``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .apply import Applier, ApplyOptions
from .apply_report import Outcome, Report
from .config import Config
from .crmconn import Crm
from .errors import Int360Error, Reported
from .guard import GuardLimits
from .load import load_config
from .plan import BillerPlan, Plan
from .repo import Repo, RepoError, git
from .runtime import Tuning
from .scope import Scope

if TYPE_CHECKING:
    from .secrets.inventory import Inventory


def valid_config(repo: Repo, *, positions: bool = False, tuning: Tuning | None = None) -> Config:
    """The repository's configuration; ``Reported`` with every problem if it is invalid.

    ``positions``: record the billers' positions while loading (a run that expects
    changes prints their sources).
    """
    from .cache.verdict import validated_config
    from .render.problems import text

    config, problems = validated_config(repo, positions=positions)
    if problems:
        raise Reported(text(problems))
    if tuning is not None:
        tuning.freeze_loaded()  # the config lives, unchanged, until the command ends
    return config


def load(repo: Repo) -> Config:
    """The configuration as it is, unvalidated (``import`` adds to a repository in work)."""
    return load_config(repo)


def commit_of(repo: Repo) -> str | None:
    """The commit a run is made from: ``GITHUB_SHA``, else ``HEAD`` (None outside git)."""
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        return git(repo, "rev-parse", "HEAD").strip()
    except RepoError:
        return None


def note_uncommitted(made: Plan, repo: Repo) -> None:
    """Mark ``made`` as made from uncommitted files, for the pull-request comment that
    names the commit (a ``git status``: only the Markdown format asks)."""
    made.uncommitted = made.commit is not None and uncommitted(repo)


def uncommitted(repo: Repo) -> bool:
    """Whether the files that decide desired settings differ from ``HEAD``: a plan made
    now is not the commit's (its comment must not say it is)."""
    try:
        changed = git(repo, "status", "--porcelain", "--", "partners", "billers", "schemas")
    except RepoError:
        return False
    return bool(changed.strip())


def actor_of(repo: Repo) -> str:
    """Who runs an apply: ``GITHUB_ACTOR``, else git's ``user.name``, else ``USER``."""
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return actor
    try:
        name = git(repo, "config", "user.name").strip()
    except RepoError:
        name = ""
    return name or os.environ.get("USER", "unknown")


@dataclass(frozen=True)
class Planning:
    """How a run plans: the commit it is made from (None: a plan of no commit) and
    whether secrets already set in the CRM are written again (``--rotate-secrets``)."""

    commit: str | None
    rotate_secrets: bool = False


def plan(
    config: Config,
    chosen: Scope,
    crm: Crm,
    planning: Planning,
    on_entry: Callable[[BillerPlan], None] | None = None,
) -> Plan:
    """Desired vs live for every biller of ``chosen`` (``plan``, ``apply``, ``drift``);
    ``on_entry`` sees each biller's entry as soon as it is planned."""
    from .planner import build_plan

    commit = planning.commit
    made = build_plan(
        config,
        chosen,
        crm.client,
        crm=crm.label,
        commit=commit,
        rotate_secrets=planning.rotate_secrets,
        on_entry=on_entry,
        embedded_sandbox=crm.embedded,
    )
    return made


def bind(made: Plan, config: Config) -> Plan:
    """``made`` with the digest of its inputs, as a saved plan records it."""
    from .digest import inputs_digest
    from .planfile import planned_bids

    made.inputs_digest = inputs_digest(config, planned_bids(made))
    return made


def diff(config: Config, base: str | None) -> Plan:
    """Merged settings at git revision ``base`` (default: the merge base) vs the working
    tree: a plan of the billers changed since ``base`` against a reader of ``base``."""
    from .crm.gitrev import GitRevReader
    from .crmconn import profiles
    from .planner import build_plan
    from .scope import changed_files, default_base, scope_from_changes

    ref = base or default_base(config.repo)
    chosen = scope_from_changes(config, changed_files(config.repo, ref), ref)
    reader = GitRevReader.at(config.repo, ref, profiles(config))
    found = build_plan(config, chosen, reader, crm=f"git {ref} → working tree", commit=None)
    for entry in found.billers:
        entry.etag = None  # no CRM version: the plan cannot be applied as it is
    return found


def drift(config: Config, crm: Crm, *, commit: str | None) -> Plan:
    """The plan of every biller: what changed in the CRM behind the repository's back."""
    return plan(config, Scope(set(config.billers)), crm, Planning(commit))


def secrets(config: Config, scope: Scope, crm: Crm) -> Inventory:
    """Every secret the billers of ``scope`` reference: set in the CRM, and whether the
    configured source can provide it (asked once per name; values are dropped)."""
    from .secrets import source_from_environment
    from .secrets.inventory import inventory_of

    source = source_from_environment()  # a misconfigured source: one line, before any read
    return inventory_of(config, scope.bids, crm.client, source, crm=crm.label)


# --- apply -------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyRequest:
    """What to apply: a scope to plan now, or a saved plan (exactly one), and how."""

    scope: Scope | None
    saved: Plan | None
    yes: bool
    concurrency: int
    rotate_secrets: bool
    limits: GuardLimits = field(default_factory=GuardLimits)
    saved_name: str = "the saved plan"  # how messages name the plan file
    progress: Callable[[int, int], None] | None = None
    finished: Callable[[Outcome], None] | None = None  # see ApplyOptions.finished


def apply(
    repo: Repo,
    config: Config,
    crm: Crm,
    request: ApplyRequest,
    *,
    show_plan: Callable[[Plan], None],
    confirm: Callable[[int], bool],
) -> Report | None:
    """Make the CRM match the repository; None when ``confirm`` declined (nothing written).

    A saved plan is planned again from the repository as it is now and must match
    (``planfile.PlanFileError`` otherwise): what is written is always the fresh
    plan. Confirmed up front (``yes``) and with a scope that is itself within the
    guard (or on the embedded sandbox), a fresh plan is applied while it is made:
    each biller is written as soon as it is planned, and no count of changing
    billers can exceed what the scope holds. Otherwise the whole plan comes first,
    then the guard (``GuardRefused`` carrying the plan) and the confirmation.
    ``show_plan`` sees the plan before any confirmation. The report's ``guard``
    has the counts and limits (``exempt`` on the embedded sandbox).
    """
    planning = Planning(commit_of(repo), request.rotate_secrets)
    managed = len(config.billers)
    limits = request.limits
    options = ApplyOptions(
        concurrency=request.concurrency,
        limits=limits,
        managed=managed,
        from_file=request.saved is not None,
        rotate_secrets=request.rotate_secrets,
        embedded=crm.embedded,
        actor=actor_of(repo),
        progress=request.progress,
        finished=request.finished,
    )
    stale: dict[int, str] | None = None
    if request.saved is not None:
        made, stale = replan_saved(config, crm, request.saved, request.saved_name, planning)
    else:
        chosen = request.scope
        assert chosen is not None
        if request.yes and (crm.embedded or limits.allows(len(chosen.bids), managed)):
            # No confirmation to wait for and no guard to trip: overlap the writes
            # with planning the rest.
            with Applier(crm.client, options, planning.commit, config) as applier:
                try:
                    made = plan(config, chosen, crm, planning, on_entry=applier.submit)
                    show_plan(made)
                    return _guarded(applier.finish(made), made, crm, limits, managed)
                except KeyboardInterrupt:
                    raise Interrupted(applier.interrupted(crm.label, planning.commit)) from None
        made = plan(config, chosen, crm, planning)
    show_plan(made)
    if not crm.embedded:
        made.raise_if_unsafe(managed, limits)
    if made.changed and not confirm(len(made.changed)):
        return None
    with Applier(crm.client, options, made.commit, config) as applier:
        try:
            for entry in made.changed:
                if stale is None or entry.bid not in stale:
                    applier.submit(entry)
            report = applier.finish(made, stale)
        except KeyboardInterrupt:
            raise Interrupted(applier.interrupted(made.crm, made.commit)) from None
    return _guarded(report, made, crm, limits, managed)


class Interrupted(Int360Error):
    """An apply stopped by an interrupt (Ctrl-C, a cancelled CI job): the writes under
    way finished, no other started; ``partial`` reports which billers were written."""

    exit_code = 130

    def __init__(self, report: Report) -> None:
        super().__init__("interrupted; writes not yet started were not made")
        self.partial = report


def _guarded(report: Report, made: Plan, crm: Crm, limits: GuardLimits, managed: int) -> Report:
    report.guard = limits.report(len(made.changed), managed)
    if crm.embedded:
        report.guard["exempt"] = True
    return report


def replan_saved(
    config: Config,
    crm: Crm,
    saved: Plan,
    name: str,
    planning: Planning,
) -> tuple[Plan, dict[int, str]]:
    """The fresh plan a saved plan approves, and its stale billers (not to be written).

    ``planfile.PlanFileError`` (nothing written) when the plan is of another CRM,
    int360 or repository, names a biller without a file, or differs from the
    fresh plan.
    """
    from .planfile import check_origin, planned_bids, verify

    check_origin(saved, name, config, crm.label)
    removed = {b.bid: b.name for b in saved.billers if b.status == "removed"}
    chosen = Scope(
        planned_bids(saved),
        removed,
        description=str(saved.scope.get("description", "")),
        selector=tuple(str(a) for a in saved.scope.get("selector", ())),
    )
    fresh = plan(config, chosen, crm, planning)
    verified = verify(saved, fresh, name, config)
    return verified.plan, verified.stale
