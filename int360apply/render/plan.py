"""A ``Plan`` as terminal text, a pull-request comment (Markdown) or JSON."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
    parts = [
        f"{s['change']:,} to change",
        f"{s['unchanged']:,} unchanged",
        f"{s['error']:,} with errors",
    ]
    if s.get("removed"):
        parts.append(f"{s['removed']:,} no longer managed")
    return ", ".join(parts)


def _count(count: int, noun: str) -> str:
    """``1 biller``, ``1,000 billers``."""
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


def _billers(count: int) -> str:
    return _count(count, "biller")


def _headline(biller: BillerPlan) -> str:
    if not biller.partner:  # a deleted file: its name is the file's path
        return f"{biller.bid} {biller.name}"
    return f"{biller.bid} {biller.name} ({biller.partner})"


def _change_line(change: Change) -> str:
    before = value_text(change.before, change.secret)
    after = value_text(change.after, change.secret)
    source = f"   [{change.source}]" if change.source else ""
    return f"{change.path}: {before} → {after}{source}"


# --- grouping --------------------------------------------------------------------

# Billers listed one by one (text and markdown) before the rest is only counted.
DETAIL_LIMIT = 20
# Distinct changes listed in the grouped summary before the rest is only counted.
GROUP_LIMIT = 15
OWN_FILE = "each biller's file"
SEVERAL = "several files"  # a group whose new value comes from different layers
DEFAULTS_SLUG = "_defaults"  # partners/_defaults.yaml in a plan's fan-out


@dataclass(frozen=True)
class ChangeGroup:
    """One change (field, before, after) and the billers it is planned for."""

    path: str
    before: str
    after: str
    source: str | None  # where the new value is written (OWN_FILE, SEVERAL), None: nowhere
    bids: tuple[int, ...]

    def line(self) -> str:
        """``field: before → after on N billers   [source]``."""
        source = f"   [{self.source}]" if self.source else ""
        return f"{self.path}: {self.before} → {self.after} on {_billers(len(self.bids))}{source}"


def group_changes(billers: Iterable[BillerPlan]) -> list[ChangeGroup]:
    """Identical changes over billers, the widest first (then by field)."""
    found: dict[tuple[str, str, str], tuple[list[int], set[str | None]]] = {}
    for biller in billers:
        for change in biller.changes:
            key = (
                change.path,
                value_text(change.before, change.secret),
                value_text(change.after, change.secret),
            )
            bids, sources = found.setdefault(key, ([], set()))
            bids.append(biller.bid)
            sources.add(change.source)
    groups = [
        ChangeGroup(path, before, after, _common_source(sources), tuple(bids))
        for (path, before, after), (bids, sources) in found.items()
    ]
    return sorted(groups, key=lambda g: (-len(g.bids), g.path, g.before, g.after))


def groups_of_document(doc: Mapping[str, Any] | None) -> tuple[list[ChangeGroup], int]:
    """``group_changes`` over a plan's JSON form (its ``change`` billers; whatever is
    malformed is skipped), and how many billers change."""
    billers = doc.get("billers") if isinstance(doc, Mapping) else None
    changed: list[BillerPlan] = []
    for index, b in enumerate(billers if isinstance(billers, list) else []):
        if not isinstance(b, Mapping) or b.get("status") != "change":
            continue
        bid = b.get("bid")
        entry = BillerPlan(bid if type(bid) is int else -index, "", "", "change")
        for c in b.get("changes") or []:
            if isinstance(c, Mapping):
                source = c.get("source")
                entry.changes.append(
                    Change(
                        str(c.get("path", "")),
                        c.get("before"),
                        c.get("after"),
                        source if isinstance(source, str) else None,
                        bool(c.get("secret")),
                    )
                )
        changed.append(entry)
    return group_changes(changed), len(changed)


def file_fanout(groups: Iterable[ChangeGroup]) -> list[tuple[str, int]]:
    """Each partner file (``_defaults.yaml`` included) some new value comes from, and
    how many billers to change get a value from it."""
    reached: dict[str, set[int]] = {}
    for group in groups:
        if group.source and group.source.startswith("partners/"):
            reached.setdefault(group.source.split(":", 1)[0], set()).update(group.bids)
    return sorted((path, len(bids)) for path, bids in reached.items())


def _common_source(sources: set[str | None]) -> str | None:
    """The one source of a group's new value; "each biller's file" when every biller
    writes it in its own file; "several files" when layers differ; None for none (a
    removal)."""
    if len(sources) == 1:
        return next(iter(sources))
    if all(s is not None and s.startswith("billers/") for s in sources):
        return OWN_FILE
    return SEVERAL


def _rest_text(rest: list[ChangeGroup]) -> str:
    """``N more distinct changes to M fields on K billers``."""
    fields = len({g.path for g in rest})
    on = len({bid for g in rest for bid in g.bids})
    return (
        f"{_count(len(rest), 'more distinct change')} to {_count(fields, 'field')} "
        f"on {_billers(on)}"
    )


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
    return f"{shown} changed: used by {_billers(count)} in scope, {change:,} to change"


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
        lines.append(f"Changes, grouped ({_billers(len(changed))} to change):")
        shown = shared if verbose else shared[:GROUP_LIMIT]
        lines += [f"  {g.line()}" for g in shown]
        rest = shared[len(shown) :]
        if rest:
            lines.append(f"  … {_rest_text(rest)} (-v or --format json lists them)")
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
        f"**Changes, grouped** ({_billers(total)} to change):",
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
            table += ["", f"_… {_rest_text(rest)}: the JSON plan lists them._"]
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


def as_json(plan: Plan) -> str:
    """The JSON plan (``schemas/plan.schema.json``)."""
    return json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"
