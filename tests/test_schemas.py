"""The JSON Schemas: valid draft 2020-12, described, closed, secrets marked, formats enforced.

``check-jsonschema`` runs for real (from the interpreter's bin folder), against the
schemas and every shipped file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from int360apply.schemas import load_schemas

if TYPE_CHECKING:
    from conftest import TmpRepo

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SCHEMA_FILES = sorted(SCHEMAS.glob("*.schema.json"))
DRAFT = "https://json-schema.org/draft/2020-12/schema"


PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def offline_env() -> dict[str, str]:
    """The environment with every HTTP(S) fetch sent to a dead loopback port.

    Nothing listens on port 9 (discard) here: a schema that needs the network
    fails loudly (connection refused) instead of passing on a lucky cache.
    """
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    dead = "http://127.0.0.1:9"
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead)
    return env


def check_jsonschema(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """check-jsonschema, offline, with check-jsonschema's schema cache out of the way."""
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--no-cache", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=offline_env(),
    )


def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


DOCS = {p.name: load(p.name) for p in SCHEMA_FILES}
# The configuration model's schemas (the others, e.g. the plan format, belong to the applier).
CONFIG_SCHEMAS = (
    "settings.schema.json",
    "partner.schema.json",
    "biller.schema.json",
    "defaults.schema.json",
)


def resolve(ref: str, current: str) -> tuple[str, dict[str, Any]]:
    """(file, schema) that ``ref`` points to from schema file ``current``."""
    file, _, pointer = ref.partition("#")
    file = file or current
    node: Any = DOCS[file]
    for part in filter(None, pointer.split("/")):
        node = node[part]
    return file, node


def deref(node: dict[str, Any], current: str) -> dict[str, Any]:
    seen = 0
    while "$ref" in node and seen < 10:
        current, target = resolve(node["$ref"], current)
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
    return node


