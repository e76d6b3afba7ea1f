"""The CRM's merge patch: RFC 7396, secrets replaced whole, validation by the schema."""

from __future__ import annotations

from typing import Any

import pytest

from int360apply.crm.sandbox.patching import FieldError, InvalidPatch, SettingsPatcher
from int360apply.schemas import Schemas
from int360apply.validate.schema_errors import CONTROL_RULE

SECRET = "hunter2-do-not-echo"


@pytest.fixture(scope="module")
def patcher(schemas: Schemas) -> SettingsPatcher:
    return SettingsPatcher(schemas)


def _errors(patcher: SettingsPatcher, current: dict[str, Any], patch: Any) -> list[FieldError]:
    with pytest.raises(InvalidPatch) as info:
        patcher.apply(current, patch)
    return info.value.errors


def test_secret_paths_come_from_the_schema(patcher: SettingsPatcher, schemas: Schemas) -> None:
    assert patcher.secret_paths == schemas.secret_paths
    assert ("ftp", "auth", "password") in patcher.secret_paths


def test_merge_patch_semantics(patcher: SettingsPatcher) -> None:
    current = {
        "ftp": {"port": 22, "host": "a.example.com", "inbound_dir": "/in"},
        "advanced": {"invoice_types": ["UB", "RE"], "guest_payments": True},
    }
    patch = {
        "ftp": {"port": 2222, "host": None},  # objects merge, null removes
        "advanced": {"invoice_types": ["MV"]},  # lists replace whole
        "data_pump": {"enabled": False},  # new group
    }
    update = patcher.apply(current, patch)
    assert update.settings == {
        "ftp": {"port": 2222, "inbound_dir": "/in"},
        "advanced": {"invoice_types": ["MV"], "guest_payments": True},
        "data_pump": {"enabled": False},
    }
    assert current["ftp"]["host"] == "a.example.com"  # the input is not modified
    assert patcher.apply(update.settings, {"ftp": None}).settings == {
        "advanced": {"invoice_types": ["MV"], "guest_payments": True},
        "data_pump": {"enabled": False},
    }


def test_secret_write_is_stored_aside_and_read_form_kept(patcher: SettingsPatcher) -> None:
    patch = {"ftp": {"auth": {"method": "password", "password": {"secret": "PW", "value": SECRET}}}}
    update = patcher.apply({}, patch)
    assert update.settings == {
        "ftp": {"auth": {"method": "password", "password": {"secret": "PW", "set": True}}}
    }
    assert update.written == {"ftp.auth.password": ("PW", SECRET)}
    assert update.present == {"ftp.auth.password"}
    # A later patch that leaves the secret alone keeps it; null removes it.
    kept = patcher.apply(update.settings, {"ftp": {"port": 22}})
    assert kept.written == {} and kept.present == {"ftp.auth.password"}
    removed = patcher.apply(update.settings, {"ftp": {"auth": {"password": None}}})
    assert removed.present == frozenset()
    assert removed.settings == {"ftp": {"auth": {"method": "password"}}}


def test_a_secret_is_replaced_whole_not_merged(patcher: SettingsPatcher) -> None:
    current = {"ftp": {"pgp_public_key": {"secret": "OLD", "set": True}}}
    update = patcher.apply(current, {"ftp": {"pgp_public_key": {"secret": "NEW", "value": "k"}}})
    assert update.settings == {"ftp": {"pgp_public_key": {"secret": "NEW", "set": True}}}


@pytest.mark.parametrize(
    "written",
    [
        SECRET,  # the value written as a literal
        {"secret": "PW"},  # no value
        {"value": SECRET},  # no name
        {"secret": "PW", "set": True},  # the read form
        {"secret": "PW", "value": ""},
        {"secret": "PW", "value": 5},
        {"secret": "PW", "value": SECRET, "extra": SECRET},
    ],
)
def test_malformed_secret_writes_are_refused_without_echoing(
    patcher: SettingsPatcher, written: Any
) -> None:
    errors = _errors(patcher, {}, {"ftp": {"auth": {"password": written}}})
    assert [e.path for e in errors] == ["ftp.auth.password"]
    assert SECRET not in repr(errors)


def test_secret_name_is_checked_by_the_schema(patcher: SettingsPatcher) -> None:
    errors = _errors(patcher, {}, {"ftp": {"pgp_public_key": {"secret": "lower", "value": SECRET}}})
    assert [e.path for e in errors] == ["ftp.pgp_public_key.secret"]
    assert SECRET not in repr(errors)


def test_every_invalid_field_is_reported(patcher: SettingsPatcher) -> None:
    errors = _errors(
        patcher,
        {"ftp": {"port": 22}},
        {
            "ftp": {"port": 0, "protocol": "scp", "colour": "red"},
            "invoicing": {"purge_after_days": 1},
            "bogus": {},
        },
    )
    assert [e.path for e in errors] == [
        "bogus",
        "ftp.colour",
        "ftp.port",
        "ftp.protocol",
        "invoicing.purge_after_days",
    ]
    assert next(e for e in errors if e.path == "bogus").message == "unknown field"


def test_formats_are_checked(patcher: SettingsPatcher) -> None:
    errors = _errors(patcher, {}, {"ftp": {"host": "not a host!"}})
    assert [e.path for e in errors] == ["ftp.host"]


@pytest.mark.parametrize("patch", [[], "x", 5, None])
def test_patch_must_be_an_object(patcher: SettingsPatcher, patch: Any) -> None:
    assert [e.path for e in _errors(patcher, {}, patch)] == [""]


# Keywords that would make a field's validity depend on other fields.
NON_LOCAL = {
    "required",
    "dependentRequired",
    "dependentSchemas",
    "if",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "minProperties",
    "maxProperties",
    "unevaluatedProperties",
}


def test_partial_settings_have_no_cross_field_rules(schemas: Schemas) -> None:
    """Why validating the patch alone is enough (see ``patching``): no partial shape
    has a rule spanning fields, except inside a secret, which is replaced whole."""
    defs = schemas.documents["settings"]["$defs"]
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                # A string field's own character rule is local: it sees only the string.
                if key == "not" and value == CONTROL_RULE:
                    continue
                if key in NON_LOCAL:
                    found.append(f"{where}/{key}")
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for name, definition in defs.items():
        if name != "secret":
            walk(definition, name)
    assert found == []
    secret_refs = {path for path in schemas.secret_paths if schemas.field_schema(path) is not None}
    assert secret_refs == schemas.secret_paths


def test_untouched_fields_are_not_revalidated(patcher: SettingsPatcher) -> None:
    """A value stored before a schema change does not block patches of other fields."""
    update = patcher.apply({"ftp": {"port": 0}}, {"ftp": {"host": "sftp.example.com"}})
    assert update.settings == {"ftp": {"port": 0, "host": "sftp.example.com"}}
