"""The JSON plan (``schemas/plan.schema.json``), whole or streamed biller by biller."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ..jsontext import emit, string
from ..plan import Plan


def as_json(plan: Plan) -> str:
    """The JSON plan (``schemas/plan.schema.json``)."""
    return "".join(json_chunks(plan))


# The plan is written one biller at a time (at 10,000 changing billers one string
# of the whole document took 600 MiB), each laid out by ``jsontext``, to exactly
# the bytes of ``json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"``
# (tests/test_plan_json.py holds the two equal).


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
        parts += (lead, string(key, ensure_ascii=False), ": ")
        lead = ",\n  "
        if key != "billers":
            emit(value, "  ", parts, ensure_ascii=False)
            continue
        if not plan.billers:
            parts.append("[]")
            continue
        inner = "\n    "
        parts.append("[" + inner)
        for index, biller in enumerate(plan.billers):
            if index:
                parts.append("," + inner)
            emit(biller.as_dict(), "    ", parts, ensure_ascii=False)
            yield "".join(parts)
            parts.clear()
        parts.append("\n  ]")
    parts.append("\n}\n" if head else "{}\n")
    yield "".join(parts)
