"""The orchestrator: validated config → scope → plan → apply | drift | import.

Every function returns values (a ``Plan``, a ``Report``, what was written);
the commands in ``cli`` render them and map them to exit codes. The CRM is a
connected ``crmconn.Crm``; the engine never opens one itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from .apply import Applier, ApplyOptions, Report
from .config import Config
from .crmconn import Crm
from .errors import Failure, Int360Error, Reported, UsageError
from .guard import GuardLimits
from .load import load_config
from .plan import BillerPlan, Plan
from .repo import Repo, RepoError, biller_paths, git
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


def commit_of(repo: Repo) -> str | None:
    """The commit a run is made from: ``GITHUB_SHA``, else ``HEAD`` (None outside git)."""
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        return git(repo, "rev-parse", "HEAD").strip()
    except RepoError:
        return None


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


def scope(
    config: Config,
    *,
    bids: Sequence[int] = (),
    partners: Sequence[str] = (),
    changed_since: str | None = None,
) -> Scope:
    """The billers a run covers (every biller when nothing is named)."""
    from .scope import select

    return select(config, bids=bids, partners=partners, changed_since=changed_since)


def plan(
    config: Config,
    chosen: Scope,
    crm: Crm,
    *,
    commit: str | None,
    rotate_secrets: bool = False,
    on_entry: Callable[[BillerPlan], None] | None = None,
) -> Plan:
    """Desired vs live for every biller of ``chosen`` (``plan``, ``apply``, ``drift``)."""
    from .planner import build_plan

    made = build_plan(
        config,
        chosen,
        crm.client,
        crm=crm.label,
        commit=commit,
        rotate_secrets=rotate_secrets,
        on_entry=on_entry,
        embedded_sandbox=crm.embedded,
    )
    made.uncommitted = commit is not None and uncommitted(config.repo)
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
    commit = commit_of(repo)
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
    )
    stale: dict[int, str] | None = None
    if request.saved is not None:
        made, stale = replan_saved(
            config,
            crm,
            request.saved,
            request.saved_name,
            commit=commit,
            rotate_secrets=request.rotate_secrets,
        )
    else:
        chosen = request.scope
        assert chosen is not None
        if request.yes and (crm.embedded or limits.allows(len(chosen.bids), managed)):
            # No confirmation to wait for and no guard to trip: overlap the writes
            # with planning the rest.
            with Applier(crm.client, options, commit, config) as applier:
                try:
                    made = plan(
                        config,
                        chosen,
                        crm,
                        commit=commit,
                        rotate_secrets=request.rotate_secrets,
                        on_entry=applier.submit,
                    )
                    show_plan(made)
                    return _guarded(applier.finish(made), made, crm, limits, managed)
                except KeyboardInterrupt:
                    raise Interrupted(applier.interrupted(crm.label, commit)) from None
        made = plan(config, chosen, crm, commit=commit, rotate_secrets=request.rotate_secrets)
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
    *,
    commit: str | None,
    rotate_secrets: bool = False,
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
    fresh = plan(config, chosen, crm, commit=commit, rotate_secrets=rotate_secrets)
    verified = verify(saved, fresh, name, config)
    return verified.plan, verified.stale


# --- drift and adopt ---------------------------------------------------------


def drift(config: Config, crm: Crm, *, commit: str | None) -> Plan:
    """The plan of every biller: what changed in the CRM behind the repository's back."""
    return plan(config, Scope(set(config.billers)), crm, commit=commit)


class Adopted(NamedTuple):
    """One drifted biller's file: rewritten to the live settings, or why not."""

    path: str
    error: str | None
    dropped: tuple[str, ...] = ()  # live fields the schema does not know: left out


def adopt(config: Config, crm: Crm, drifted: Plan) -> Iterator[Adopted]:
    """Rewrite each changed biller's file so that it merges to the live settings.

    Every file is worked out and checked as ``validate`` would before the first is
    written; one that would not validate (a locked path, a required field removed
    in the CRM) is left as it is and named with the reason.
    """
    from .adopt import adopt as adopted_file

    results = []
    for entry in drifted.changed:
        live, _etag = crm.client.get_settings(entry.bid)
        results.append(adopted_file(config, config.billers[entry.bid], live))
    for result in results:
        if result.text is None:
            yield Adopted(result.path, result.reason)
        else:
            result.write(config)
            yield Adopted(result.path, None, result.dropped)


def shared_drift(config: Config, drifted: Plan) -> list[str]:
    """A line per partner whose every biller drifted the same way (the template did)."""
    from .adopt import shared_drift as shared

    return shared(config, drifted.changed)


