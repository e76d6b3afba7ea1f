"""Apply a settings merge patch the way the CRM does, and validate it.

Pure functions over JSON values: RFC 7396 merge, except that a secret field
(``writeOnly`` in the settings schema) is replaced whole. A secret is written
as ``{"secret": NAME, "value": VALUE}``; the result keeps its read form
``{"secret": NAME, "set": true}`` and the value goes aside.

The *patch* is validated against ``settings.schema.json#/$defs/partial_settings``
(every field there accepts null, which a merge patch uses to remove). That is
enough: the partial shape has no rule spanning fields (no ``required``, no
conditionals; only inside a secret, which is replaced whole), so a valid patch
over valid settings gives valid settings — and it is much cheaper than
validating the whole result, and never fails a patch over a field it does not
touch. ``tests/crm/test_patching.py`` guards that property of the schema.
Error messages never contain a secret's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from int360apply.crm.sandbox.records import SettingsUpdate
from int360apply.model import dotted
from int360apply.schemas import FastCheck, Schemas

MAX_SECRET_LENGTH = 65536
_MAX_MESSAGE = 300
_WRITE_FORM = 'write a secret as {"secret": NAME, "value": VALUE}, or null to remove it'


class FieldError(NamedTuple):
    """One problem with one field; ``path`` is dotted (``ftp.port``), empty for the body."""

    path: str
    message: str


class InvalidPatch(Exception):
    """The patch, or the settings it would produce, is invalid."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class SettingsPatcher:
    """Merges patches into settings for one set of schemas (built once, reused)."""

    def __init__(self, schemas: Schemas) -> None:
        settings_id = schemas.documents["settings"]["$id"]
        self._validator = Draft202012Validator(
            {"$ref": f"{settings_id}#/$defs/partial_settings"},
            registry=schemas.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        self.secret_paths = schemas.secret_paths
        # Most patches are valid: a quick yes first, the full validator to explain a no.
        self._fast = FastCheck(schemas)

    def apply(self, current: Mapping[str, Any], patch: object) -> SettingsUpdate:
        """The settings after ``patch``; raises ``InvalidPatch`` listing every problem."""
        if not isinstance(patch, dict):
            raise InvalidPatch([FieldError("", "a settings patch is a JSON object (RFC 7396)")])
        errors: list[FieldError] = []
        written: dict[str, tuple[str, str]] = {}
        result = self._merge(current, patch, (), errors, written)
        errors.extend(self._schema_errors(_view(patch, (), self.secret_paths)))
        if errors:
            raise InvalidPatch(sorted(set(errors)))
        present = frozenset(
            dotted(p) for p in self.secret_paths if isinstance(_get(result, p), dict)
        )
        return SettingsUpdate(settings=result, written=written, present=present)

    def _merge(
        self,
        target: Any,
        patch: dict[str, Any],
        path: tuple[str, ...],
        errors: list[FieldError],
        written: dict[str, tuple[str, str]],
    ) -> dict[str, Any]:
        result = dict(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            sub = (*path, key)
            if value is None:
                result.pop(key, None)
            elif sub in self.secret_paths:
                secret = _secret(value, dotted(sub), errors, written)
                if secret is None:
                    result.pop(key, None)
                else:
                    result[key] = secret
            elif isinstance(value, dict):
                result[key] = self._merge(result.get(key), value, sub, errors, written)
            else:
                result[key] = value
        return result

    def _schema_errors(self, view: Any) -> list[FieldError]:
        if self._fast.partial_settings(view):
            return []
        out: list[FieldError] = []
        for error in self._validator.iter_errors(view):
            out.extend(_field_errors(error))
        return out


def _secret(
    value: Any, path: str, errors: list[FieldError], written: dict[str, tuple[str, str]]
) -> dict[str, Any] | None:
    """The read form of a secret write, or None when malformed (the patch is then
    refused: the error is recorded here, or by the schema for the name)."""
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"is a secret: {_WRITE_FORM}"))
        return None
    name = value.get("secret")
    problems = []
    if "secret" not in value:
        problems.append("needs its name")
    if "set" in value:
        problems.append("the read form {secret, set} cannot be written")
    extra = sorted(set(value) - {"secret", "value", "set"})
    if extra:
        problems.append(f"unknown field(s) {', '.join(map(repr, extra))}")
    secret_value: Any = value.get("value")
    if not isinstance(secret_value, str) or not secret_value:
        problems.append("needs its value, a non-empty string")
    elif len(secret_value) > MAX_SECRET_LENGTH:
        problems.append(f"value is longer than {MAX_SECRET_LENGTH} characters")
    if problems:
        errors.append(FieldError(path, f"{'; '.join(problems)}: {_WRITE_FORM}"))
        return None
    if not isinstance(name, str):
        return None  # the schema reports the name's type (see _view)
    written[path] = (name, secret_value)
    return {"secret": name, "set": True}


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _view(patch: Any, path: tuple[str, ...], secret_paths: frozenset[tuple[str, ...]]) -> Any:
    """The patch as the schema knows it: secrets as ``{secret: NAME}``, values left out,
    so no validation message can show one (malformed secrets are reported apart)."""
    if not isinstance(patch, dict):
        return patch
    depth = len(path) + 1
    # Only branches that lead to a secret need copying; the rest is shared as it is.
    leads = {p[:depth] for p in secret_paths if len(p) > len(path) and p[: len(path)] == path}
    view: dict[str, Any] = {}
    for key, value in patch.items():
        sub = (*path, key)
        if sub not in leads:
            view[key] = value
        elif sub not in secret_paths:
            view[key] = _view(value, sub, secret_paths)
        elif value is None:
            view[key] = None
        elif isinstance(value, dict) and "secret" in value:
            view[key] = {"secret": value["secret"]}
    return view


def _field_errors(error: ValidationError) -> list[FieldError]:
    path = tuple(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        return [
            FieldError(dotted((*path, key)), "unknown field")
            for key in sorted(set(error.instance) - known)
        ]
    message = _safe_message(error)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return [FieldError(dotted(path), message)]


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _safe_message(error: ValidationError) -> str:
    """What the schema wants, never the value sent: jsonschema's own messages quote
    the instance, which may be a secret written at a path that is not a secret's."""
    instance = error.instance
    kind = next((n for t, n in _JSON_TYPES.items() if isinstance(instance, t)), None)
    if kind is None:
        kind = "null" if instance is None else "a number"
    if error.validator == "type":
        return f"expected type {error.validator_value}, got {kind}"
    if error.validator in ("enum", "const"):
        return f"expected one of {error.validator_value!r}, got another value ({kind})"
    if error.validator == "not":
        return "holds a character the schema does not allow (a control character?)"
    if error.validator in ("pattern", "format"):
        return f"does not match {error.validator} {error.validator_value!r}"
    return f"does not satisfy {error.validator} {error.validator_value!r}"
