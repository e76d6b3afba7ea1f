"""The sticky pull-request comment (also the plan job's summary), from int360's JSON.

Rendered from the documents the checks write (``plan --format json``, ``diff
--format json``, ``validate --format json``) within GitHub's character budget: the
CRM plan first, then the git diff of the merged settings. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..guard import DEFAULT_MAX_PERCENT, GuardLimits, number
from .budget import COMMENT_LIMIT, Body
from .cells import cell, short
from .sections import (
    biller_section,
    billers_of,
    grouped_changes,
    problem_count,
    problem_lines,
    summary_of,
)

PLAN_MARKER = "<!-- int360-plan -->"
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
    max_percent: float = DEFAULT_MAX_PERCENT,
    managed: int | None = None,
) -> str:
    """The sticky pull-request comment (also the plan job's summary).

    ``plan_state``: ``changes``/``unchanged``/``error`` (a plan was made), ``skipped``
    (a fork or Dependabot: no token, the git diff only), ``failed`` (no plan). ``diff``
    is ``int360 diff --format json``, None when the files do not merge or validate; then
    ``problems`` (``validate --format json``) says why. ``managed`` (the billers of
    the head) lets the warning apply the guard's percentage too, as the apply will.
    """
    if plan_state not in PLAN_STATES:
        raise ValueError(f"plan_state must be one of {', '.join(PLAN_STATES)}")
    foot = (
        f"\n<sub>For `{short(head)}` (base `{short(base)}`, the merge commit's first parent) "
        f"by [this run]({cell(run_url, 300)}). Everything is in the run's artifact "
        f"`{cell(artifact, 100)}`.</sub>\n"
    )
    body = Body(limit, foot)
    diff_count = summary_of(diff).get("change")
    plan_sum = summary_of(plan)
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
    limits = GuardLimits(max_billers, max_percent)
    guard_row = f"| apply guard | `--max-billers {max_billers}`"
    if managed is not None:
        guard_row += f", `--max-percent {number(max_percent)}` of {managed:,} managed"
    head_lines += [guard_row + " |", "", ""]
    touched = max(diff_count or 0, plan_sum.get("change", 0) if planned else 0)
    over_count, over_percent = (
        (touched > max_billers, False) if managed is None else limits.exceeded(touched, managed)
    )
    if over_count or over_percent:
        over, rerun = [], []
        if over_count:
            over.append(f"more than the apply guard (`--max-billers {max_billers}`)")
            rerun.append(f"`max_billers` ≥ {touched}")
        if over_percent:
            over.append(
                f"more than the apply guard's `--max-percent {number(max_percent)}` "
                f"of the {managed:,} managed billers"
            )
            rerun.append(f"`max_percent` ≥ {limits.percent_needed(touched, managed or 0)}")
        head_lines += [
            "> [!WARNING]",
            f"> This change would write **{touched}** billers, {' and '.join(over)}. "
            "After the merge, the apply run **refuses and writes nothing**. If the fan-out "
            "is intended, a maintainer then runs **Actions → apply → Run workflow** on "
            f"`main` with {' and '.join(rerun)}, which the `production-break-glass` "
            "environment's reviewers approve. Otherwise, split the change.",
            "",
            "",
        ]
    body.add_head("\n".join(head_lines))

    if diff is None:
        count = problem_count(problems)
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
        shown = [b for b in billers_of(plan) if b.get("status") not in ("unchanged",)]
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

    changed = [b for b in billers_of(diff) if b.get("status") != "unchanged"]
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
