"""``jsontext.dumps`` writes what ``json.dumps(indent=2)`` writes, byte for byte: the
apply report and the JSON plan are read by CI scripts and compared by people."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from int360apply.jsontext import dumps

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_documents = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(_documents, st.booleans())
def test_the_text_is_what_json_dumps_gives(document: Any, ensure_ascii: bool) -> None:
    assert dumps(document, ensure_ascii=ensure_ascii) == json.dumps(
        document, indent=2, ensure_ascii=ensure_ascii
    )


def test_non_ascii_is_escaped_only_when_asked() -> None:
    document = {"name": "Café Zürich ✓", "notes": ["ü"]}
    assert "\\u00e9" in dumps(document)
    assert "Café" in dumps(document, ensure_ascii=False)


def test_rarer_values_fall_back_to_the_stdlib_layout() -> None:
    # Tuples, dict subclasses, non-string keys and special floats, nested inside a layout.
    document = {
        "pair": (1, [2, 3]),
        "ordered": OrderedDict(b=1, a={"x": None}),
        "numbered": {1: "one", 2.5: "two and a half"},
        "edges": [math.inf, -math.inf, 1e300, -0.0],
        "empty": [{}, [], ()],
    }
    assert dumps(document) == json.dumps(document, indent=2)
