"""Where each rule lives: rule id -> the functions that raise it.

A problem's ``rule`` is one of these ids; to change what a rule says or when,
open the functions listed here. The stages run in this order: files (one file at
a time), cross-file, then per biller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import rules, yamlio
from . import billers, crossfile, files, schema_errors

RULES: dict[str, tuple[Callable[..., Any], ...]] = {
    # files
    "yaml": (yamlio.load_document, yamlio.load_text, files.defaults_missing),
    "schema": (schema_errors.document_problems, schema_errors.group_errors),
    "filename": (files.symlink_problems, files.filename_problems, files.stray_problems),
    "plaintext-secret": (files.content_problems,),
    # cross-file
    "duplicate-bid": (crossfile.duplicate_bids,),
    "duplicate-integrator-id": (crossfile.duplicate_integrator_ids,),
    # per biller (and per partner template)
    "unknown-partner": (billers.unknown_partner,),
    "integrator-id": (billers.integrator_id,),
    "locked": (crossfile.locked_path_problems, billers.locked),
    "incomplete": (billers.complete, schema_errors.group_errors),
    "cross-field": tuple(c for c in rules.CHECKS if c not in rules.VALUE_CHECKS),
    "value": (*rules.VALUE_CHECKS, crossfile.template_value_problems),
}
"""Also ``validate_run``: ``yaml`` for a named file that does not exist and ``filename``
for a named file outside partners/ and billers/ (the command's own arguments)."""


def where(rule: str) -> list[str]:
    """``module.function`` of each function raising ``rule`` (KeyError for an unknown id)."""
    return [f"{fn.__module__}.{fn.__qualname__}" for fn in RULES[rule]]
