"""The ``schema`` rule: JSON Schema errors turned into problems that name the field,
the line and the fix, for whole files and for merged settings groups alike."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..model import Document, Path_, Problem, dotted
from ..schemas import FastCheck, Schemas

if TYPE_CHECKING:  # jsonschema loads in 60 ms; a run on a validated tree never needs it
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO"}
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return f"the string {shown(value)}" if _SHOWABLE.fullmatch(value) else shown(value)
    if isinstance(value, list):
        return "a list"
    return "a mapping"


# A value is quoted in a message only when it is short, on one line and printable:
# a key pasted into a field is described by its length, never echoed.
_SHOWABLE = re.compile(r"[^\x00-\x1f\x7f-\x9f]{0,80}")
CONTROL_RULE = {"type": "string", "pattern": "[\\x00-\\x1f\\x7f]"}


def shown(value: Any) -> str:
    """``value`` quoted for a message when it is safe to show, else what it is."""
    if isinstance(value, str) and not _SHOWABLE.fullmatch(value):
        lines = "several lines, " if "\n" in value.rstrip("\n") else ""
        return f"a string of {lines}{len(value)} characters (not shown)"
    return repr(value)


def _expected_types(value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value)
    names = [n for n in names if n != "null"]
    return " or ".join(_TYPE_NAMES.get(n, n) for n in names)


def _field(path: Path_) -> str:
    return dotted(path) if path else "the file"


def describe(error: ValidationError) -> Iterator[tuple[Path_, bool, str]]:
    """(path, at the key?, message) for one schema error; several for additionalProperties."""
    path: Path_ = tuple(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    field = _field(path)
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        for extra in sorted(set(instance) - set(allowed)):
            close = difflib.get_close_matches(extra, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
            where = f" in {field}" if path else ""
            yield (*path, extra), True, f"unknown field '{extra}'{where}; {hint}"
        return
    if kind == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                where = f" in {field}" if path else ""
                yield path, True, f"missing required field '{name}'{where}"
        return
    if kind == "type":
        expected = _expected_types(value)
        message = f"{field}: expected {expected}, got {_kind(instance)}"
        if "boolean" in str(value) and isinstance(instance, str) and instance in _YAML11_BOOLS:
            message += f" (YAML 1.2 reads {instance} as a string: write true or false)"
        yield path, False, message
        return
    if kind == "enum":
        options = ", ".join(repr(v) for v in value if v is not None)
        yield path, False, f"{field}: expected one of {options}; got {shown(instance)}"
        return
    if kind == "format":
        yield path, False, f"{field}: {shown(instance)} is not a valid {value}"
        return
    if kind == "pattern":
        hint = error.schema.get("description", "")
        yield (
            path,
            False,
            f"{field}: {shown(instance)} does not match {value} ({hint})".replace(" ()", ""),
        )
        return
    if kind == "not" and value == CONTROL_RULE:
        yield (
            path,
            False,
            f"{field}: holds a control character (a line break, a tab); write it on one line",
        )
        return
    if _SHOWABLE.fullmatch(repr(instance)):
        yield path, False, f"{field}: {error.message}"
        return
    # jsonschema's message would quote a long or multi-line value: said without it.
    what = shown(instance) if isinstance(instance, str) else _kind(instance)
    yield path, False, f"{field}: {what} fails {kind} {value!r}"


def schema_problems(
    doc: Document, validator: Validator, skip: Iterable[Path_] = ()
) -> list[tuple[Path_, Problem]]:
    """Every schema error of ``doc`` with the path it is about; ``skip`` paths dropped."""
    skipped = tuple(skip)
    problems = []
    for error in validator.iter_errors(doc.data):
        for path, at_key, message in describe(error):
            if any(path[: len(s)] == s for s in skipped):
                continue
            problems.append((path, Problem(doc.loc(path, key=at_key), "schema", message)))
    return problems


def document_problems(
    schemas: Schemas, kind: str, doc: Document, skip: list[Path_]
) -> list[Problem]:
    """The schema problems of a whole file; marks the refused paths on ``doc.invalid``."""
    found = schema_problems(doc, schemas.validator(kind), skip)
    doc.invalid = [path for path, _ in found] + skip
    return [problem for _, problem in found]


def group_errors(
    schemas: Schemas, fast: FastCheck | None, group: str, value: Any
) -> list[tuple[Path_, str, str]]:
    """(path, rule, message) for one merged settings group against its complete schema:
    ``incomplete`` for a required field no layer sets, ``schema`` for the rest."""
    if fast is not None and fast.group(group, value):
        return []
    validator = schemas.group_validators[group]
    found: list[tuple[Path_, str, str]] = []
    for error in validator.iter_errors(value):
        if error.validator == "required":
            prefix = (group, *error.absolute_path)
            for name in error.validator_value:
                if name not in error.instance:
                    path = (*prefix, name)
                    found.append(
                        (
                            path,
                            "incomplete",
                            f"{dotted(path)} is required but no layer sets it (_defaults, "
                            "the partner or this biller); set it under overrides or in the "
                            "partner template",
                        )
                    )
            continue
        for path, _at_key, message in describe(error):
            found.append(((group, *path), "schema", f"{group}.{message}"))
    return found
