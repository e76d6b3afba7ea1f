"""The end of a terminal listing: its summary line, filled from a summary's counts."""

from __future__ import annotations

from collections.abc import Mapping


def with_summary(lines: list[str], template: str, counts: Mapping[str, object]) -> str:
    """``lines`` and then ``template`` filled from ``counts`` (``str.format`` fields, e.g.
    ``{applied:,}``), each line ending in a newline."""
    return "\n".join([*lines, template.format_map(counts)]) + "\n"
