"""Validation problems as text lines, GitHub workflow commands or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..model import Problem


def text(problems: Sequence[Problem]) -> str:
    """``PATH:LINE:COL: error[RULE]: message`` per line, then a count."""
    lines = [str(p) for p in problems]
    files = len({p.location.path for p in problems})
    if problems:
        lines.append(f"{len(problems)} problem(s) in {files} file(s)")
    return "\n".join(lines) + ("\n" if lines else "")


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(problems: Sequence[Problem]) -> str:
    """GitHub Actions ``::error`` commands, so errors show inline on the pull request."""
    lines = []
    for p in problems:
        loc = p.location
        props = (
            f"file={_escape_property(loc.path)},line={loc.line},col={loc.col},"
            f"title={_escape_property(p.rule)}"
        )
        lines.append(f"::error {props}::{_escape_data(p.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def as_json(problems: Sequence[Problem]) -> str:
    """A JSON document: ``{"valid": bool, "problems": [{path, line, col, rule, message}]}``."""
    return (
        json.dumps(
            {
                "valid": not problems,
                "problems": [p.as_dict() for p in problems],
            },
            indent=2,
        )
        + "\n"
    )


FORMATS = {"text": text, "github": github, "json": as_json}
