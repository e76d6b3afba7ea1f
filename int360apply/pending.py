"""Billers pending apply: merged since the last applied commit, so not drift.

``int360 drift --pending-since SHA`` (SHA: the last commit an apply run applied in
full, which the drift workflow finds from the apply runs). A biller whose files
changed since then differs from the CRM because the next apply has not written it
yet, not because someone edited the CRM: drift lists it apart, never counts it as
drift and never adopts it (adopting would revert merged work).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .config import Config
from .errors import UsageError
from .plan import BillerPlan, Plan
from .repo import RepoError


class PendingRefError(UsageError):
    """``--pending-since`` names no commit of the repository (exit 64)."""


def pending_bids(config: Config, since: str) -> set[int]:
    """The billers whose files changed since ``since`` (``--changed-since`` rules:
    a changed partner file counts all its billers, ``_defaults`` or a schema all)."""
    from .scope import select

    try:
        return set(select(config, changed_since=since).bids)
    except RepoError as exc:
        raise PendingRefError(f"--pending-since {since}: not a commit here ({exc})") from exc


def split(plan: Plan, pending: Iterable[int]) -> tuple[list[BillerPlan], list[BillerPlan]]:
    """(drifted, pending apply): the billers that differ, hand edits apart from merged work."""
    waiting = set(pending)
    differ = [b for b in plan.billers if b.status in ("change", "error")]
    return [b for b in differ if b.bid not in waiting], [b for b in differ if b.bid in waiting]


def as_dict(plan: Plan, pending: Iterable[int]) -> dict[str, Any]:
    """The JSON plan with ``"pending": true`` on each biller pending apply."""
    waiting = set(pending)
    data = plan.as_dict()
    for biller in data["billers"]:
        if biller["bid"] in waiting and biller["status"] in ("change", "error"):
            biller["pending"] = True
    return data


def note(pending: list[BillerPlan], since: str | None) -> str:
    """One line for the text and Markdown output: which billers are pending apply."""
    if not pending or not since:
        return ""
    bids = ", ".join(str(b.bid) for b in pending[:50])
    more = f" and {len(pending) - 50} more" if len(pending) > 50 else ""
    return (
        f"Pending apply (files changed since {since[:12]}, not yet applied; not drift, "
        f"never adopted): {bids}{more}\n"
    )
