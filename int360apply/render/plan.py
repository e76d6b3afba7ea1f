"""A ``Plan`` as terminal text, a pull-request comment (Markdown) or JSON."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Iterator
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
    return "".join(json_chunks(plan))


# --- the JSON plan, streamed -------------------------------------------------
#
# ``json.dumps(..., indent=2)`` runs CPython's pure-Python encoder (the C one
# has no indentation before 3.14) and joins one string of the whole document:
# at 10,000 changing billers, 11 s and 600 MiB. The plan is written instead one
# biller at a time, with the C encoders for every scalar, to exactly the bytes
# of ``json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"``
# (tests/test_render_plan_json.py holds the two equal).

_STRING = json.encoder.encode_basestring  # the C function when the accelerator is built
_SCALAR = json.JSONEncoder(ensure_ascii=False).encode  # floats exactly as json prints them
_STDLIB = json.JSONEncoder(ensure_ascii=False, indent=2).encode


def _emit(value: Any, pad: str, parts: list[str]) -> None:
    """Append ``value`` as ``json.dumps(indent=2)`` lays it out at the indentation ``pad``."""
    kind = type(value)
    if kind is str:
        parts.append(_STRING(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is dict and all(type(k) is str for k in value):
        if not value:
            parts.append("{}")
            return
        inner = pad + "  "
        lead = "{\n" + inner
        for key, item in value.items():
            parts.append(lead)
            parts.append(_STRING(key))
            parts.append(": ")
            _emit(item, inner, parts)
            lead = ",\n" + inner
        parts.append("\n" + pad + "}")
    elif kind is list:
        if not value:
            parts.append("[]")
            return
        inner = pad + "  "
        lead = "[\n" + inner
        for item in value:
            parts.append(lead)
            _emit(item, inner, parts)
            lead = ",\n" + inner
        parts.append("\n" + pad + "]")
    elif kind is float:
        parts.append(_SCALAR(value))
    else:  # anything rarer (subclasses, tuples, non-string keys): the stdlib's own layout
        parts.append(_STDLIB(value).replace("\n", "\n" + pad))


def json_chunks(plan: Plan) -> Iterator[str]:
    """The JSON plan in pieces of about one biller each, for writing as they come.

    Only one biller's dictionary exists at a time; the document's other fields
    are ``Plan.as_dict``'s own, taken from a copy of the plan without billers
    (the summary from the plan itself).
    """
    head = dataclasses.replace(plan, billers=[]).as_dict()
    if "summary" in head:
        head["summary"] = plan.summary
    parts: list[str] = []
    lead = "{\n  "
    for key, value in head.items():
        parts += (lead, _STRING(key), ": ")
        lead = ",\n  "
        if key != "billers":
            _emit(value, "  ", parts)
            continue
        if not plan.billers:
            parts.append("[]")
            continue
        inner = "\n    "
        parts.append("[" + inner)
        for index, biller in enumerate(plan.billers):
            if index:
                parts.append("," + inner)
            _emit(biller.as_dict(), "    ", parts)
            yield "".join(parts)
            parts.clear()
        parts.append("\n  ]")
    parts.append("\n}\n" if head else "{}\n")
    yield "".join(parts)
