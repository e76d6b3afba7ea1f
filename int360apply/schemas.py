"""Load the JSON Schemas of a repository and build their validators once.

The schemas in ``schemas/`` are the single source of truth for every field:
types, ranges, enums, formats and which fields are secrets (``writeOnly``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Int360Error

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
    from referencing import Registry

SCHEMA_FILES = {
    "settings": "settings.schema.json",
    "partner": "partner.schema.json",
    "biller": "biller.schema.json",
    "defaults": "defaults.schema.json",
}
# The files carry no ``$id``: every tool (check-jsonschema, each version of the YAML
# language server) then resolves their relative ``$ref`` s against the file's own
# location, with no network. Inside the package each schema is known by this URI.
SCHEMA_BASE_URI = "https://int360-as-code.invalid/schemas/"
SETTINGS_ID = SCHEMA_BASE_URI + SCHEMA_FILES["settings"]
GROUPS = ("advanced", "ftp", "data_pump", "invoicing")

# Formats the schemas use; each needs a checker, or jsonschema silently accepts
# anything (hostname, uri and email need the ``format-nongpl`` extras).
REQUIRED_FORMATS = ("hostname", "uri", "email")


class SchemaSetupError(Int360Error, RuntimeError):
    """The schemas cannot be loaded, or a format they use has no checker."""


# jsonschema itself is imported where a validator or format checker is first needed:
# a command answered from the validate cache never needs one (a tenth of a second).


def _format_checker() -> Any:
    from jsonschema import Draft202012Validator

    checker = Draft202012Validator.FORMAT_CHECKER
    missing = [f for f in REQUIRED_FORMATS if f not in checker.checkers]
    if missing:
        raise SchemaSetupError(
            f"jsonschema cannot check the format(s) {', '.join(missing)}: "
            "install int360-as-code with its dependencies (jsonschema[format-nongpl])"
        )
    return checker


@dataclass(frozen=True)
class Schemas:
    """The repository's schemas, their validators and the secret paths."""

    documents: Mapping[str, dict[str, Any]]

    @functools.cached_property
    def registry(self) -> Registry[Any]:
        """Every schema under its URI (``schema_uri``), for validators and cross-file ``$ref`` s."""
        # Imported on demand: plan and apply from a valid cache need no validator.
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        return Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
            for doc in self.documents.values()
        )

    @functools.cached_property
    def _checker(self) -> Any:
        return _format_checker()

    def validator(self, name: str) -> Validator:
        """A validator for one schema file (``settings``, ``partner``, ``biller``...)."""
        return self._validators[name]

    @functools.cached_property
    def _validators(self) -> dict[str, Validator]:
        from jsonschema import Draft202012Validator

        return {
            name: Draft202012Validator(doc, registry=self.registry, format_checker=self._checker)
            for name, doc in self.documents.items()
        }

    @functools.cached_property
    def group_validators(self) -> dict[str, Validator]:
        """One validator per settings group, in its complete form (required fields)."""
        from jsonschema import Draft202012Validator

        settings = self.documents["settings"]
        out: dict[str, Validator] = {}
        for group in GROUPS:
            sub = {"$ref": f"{settings['$id']}#/properties/{group}"}
            out[group] = Draft202012Validator(
                sub, registry=self.registry, format_checker=self._checker
            )
        return out

    @functools.cached_property
    def secret_paths(self) -> frozenset[tuple[str, ...]]:
        """Paths of every settings field the schema marks ``writeOnly`` (secrets)."""
        return frozenset(_write_only_paths(self))

    def field_schema(self, path: tuple[str, ...]) -> dict[str, Any] | None:
        """The (resolved) schema of the settings field at ``path``, or None if unknown."""
        node: dict[str, Any] | None = self.documents["settings"]["$defs"]["partial_settings"]
        for part in path:
            node = _resolve(node, self) if node is not None else None
            if node is None:
                return None
            node = node.get("properties", {}).get(part)
        return _resolve(node, self) if node is not None else None


def _resolve(schema: dict[str, Any], schemas: Schemas) -> dict[str, Any]:
    """Follow ``$ref`` chains (relative to the settings schema), keeping sibling keywords."""
    seen = 0
    out = dict(schema)
    while "$ref" in out and seen < 16:
        ref = out.pop("$ref")
        merged = dict(_lookup(ref, schemas))
        merged.update(out)
        out = merged
        seen += 1
    return out


def _lookup(ref: str, schemas: Schemas) -> dict[str, Any]:
    """The schema ``ref`` names, from the settings schema."""
    if ref.startswith("#/") and "~" not in ref and "%" not in ref:
        # A plain pointer into the settings schema itself (all the schemas use): walked
        # here, so that reading the secret paths needs no ``referencing``.
        node: Any = schemas.documents["settings"]
        for part in ref[2:].split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node  # type: ignore[no-any-return]
    resolved: dict[str, Any] = schemas.registry.resolver(base_uri=SETTINGS_ID).lookup(ref).contents
    return resolved


def _write_only_paths(schemas: Schemas) -> Iterator[tuple[str, ...]]:
    root = schemas.documents["settings"]

    def walk(
        schema: dict[str, Any], path: tuple[str, ...], depth: int
    ) -> Iterator[tuple[str, ...]]:
        schema = _resolve(schema, schemas)
        if schema.get("writeOnly") and path:
            yield path
            return
        if depth > 8:
            return
        for name, sub in schema.get("properties", {}).items():
            yield from walk(sub, (*path, name), depth + 1)

    yield from walk(root["$defs"]["partial_settings"], (), 0)


