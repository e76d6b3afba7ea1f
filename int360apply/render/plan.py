"""A ``Plan`` as terminal text or a pull-request comment (Markdown).

Identical changes are grouped (``render.plan_groups``); the JSON plan is
``render.plan_json``'s.
"""

from __future__ import annotations

import html

from ..plan import BillerPlan, Change, Plan
from .budget import COMMENT_LIMIT
from .plan_groups import (
    DETAIL_LIMIT,
    GROUP_LIMIT,
    ChangeGroup,
    billers_text,
    group_changes,
    rest_text,
    value_text,
)

_MARKS = {"change": "~", "unchanged": "=", "error": "!", "removed": "-"}
_COLOURS = {"change": "\033[33m", "error": "\033[31m", "removed": "\033[36m"}
_RESET = "\033[0m"
DEFAULTS_SLUG = "_defaults"  # partners/_defaults.yaml in a plan's fan-out


def _summary_line(plan: Plan) -> str:
    s = plan.summary
    parts = [
        f"{s['change']:,} to change",
        f"{s['unchanged']:,} unchanged",
        f"{s['error']:,} with errors",
    ]
    if s.get("removed"):
        parts.append(f"{s['removed']:,} no longer managed")
    return ", ".join(parts)


def _headline(biller: BillerPlan) -> str:
    if not biller.partner:  # a deleted file: its name is the file's path
        return f"{biller.bid} {biller.name}"
    return f"{biller.bid} {biller.name} ({biller.partner})"


def _change_line(change: Change) -> str:
    before = value_text(change.before, change.secret)
    after = value_text(change.after, change.secret)
    source = f"   [{change.source}]" if change.source else ""
    return f"{change.path}: {before} → {after}{source}"


# --- fan-out of changed partner files --------------------------------------


def _fanout(plan: Plan) -> list[tuple[str, int, int]]:
    """Each changed partner file (``_defaults.yaml`` too): the billers in scope that use
    it, and how many of those are to change (the summary's meaning of the words)."""
    out = []
    for slug, count in sorted(plan.fanout.items()):
        users = [
            b for b in plan.billers if b.partner and (slug == DEFAULTS_SLUG or b.partner == slug)
        ]
        change = sum(1 for b in users if b.status == "change")
        out.append((f"partners/{slug}.yaml", count, change))
    return out


def _fanout_text(path: str, count: int, change: int, code: bool = False) -> str:
    shown = f"`{path}`" if code else path
    return f"{shown} changed: used by {billers_text(count)} in scope, {change:,} to change"


# --- text ------------------------------------------------------------------------


def text(
    plan: Plan, *, colour: bool = False, verbose: bool = False, limit: int = DETAIL_LIMIT
) -> str:
    """Terminal text: identical changes grouped, billers one by one up to ``limit``
    (all with ``verbose``), then the fan-out of changed partner files and the summary."""
    lines: list[str] = []
    changed = plan.changed
    detailed = verbose or len(changed) <= limit
    entries = [b for b in plan.billers if verbose or b.status != "unchanged"]
    if not detailed:  # only some are listed: errors first, they need someone
        entries.sort(key=lambda b: b.status != "error")
    hidden: dict[str, int] = {}
    for index, biller in enumerate(entries):
        if not verbose and index >= limit:
            hidden[biller.status] = hidden.get(biller.status, 0) + 1
        elif detailed or biller.status != "change":
            lines += _text_biller(biller, colour)
        else:
            count = len(biller.changes)
            lines += _text_biller(biller, colour)[:1]
            lines[-1] += f": {count} change{'s' if count != 1 else ''}"
    groups = group_changes(changed)
    shared = groups if not detailed else [g for g in groups if len(g.bids) > 1]
    if shared:
        lines.append(f"Changes, grouped ({billers_text(len(changed))} to change):")
        shown = shared if verbose else shared[:GROUP_LIMIT]
        lines += [f"  {g.line()}" for g in shown]
        rest = shared[len(shown) :]
        if rest:
            lines.append(f"  … {rest_text(rest)} (-v or --format json lists them)")
    if hidden:
        what = ", ".join(f"{n:,} {_HIDDEN[s]}" for s, n in sorted(hidden.items()))
        lines.append(f"… and {what} not listed (-v, --format json or --out list them).")
    lines += [_fanout_text(*fan) for fan in _fanout(plan)]
    lines.append(f"Plan: {_summary_line(plan)}.")
    return "\n".join(lines) + "\n"


_HIDDEN = {"change": "to change", "error": "with errors", "removed": "no longer managed"}


