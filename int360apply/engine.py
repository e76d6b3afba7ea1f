"""The orchestrator: validated config → scope → plan → apply | drift | import.

Every function returns values (a ``Plan``, a ``Report``, what was written);
the commands in ``cli`` render them and map them to exit codes. The CRM is a
connected ``crmconn.Crm``; the engine never opens one itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .apply import Applier, ApplyOptions, Report, apply_plan, guard
from .config import Config, load_config
from .crmconn import Crm
from .errors import Failure, Reported
from .plan import BillerPlan, Plan
from .repo import Repo, RepoError, biller_paths, git
from .runtime import Tuning
from .scope import Scope


def valid_config(repo: Repo, *, positions: bool = False, tuning: Tuning | None = None) -> Config:
    """The repository's configuration; ``Reported`` with every problem if it is invalid.

    ``positions``: record the billers' positions while loading (a run that expects
    changes prints their sources).
    """
    from .render.problems import text
    from .validate_run import validated_config

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
    )
    made.uncommitted = commit is not None and uncommitted(config.repo)
    return made


def diff(config: Config, base: str | None) -> Plan:
    """Merged settings at git revision ``base`` (default: the merge base) vs the working tree."""
    from .gitdiff import diff_since
    from .scope import default_base

    return diff_since(config, base or default_base(config.repo))


# --- apply -------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyRequest:
    """What to apply: a scope to plan now, or a saved plan (exactly one), and how."""

    scope: Scope | None
    saved: Plan | None
    yes: bool
    max_billers: int
    concurrency: int
    rotate_secrets: bool
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

    Confirmed up front (``yes``) and within ``max_billers``, a fresh plan is applied
    while it is made: each biller is written as soon as it is planned. Otherwise the
    whole plan comes first, then the guard (``ApplyRefused``) and the confirmation.
    ``show_plan`` sees the plan before any confirmation.
    """
    saved = request.saved
    if saved is not None and saved.crm != crm.label:
        raise Failure(
            f"the plan was made against {saved.crm}, not {crm.label}; nothing was written"
        )
    # The embedded sandbox holds nothing anyone relies on: no guard (the quick start's
    # first apply writes every biller of the repository).
    limit = sys.maxsize if crm.embedded else request.max_billers
    options = ApplyOptions(
        concurrency=request.concurrency,
        max_billers=limit,
        from_file=saved is not None,
        rotate_secrets=request.rotate_secrets,
        embedded=crm.embedded,
        actor=actor_of(repo),
        progress=request.progress,
    )
    chosen = request.scope if saved is None else None
    if chosen is not None and request.yes and len(chosen.bids) <= limit:
        # No confirmation to wait for and no guard to trip: overlap the writes
        # with planning the rest.
        commit = commit_of(repo)
        with Applier(crm.client, options, commit, config) as applier:
            made = plan(
                config,
                chosen,
                crm,
                commit=commit,
                rotate_secrets=request.rotate_secrets,
                on_entry=applier.submit,
            )
            show_plan(made)
            return _exempt(applier.finish(made), crm, request, made)
    if chosen is not None:
        made = plan(
            config, chosen, crm, commit=commit_of(repo), rotate_secrets=request.rotate_secrets
        )
    else:
        assert saved is not None
        made = saved
    show_plan(made)
    guard(made, limit)
    if made.changed and not confirm(len(made.changed)):
        return None
    return _exempt(apply_plan(made, crm.client, options, config), crm, request, made)


def _exempt(report: Report, crm: Crm, request: ApplyRequest, made: Plan) -> Report:
    """Say so when only the embedded sandbox's exemption let the apply past the guard."""
    count = len(made.changed)
    if crm.embedded and count > request.max_billers:
        report.warnings.append(
            f"{count:,} billers changed, more than --max-billers {request.max_billers}: "
            "the embedded sandbox is exempt from the guard"
        )
    return report


# --- drift and adopt ---------------------------------------------------------


def drift(config: Config, crm: Crm, *, commit: str | None) -> Plan:
    """The plan of every biller: what changed in the CRM behind the repository's back."""
    return plan(config, Scope(set(config.billers)), crm, commit=commit)


class Adopted(NamedTuple):
    """One drifted biller's file: rewritten to the live settings, or why not."""

    path: str
    error: str | None


def adopt(config: Config, crm: Crm, drifted: Plan) -> Iterator[Adopted]:
    """Rewrite each changed biller's file so that it merges to the live settings."""
    from .adopt import AdoptError, minimal_overrides
    from .yamlwrite import rewrite_overrides

    for entry in drifted.changed:
        biller = config.billers[entry.bid]
        live, _etag = crm.client.get_settings(entry.bid)
        try:
            overrides = minimal_overrides(config, biller.partner, live)
        except AdoptError as exc:
            yield Adopted(biller.doc.path, str(exc))
            continue
        rewrite_overrides(config.repo.root / biller.doc.path, overrides)
        yield Adopted(biller.doc.path, None)


# --- import ------------------------------------------------------------------


class Imported(NamedTuple):
    """One biller of an import: the file written (relative, posix), or the problem."""

    bid: int
    written: str | None
    problem: str | None


def load(repo: Repo) -> Config:
    """The configuration as it is, unvalidated (``import`` adds to a repository in work)."""
    return load_config(repo)


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

    ``bids``, else every biller of ``integrator_id``; ``partner`` (a known slug), else
    the partner of the profile's integrator ID. Yields each biller as it is done.
    """
    from .adopt import AdoptError, minimal_overrides
    from .crm.errors import CrmError
    from .yamlwrite import biller_text, write_atomic

    root = config.repo.root
    client = crm.client
    profiles = (
        [client.get_biller(b) for b in bids]
        if bids
        else list(client.list_billers(integrator_id=integrator_id))
    )
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
            where = existing[0].relative_to(root)
            yield Imported(profile.bid, None, f"{where}: exists; pass --force to overwrite")
            continue
        try:
            live, _etag = client.get_settings(profile.bid)
            overrides = minimal_overrides(config, slug, live)
        except (AdoptError, CrmError) as exc:
            yield Imported(profile.bid, None, f"{profile.bid}: not imported: {exc}")
            continue
        iid = profile.integrator_id if len(config.partners[slug].integrator_ids) > 1 else None
        target = existing[0] if existing else root / "billers" / f"{profile.bid}.yaml"
        write_atomic(target, biller_text(profile.bid, profile.name, slug, iid, overrides))
        yield Imported(profile.bid, target.relative_to(root).as_posix(), None)


def _partner_of(config: Config, integrator_id: int) -> str | None:
    for slug, partner in config.partners.items():
        if integrator_id in partner.integrator_ids:
            return slug
    return None
