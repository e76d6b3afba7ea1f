"""The apply guard: how many billers one run may change before it needs a person.

Modelled on octoDNS's ``raise_if_unsafe``: a run that changes more billers than
``max_billers``, or more than ``max_percent`` of the managed billers (counted
only once ``min_for_percent`` billers change, so a small fleet can still change
a few), is refused before the first write. The counts are of billers that
*change*: a run whose scope is every biller but whose plan changes nothing is
never refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import EXIT_REFUSED, Int360Error

if TYPE_CHECKING:
    from .plan import Plan

DEFAULT_MAX_BILLERS = 50
DEFAULT_MAX_PERCENT = 30.0
MIN_FOR_PERCENT = 10


@dataclass(frozen=True)
class GuardLimits:
    """The limits of one run (``--max-billers``, ``--max-percent``)."""

    max_billers: int = DEFAULT_MAX_BILLERS
    max_percent: float = DEFAULT_MAX_PERCENT
    min_for_percent: int = MIN_FOR_PERCENT

    def allows(self, changing: int, managed: int) -> bool:
        """Whether ``changing`` billers out of ``managed`` are within both limits."""
        return not any(self.exceeded(changing, managed))

    def exceeded(self, changing: int, managed: int) -> tuple[bool, bool]:
        """Which limits ``changing`` billers out of ``managed`` exceed: (count, percent)."""
        # Integers on both sides: 30 % of 40 billers allows 12, not 11.99….
        over_percent = (
            changing >= self.min_for_percent and changing * 100 > self.max_percent * managed
        )
        return changing > self.max_billers, over_percent

    @staticmethod
    def percent_needed(changing: int, managed: int) -> int:
        """The smallest whole ``--max-percent`` that lets ``changing`` of ``managed`` through."""
        return min(100, -(-changing * 100 // max(managed, 1)))

    def report(self, changing: int, managed: int) -> dict[str, Any]:
        """The ``guard`` object of an apply report (CI reads these keys)."""
        return {
            "changing": changing,
            "managed": managed,
            "max_billers": self.max_billers,
            "max_percent": number(self.max_percent),
        }


def number(value: float) -> int | float:
    """``30.0`` as ``30``: a whole percentage prints and serialises as one."""
    return int(value) if float(value).is_integer() else value


class GuardRefused(Int360Error):
    """The billers that change exceed a limit; nothing was written (exit 3).

    ``plan`` is the plan refused, set by whoever refused it, so the command can
    still write the run's report.
    """

    exit_code = EXIT_REFUSED
    prefix = "refused by the guard: "

    def __init__(self, changing: int, managed: int, limits: GuardLimits) -> None:
        self.changing = changing
        self.managed = managed
        self.limits = limits
        self.plan: Plan | None = None
        super().__init__(self._message())

    def _message(self) -> str:
        count, limits = self.changing, self.limits
        over_count, over_percent = limits.exceeded(count, self.managed)
        reasons, retry = [], []
        if over_count:
            # CI scripts have matched the first clause; keep its words.
            reasons.append(f"more than --max-billers {limits.max_billers}")
            retry.append(f"--max-billers {count}")
        if over_percent:
            percent = number(round(count * 100 / max(self.managed, 1), 1))
            reasons.append(
                f"{percent}% of the {self.managed} managed billers, more than "
                f"--max-percent {number(limits.max_percent)}"
            )
            retry.append(f"--max-percent {limits.percent_needed(count, self.managed)}")
        return (
            f"{count} billers would change, {' and '.join(reasons)}; nothing was written. "
            f"If this is intended, run again with {' '.join(retry)} (in CI: the apply "
            "workflow's manual run)"
        )

    def as_dict(self) -> dict[str, Any]:
        """The ``guard`` object of the refused run's report."""
        return self.limits.report(self.changing, self.managed)


def raise_if_unsafe(changing: int, managed: int, limits: GuardLimits) -> None:
    """Refuse (``GuardRefused``) when ``changing`` of ``managed`` billers exceed ``limits``."""
    if not limits.allows(changing, managed):
        raise GuardRefused(changing, managed, limits)
