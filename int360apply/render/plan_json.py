"""The JSON plan (``schemas/plan.schema.json``), whole or streamed biller by biller."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from ..plan import Plan


def as_json(plan: Plan) -> str:
    """The JSON plan (``schemas/plan.schema.json``)."""
    return "".join(json_chunks(plan))


# ``json.dumps(..., indent=2)`` runs CPython's pure-Python encoder (the C one
# has no indentation before 3.14) and joins one string of the whole document:
# at 10,000 changing billers, 11 s and 600 MiB. The plan is written instead one
# biller at a time, with the C encoders for every scalar, to exactly the bytes
# of ``json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"``
# (tests/test_plan_json.py holds the two equal).

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
