"""The ``github-comment`` format: what the workflows post, rendered from int360's JSON.

Pull-request comment, apply job summary, the apply-failure issue, the drift issue
and the adopt pull request's body are all made here from the JSON documents the
commands write (a plan or diff, ``validate --format json``, an apply report), so
the workflows only move files and call ``gh``.

Every renderer keeps its result within a character budget (GitHub refuses a
comment, issue or pull-request body over 65,536 characters) on every path: each
untrusted string is clipped before it is placed, whole entries are added while
they fit, and what does not fit is counted in a note naming where the rest is.
No I/O.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

COMMENT_LIMIT = 65_536
PLAN_MARKER = "<!-- int360-plan -->"
APPLY_MARKER = "<!-- int360-apply -->"
DRIFT_MARKER = "<!-- int360-drift -->"
# No single value, message or name may take more than this much of a body.
_FIELD_MAX = 300
_MESSAGE_MAX = 1_000
# Room kept for the note that says what was left out.
_NOTE_ROOM = 400


# ---------------------------------------------------------------------------
# text helpers


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def cell(value: Any, limit: int = _FIELD_MAX) -> str:
    """Untrusted text as one Markdown table cell: no HTML, no pipes, no line breaks,
    no @mentions, no longer than ``limit``."""
    text = _clip(str(value), limit)
    text = html.escape(text, quote=False).replace("|", "\\|")
    text = re.sub(r"[\r\n]+", " ", text)
    return text.replace("@", "&#64;")


def code(value: Any, limit: int = _FIELD_MAX) -> str:
    """Untrusted text as inline code that cannot break out of its cell."""
    return f"<code>{cell(value, limit)}</code>"


def short(sha: str | None) -> str:
    """A commit as 12 hex digits (anything else is shown as given, clipped)."""
    if sha and re.fullmatch(r"[0-9a-f]{40}", sha):
        return sha[:12]
    return cell(sha or "?", 40)


def value_text(value: Any, secret: bool = False) -> str:
    """A plan value as text: JSON, ``(unset)`` or ``(secret NAME)``; never a secret."""
    if value is None:
        return "(unset)"
    if secret or (
        isinstance(value, dict) and "secret" in value and set(value) <= {"secret", "set"}
    ):
        name = value.get("secret") if isinstance(value, dict) else None
        return f"(secret {name})" if isinstance(name, str) else "(secret)"
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------
# the budget


@dataclass
class Body:
    """A body that never grows past ``limit``: ``head`` always fits (it is small and
    clipped), entries are added while they fit with room for ``foot`` and a note."""

    limit: int
    foot: str = ""
    parts: list[str] = field(default_factory=list)

    def used(self) -> int:
        return sum(len(p) for p in self.parts)

    def room(self) -> int:
        return self.limit - self.used() - len(self.foot)

    def add(self, text: str) -> bool:
        """Add ``text`` when it fits (leaving room for a note); False when it does not."""
        if len(text) + _NOTE_ROOM > self.room():
            return False
        self.parts.append(text)
        return True

    def add_head(self, text: str) -> None:
        """A fixed part: clipped to what is left so that the budget holds regardless."""
        room = self.room() - _NOTE_ROOM
        self.parts.append(text if len(text) <= room else _clip(text, max(0, room)))

    def entries(self, items: Iterable[str], total: int, rest: str) -> int:
        """Add entries in order while they fit; then one note with how many are left out
        (``rest`` names where they are). The number added."""
        added = 0
        for item in items:
            if not self.add(item):
                break
            added += 1
        if added < total:
            note = (
                f"\n_… {total - added} more not shown here (the limit is "
                f"{self.limit:,} characters); {rest}._\n"
            )
            self.parts.append(_clip(note, max(0, self.room())))
        return added

    def text(self) -> str:
        out = "".join(self.parts) + self.foot
        if len(out) > self.limit:  # defensive: the rules above keep this from happening
            out = out[: self.limit - 1] + "…"
        return out


# ---------------------------------------------------------------------------
# sections shared by the bodies


def _billers(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        return []
    return [b for b in doc.get("billers") or [] if isinstance(b, Mapping)]


def _summary(doc: Mapping[str, Any] | None) -> dict[str, int]:
    found = doc.get("summary") if isinstance(doc, Mapping) else None
    if not isinstance(found, Mapping):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, int)}


def _headline(b: Mapping[str, Any]) -> str:
    partner = f" ({b.get('partner')})" if b.get("partner") else ""
    return f"{b.get('bid')} {b.get('name', '')}{partner}"


def biller_section(b: Mapping[str, Any], label: str | None = None) -> str:
    """One biller, collapsible: its changes as a table, its errors as a list."""
    changes = [c for c in b.get("changes") or [] if isinstance(c, Mapping)]
    errors = [e for e in b.get("errors") or [] if isinstance(e, Mapping)]
    status = str(b.get("status", ""))
    what = label or (f"{len(changes)} change(s)" if changes else status)
    lines = [f"<details><summary>{cell(_headline(b))} — {cell(what)}</summary>", ""]
    if changes:
        lines += ["| field | before | after | source |", "|---|---|---|---|"]
        for c in changes[:200]:
            secret = bool(c.get("secret"))
            lines.append(
                f"| {code(c.get('path', ''))} | {code(value_text(c.get('before'), secret))} | "
                f"{code(value_text(c.get('after'), secret))} | {cell(c.get('source') or '')} |"
            )
        if len(changes) > 200:
            lines.append(f"| … {len(changes) - 200} more fields | | | |")
    for e in errors[:20]:
        lines.append(
            f"- **error[{cell(e.get('code', ''), 60)}]**: "
            f"{cell(e.get('message', ''), _MESSAGE_MAX)}"
        )
    if len(errors) > 20:
        lines.append(f"- … {len(errors) - 20} more errors")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def grouped_changes(plan: Mapping[str, Any] | None, groups_shown: int = 15) -> str:
    """The plan's identical changes grouped (``field: before → after`` on N billers,
    widest first) and each partner file the new values come from with the billers to
    change it reaches; empty when no change is shared and few billers change."""
    from .plan import DETAIL_LIMIT, file_fanout, groups_of_document

    groups, changed = groups_of_document(plan)
    if not any(len(g.bids) > 1 for g in groups) and changed <= DETAIL_LIMIT:
        return ""
    lines = [
        f"**Changes, grouped** ({changed:,} billers to change):",
        "",
        "| field | before | after | billers | source |",
        "|---|---|---|---:|---|",
    ]
    for g in groups[:groups_shown]:
        lines.append(
            f"| {code(g.path)} | {code(g.before)} | {code(g.after)} | {len(g.bids):,} | "
            f"{cell(g.source or '')} |"
        )
    rest = groups[groups_shown:]
    if rest:
        fields = len({g.path for g in rest})
        lines += ["", f"_… {len(rest):,} more distinct changes to {fields:,} field(s)._"]
    files = file_fanout(groups)
    if files:
        lines.append("")
        lines += [
            f"- {code(path)} gives new values to **{count:,}** of the billers to change"
            for path, count in files
        ]
    return "\n".join(lines) + "\n\n"


def problem_lines(problems: Mapping[str, Any] | None) -> list[str]:
    """``validate --format json`` problems as list items, file:line:col first."""
    found = problems.get("problems") if isinstance(problems, Mapping) else None
    out = []
    for p in found or []:
        if not isinstance(p, Mapping):
            continue
        where = f"{p.get('path')}:{p.get('line')}:{p.get('col')}"
        out.append(
            f"- {code(where, 200)} **{cell(p.get('rule', ''), 80)}**: "
            f"{cell(p.get('message', ''), _MESSAGE_MAX)}\n"
        )
    return out


def _problem_count(problems: Mapping[str, Any] | None) -> int:
    found = problems.get("problems") if isinstance(problems, Mapping) else None
    return len(found) if isinstance(found, list) else 0


# ---------------------------------------------------------------------------
# the pull-request comment


PLAN_STATES = ("changes", "unchanged", "error", "skipped", "failed")


def pr_comment(
    *,
    head: str,
    base: str,
    plan: Mapping[str, Any] | None,
    plan_state: str,
    diff: Mapping[str, Any] | None,
    problems: Mapping[str, Any] | None,
    max_billers: int,
    run_url: str,
    artifact: str,
    limit: int = COMMENT_LIMIT,
) -> str:
    """The sticky pull-request comment (also the plan job's summary).

    ``plan_state``: ``changes``/``unchanged``/``error`` (a plan was made), ``skipped``
    (a fork or Dependabot: no token, the git diff only), ``failed`` (no plan). ``diff``
    is ``int360 diff --format json``, None when the files do not merge or validate; then
    ``problems`` (``validate --format json``) says why.
    """
    if plan_state not in PLAN_STATES:
        raise ValueError(f"plan_state must be one of {', '.join(PLAN_STATES)}")
    foot = (
        f"\n<sub>For `{short(head)}` (base `{short(base)}`, the merge commit's first parent) "
        f"by [this run]({cell(run_url, 300)}). Everything is in the run's artifact "
        f"`{cell(artifact, 100)}`.</sub>\n"
    )
    body = Body(limit, foot)
    diff_count = _summary(diff).get("change")
    plan_sum = _summary(plan)
    planned = plan_state in ("changes", "unchanged", "error") and plan is not None
    head_lines = [
        PLAN_MARKER,
        f"## Int360 plan · `{short(head)}`",
        "",
        "| | |",
        "|---|---|",
        "| billers whose merged settings change (git diff, the fan-out) | "
        + (f"**{diff_count}**" if diff_count is not None else "—")
        + " |",
    ]
    if planned:
        head_lines.append(f"| billers the CRM plan would write | **{plan_sum.get('change', 0)}** |")
        if plan_sum.get("error"):
            head_lines.append(f"| billers with plan errors | **{plan_sum['error']}** |")
    head_lines += [f"| apply guard (`--max-billers`) | {max_billers} |", "", ""]
    touched = max(diff_count or 0, plan_sum.get("change", 0) if planned else 0)
    if touched > max_billers:
        head_lines += [
            "> [!WARNING]",
            f"> This change would write **{touched}** billers, more than the apply guard "
            f"(`--max-billers {max_billers}`). After the merge, the apply run **refuses and "
            "writes nothing**. If the fan-out is intended, a maintainer then runs "
            "**Actions → apply → Run workflow** on `main` with `max_billers` ≥ "
            f"{touched}, which the `production-break-glass` environment's reviewers approve. "
            "Otherwise, split the change.",
            "",
            "",
        ]
    body.add_head("\n".join(head_lines))

    if diff is None:
        count = _problem_count(problems)
        body.add_head(
            "> [!CAUTION]\n> The files do not merge or validate, so there is no diff and no "
            f"plan. {count} problem(s); the `checks` job shows each one inline.\n\n"
        )
        body.entries(problem_lines(problems), count, f"see the artifact `{cell(artifact, 100)}`")
        return body.text()

    if plan_state == "skipped":
        body.add_head(
            "> [!NOTE]\n> No CRM plan: pull requests from forks and from Dependabot get no "
            "secrets, so only the git diff of the merged settings is shown. The plan against "
            "the CRM runs on merge, before anything is written.\n\n"
        )
    elif plan_state == "failed" or plan is None:
        body.add_head(
            "> [!CAUTION]\n> The CRM plan failed before it could say anything per biller; "
            "the run's log has the reason.\n\n"
        )
    else:
        if plan_state == "error":
            body.add_head(
                "> [!CAUTION]\n> The plan has errors: the apply on merge would fail for these "
                "billers. Fix them first.\n\n"
            )
        shown = [b for b in _billers(plan) if b.get("status") not in ("unchanged",)]
        body.add_head(
            f"### CRM plan: {plan_sum.get('change', 0)} to change, "
            f"{plan_sum.get('unchanged', 0)} unchanged, {plan_sum.get('error', 0)} with errors\n\n"
            + ("No changes.\n\n" if not shown else "")
        )
        body.add_head(grouped_changes(plan))
        # The diff below gets at least a quarter of what is left.
        reserve = body.room() // 4
        body.foot = foot + " " * reserve
        body.entries((biller_section(b) for b in shown), len(shown), f"`plan.json` in `{artifact}`")
        body.foot = foot

    changed = [b for b in _billers(diff) if b.get("status") != "unchanged"]
    title = f"The git diff of the merged settings, `{short(base)}` → this pull request"
    if planned:
        body.add_head(f"<details><summary>{title} ({len(changed)} billers)</summary>\n\n")
        inner_foot = "\n</details>\n"
        body.foot = inner_foot + foot
        body.entries((biller_section(b) for b in changed), len(changed), "`diff.json`")
        body.foot = foot
        body.parts.append(inner_foot)
    else:
        body.add_head(f"### {title}: {len(changed)} billers\n\n")
        body.entries(
            (biller_section(b) for b in changed), len(changed), f"`diff.json` in `{artifact}`"
        )
    return body.text()


# ---------------------------------------------------------------------------
# apply: the job summary, the one failure issue and the note on pull requests


def apply_outcome(report: Mapping[str, Any] | None, exit_code: int) -> str:
    """``applied`` (all held or written), ``refused`` (the guard), ``failed`` (some
    biller failed or was stale) or ``error`` (no usable report)."""
    if exit_code == 3 or (isinstance(report, Mapping) and report.get("status") == "refused"):
        return "refused"  # exit 3 is the guard's, report or not
    if not isinstance(report, Mapping) or not isinstance(report.get("billers"), list):
        return "error" if exit_code else "applied"
    s = _summary(report)
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
        f"on `main` with `max_billers` ≥ {cell(changing, 20)} and an empty `scope` (it applies "
        "the same range); the `production-break-glass` environment's reviewers approve it. Every "
        "later push is refused the same way until then, because each applies from the last "
        "successful apply. Otherwise revert or split the change.\n\n"
    )


def _apply_body(
    marker: str,
    intro: str,
    report: Mapping[str, Any] | None,
    *,
    exit_code: int,
    commit: str,
    scope: str,
    why: str,
    runbook_url: str,
    run_url: str,
    limit: int,
) -> str:
    outcome = apply_outcome(report, exit_code)
    foot = (
        f"\n<sub>[This run]({cell(run_url, 300)}) · "
        f"[when apply fails]({cell(runbook_url, 300)})</sub>\n"
    )
    body = Body(limit, foot)
    head = (
        [marker, f"## Int360 apply · `{short(commit)}`", ""]
        if marker
        else [
            f"## Int360 apply · `{short(commit)}`",
            "",
        ]
    )
    head += [
        f"Scope: {code(scope or '--all', 400)}" + (f" — {cell(why, 400)}" if why else "") + "  ",
        "",
    ]
    if intro:
        head += [intro, ""]
    s = _summary(report)
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
    bad = [b for b in _billers(report) if b.get("status") in ("failed", "stale")]
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
            f"| {cell(_headline(b))} | **{cell(b.get('status'), 20)}** | "
            f"{cell(why_ or '—', _MESSAGE_MAX)} |\n"
        )
    body.entries(rows, len(rows), "the report artifact of the run has them all")
    return body.text()


def apply_summary(
    report: Mapping[str, Any] | None,
    *,
    exit_code: int,
    commit: str,
    scope: str,
    why: str,
    runbook_url: str,
    run_url: str,
    limit: int = COMMENT_LIMIT,
) -> str:
    """The apply job's summary."""
    return _apply_body(
        "",
        "",
        report,
        exit_code=exit_code,
        commit=commit,
        scope=scope,
        why=why,
        runbook_url=runbook_url,
        run_url=run_url,
        limit=limit,
    )


def apply_issue(
    report: Mapping[str, Any] | None,
    *,
    exit_code: int,
    commit: str,
    scope: str,
    why: str,
    runbook_url: str,
    run_url: str,
    pulls: Sequence[int] = (),
    limit: int = COMMENT_LIMIT,
) -> str:
    """The body of the one open apply issue (replaced by each failing run)."""
    outcome = apply_outcome(report, exit_code)
    what = {"refused": "was refused by the guard", "failed": "failed for some billers"}.get(
        outcome, "stopped before it could apply"
    )
    prs = ", ".join(f"#{n}" for n in list(pulls)[:50])
    intro = (
        f"The apply of `main` at `{short(commit)}` {what}. What `main` says is not (all) in "
        "the CRM. This issue is updated by every apply run that fails and closed by the next "
        "one that succeeds." + (f" Pull requests in the range: {prs}." if prs else "")
    )
    return _apply_body(
        APPLY_MARKER,
        intro,
        report,
        exit_code=exit_code,
        commit=commit,
        scope=scope,
        why=why,
        runbook_url=runbook_url,
        run_url=run_url,
        limit=limit,
    )


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
    return _clip(text, limit)


# ---------------------------------------------------------------------------
# drift: the issue and the adopt pull request


def drift_issue(
    drift: Mapping[str, Any] | None, *, run_url: str, limit: int = COMMENT_LIMIT
) -> str:
    """The body of the one drift issue: hand edits first, then billers pending apply."""
    foot = (
        f"\n<sub>[The drift run]({cell(run_url, 300)}); "
        "its artifact `int360-drift` has the JSON.</sub>\n"
    )
    body = Body(limit, foot)
    billers = _billers(drift)
    drifted = [b for b in billers if b.get("status") == "change" and not b.get("pending")]
    pending = [b for b in billers if b.get("pending")]
    errors = [b for b in billers if b.get("status") == "error" and not b.get("pending")]
    body.add_head(
        f"{DRIFT_MARKER}\nThe drift check found billers whose live CRM settings differ from "
        "what `main` says. This issue is updated in place and closed when the drift is gone.\n\n"
        f"| changed in the CRM by hand | pending apply (merged, not yet applied) | errors |\n"
        f"|---|---|---|\n| **{len(drifted)}** | {len(pending)} | {len(errors)} |\n\n"
        "**Either** accept the CRM's values: run **Actions → drift → Run workflow** with "
        "`adopt` ticked (it updates the one adopt pull request). **Or** restore the "
        "repository's values: run **Actions → apply → Run workflow** with `scope` "
        "`--bid BID…`.\n\n"
    )
    if drifted:
        body.add_head("### Changed in the CRM by hand\n\n")
        body.entries((biller_section(b) for b in drifted), len(drifted), "see the artifact")
    if errors:
        body.add_head("### Errors\n\n")
        body.entries((biller_section(b) for b in errors), len(errors), "see the artifact")
    if pending:
        body.add_head(
            "### Pending apply\n\nTheir files changed since the last successful apply: the "
            "difference is merged work the next apply writes, not drift. Never adopted.\n\n"
        )
        body.entries(
            (f"- {cell(_headline(b))}\n" for b in pending), len(pending), "see the artifact"
        )
    return body.text()


def adopt_body(drift: Mapping[str, Any] | None, *, run_url: str, limit: int = COMMENT_LIMIT) -> str:
    """The body of the adopt pull request (one fixed branch, updated in place)."""
    foot = f"\n<sub>[The drift run]({cell(run_url, 300)}).</sub>\n"
    body = Body(limit, foot)
    billers = _billers(drift)
    adopted = [b for b in billers if b.get("status") == "change" and not b.get("pending")]
    pending = [b for b in billers if b.get("pending")]
    body.add_head(
        "The drift workflow rewrote these billers' files to the values the CRM holds now "
        "(`int360 drift --adopt`, minimal overrides). Merging accepts them; the apply on "
        "merge then finds nothing to write for them. This pull request lives on one branch "
        "and is updated in place by every adopt run.\n\n"
        "Review it like any change: a value set in the CRM by hand may be a mistake to "
        "revert instead (close this and run the apply workflow with `scope` `--bid BID…`).\n\n"
        "> [!NOTE]\n> A pull request pushed by the workflow token starts no workflows: close "
        "and reopen it to run the checks and get the plan comment.\n\n"
    )
    if pending:
        body.add_head(
            f"{len(pending)} biller(s) pending apply (merged, not yet applied) were left as "
            "they are: their difference is not drift.\n\n"
        )
    body.entries((biller_section(b) for b in adopted), len(adopted), "see the run's artifact")
    return body.text()
