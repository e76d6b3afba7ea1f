"""JSON values as the CRM stores them: one type-strict equality for the whole package,
one answer to "does the CRM already hold this secret?", and a reader that refuses
what is not JSON (``NaN``, ``Infinity``).

Python says ``True == 1`` and ``[False, 0] == [False, False]``; JSON does not.
Plan, diff, import, adopt and the CRM client all decide "is this already so?"
with :func:`json_equal`, so they can never disagree about a change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def json_equal(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same value.

    Booleans equal only booleans (``true`` is never ``1``); numbers compare by
    value (``1`` equals ``1.0``, as in JSON); lists compare in order; mappings
    key by key; everything else by ``==`` within one type.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def secret_holds(name: str, live: Any) -> bool:
    """Whether ``live`` (a secret field as the CRM reads it, ``{secret, set}``) holds a
    secret of ``name`` that is set: the value itself can never be read back, so this
    is all "already so" can mean for a secret."""
    return isinstance(live, Mapping) and live.get("secret") == name and live.get("set") is True


def loads(text: str | bytes, **options: Any) -> Any:
    """``json.loads`` of JSON as the standard has it: ``NaN`` and ``Infinity``, which
    Python's reader takes, are a ``ValueError`` (``options`` go to ``json.loads``)."""
    return json.loads(text, parse_constant=_not_a_number, **options)


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
