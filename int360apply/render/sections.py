"""Sections the ``github-comment`` bodies share, read from int360's JSON documents.

A biller's changes and errors as a collapsible table, a plan's identical changes
grouped, ``validate --format json`` problems as a list. Whatever is malformed in a
document is skipped; every untrusted string is clipped and escaped before it is
placed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .cells import MESSAGE_MAX, cell, code, value_text


def billers_of(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The biller entries of a plan, diff, drift or apply document."""
    if not isinstance(doc, Mapping):
        return []
    return [b for b in doc.get("billers") or [] if isinstance(b, Mapping)]


def summary_of(doc: Mapping[str, Any] | None) -> dict[str, int]:
    """A document's ``summary`` counts (whatever is not a number left out)."""
    found = doc.get("summary") if isinstance(doc, Mapping) else None
    if not isinstance(found, Mapping):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, int)}


def headline(b: Mapping[str, Any]) -> str:
    """``BID NAME (partner)`` of one biller entry."""
    partner = f" ({b.get('partner')})" if b.get("partner") else ""
    return f"{b.get('bid')} {b.get('name', '')}{partner}"


def biller_section(b: Mapping[str, Any], label: str | None = None) -> str:
    """One biller, collapsible: its changes as a table, its errors as a list."""
    changes = [c for c in b.get("changes") or [] if isinstance(c, Mapping)]
    errors = [e for e in b.get("errors") or [] if isinstance(e, Mapping)]
    status = str(b.get("status", ""))
    what = label or (f"{len(changes)} change(s)" if changes else status)
    lines = [f"<details><summary>{cell(headline(b))} — {cell(what)}</summary>", ""]
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
            f"- **error[{cell(e.get('code', ''), 60)}]**: {cell(e.get('message', ''), MESSAGE_MAX)}"
        )
    if len(errors) > 20:
        lines.append(f"- … {len(errors) - 20} more errors")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def grouped_changes(plan: Mapping[str, Any] | None, groups_shown: int = 15) -> str:
    """The plan's identical changes grouped (``field: before → after`` on N billers,
    widest first) and each partner file the new values come from with the billers to
    change it reaches; empty when no change is shared and few billers change."""
    from .plan_groups import DETAIL_LIMIT, file_fanout, groups_of_document

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
            f"{cell(p.get('message', ''), MESSAGE_MAX)}\n"
        )
    return out


def problem_count(problems: Mapping[str, Any] | None) -> int:
    """How many problems a ``validate --format json`` document lists."""
    found = problems.get("problems") if isinstance(problems, Mapping) else None
    return len(found) if isinstance(found, list) else 0