# --- import ------------------------------------------------------------------


class Imported(NamedTuple):
    """One biller of an import: the file written (relative, posix), or the problem.

    ``skipped``: a file exists and an import by integrator ID leaves it (no failure).
    """

    bid: int
    written: str | None
    problem: str | None
    skipped: bool = False
    dropped: tuple[str, ...] = ()  # live fields the schema does not know: left out


def load(repo: Repo) -> Config:
    """The configuration as it is, unvalidated (``import`` adds to a repository in work)."""
    return load_config(repo)


def check_import(
    config: Config, *, bids: Sequence[int], integrator_id: int | None, partner: str | None
) -> None:
    """``UsageError`` for an import that names nothing it could write (before the CRM)."""
    if not bids and integrator_id is None:
        raise UsageError("name billers (BID…) or --integrator-id N")
    for bid in bids:
        if bid < 1:
            raise UsageError(f"BID {bid}: a BID is a positive whole number")
    if partner and partner not in config.partners:
        raise UsageError(f"--partner {partner}: no such partner; see int360 partners")
    if integrator_id is not None and not partner and _partner_of(config, integrator_id) is None:
        raise UsageError(
            f"--integrator-id {integrator_id}: no partner has this integrator ID; "
            "add it to the partner's integrator_ids or pass --partner SLUG"
        )


def import_billers(
    config: Config,
    crm: Crm,
    *,
    bids: Sequence[int],
    integrator_id: int | None,
    partner: str | None,
    force: bool,
) -> Iterator[Imported]:
    """Write biller files with the minimal overrides of the CRM's live settings.

    ``bids``, else every biller of ``integrator_id`` (``Failure`` when the CRM has
    none); ``partner`` (a known slug), else the partner of the profile's integrator
    ID. Each file is checked as ``validate`` would before it is written; one that
    would not validate is not written. An existing file is refused for a named BID
    and skipped by an import by integrator ID (``force`` overwrites it). Yields each
    biller as it is done.
    """
    from .adopt import import_file
    from .crm.errors import CrmError, NotFound

    check_import(config, bids=bids, integrator_id=integrator_id, partner=partner)
    root = config.repo.root
    client = crm.client
    profiles = []
    for bid in bids:
        try:
            profiles.append(client.get_biller(bid))
        except NotFound:
            yield Imported(bid, None, f"{bid}: not imported: no biller {bid} in the CRM")
    if not bids:
        profiles = list(client.list_billers(integrator_id=integrator_id))
        if not profiles:
            raise Failure(f"no biller in the CRM has integrator ID {integrator_id}")
    for profile in profiles:
        slug = partner or _partner_of(config, profile.integrator_id)
        existing = biller_paths(config.repo, profile.bid)
        if slug is None:
            yield Imported(
                profile.bid,
                None,
                f"{profile.bid}: no partner has integrator ID {profile.integrator_id}; "
                "pass --partner SLUG",
            )
            continue
        if existing and not force:
            where = existing[0].relative_to(root).as_posix()
            if bids:
                yield Imported(profile.bid, None, f"{where}: exists; pass --force to overwrite")
            else:
                yield Imported(
                    profile.bid, None, f"{where}: exists; skipped (--force overwrites it)", True
                )
            continue
        target = existing[0] if existing else root / "billers" / f"{profile.bid}.yaml"
        rel = target.relative_to(root).as_posix()
        try:
            live, _etag = client.get_settings(profile.bid)
        except CrmError as exc:
            yield Imported(profile.bid, None, f"{profile.bid}: not imported: {exc}")
            continue
        result = import_file(config, profile, slug, live, rel)
        if result.text is None:
            yield Imported(profile.bid, None, f"{rel}: not imported: {result.reason}")
            continue
        result.write(config)
        yield Imported(profile.bid, rel, None, dropped=result.dropped)


def _partner_of(config: Config, integrator_id: int) -> str | None:
    for slug, partner in config.partners.items():
        if integrator_id in partner.integrator_ids:
            return slug
    return None


# --- secrets -------------------------------------------------------------------


def secrets(config: Config, scope: Scope, crm: Crm) -> Inventory:
    """Every secret the billers of ``scope`` reference: set in the CRM, and whether the
    configured source can provide it (asked once per name; values are dropped)."""
    from .secrets import source_from_environment
    from .secrets.inventory import inventory_of

    source = source_from_environment()  # a misconfigured source: one line, before any read
    return inventory_of(config, scope.bids, crm.client, source, crm=crm.label)
