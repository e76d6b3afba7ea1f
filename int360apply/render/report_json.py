"""The JSON apply report (``--report FILE``), its billers laid out while the apply runs.

A report of 1,000 changed billers is 10 MB of JSON; laid out at the end it took
a fifth of a second after the last write. ``ReportJson.add`` lays out each
biller's outcome as its write ends, while the other writes wait on the CRM, so
only the report's head is left for the end. The bytes are exactly those of
``json.dumps(report.as_dict(), indent=2) + "\\n"`` (tests/test_report_json.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apply_report import Outcome, Report
from ..jsontext import emit, string

_PAD = "    "  # a biller's indentation in the report's "billers" list


def _outcome_text(outcome: Outcome) -> str:
    parts: list[str] = []
    emit(outcome.as_dict(), _PAD, parts)
    return "".join(parts)


class ReportJson:
    """Outcomes laid out as they come (``add``), the report's text at the end (``chunks``)."""

    def __init__(self) -> None:
        # Keyed by identity and holding the outcome: an id is never reused while held.
        self._laid_out: dict[int, tuple[Outcome, str]] = {}

    def add(self, outcome: Outcome) -> None:
        """Lay out ``outcome`` now; it must not change afterwards (its write has ended)."""
        self._laid_out[id(outcome)] = (outcome, _outcome_text(outcome))

    def _text(self, outcome: Outcome) -> str:
        found = self._laid_out.get(id(outcome))
        return found[1] if found is not None else _outcome_text(outcome)

    def chunks(self, report: Report) -> Iterator[str]:
        """The report's JSON text in pieces (a biller each), ending with a newline."""
        parts: list[str] = []
        lead = "{\n  "
        for key, value in report.head().items():
            parts += (lead, string(key), ": ")
            lead = ",\n  "
            emit(value, "  ", parts)
        parts += (lead, string("billers"), ": ")
        if not report.outcomes:
            parts.append("[]")
        else:
            parts.append("[\n" + _PAD)
            yield "".join(parts)
            parts.clear()
            for index, outcome in enumerate(report.outcomes):
                yield (",\n" + _PAD if index else "") + self._text(outcome)
            parts.append("\n  ]")
        parts.append("\n}\n")
        yield "".join(parts)
