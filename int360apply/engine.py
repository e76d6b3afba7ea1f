"""The orchestrator: validated config → scope → plan → apply | drift | import.

Every function returns values (a ``Plan``, a ``Report``, what was written);
the commands in ``cli`` render them and map them to exit codes. The CRM is a
connected ``crmconn.Crm``; the engine never opens one itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .apply import Applier, ApplyOptions, Report, apply_plan, guard
from .config import Config
from .crmconn import Crm
from .errors import Failure, Reported, UsageError
from .load import load_config
from .plan import BillerPlan, Plan
from .repo import Repo, RepoError, biller_paths, git
from .runtime import Tuning
from .scope import Scope


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

    return build_plan(
        config,
        chosen,
        crm.client,
        crm=crm.label,
        commit=commit,
        rotate_secrets=rotate_secrets,
        on_entry=on_entry,
        embedded_sandbox=crm.embedded,
    )


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
    options = ApplyOptions(
        concurrency=request.concurrency,
        max_billers=request.max_billers,
        from_file=saved is not None,
        rotate_secrets=request.rotate_secrets,
        embedded=crm.embedded,
        actor=actor_of(repo),
        progress=request.progress,
    )
    chosen = request.scope if saved is None else None
    if chosen is not None and request.yes and len(chosen.bids) <= request.max_billers:
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
            return applier.finish(made)
    if chosen is not None:
        made = plan(
            config, chosen, crm, commit=commit_of(repo), rotate_secrets=request.rotate_secrets
        )
    else:
        assert saved is not None
        made = saved
    show_plan(made)
    guard(made, request.max_billers)
    if made.changed and not confirm(len(made.changed)):
        return None
    return apply_plan(made, crm.client, options, config)


# --- drift and adopt ---------------------------------------------------------


def drift(config: Config, crm: Crm, *, commit: str | None) -> Plan:
    """The plan of every biller: what changed in the CRM behind the repository's back."""
    return plan(config, Scope(set(config.billers)), crm, commit=commit)


class Adopted(NamedTuple):
    """One drifted biller's file: rewritten to the live settings, or why not."""

    path: str
    error: str | None


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
            yield Adopted(result.path, None)


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
        yield Imported(profile.bid, rel, None)


def _partner_of(config: Config, integrator_id: int) -> str | None:
    for slug, partner in config.partners.items():
        if integrator_id in partner.integrator_ids:
            return slug
    return None
