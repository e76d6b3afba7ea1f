"""The committed OpenAPI contract: well-formed, in step with the settings schema, and
honoured by the live sandbox (Schemathesis, bounded so the suite stays fast)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from int360apply.crm import Profile
from int360apply.crm.sandbox.faults import FaultConfig
from int360apply.crm.sandbox.server import SandboxServer, start_background
from int360apply.schemas import Schemas

from .conftest import PROFILES, READ, SCHEMA_DIR, WRITE, MakeSandbox

pytestmark = pytest.mark.slow  # schemathesis drives the sandbox through the whole contract

CONTRACT = SCHEMA_DIR / "crm-api.openapi.yaml"
SETTINGS_REF = "./settings.schema.json#/$defs/"


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    return loaded


def test_contract_is_valid_openapi_3_1(contract: dict[str, Any]) -> None:
    # The OpenAPI 3.1 metaschema as Schemathesis ships it.
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    assert contract["openapi"].startswith("3.1.")
    errors = list(jsonschema.Draft202012Validator(OPENAPI_31).iter_errors(contract))
    assert not errors, [e.message for e in errors[:5]]


def test_every_call_of_the_spec_is_in_the_contract(contract: dict[str, Any]) -> None:
    operations = {
        (method.upper(), path)
        for path, item in contract["paths"].items()
        for method in item
        if method in ("get", "patch", "post", "put", "delete")
    }
    assert operations == {
        ("GET", "/billers"),
        ("GET", "/billers/{bid}"),
        ("GET", "/billers/{bid}/settings"),
        ("PATCH", "/billers/{bid}/settings"),
        ("GET", "/settings"),
        ("GET", "/billers/{bid}/notes"),
        ("POST", "/billers/{bid}/notes"),
    }
    assert not any(path.startswith("/_sandbox") for path in contract["paths"])


def _ftp_secret_forms(contract: dict[str, Any], read: str) -> dict[tuple[str, ...], str]:
    """Secret paths under ftp in the contract's read or patch form → the secret schema used."""
    components = contract["components"]["schemas"]
    found: dict[tuple[str, ...], str] = {}

    def walk(name: str, path: tuple[str, ...]) -> None:
        for field, sub in components[name]["properties"].items():
            ref = sub.get("$ref", "")
            target = ref.rsplit("/", 1)[-1]
            if target in ("SecretRead", "SecretWrite"):
                found[(*path, field)] = target
            elif ref.startswith("#/components/schemas/"):
                walk(target, (*path, field))

    walk(read, ("ftp",))
    return found


def test_secret_fields_match_the_settings_schema(
    contract: dict[str, Any], schemas: Schemas
) -> None:
    """Every writeOnly field of the settings schema, and only those, has the secret forms."""
    assert set(_ftp_secret_forms(contract, "Ftp")) == set(schemas.secret_paths)
    assert set(_ftp_secret_forms(contract, "Ftp").values()) == {"SecretRead"}
    assert set(_ftp_secret_forms(contract, "FtpPatch")) == set(schemas.secret_paths)
    assert set(_ftp_secret_forms(contract, "FtpPatch").values()) == {"SecretWrite"}
    # If a group other than ftp ever gets a secret, the contract must say so.
    assert {p[0] for p in schemas.secret_paths} == {"ftp"}


def test_ftp_fields_match_the_settings_schema(contract: dict[str, Any], schemas: Schemas) -> None:
    """The ftp group is spelled out field by field (for the secrets); no field may drift."""
    settings = schemas.documents["settings"]["$defs"]
    components = contract["components"]["schemas"]
    for name in ("Ftp", "FtpPatch"):
        assert set(components[name]["properties"]) == set(settings["ftp"]["properties"])
        for field, sub in components[name]["properties"].items():
            if (("ftp", field)) not in schemas.secret_paths and field != "auth":
                assert sub == {"$ref": f"{SETTINGS_REF}ftp/properties/{field}"}
    auth = settings["ftp"]["properties"]["auth"]["properties"]
    for name in ("FtpAuth", "FtpAuthPatch"):
        assert set(components[name]["properties"]) == set(auth)
    for name in ("Settings", "SettingsPatch"):
        groups = components[name]["properties"]
        assert set(groups) == set(settings["partial_settings"]["properties"])
        for group in ("advanced", "data_pump", "invoicing"):
            assert groups[group] == {"$ref": f"{SETTINGS_REF}{group}"}


