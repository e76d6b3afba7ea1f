"""Untrusted text made safe for a GitHub Markdown body: clipped, escaped, no mentions.

Every name, value and message the ``github-comment`` renderers place goes through
these, so that none can break out of its table cell, ping someone or take more
than its share of the character budget.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

# No single value, message or name may take more than this much of a body.
FIELD_MAX = 300
MESSAGE_MAX = 1_000


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def cell(value: Any, limit: int = FIELD_MAX) -> str:
    """Untrusted text as one Markdown table cell: no HTML, no pipes, no line breaks,
    no @mentions, no longer than ``limit``."""
    text = clip(str(value), limit)
    text = html.escape(text, quote=False).replace("|", "\\|")
    text = re.sub(r"[\r\n]+", " ", text)
    return text.replace("@", "&#64;")


def code(value: Any, limit: int = FIELD_MAX) -> str:
    """Untrusted text as inline code that cannot break out of its cell."""
    return f"<code>{cell(value, limit)}</code>"


def short(sha: str | None) -> str:
    """A commit as 12 hex digits (anything else is shown as given, clipped)."""
    if sha and re.fullmatch(r"[0-9a-f]{40}", sha):
        return sha[:12]
    return cell(sha or "?", 40)


def value_text(value: Any, secret: bool = False) -> str:
    """A plan value as text: JSON, ``(unset)`` or ``(secret NAME)``; never a secret."""
    if value is None:
        return "(unset)"
    if secret or (
        isinstance(value, dict) and "secret" in value and set(value) <= {"secret", "set"}
    ):
        name = value.get("secret") if isinstance(value, dict) else None
        return f"(secret {name})" if isinstance(name, str) else "(secret)"
    return json.dumps(value, ensure_ascii=False)
