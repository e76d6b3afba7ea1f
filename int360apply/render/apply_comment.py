"""The apply run's job summary, the one apply-failure issue and the note on pull requests.

Rendered from an apply report (``apply --report``) and the run's exit code, within
GitHub's character budget: the outcome first (applied, refused by the guard, failed
for some billers, stopped without a report), then the billers not applied. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, Unpack

from ..guard import GuardLimits
from .budget import COMMENT_LIMIT, Body
from .cells import MESSAGE_MAX, cell, clip, code, short
from .sections import billers_of, headline, summary_of

APPLY_MARKER = "<!-- int360-apply -->"


class ApplyRun(TypedDict):
    """The run an apply summary or issue speaks of: the same for both bodies."""

    exit_code: int  # int360 apply's exit code (3: refused by the guard)
    commit: str  # the commit applied
    scope: str  # the scope arguments, empty for --all
    why: str  # why the run ran (a push, the schedule, a maintainer)
    runbook_url: str  # docs/when-apply-fails.md
    run_url: str


def apply_outcome(report: Mapping[str, Any] | None, exit_code: int) -> str:
    """``applied`` (all held or written), ``refused`` (the guard), ``failed`` (some
    biller failed or was stale) or ``error`` (no usable report)."""
    if exit_code == 3 or (isinstance(report, Mapping) and report.get("status") == "refused"):
        return "refused"  # exit 3 is the guard's, report or not
    if not isinstance(report, Mapping) or not isinstance(report.get("billers"), list):
        return "error" if exit_code else "applied"
    s = summary_of(report)
    if s.get("failed") or s.get("stale") or exit_code:
        return "failed"
    return "applied"


def _guard_text(report: Mapping[str, Any]) -> str:
    found = report.get("guard")
    guard: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    changing, managed = guard.get("changing", "?"), guard.get("managed", "?")
    limit, percent = guard.get("max_billers", "?"), guard.get("max_percent", "?")
    return (
        "> [!CAUTION]\n"
        f"> **Refused by the apply guard: {cell(changing, 20)} of {cell(managed, 20)} managed "
        f"billers would change (limits: `--max-billers {cell(limit, 20)}`, "
        f"`--max-percent {cell(percent, 20)}`). Nothing was written.**\n>\n"
        "> If the fan-out is intended, a maintainer runs **Actions → apply → Run workflow** "
        f"on `main` with {_rerun(changing, managed, limit, percent)} and an empty `scope` (it "
        "applies the same range); the `production-break-glass` environment's reviewers approve "
        "it. Every "
        "later push is refused the same way until then, because each applies from the last "
        "successful apply. Otherwise revert or split the change.\n\n"
    )


def _rerun(changing: Any, managed: Any, limit: Any, percent: Any) -> str:
    """The break-glass inputs that let ``changing`` of ``managed`` billers through: the
    limits the report says were exceeded (``max_billers`` when it does not say)."""
    numbers = (changing, managed, limit, percent)
    if not all(type(n) in (int, float) for n in numbers):
        return f"`max_billers` ≥ {cell(changing, 20)}"
    over_count, over_percent = GuardLimits(int(limit), float(percent)).exceeded(
        int(changing), int(managed)
    )
    needed = []
    if over_count or not over_percent:
        needed.append(f"`max_billers` ≥ {int(changing)}")
    if over_percent:
        needed.append(f"`max_percent` ≥ {GuardLimits.percent_needed(int(changing), int(managed))}")
    return " and ".join(needed)


def _apply_body(
    marker: str, intro: str, report: Mapping[str, Any] | None, run: ApplyRun, limit: int
) -> str:
    exit_code, commit, scope, why = run["exit_code"], run["commit"], run["scope"], run["why"]
    outcome = apply_outcome(report, exit_code)
    foot = (
        f"\n<sub>[This run]({cell(run['run_url'], 300)}) · "
        f"[when apply fails]({cell(run['runbook_url'], 300)})</sub>\n"
    )
    body = Body(limit, foot)
    head = [marker] if marker else []
    head += [f"## Int360 apply · `{short(commit)}`", ""]
    head += [
        f"Scope: {code(scope or '--all', 400)}" + (f" — {cell(why, 400)}" if why else "") + "  ",
        "",
    ]
    if intro:
        head += [intro, ""]
    s = summary_of(report)
    if outcome != "error" and report is not None:
        keys = ["applied", "unchanged", "stale", "failed"]
        head += [
            "| " + " | ".join(keys) + " |",
            "|" + "---|" * len(keys),
            "| " + " | ".join(str(s.get(k, 0)) for k in keys) + " |",
            "",
        ]
    body.add_head("\n".join(head) + "\n")
    if outcome == "refused":
        body.add_head(_guard_text(report or {}))
        return body.text()
    if outcome == "error":
        body.add_head(
            f"> [!CAUTION]\n> **int360 apply exited {exit_code} without a report**: it stopped "
            "before planning (the files, the CRM connection, the secret source or the "
            "lockfile install). Nothing was written by this run; the run's log has the reason.\n"
        )
        return body.text()
    bad = [b for b in billers_of(report) if b.get("status") in ("failed", "stale")]
    if not bad:
        body.add_head("All billers in scope hold their desired settings.\n")
        return body.text()
    body.add_head(
        f"> [!CAUTION]\n> **{len(bad)} biller(s) not applied.** The next apply run (a push, "
        "the scheduled reconcile, or a re-run of this run while it is the newest) retries "
        "them: each run applies from the last successful apply.\n\n"
        "| biller | status | why |\n|---|---|---|\n"
    )
    rows = []
    for b in bad:
        why_ = "; ".join(
            f"{e.get('code', '')}: {e.get('message', '')}"
            for e in b.get("errors") or []
            if isinstance(e, Mapping)
        )
        rows.append(
            f"| {cell(headline(b))} | **{cell(b.get('status'), 20)}** | "
            f"{cell(why_ or '—', MESSAGE_MAX)} |\n"
        )
    body.entries(rows, len(rows), "the report artifact of the run has them all")
    return body.text()


def apply_summary(
    report: Mapping[str, Any] | None, *, limit: int = COMMENT_LIMIT, **run: Unpack[ApplyRun]
) -> str:
    """The apply job's summary."""
    return _apply_body("", "", report, run, limit)