# -- Schemathesis against the live sandbox --------------------------------------

# Seeded so that the contract's example BID (100001) exists and plenty of others do.
LIVE_PROFILES = [*PROFILES, *(Profile(500000 + i, f"Biller {i}", 93) for i in range(150))]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, schemas: Schemas) -> Iterator[SandboxServer]:
    db = tmp_path_factory.mktemp("contract") / "sandbox.sqlite"
    server = start_background(db, LIVE_PROFILES, schemas=schemas, tokens=[READ, WRITE])
    yield server
    server.stop()


# Loaded at import (Schemathesis parametrizes at collection); the sandbox's URL, known
# only once it runs, is given per call.
CONTRACT_SCHEMA = schemathesis.openapi.from_path(
    CONTRACT,
    config=SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"bearerAuth": {"bearer": WRITE.value}}},
            "generation": {"max-examples": 12, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            # A missing If-Match is 428 Precondition Required (RFC 6585), as documented.
            "checks": {
                "missing_required_header": {
                    "expected-statuses": [400, 401, 403, 406, 415, 422, 428]
                }
            },
        }
    ),
)


@CONTRACT_SCHEMA.parametrize()
def test_sandbox_honours_the_contract(case: schemathesis.Case[Any], live: SandboxServer) -> None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and case.method == "PATCH" and case.path_parameters:
        # A made-up ETag is stale (412); to exercise real writes, valid cases patch
        # from the current one, as a client does.
        current = requests.get(
            f"{live.url}/billers/{case.path_parameters['bid']}/settings",
            headers={"Authorization": f"Bearer {READ.value}"},
            timeout=5,
        )
        if current.status_code == 200:
            case.headers["If-Match"] = current.headers["ETag"]
    # A cursor is opaque: one the server never issued is rightly refused (400), even
    # though any string fits its schema.
    made_up_cursor = bool(case.query and "cursor" in case.query)
    case.call_and_validate(
        base_url=live.url,
        excluded_checks=[positive_data_acceptance] if made_up_cursor else [],
    )


# Example requests, one per operation, for checking the sandbox's fault responses.
_EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/billers"): {},
    ("GET", "/billers/{bid}"): {"path_parameters": {"bid": PROFILES[0].bid}},
    ("GET", "/billers/{bid}/settings"): {"path_parameters": {"bid": PROFILES[0].bid}},
    ("PATCH", "/billers/{bid}/settings"): {
        "path_parameters": {"bid": PROFILES[0].bid},
        "headers": {"If-Match": '"1"'},
        "body": {},
    },
    ("GET", "/settings"): {"query": {"bid": [PROFILES[0].bid]}},
    ("GET", "/billers/{bid}/notes"): {"path_parameters": {"bid": PROFILES[0].bid}},
    ("POST", "/billers/{bid}/notes"): {
        "path_parameters": {"bid": PROFILES[0].bid},
        "body": {"text": "x"},
    },
}


@pytest.mark.parametrize("kind", ["unavailable", "rate_limited"])
def test_fault_responses_honour_the_contract(make_sandbox: MakeSandbox, kind: str) -> None:
    """429 and 503 from the fault injector are documented, with Retry-After, for every call."""
    server = make_sandbox(faults=FaultConfig(fail_rate=1.0, kinds=(kind,), retry_after=1))
    checks = [
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    seen = set()
    for result in CONTRACT_SCHEMA.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        case = operation.Case(**_EXAMPLES[key])
        response = case.call_and_validate(base_url=server.url, checks=checks)
        assert response.status_code == (503 if kind == "unavailable" else 429)
        seen.add(key)
    assert seen == set(_EXAMPLES)