def _text_biller(biller: BillerPlan, colour: bool) -> list[str]:
    mark = _MARKS[biller.status]
    head = f"{mark} {_headline(biller)}"
    if colour and biller.status in _COLOURS:
        head = f"{_COLOURS[biller.status]}{head}{_RESET}"
    lines = [head]
    if biller.status == "removed":
        lines.append("    no longer managed (its file was deleted); nothing changes in the CRM")
    lines.extend(f"    {_change_line(c)}" for c in biller.changes)
    lines.extend(f"    error[{e.code}]: {e.message}" for e in biller.errors)
    return lines


# --- markdown --------------------------------------------------------------------


def _cell(text_: str) -> str:
    escaped = html.escape(text_, quote=False).replace("|", "\\|").replace("\n", " ")
    return escaped.replace("@", "&#64;")  # names and values cannot mention anyone


def _code(text_: str) -> str:
    return f"<code>{_cell(text_)}</code>"


def _section(biller: BillerPlan) -> str:
    count = len(biller.changes)
    what = {
        "change": f"{count} change{'s' if count != 1 else ''}",
        "error": "error",
        "removed": "no longer managed",
        "unchanged": "unchanged",
    }[biller.status]
    head = f"{_MARKS[biller.status]} {_cell(_headline(biller))} — {what}"
    body: list[str] = []
    if biller.changes:
        body += ["| field | before | after | source |", "|---|---|---|---|"]
        for c in biller.changes:
            body.append(
                f"| {_code(c.path)} | {_code(value_text(c.before, c.secret))} | "
                f"{_code(value_text(c.after, c.secret))} | {_cell(c.source or '')} |"
            )
    for e in biller.errors:
        body.append(f"- **error[{_cell(e.code)}]**: {_cell(e.message)}")
    if biller.status == "removed":
        body.append(
            "The biller's file was deleted: it is no longer managed, and the CRM is not changed."
        )
    return f"<details><summary>{head}</summary>\n\n" + "\n".join(body) + "\n\n</details>\n"


def _grouped_table(groups: list[ChangeGroup], total: int) -> list[str]:
    out = [
        f"**Changes, grouped** ({billers_text(total)} to change):",
        "",
        "| field | before | after | billers | source |",
        "|---|---|---|---:|---|",
    ]
    for g in groups:
        out.append(
            f"| {_code(g.path)} | {_code(g.before)} | {_code(g.after)} | {len(g.bids):,} | "
            f"{_cell(g.source or '')} |"
        )
    return out


def markdown(
    plan: Plan,
    *,
    title: str = "Int360 plan",
    warnings: list[str] | None = None,
    limit: int = COMMENT_LIMIT,
    detail_limit: int = DETAIL_LIMIT,
) -> str:
    """A pull-request comment: the summary, where the plan came from, the grouped
    changes and the fan-out of changed partner files, then one collapsible section
    per biller up to ``detail_limit`` (the rest counted: the JSON plan has them)."""
    head = [f"### {title}: {_summary_line(plan)}", ""]
    where = f"CRM: `{plan.crm}`"
    if plan.uncommitted:
        base = f" on top of commit `{plan.commit[:12]}`" if plan.commit else ""
        where += f" · **made from uncommitted changes in the working tree**{base}"
    elif plan.commit:
        where += f" · commit `{plan.commit[:12]}`"
    head += [where, ""]
    for warning in warnings or []:
        head += [f"> **Warning:** {_cell(warning)}", ""]
    fanout = _fanout(plan)
    if fanout:
        head += [f"- {_fanout_text(*fan, code=True)}" for fan in fanout] + [""]
    out = "\n".join(head) + "\n"
    groups = group_changes(plan.changed)
    if any(len(g.bids) > 1 for g in groups) or len(plan.changed) > detail_limit:
        table = _grouped_table(groups[:GROUP_LIMIT], len(plan.changed))
        rest = groups[GROUP_LIMIT:]
        if rest:
            table += ["", f"_… {rest_text(rest)}: the JSON plan lists them._"]
        block = "\n".join(table) + "\n\n"
        if len(out) + len(block) < limit // 2:
            out += block
    shown = [b for b in plan.billers if b.status != "unchanged"]
    for index, biller in enumerate(shown):
        rest_count = len(shown) - index
        if index >= detail_limit:
            return out + (
                f"\n_… {rest_count:,} more biller(s) not shown one by one; "
                "the full plan is in the workflow artifact._\n"
            )
        section = _section(biller)
        note = (
            f"\n_… {rest_count:,} more biller(s) not shown: the comment limit is {limit:,} "
            "characters; the full plan is in the workflow artifact._\n"
        )
        if len(out) + len(section) + len(note) > limit:
            return out + note
        out += section
    if not shown:
        out += "No changes.\n"
    return out
