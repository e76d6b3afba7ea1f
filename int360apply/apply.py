"""Execute a plan: one atomic, conditional PATCH per biller, concurrently.

Every biller is independent: a failure never stops or rolls back the others.
A saved plan never overwrites a biller that moved since the plan was made
(``stale``); a fresh plan re-reads and re-diffs once when a write races.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, cast

from .apply_report import (
    STALE_MESSAGE,
    Outcome,
    Report,
    failed_outcome,
    planned_outcome,
    stale_outcome,
)
from .config import Config
from .crm import AuditNote
from .crm.errors import CrmError, PreconditionFailed
from .crm.port import CrmPort, PatchRequest
from .guard import GuardLimits
from .plan import BillerPlan, Change, Plan, diff_settings, patch_from_changes
from .secrets import SecretUnavailable, SharedResolver, source_from_environment

SANDBOX_PLACEHOLDER = "sandbox-placeholder-not-a-secret"
PLACEHELD_SHOWN = 5  # secret names a placeholder warning lists


@dataclass
class ApplyOptions:
    """How to apply."""

    concurrency: int = 8
    limits: GuardLimits = field(default_factory=GuardLimits)
    managed: int | None = None  # billers with a file; None: the plan's own billers
    from_file: bool = False
    rotate_secrets: bool = False
    embedded: bool = False
    actor: str = "unknown"
    environ: Mapping[str, str] | None = None
    progress: Callable[[int, int], None] | None = None
    # Called in the waiting thread with each write's outcome as it ends (in the order
    # the writes end), so a renderer can do its work while other writes wait.
    finished: Callable[[Outcome], None] | None = None


class _Secrets:
    """Secret values at write time from the configured source, one fetch per name
    shared by every worker thread.

    The embedded sandbox always gets a placeholder and the source is never asked:
    its database is a file in the working tree, no place for a real value.
    Made before the first write, so a misconfigured source (``SecretSourceError``)
    stops the run with nothing written.
    """

    def __init__(self, options: ApplyOptions) -> None:
        self.options = options
        self.resolver = SharedResolver(source_from_environment(options.environ))
        self.placeheld: set[str] = set()
        self.lock = threading.Lock()

    def value(self, name: str) -> str:
        if self.options.embedded:
            with self.lock:
                self.placeheld.add(name)
            return SANDBOX_PLACEHOLDER
        try:
            return self.resolver.value(name)
        except SecretUnavailable as exc:
            raise _BillerFailed(exc.code, exc.message) from None


class _BillerFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fill_secrets(patch: dict[str, Any], changes: list[Change], secrets: _Secrets) -> dict[str, Any]:
    """The patch with each secret reference in write form ``{secret, value}``."""
    for change in changes:
        if not change.secret or not isinstance(change.after, Mapping):
            continue
        node = patch
        parts = change.path.split(".")
        for part in parts[:-1]:
            node = node[part]
        name = change.after["secret"]
        node[parts[-1]] = {"secret": name, "value": secrets.value(name)}
    return patch


def apply_plan(
    plan: Plan,
    client: CrmPort,
    options: ApplyOptions,
    config: Config | None = None,
    stale: Mapping[int, str] | None = None,
) -> Report:
    """Apply every ``change`` entry of ``plan``; ``config`` enables re-diffing on a race.

    The plan's guard holds first (``GuardRefused``, nothing written) unless the
    CRM is the embedded sandbox. ``stale`` billers (moved in the CRM since a
    saved plan) are reported, not written.
    """
    if not options.embedded:
        managed = options.managed if options.managed is not None else len(plan.billers)
        plan.raise_if_unsafe(managed, options.limits)
    with Applier(client, options, plan.commit, config) as applier:
        for entry in plan.changed:
            if stale is None or entry.bid not in stale:
                applier.submit(entry)
        return applier.finish(plan, stale)


class Applier:
    """Writes billers concurrently as they are submitted; ``finish`` waits and reports.

    ``apply_plan`` submits a whole plan. A caller may instead submit each entry
    as soon as it is planned, so writing overlaps planning the rest, provided
    nothing can trip the guard (the scope itself is within its limits, or the
    CRM is the embedded sandbox): the guard must hold before the first write.
    """

    def __init__(
        self, client: CrmPort, options: ApplyOptions, commit: str | None, config: Config | None
    ) -> None:
        self._client = client
        self._options = options
        self._commit = commit
        self._config = config
        self._secrets = _Secrets(options)
        self._pool = ThreadPoolExecutor(max_workers=max(1, options.concurrency))
        self._running: dict[int, Future[Outcome]] = {}
        self._submitted: list[BillerPlan] = []  # in order, for a report if interrupted
        self._lock = threading.Lock()
        self._done = 0
        self._warnings: list[str] = []  # from the worker threads, for the report

    def __enter__(self) -> Applier:
        return self

    def __exit__(self, *exc: object) -> None:
        # On an error or an interrupt, writes not yet started never start.
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, entry: BillerPlan) -> None:
        """Start writing ``entry`` if it is a change (other statuses are reported as planned)."""
        self._submitted.append(entry)
        if entry.status == "change":
            self._running[entry.bid] = self._pool.submit(self._one, entry)

    def _one(self, entry: BillerPlan) -> Outcome:
        try:
            return _apply_one(
                entry,
                self._client,
                self._options,
                self._secrets,
                self._commit,
                self._config,
                self._warn,
            )
        except Exception as exc:  # contained: one biller's bug never stops the others
            return failed_outcome(entry, "internal-error", f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._done += 1
                if self._options.progress:
                    self._options.progress(self._done, len(self._running))

    def _warn(self, message: str) -> None:
        with self._lock:
            self._warnings.append(message)

    def interrupted(self, crm: str, commit: str | None) -> Report:
        """After an interrupt: writes not yet started never start, those under way
        finish; the report of every biller submitted so far."""
        for future in self._running.values():
            future.cancel()
        return self.finish(Plan(crm=crm, commit=commit, billers=list(self._submitted)))

    def _outcome(self, entry: BillerPlan, future: Future[Outcome]) -> Outcome:
        if future.cancelled():
            return failed_outcome(entry, "interrupted", "interrupted before it was written")
        return future.result()

    def finish(self, plan: Plan, stale: Mapping[int, str] | None = None) -> Report:
        """Wait for every write; the report, in the plan's order (``stale``: not written)."""
        waiting = {
            self._running[entry.bid]: entry for entry in plan.billers if entry.bid in self._running
        }
        applied: dict[int, Outcome] = {}
        for future in as_completed(waiting):
            entry = waiting[future]
            applied[entry.bid] = outcome = self._outcome(entry, future)
            if self._options.finished:
                self._options.finished(outcome)
        outcomes = []
        for entry in plan.billers:
            if stale and entry.bid in stale and entry.status == "change":
                outcomes.append(stale_outcome(entry))
            elif entry.bid in applied and entry.status == "change":
                outcomes.append(applied[entry.bid])
            elif entry.status in ("error", "unchanged"):
                outcomes.append(planned_outcome(entry))
        report = Report(plan.crm, plan.commit, outcomes, scope=plan.scope)
        with self._lock:
            report.warnings += sorted(self._warnings)
        if self._secrets.placeheld:
            names = sorted(self._secrets.placeheld)
            # A fleet has a secret or two per biller: name a few, count the rest.
            shown = ", ".join(names[:PLACEHELD_SHOWN])
            more = len(names) - PLACEHELD_SHOWN
            report.warnings.append(
                "the embedded sandbox got placeholder values, never real ones, for the secrets "
                + shown
                + (f" and {more:,} more" if more > 0 else "")
            )
        return report