def apply_issue(
    report: Mapping[str, Any] | None,
    *,
    pulls: Sequence[int] = (),
    limit: int = COMMENT_LIMIT,
    **run: Unpack[ApplyRun],
) -> str:
    """The body of the one open apply issue (replaced by each failing run)."""
    outcome = apply_outcome(report, run["exit_code"])
    what = {"refused": "was refused by the guard", "failed": "failed for some billers"}.get(
        outcome, "stopped before it could apply"
    )
    prs = ", ".join(f"#{n}" for n in list(pulls)[:50])
    intro = (
        f"The apply of `main` at `{short(run['commit'])}` {what}. What `main` says is not (all) "
        "in the CRM. This issue is updated by every apply run that fails and closed by the "
        "next one that succeeds." + (f" Pull requests in the range: {prs}." if prs else "")
    )
    return _apply_body(APPLY_MARKER, intro, report, run, limit)


def apply_pr_note(
    report: Mapping[str, Any] | None,
    *,
    exit_code: int,
    commit: str,
    issue: int | None,
    run_url: str,
    limit: int = COMMENT_LIMIT,
) -> str:
    """A short comment on a pull request whose merge was not applied."""
    outcome = apply_outcome(report, exit_code)
    what = {
        "refused": "was **refused by the apply guard** (nothing was written)",
        "failed": "**failed** for some billers",
    }.get(outcome, "**stopped** before it could apply")
    where = f" Follow it in #{issue}." if issue else ""
    text = (
        f"{APPLY_MARKER}\nThe apply of `main` at `{short(commit)}`, which includes this pull "
        f"request, {what}.{where} [The run]({cell(run_url, 300)}) has the details; the next "
        "successful apply writes what is missing.\n"
    )
    return clip(text, limit)
