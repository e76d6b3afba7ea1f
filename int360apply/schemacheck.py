"""Moved to ``validate.schema_errors``; this path stays for code not yet updated."""

from .validate.schema_errors import describe, schema_problems

__all__ = ["describe", "schema_problems"]
