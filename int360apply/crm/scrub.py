"""Keeping the CRM token and every secret value sent out of the client's messages.

A CRM may echo a request body in an error (a 422's details, a proxy's page), so
every write-form secret value the client sends is remembered, and every message
it builds from an answer is scrubbed of them and of the token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

MASK = "***"


class Scrubber:
    """The token and the secret values sent so far; thread-safe."""

    def __init__(self, token: str | None) -> None:
        """``token``: the CRM token (None: none is sent)."""
        self._token = token
        self._sent: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, patch: Any) -> None:
        """Note the value of every write-form secret in ``patch``."""
        found = list(_secret_values(patch))
        if found:
            with self._lock:
                self._sent.update(found)

    def __call__(self, text: str) -> str:
        """``text`` with the token and every secret value sent replaced by ``***``, as
        sent or escaped as JSON or ``repr`` would."""
        with self._lock:
            needles = set(self._sent)
        if self._token:
            needles.add(self._token)
        # Longest first: a value that contains another is replaced whole.
        for needle in sorted(needles, key=len, reverse=True):
            for form in {needle, json.dumps(needle)[1:-1], repr(needle)[1:-1]}:
                if form and form in text:
                    text = text.replace(form, MASK)
        return text


def _secret_values(patch: Any) -> Iterator[str]:
    """The values of the write-form secrets ``{secret, value}`` anywhere in ``patch``."""
    if isinstance(patch, dict):
        value = patch.get("value")
        if "secret" in patch and isinstance(value, str) and value:
            yield value
        for child in patch.values():
            yield from _secret_values(child)
    elif isinstance(patch, list):
        for item in patch:
            yield from _secret_values(item)
