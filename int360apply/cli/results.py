"""How a command's plan reaches the user: rendered in its format, and its exit code;
and the note on live fields a written file left out."""

from __future__ import annotations

from typing import Any

from ..errors import EXIT_CHANGES, EXIT_FAIL, EXIT_OK
from ..plan import Plan
from .terminal import colour, err


def render_plan(plan: Plan, fmt: str, verbose: bool = False, **kwargs: Any) -> str:
    """``plan`` as ``--format`` asks: json, markdown (``kwargs``: its title), or text."""
    from ..render import plan as render
    from ..render.plan_json import as_json

    if fmt == "json":
        return as_json(plan)
    if fmt == "markdown":
        return render.markdown(plan, **kwargs)
    return render.text(plan, colour=colour(), verbose=verbose)


def plan_exit(plan: Plan) -> int:
    """1 when a biller could not be planned, else 2 when one changes, else 0."""
    summary = plan.summary
    if summary["error"]:
        return EXIT_FAIL
    return EXIT_CHANGES if summary["change"] else EXIT_OK


def note_dropped(path: str, dropped: tuple[str, ...]) -> None:
    """Tell the user which live fields the file at ``path`` left out (none: nothing)."""
    if dropped:
        err(
            f"{path}: left out what the CRM holds at {', '.join(dropped)}: "
            "no such field in schemas/settings.schema.json"
        )