def _apply_one(
    entry: BillerPlan,
    client: CrmPort,
    options: ApplyOptions,
    secrets: _Secrets,
    commit: str | None,
    config: Config | None,
    warn: Callable[[str], None],
) -> Outcome:
    outcome = Outcome(entry.bid, entry.name, entry.partner, "failed", list(entry.changes))
    changes, etag = entry.changes, entry.etag
    try:
        for attempt in range(2):
            patch = fill_secrets(patch_from_changes(changes), changes, secrets)
            note = audit_note(changes, commit, options.actor)
            try:
                # A changed entry was planned against live settings: it carries their ETag.
                request = PatchRequest(entry.bid, patch, cast(str, etag), note)
                result = client.patch_settings(request)
            except PreconditionFailed:
                if options.from_file or config is None or attempt == 1:
                    outcome.status = "stale"
                    outcome.errors.append({"code": "stale", "message": STALE_MESSAGE})
                    return outcome
                # A fresh plan raced another writer: re-read, re-diff once.
                changes, etag = _replan(entry, client, config, options)
                outcome.changes = list(changes)
                if not changes:
                    outcome.status = "unchanged"
                    return outcome
                continue
            outcome.status = "applied"
            if result.note_id is None and not result.already_applied:
                # The CRM did not confirm the note committed with the change
                # (too long for the header): add it on its own.
                _add_note(client, entry.bid, note, warn)
            break
    except _BillerFailed as exc:
        outcome.errors.append({"code": exc.code, "message": exc.message})
    except CrmError as exc:
        outcome.errors.append({"code": exc.code or "crm-error", "message": str(exc)})
    return outcome


def _replan(
    entry: BillerPlan, client: CrmPort, config: Config, options: ApplyOptions
) -> tuple[list[Change], str]:
    settings, etag = client.get_settings(entry.bid)
    biller = config.billers[entry.bid]
    sources = config.sources(biller)
    changes = diff_settings(
        config.desired(biller),
        settings,
        config.schemas.secret_paths,
        sources,
        options.rotate_secrets,
    )
    return changes, etag


def audit_note(changes: list[Change], commit: str | None, actor: str) -> AuditNote:
    """The audit note of a change: commit, actor and the changed paths (never values)."""
    paths = [c.path for c in changes]
    text = f"int360 apply by {actor} from commit {commit or 'unknown'}: changed {', '.join(paths)}"
    return AuditNote(text, author=actor, commit=commit, paths=tuple(paths))


def _add_note(client: CrmPort, bid: int, note: AuditNote, warn: Callable[[str], None]) -> None:
    try:
        client.add_note(bid, note)
    except CrmError as exc:
        # The settings are written; a missing note must not turn that into a failure,
        # only a warning of the run, printed with its other warnings at the end.
        warn(f"biller {bid}: audit note not written: {exc}")
