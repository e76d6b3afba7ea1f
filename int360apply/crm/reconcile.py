"""After a lost PATCH response: does the live biller already hold the change?"""

from __future__ import annotations

from typing import Any

from int360apply.jsonvalue import json_equal, secret_holds


def _is_secret_write(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secret", "value"}


def patch_holds(live: Any, patch: Any) -> bool:
    """Whether applying the merge ``patch`` to ``live`` would change nothing.

    A secret write holds when the live secret has the same name and is set.
    """
    if _is_secret_write(patch):
        return secret_holds(patch["secret"], live)
    if not isinstance(patch, dict):
        return json_equal(live, patch)
    if not isinstance(live, dict):
        return False
    for key, value in patch.items():
        if value is None:
            if key in live:
                return False
        elif key not in live or not patch_holds(live[key], value):
            return False
    return True
