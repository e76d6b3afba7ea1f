"""Moved to ``validate.schema_errors``; this path stays for code not yet updated."""

from .validate.schema_errors import CONTROL_RULE, describe, schema_problems, shown

__all__ = ["CONTROL_RULE", "describe", "schema_problems", "shown"]
