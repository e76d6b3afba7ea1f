"""An apply ``Report`` as terminal text: what needs someone first, billers up to a limit."""

from __future__ import annotations

from typing import Any

from .plan import DETAIL_LIMIT

# Needing someone first: a failure, then a biller that moved since the plan.
_ORDER = {"failed": 0, "stale": 1, "refused": 2, "applied": 3}


def text(report: Any, *, verbose: bool = False, limit: int = DETAIL_LIMIT) -> str:
    """Failed and stale billers (with their errors), then applied ones, one line each up
    to ``limit`` (all with ``verbose``); the rest counted; the summary line last."""
    listed = [o for o in report.outcomes if o.status != "unchanged"]
    listed.sort(key=lambda o: _ORDER.get(o.status, 9))
    lines: list[str] = []
    hidden: dict[str, int] = {}
    for index, outcome in enumerate(listed):
        if not verbose and index >= limit:
            hidden[outcome.status] = hidden.get(outcome.status, 0) + 1
            continue
        lines.append(f"{outcome.status:9} {outcome.bid} {outcome.name}")
        lines.extend(f"          error[{e['code']}]: {e['message']}" for e in outcome.errors)
    if hidden:
        what = ", ".join(f"{n:,} {status}" for status, n in hidden.items())
        lines.append(f"… and {what} not listed (--report FILE or -v lists them).")
    s = report.summary
    lines.append(
        f"Apply: {s['applied']:,} applied, {s['unchanged']:,} unchanged, "
        f"{s['stale']:,} stale, {s['failed']:,} failed."
    )
    return "\n".join(lines) + "\n"