def schema_uri(filename: str) -> str:
    """The URI a schema file is registered under (``https://int360-as-code.invalid/schemas/…``)."""
    return SCHEMA_BASE_URI + filename


def load_schemas(schema_dir: Path) -> Schemas:
    """Read every schema of ``schema_dir``, each given its URI (``schema_uri``) as ``$id``.

    The ``$id`` is set in memory only: validators built from a document then resolve
    its relative ``$ref`` s (``settings.schema.json#/$defs/…``) in the registry, never
    on the network, while the files stay resolvable relative to themselves.
    """
    documents: dict[str, dict[str, Any]] = {}
    for name, filename in SCHEMA_FILES.items():
        doc = read_schema_file(schema_dir / filename)
        documents[name] = {**doc, "$id": schema_uri(filename)}
    return Schemas(documents=documents)


def read_schema_file(path: Path, what: str = "schema") -> dict[str, Any]:
    """The JSON object in the schema file ``path``; ``SchemaSetupError`` ("PATH: cannot
    load WHAT: why") when it cannot be read, is not JSON or is not an object."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaSetupError(f"{path}: cannot load {what}: {exc}") from exc
    if not isinstance(doc, dict):
        raise SchemaSetupError(f"{path}: cannot load {what}: not a JSON object")
    return doc


@functools.lru_cache(maxsize=8)
def schemas_for(schema_dir: Path) -> Schemas:
    """Cached ``load_schemas`` (one load per process and directory)."""
    return load_schemas(schema_dir)


def ordered(settings: Any, schemas: Schemas, path: tuple[str, ...] = ()) -> Any:
    """``settings`` with keys in the schema's property order (unknown keys last)."""
    if not isinstance(settings, Mapping):
        return settings
    node = (
        schemas.field_schema(path)
        if path
        else _resolve(schemas.documents["settings"]["$defs"]["partial_settings"], schemas)
    )
    names = list((node or {}).get("properties", {}))
    rank = {name: index for index, name in enumerate(names)}
    keys = sorted(settings, key=lambda k: (rank.get(k, len(rank)), k))
    return {k: ordered(settings[k], schemas, (*path, k)) for k in keys}


def _format_locations(root: dict[str, Any], schemas: Schemas) -> list[tuple[tuple[str, ...], str]]:
    """(path, format) of every ``format`` in the partial settings; ``*`` stands for list items."""
    found: list[tuple[tuple[str, ...], str]] = []

    def walk(schema: dict[str, Any], path: tuple[str, ...], depth: int) -> None:
        schema = _resolve(schema, schemas)
        if "format" in schema:
            found.append((path, schema["format"]))
        if depth > 8:
            return
        for name, sub in schema.get("properties", {}).items():
            walk(sub, (*path, name), depth + 1)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], (*path, "*"), depth + 1)

    walk(root["$defs"]["partial_settings"], (), 0)
    return found


def _values_at(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    if not path:
        yield node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for item in node:
                yield from _values_at(item, rest)
    elif isinstance(node, Mapping) and head in node:
        yield from _values_at(node[head], rest)


class FastCheck:
    """A quick yes/no on schema validity, agreeing with the full validator.

    The structural check runs in jsonschema-rs (microseconds per document);
    formats are checked with jsonschema's own format checker, so verdicts on
    formats are exactly those of the full validator. Any "no" is explained by
    the full (slower) validator.
    """

    def __init__(self, schemas: Schemas) -> None:
        import jsonschema_rs

        by_id = {doc["$id"]: doc for doc in schemas.documents.values()}

        def build(schema: dict[str, Any]) -> Any:
            return jsonschema_rs.validator_for(
                schema, retriever=lambda uri: by_id[uri], validate_formats=False
            )

        self._docs = {name: build(doc) for name, doc in schemas.documents.items()}
        settings_id = schemas.documents["settings"]["$id"]
        self._groups = {g: build({"$ref": f"{settings_id}#/properties/{g}"}) for g in GROUPS}
        self._partial = build({"$ref": f"{settings_id}#/$defs/partial_settings"})
        self._formats = _format_locations(schemas.documents["settings"], schemas)
        self._checker = schemas._checker

    def _formats_ok(self, settings: Any) -> bool:
        for path, fmt in self._formats:
            for value in _values_at(settings, path):
                if value is not None and not self._checker.conforms(value, fmt):
                    return False
        return True

    def document(self, name: str, instance: Any, settings_key: str | None) -> bool:
        """Whether a whole file (``biller``, ``partner``, ``defaults``) is schema-valid."""
        if not self._docs[name].is_valid(instance):
            return False
        if settings_key is None or not isinstance(instance, Mapping):
            return True
        return self._formats_ok(instance.get(settings_key) or {})

    def partial_settings(self, value: Any) -> bool:
        """Whether ``value`` is valid partial settings (a merge patch's shape)."""
        if not self._partial.is_valid(value):
            return False
        return not isinstance(value, Mapping) or self._formats_ok(value)

    def group(self, group: str, value: Any) -> bool:
        """Whether one merged settings group is valid in its complete form."""
        if not self._groups[group].is_valid(value):
            return False
        formats = [(p[1:], f) for p, f in self._formats if p[0] == group]
        for path, fmt in formats:
            for item in _values_at(value, path):
                if item is not None and not self._checker.conforms(item, fmt):
                    return False
        return True


@functools.lru_cache(maxsize=8)
def fast_check_for(schema_dir: Path) -> FastCheck:
    """The ``FastCheck`` of a schema directory (built once per process)."""
    return FastCheck(schemas_for(schema_dir))
