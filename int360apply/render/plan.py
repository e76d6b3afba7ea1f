"""A ``Plan`` as terminal text, a pull-request comment (Markdown) or JSON."""

from __future__ import annotations

import html
import json
from typing import Any

from ..plan import BillerPlan, Change, Plan

COMMENT_LIMIT = 65_536
_MARKS = {"change": "~", "unchanged": "=", "error": "!", "removed": "-"}
_COLOURS = {"change": "\033[33m", "error": "\033[31m", "removed": "\033[36m"}
_RESET = "\033[0m"


def value_text(value: Any, secret: bool = False) -> str:
    """How a value prints in a plan: JSON, ``(unset)``, or ``(secret NAME)``."""
    if value is None:
        return "(unset)"
    if secret or (
        isinstance(value, dict) and set(value) <= {"secret", "set"} and "secret" in value
    ):
        name = value.get("secret") if isinstance(value, dict) else None
        return f"(secret {name})" if name else "(secret)"
    if type(value) is int or type(value) is bool:
        return "true" if value is True else "false" if value is False else str(value)
    return _JSON(value)


_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _summary_line(plan: Plan) -> str:
    s = plan.summary
    parts = [f"{s['change']} to change", f"{s['unchanged']} unchanged", f"{s['error']} with errors"]
    if s.get("removed"):
        parts.append(f"{s['removed']} no longer managed")
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


def text(plan: Plan, *, colour: bool = False, verbose: bool = False) -> str:
    """Terminal text: changed, errored and removed billers, then the summary."""
    lines: list[str] = []
    for biller in plan.billers:
        if biller.status == "unchanged" and not verbose:
            continue
        mark = _MARKS[biller.status]
        head = f"{mark} {_headline(biller)}"
        if colour and biller.status in _COLOURS:
            head = f"{_COLOURS[biller.status]}{head}{_RESET}"
        lines.append(head)
        if biller.status == "removed":
            lines.append("    no longer managed (its file was deleted); nothing changes in the CRM")
        lines.extend(f"    {_change_line(c)}" for c in biller.changes)
        lines.extend(f"    error[{e.code}]: {e.message}" for e in biller.errors)
    for partner, count in sorted(plan.fanout.items()):
        lines.append(f"partners/{partner}.yaml changed: {count} biller(s) of this partner in scope")
    lines.append(f"Plan: {_summary_line(plan)}.")
    return "\n".join(lines) + "\n"


def _cell(text_: str) -> str:
    return html.escape(text_, quote=False).replace("|", "\\|").replace("\n", " ")


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


def markdown(
    plan: Plan,
    *,
    title: str = "Int360 plan",
    warnings: list[str] | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    """A pull-request comment: summary first, one collapsible section per biller."""
    head = [f"### {title}: {_summary_line(plan)}", ""]
    commit = f" · commit `{plan.commit[:12]}`" if plan.commit else ""
    head.append(f"CRM: `{plan.crm}`{commit}")
    head.append("")
    for warning in warnings or []:
        head += [f"> **Warning:** {_cell(warning)}", ""]
    for partner, count in sorted(plan.fanout.items()):
        head += [f"- `partners/{partner}.yaml` changed: **{count}** biller(s) affected"]
    if plan.fanout:
        head.append("")
    out = "\n".join(head) + "\n"
    shown = [b for b in plan.billers if b.status != "unchanged"]
    for index, biller in enumerate(shown):
        section = _section(biller)
        rest = len(shown) - index
        note = (
            f"\n_… {rest} more biller(s) not shown: the comment limit is {limit:,} "
            "characters; the full plan is in the workflow artifact._\n"
        )
        if len(out) + len(section) + len(note) > limit:
            return out + note
        out += section
    if not shown:
        out += "No changes.\n"
    return out


def as_json(plan: Plan) -> str:
    """The JSON plan (``schemas/plan.schema.json``)."""
    return json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"
