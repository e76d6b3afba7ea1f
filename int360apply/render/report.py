"""An apply ``Report`` as terminal text: what needs someone first, billers up to a limit."""

from __future__ import annotations

from typing import Any

from .plan_groups import DETAIL_LIMIT
from .summary import with_summary

# Needing someone first: a failure, then a biller that moved since the plan.
_ORDER = {"failed": 0, "stale": 1, "refused": 2, "applied": 3}
# Billers that need someone are listed one by one up to this many, the others up to
# ``DETAIL_LIMIT``.
ATTENTION_LIMIT = 100
SUMMARY = "Apply: {applied:,} applied, {unchanged:,} unchanged, {stale:,} stale, {failed:,} failed."


def text(report: Any, *, verbose: bool = False, limit: int = DETAIL_LIMIT) -> str:
    """Failed and stale billers (with their errors) up to ``ATTENTION_LIMIT``, then
    applied ones up to ``limit``, one line each (all with ``verbose``); the rest
    counted; the summary line last."""
    listed = [o for o in report.outcomes if o.status != "unchanged"]
    listed.sort(key=lambda o: _ORDER.get(o.status, 9))
    lines: list[str] = []
    hidden: dict[str, int] = {}
    shown: dict[bool, int] = {True: 0, False: 0}  # needs someone -> listed so far
    for outcome in listed:
        attention = outcome.status in ("failed", "stale")
        cap = max(ATTENTION_LIMIT, limit) if attention else limit
        if not verbose and shown[attention] >= cap:
            hidden[outcome.status] = hidden.get(outcome.status, 0) + 1
            continue
        shown[attention] += 1
        lines.append(f"{outcome.status:9} {outcome.bid} {outcome.name}")
        lines.extend(f"          error[{e['code']}]: {e['message']}" for e in outcome.errors)
    if hidden:
        what = ", ".join(f"{n:,} {status}" for status, n in hidden.items())
        lines.append(f"… and {what} not listed (--report FILE or -v lists them).")
    return with_summary(lines, SUMMARY, report.summary)
