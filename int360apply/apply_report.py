"""What an apply did: an ``Outcome`` per biller and the ``Report`` of the run.

Values only: ``apply`` fills them in while it writes, the renderers and the JSON
report (``--report FILE``) read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .guard import GuardRefused
from .model import attributes
from .plan import FORMAT_VERSION, BillerPlan, Change, Plan
from .tally import tally

REPORT_STATUSES = ("applied", "unchanged", "stale", "failed", "refused")
STALE_MESSAGE = (
    "the biller changed in the CRM after the plan was made; nothing was written. "
    "Plan again and review"
)


_AS_THEY_ARE = ("bid", "name", "partner", "status")  # Outcome fields the JSON holds unchanged


@dataclass
class Outcome:
    """What happened to one biller."""

    bid: int
    name: str
    partner: str
    status: str
    changes: list[Change] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form in the report."""
        out = attributes(self, _AS_THEY_ARE)
        out["changes"] = [c.as_dict() for c in self.changes]
        out["errors"] = self.errors
        return out


@dataclass
class Report:
    """The outcome of an apply, in the frame of a plan."""

    crm: str
    commit: str | None
    outcomes: list[Outcome]
    warnings: list[str] = field(default_factory=list)
    guard: dict[str, Any] | None = None  # GuardLimits.report, plus exempt on the sandbox
    refused: bool = False
    scope: dict[str, Any] | None = None

    @classmethod
    def of_refusal(cls, plan: Plan, refusal: GuardRefused) -> Report:
        """The report of a run the guard stopped: nothing was written."""
        outcomes = [planned_outcome(entry) for entry in plan.billers if entry.status != "removed"]
        for outcome in outcomes:
            if outcome.status == "change":
                outcome.status = "refused"
        return cls(
            plan.crm,
            plan.commit,
            outcomes,
            guard=refusal.as_dict(),
            refused=True,
            scope=plan.scope,
        )

    @property
    def summary(self) -> dict[str, int]:
        """Billers per outcome status (``refused`` only when the guard stopped the run)."""
        return tally((o.status for o in self.outcomes), REPORT_STATUSES, optional="refused")

    @property
    def ok(self) -> bool:
        """True when nothing failed, nothing was stale and the guard let the run through."""
        s = self.summary
        return s["failed"] == 0 and s["stale"] == 0 and not self.refused

    @property
    def status(self) -> str:
        """``ok``, ``failed`` (any failed or stale) or ``refused`` (by the guard)."""
        return "refused" if self.refused else "ok" if self.ok else "failed"

    def as_dict(self) -> dict[str, Any]:
        """The JSON report (``--report FILE``); CI reads ``status`` and ``guard``."""
        out = self.head()
        out["billers"] = [o.as_dict() for o in self.outcomes]
        return out

    def head(self) -> dict[str, Any]:
        """The JSON report's fields before its ``billers``."""
        from . import __version__

        out: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "status": self.status,
            "crm": self.crm,
            "commit": self.commit,
        }
        if self.scope is not None:
            out["scope"] = self.scope
        out["int360"] = __version__
        if self.guard is not None:
            out["guard"] = self.guard
        out["summary"] = self.summary
        return out


def planned_outcome(entry: BillerPlan) -> Outcome:
    """A biller as planned, before any write (``change`` entries keep their status)."""
    if entry.status == "error":
        errors = [{"code": e.code, "message": e.message} for e in entry.errors]
        return Outcome(entry.bid, entry.name, entry.partner, "failed", errors=errors)
    return Outcome(entry.bid, entry.name, entry.partner, entry.status, list(entry.changes))


def stale_outcome(entry: BillerPlan) -> Outcome:
    """A biller not written because it moved in the CRM since the plan was made."""
    errors = [{"code": "stale", "message": STALE_MESSAGE}]
    return Outcome(entry.bid, entry.name, entry.partner, "stale", errors=errors)


def failed_outcome(entry: BillerPlan, code: str, message: str) -> Outcome:
    """A biller that was to change and failed, with its one error."""
    errors = [{"code": code, "message": message}]
    return Outcome(entry.bid, entry.name, entry.partner, "failed", list(entry.changes), errors)