def walk(node: Any, file: str, where: str = "#") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every schema object in a document: (file, JSON pointer, node); refs not followed."""
    if isinstance(node, dict):
        yield file, where, node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from walk(sub, file, f"{where}/{key}/{name}")
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                yield from walk(value, file, f"{where}/{key}")
            elif key in ("allOf", "anyOf", "oneOf"):
                for index, sub in enumerate(value):
                    yield from walk(sub, file, f"{where}/{key}/{index}")


# --- check-jsonschema ------------------------------------------------------------


def test_check_jsonschema_is_installed() -> None:
    assert CHECK_JSONSCHEMA.exists(), f"{CHECK_JSONSCHEMA} is missing: install the dev extras"


@pytest.mark.slow
def test_schemas_pass_the_metaschema_check() -> None:
    done = check_jsonschema("--check-metaschema", *SCHEMA_FILES)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("schema", "pattern"),
    [
        ("biller.schema.json", "billers/*.yaml"),
        ("partner.schema.json", "partners/[!_]*.yaml"),
        ("defaults.schema.json", "partners/_defaults.yaml"),
    ],
)
def test_every_shipped_file_passes_check_jsonschema_offline(schema: str, pattern: str) -> None:
    """The call a user makes: no ``--base-uri``, no network; the refs come from the files."""
    files = [p.relative_to(REPO) for p in sorted(REPO.glob(pattern))]
    assert files
    done = check_jsonschema("--schemafile", f"schemas/{schema}", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


@pytest.mark.slow
def test_check_jsonschema_really_follows_the_settings_refs(tmp_path: Path) -> None:
    """The control for the test above: a bad override deep in the settings fails."""
    bad = tmp_path / "900001.yaml"
    bad.write_text("bid: 900001\nname: T\npartner: bsa\noverrides: {ftp: {port: 0}}\n")
    done = check_jsonschema("--schemafile", "schemas/biller.schema.json", bad)
    assert done.returncode == 1
    assert "overrides.ftp.port" in done.stdout


@pytest.mark.slow
def test_check_jsonschema_works_from_a_copy_of_the_schemas_anywhere(tmp_path: Path) -> None:
    """The refs resolve next to the schema file wherever it is, from any directory."""
    copy = tmp_path / "elsewhere" / "schemas"
    shutil.copytree(SCHEMAS, copy)
    good = REPO / "billers" / "104233.yaml"
    done = check_jsonschema("--schemafile", copy / "biller.schema.json", good, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # The copy is what is read: a settings schema that refuses every port fails the biller.
    settings = json.loads((copy / "settings.schema.json").read_text(encoding="utf-8"))
    settings["$defs"]["ftp"]["properties"]["port"]["maximum"] = 1
    (copy / "settings.schema.json").write_text(json.dumps(settings), encoding="utf-8")
    bad = tmp_path / "900001.yaml"
    bad.write_text("bid: 900001\nname: T\npartner: bsa\noverrides: {ftp: {port: 22}}\n")
    done = check_jsonschema("--schemafile", copy / "biller.schema.json", bad, cwd=tmp_path)
    assert done.returncode == 1
    assert "overrides.ftp.port" in done.stdout


@pytest.mark.slow
def test_the_offline_environment_really_blocks_the_network(tmp_path: Path) -> None:
    """The control for the offline tests: a schema whose ref needs a fetch fails."""
    remote = tmp_path / "remote.schema.json"
    remote.write_text(
        json.dumps(
            {
                "$schema": DRAFT,
                "$id": "https://int360-as-code.invalid/schemas/remote.schema.json",
                "$ref": "settings.schema.json#/$defs/partial_settings",
            }
        )
    )
    target = tmp_path / "x.yaml"
    target.write_text("ftp: {port: 22}\n")
    done = check_jsonschema("--schemafile", remote, target)
    assert done.returncode != 0
    assert "int360-as-code.invalid" in done.stdout + done.stderr


@pytest.mark.slow
def test_metaschema_check_catches_a_broken_schema(tmp_path: Path) -> None:
    broken = tmp_path / "broken.schema.json"
    broken.write_text(json.dumps({"$schema": DRAFT, "type": "objekt"}))
    assert check_jsonschema("--check-metaschema", broken).returncode == 1


# --- structure --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DOCS))
def test_schema_is_draft_2020_12_without_an_id(name: str) -> None:
    """No ``$id``: tools resolve the relative refs against the file, never a URL."""
    doc = DOCS[name]
    assert doc["$schema"] == DRAFT
    assert "$id" not in doc


@pytest.mark.parametrize("name", sorted(DOCS))
def test_cross_file_refs_are_relative_to_the_file(name: str) -> None:
    for ref in _refs(DOCS[name]):
        file = ref.partition("#")[0]
        assert "://" not in file, ref
        assert file == "" or (SCHEMAS / file).is_file(), ref
        resolve(ref, name)  # the pointer names an existing node


def test_the_package_registers_each_schema_under_its_uri() -> None:
    from int360apply.schemas import SCHEMA_FILES, schema_uri

    schemas = load_schemas(SCHEMAS)
    for name, filename in SCHEMA_FILES.items():
        uri = f"https://int360-as-code.invalid/schemas/{filename}"
        assert schema_uri(filename) == uri
        assert schemas.documents[name]["$id"] == uri
        assert schemas.registry[uri].contents is schemas.documents[name]
    # A validator follows the biller's relative ref to the settings schema in the registry.
    errors = list(
        schemas.validator("biller").iter_errors(
            {"bid": 1, "name": "T", "partner": "bsa", "overrides": {"ftp": {"port": 0}}}
        )
    )
    assert [list(e.absolute_path) for e in errors] == [["overrides", "ftp", "port"]]


def test_a_schema_file_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    from int360apply.schemas import SchemaSetupError

    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    (tmp_path / "schemas" / "partner.schema.json").write_text("[]", encoding="utf-8")
    with pytest.raises(SchemaSetupError, match=r"partner\.schema\.json: cannot load schema: not a"):
        load_schemas(tmp_path / "schemas")


def undescribed(node: Any, file: str, where: str, base: dict[str, Any] | None) -> Iterator[str]:
    """Properties without a description under ``node``.

    ``base`` is the schema that ``node`` refines in place (the complete form's
    overlays add ``required`` to a group defined once in ``$defs``): a property
    of an overlay is described when the property it refines is.
    """
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        base = deref({"$ref": node["$ref"]}, file)
    for prop, sub in node.get("properties", {}).items():
        refined = (base or {}).get("properties", {}).get(prop)
        sub_base = deref(refined, file) if refined is not None else None
        if not (
            "description" in sub
            or "description" in deref(sub, file)
            or (sub_base is not None and "description" in sub_base)
        ):
            yield f"{file}{where}/properties/{prop}"
        yield from undescribed(sub, file, f"{where}/properties/{prop}", sub_base)
    for name, sub in node.get("$defs", {}).items():
        yield from undescribed(sub, file, f"{where}/$defs/{name}", None)
    if isinstance(node.get("items"), dict):
        yield from undescribed(node["items"], file, f"{where}/items", None)


@pytest.mark.parametrize("name", CONFIG_SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    assert list(undescribed(DOCS[name], name, "#", None)) == []


def test_description_check_catches_a_missing_description() -> None:
    doc = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"description": "x"}}}
    assert list(undescribed(doc, "x.json", "#", None)) == ["x.json#/properties/a"]


def test_top_level_schemas_and_definitions_are_described() -> None:
    for name in CONFIG_SCHEMAS:
        doc = DOCS[name]
        assert doc.get("description"), name
        for key, sub in doc.get("$defs", {}).items():
            assert deref(sub, name).get("description"), f"{name}#/$defs/{key}"


def test_objects_are_closed() -> None:
    open_objects = []
    for file, where, node in (item for name in CONFIG_SCHEMAS for item in walk(DOCS[name], name)):
        types = node.get("type", [])
        types = [types] if isinstance(types, str) else types
        if "object" in types and node.get("additionalProperties") is not False:
            open_objects.append(f"{file}{where}")
    assert not open_objects, open_objects


# --- settings: fields, required, secrets -----------------------------------------

# FIELDS.md: every field of each group, and the ones marked "req: yes".
FIELDS = {
    "advanced": {
        "integration_type": True,
        "real_time_endpoint": False,
        "account_number_label": True,
        "account_number_pattern": True,
        "invoice_types": True,
        "payment_methods": True,
        "allow_partial_payments": True,
        "allow_overpayments": True,
        "min_payment_amount": True,
        "max_payment_amount": True,
        "convenience_fee": True,
        "guest_payments": True,
        "autopay_enabled": True,
        "autopay_days_before_due": True,
        "paperless_enabled": True,
    },
    "ftp": {
        "enabled": True,
        "protocol": True,
        "host": False,
        "port": True,
        "username": False,
        "auth": False,
        "host_key_fingerprint": False,
        "inbound_dir": True,
        "outbound_dir": True,
        "pgp_encrypt": True,
        "pgp_public_key": False,
    },
    "data_pump": {
        "enabled": True,
        "format": True,
        "layout": True,
        "delimiter": False,
        "include_header": True,
        "schedule": True,
        "timezone": True,
        "cutoff_time": True,
        "file_name_template": True,
        "delivery": True,
        "date_basis": True,
        "skip_bank_holidays": True,
        "include_reversals": True,
        "include_convenience_fees": True,
        "notify_emails": False,
    },
    "invoicing": {
        "enabled": True,
        "import_format": True,
        "invoice_type": True,
        "import_schedule": True,
        "timezone": True,
        "invoice_file_pattern": True,
        "load_mode": True,
        "negative_balance_display": True,
        "pdf_presentment": True,
        "due_date_reminder_days": True,
        "purge_after_days": True,
        "email_notifications": True,
    },
}
SECRETS = {("ftp", "auth", "password"), ("ftp", "auth", "private_key"), ("ftp", "pgp_public_key")}


def settings_field(path: tuple[str, ...]) -> dict[str, Any]:
    node = DOCS["settings.schema.json"]["$defs"]["partial_settings"]
    for part in path:
        node = deref(node, "settings.schema.json")["properties"][part]
    return deref(node, "settings.schema.json")


@pytest.mark.parametrize("group", sorted(FIELDS))
def test_groups_have_exactly_the_catalogue_fields(group: str) -> None:
    assert set(settings_field((group,))["properties"]) == set(FIELDS[group])


@pytest.mark.parametrize("group", sorted(FIELDS))
def test_complete_form_requires_the_catalogue_required_fields(group: str) -> None:
    complete = DOCS["settings.schema.json"]
    assert group in complete["required"]
    required = set(complete["properties"][group]["required"])
    assert required == {name for name, req in FIELDS[group].items() if req}


def test_partial_groups_require_nothing() -> None:
    """Partner and biller layers are partial: no ``required`` inside the group definitions."""
    defs = DOCS["settings.schema.json"]["$defs"]
    for group in FIELDS:
        for _, where, node in walk(defs[group], "settings.schema.json", f"#/$defs/{group}"):
            assert "required" not in node, where
    assert "required" not in defs["partial_settings"]


@pytest.mark.parametrize(
    "kind", ["partner.schema.json", "biller.schema.json", "defaults.schema.json"]
)
def test_file_schemas_reuse_the_settings_definitions(kind: str) -> None:
    key = "overrides" if kind == "biller.schema.json" else "settings"
    assert DOCS[kind]["properties"][key]["$ref"] == "settings.schema.json#/$defs/partial_settings"
    assert "advanced" not in json.dumps(DOCS[kind].get("$defs", {}))


@pytest.mark.parametrize("path", sorted(SECRETS))
def test_secret_fields_are_write_only(path: tuple[str, ...]) -> None:
    field = settings_field(path)
    assert field.get("writeOnly") is True
    assert field["properties"]["secret"]["pattern"] == "^[A-Z][A-Z0-9_]{1,63}$"


def test_only_secret_fields_are_write_only() -> None:
    found = set()
    for group, fields in FIELDS.items():
        for name in fields:
            field = settings_field((group, name))
            if field.get("writeOnly"):
                found.add((group, name))
            for sub in field.get("properties", {}):
                if settings_field((group, name, sub)).get("writeOnly"):
                    found.add((group, name, sub))
    assert found == SECRETS


def test_the_package_reads_the_secret_paths_from_the_schema() -> None:
    assert load_schemas(SCHEMAS).secret_paths == SECRETS


# --- formats -----------------------------------------------------------------------

BAD_FORMAT_VALUES = {
    "hostname": ("ftp:\n    host: bad_host!.example.gov\n", "bad_host!.example.gov"),
    "uri": (
        "advanced:\n    real_time_endpoint: https://rt example.gov/lookup\n",
        "https://rt example.gov/lookup",
    ),
    "email": (
        "data_pump:\n    notify_emails:\n      - billing.example.gov\n",
        "billing.example.gov",
    ),
}


def formats_used() -> set[str]:
    return {
        node["format"]
        for name in CONFIG_SCHEMAS
        for _, _, node in walk(DOCS[name], name)
        if "format" in node
    }


def test_every_format_used_has_a_bad_value_test() -> None:
    assert formats_used() == set(BAD_FORMAT_VALUES)


@pytest.mark.parametrize("fmt", sorted(BAD_FORMAT_VALUES))
def test_format_is_enforced(tmp_repo: TmpRepo, fmt: str) -> None:
    body, value = BAD_FORMAT_VALUES[fmt]
    rel = tmp_repo.write(
        "billers/900001.yaml",
        f"bid: 900001\nname: Format Test\npartner: watersmart\noverrides:\n  {body}",
    )
    result = tmp_repo.run("validate")
    line, col = tmp_repo.pos(rel, value)
    prefix = f"{rel}:{line}:{col}: error[schema]: "
    hits = [x for x in result.lines if x.startswith(prefix)]
    assert hits, result.out
    assert fmt in hits[0]
    assert result.code == 1


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(BAD_FORMAT_VALUES))
def test_format_is_enforced_by_check_jsonschema_too(tmp_path: Path, fmt: str) -> None:
    body, _ = BAD_FORMAT_VALUES[fmt]
    bad = tmp_path / "900001.yaml"
    bad.write_text(f"bid: 900001\nname: Format Test\npartner: watersmart\noverrides:\n  {body}")
    done = check_jsonschema("--schemafile", "schemas/biller.schema.json", bad)
    assert done.returncode == 1
    assert fmt in done.stdout


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_refs_resolved_without_referencing_match_referencing() -> None:
    """Secret paths and field schemas follow the settings schema's own ``#/…`` refs
    without loading ``referencing``; each lookup must be the one ``referencing`` makes."""
    from int360apply.schemas import SETTINGS_ID, _lookup

    schemas = load_schemas(SCHEMAS)
    refs = set(_refs(schemas.documents["settings"]))
    assert len(refs) >= 10
    resolver = schemas.registry.resolver(base_uri=SETTINGS_ID)
    for ref in [*sorted(refs), "settings.schema.json#/$defs/ftp"]:
        assert _lookup(ref, schemas) is resolver.lookup(ref).contents, ref
    assert ("ftp", "auth", "password") in schemas.secret_paths
