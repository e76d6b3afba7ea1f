"""The shipped data: the 18 partners of FIELDS.md, the sample fleet, secrets only by name."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from int360apply.yamlio import parse

if TYPE_CHECKING:
    from conftest import TmpRepo

REPO = Path(__file__).resolve().parents[1]
GROUPS = ("advanced", "ftp", "data_pump", "invoicing")

# FIELDS.md "Partner slugs" and SPEC §2: slug -> (integrator IDs, integration type, CRM name).
PARTNERS: dict[str, tuple[tuple[int, ...], str, str]] = {
    "bsa": ((93,), "batch", "BS&A"),
    "imt-mips-apps-v1": ((159,), "batch", "IMT v1 MIPS/APPS"),
    "imt-spectrum": ((195,), "batch", "IMT Spectrum"),
    "harris-flexbill-v1": ((100,), "batch", "Harris Flexbill v1"),
    "ssi-egov-v1": ((96,), "batch", "SSI EGov v1"),
    "watersmart": ((119,), "batch", "WaterSmart"),
    "caselle-realtime-utility": ((174,), "real_time", "Caselle Real-Time Utility"),
    "caselle-batch-utility": ((175, 201), "batch", "Caselle Batch Utility"),
    "southern-software-v1": ((92,), "batch", "Southern Software v1"),
    "muni-link-realtime-v1": ((203,), "real_time", "Muni-Link Real-Time v1"),
    "delphi-batch": ((141,), "batch", "Delphi Technologies Batch"),
    "esc": ((218,), "batch", "ESC"),
    "sprypoint-v1": ((158,), "batch", "SpryPoint v1"),
    "locis-batch-v1": ((180,), "batch", "LOCiS Batch v1"),
    "daffron": ((79,), "batch", "Daffron"),
    "vertex-one": ((255,), "batch", "Vertex One"),
    "harris-aus": ((64,), "batch", "Harris Advanced Utility Systems"),
    "frey": ((236,), "batch", "FREY Municipal Software"),
}
SECRET_PATHS = {
    ("ftp", "auth", "password"),
    ("ftp", "auth", "private_key"),
    ("ftp", "pgp_public_key"),
}
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
KEY_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|PGP)")


def read(path: Path) -> dict[str, Any]:
    return parse(path.read_bytes())


PARTNER_FILES = sorted(p for p in (REPO / "partners").glob("*.yaml") if p.name != "_defaults.yaml")
BILLER_FILES = sorted((REPO / "billers").glob("*.yaml"))
PARTNER_DATA = {p.stem: read(p) for p in PARTNER_FILES}
BILLER_DATA = {p.name: read(p) for p in BILLER_FILES}
DEFAULTS = read(REPO / "partners" / "_defaults.yaml")


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


# --- partners ------------------------------------------------------------------------


def test_the_18_partners_ship_with_their_slugs() -> None:
    assert set(PARTNER_DATA) == set(PARTNERS)
    assert len(PARTNER_DATA) == 18


@pytest.mark.parametrize("slug", sorted(PARTNERS))
def test_partner_slug_ids_and_name(slug: str) -> None:
    data = PARTNER_DATA[slug]
    ids, _, name = PARTNERS[slug]
    assert data["slug"] == slug
    assert tuple(data["integrator_ids"]) == ids
    assert normalise(data["name"]) == normalise(name)


def test_integrator_ids_are_unique_across_partners() -> None:
    counts = Counter(i for data in PARTNER_DATA.values() for i in data["integrator_ids"])
    assert [i for i, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("slug", sorted(PARTNERS))
def test_integration_type_and_lock(slug: str) -> None:
    data = PARTNER_DATA[slug]
    kind = PARTNERS[slug][1]
    effective = (data["settings"].get("advanced") or {}).get(
        "integration_type", DEFAULTS["settings"]["advanced"]["integration_type"]
    )
    assert effective == kind
    if kind == "real_time":
        assert "advanced.integration_type" in data.get("locked", [])
        assert data["settings"]["advanced"]["integration_type"] == "real_time"


def test_partner_templates_differ_where_the_systems_do() -> None:
    """Export format/layout, import format, schedules: not one template copied 18 times."""

    def get(data: dict[str, Any], group: str, field: str) -> Any:
        own = (data["settings"].get(group) or {}).get(field)
        return own if own is not None else DEFAULTS["settings"][group].get(field)

    for group, field, at_least in [
        ("data_pump", "layout", 18),
        ("data_pump", "format", 3),
        ("data_pump", "schedule", 3),
        ("invoicing", "import_format", 3),
        ("invoicing", "pdf_presentment", 2),
    ]:
        values = {str(get(d, group, field)) for d in PARTNER_DATA.values()}
        assert len(values) >= at_least, (group, field, values)


# --- billers -------------------------------------------------------------------------


def test_at_least_40_billers() -> None:
    assert len(BILLER_FILES) >= 40


def test_every_partner_has_a_biller() -> None:
    used = {data["partner"] for data in BILLER_DATA.values()}
    assert used == set(PARTNERS)


@pytest.mark.parametrize("integrator_id", [175, 201])
def test_a_caselle_batch_biller_on_each_id(integrator_id: int) -> None:
    assert any(
        data["partner"] == "caselle-batch-utility" and data.get("integrator_id") == integrator_id
        for data in BILLER_DATA.values()
    )


@pytest.mark.parametrize("group", GROUPS)
def test_overrides_in_every_group_somewhere(group: str) -> None:
    assert any((data.get("overrides") or {}).get(group) for data in BILLER_DATA.values())


def test_some_biller_removes_an_inherited_value_with_null() -> None:
    def has_null(node: Any) -> bool:
        return isinstance(node, dict) and any(v is None or has_null(v) for v in node.values())

    assert any(has_null(data.get("overrides") or {}) for data in BILLER_DATA.values())


def test_bids_are_unique_and_match_the_file_names() -> None:
    bids = [data["bid"] for data in BILLER_DATA.values()]
    assert len(bids) == len(set(bids))
    for name, data in BILLER_DATA.items():
        assert re.match(rf"^{data['bid']}(-[a-z0-9][a-z0-9-]*)?\.yaml$", name), name


# --- secrets -------------------------------------------------------------------------


def _walk(node: Any, path: tuple[Any, ...] = ()) -> Any:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


ALL_FILES = {
    **{f"partners/{p.name}": (PARTNER_DATA[p.stem], "settings") for p in PARTNER_FILES},
    **{f"billers/{name}": (data, "overrides") for name, data in BILLER_DATA.items()},
    "partners/_defaults.yaml": (DEFAULTS, "settings"),
}


@pytest.mark.parametrize("rel", sorted(ALL_FILES))
def test_secrets_only_as_secret_references(rel: str) -> None:
    data, at = ALL_FILES[rel]
    for path, value in _walk(data.get(at) or {}):
        if path in SECRET_PATHS and value is not None:
            assert isinstance(value, dict) and set(value) == {"secret"}, (rel, path)
            assert SECRET_NAME.match(value["secret"]), (rel, path)
        if isinstance(value, str):
            assert not KEY_BLOCK.search(value), (rel, path)
    raw = (REPO / rel).read_text(encoding="utf-8")
    assert not KEY_BLOCK.search(raw), rel  # not even in a comment


def test_some_biller_uses_each_kind_of_secret() -> None:
    used = {
        path
        for data in BILLER_DATA.values()
        for path, value in _walk(data.get("overrides") or {})
        if path in SECRET_PATHS and isinstance(value, dict)
    }
    assert used == SECRET_PATHS


# --- editor support ------------------------------------------------------------------


@pytest.mark.parametrize("rel", sorted(ALL_FILES))
def test_files_start_with_their_schema_line(rel: str) -> None:
    kind = "defaults" if rel.endswith("_defaults.yaml") else rel.split("/")[0].rstrip("s")
    first = (REPO / rel).read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../schemas/{kind}.schema.json"


# --- int360 partners -------------------------------------------------------------------


def test_partners_command_lists_slug_name_ids_and_biller_count(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("partners")
    assert result.code == 0
    header, *rows = result.lines
    assert header.split() == ["SLUG", "NAME", "INTEGRATOR", "IDS", "BILLERS"]
    assert len(rows) == 18
    by_slug = {row.split()[0]: row for row in rows}
    assert set(by_slug) == set(PARTNERS)
    # the copy holds two Caselle Batch billers, one real-time one and one BS&A one
    counts = Counter(read(p)["partner"] for p in (tmp_repo.root / "billers").glob("*.yaml"))
    for slug, row in by_slug.items():
        assert row.split()[-1] == str(counts.get(slug, 0)), row
        assert PARTNER_DATA[slug]["name"] in row
    assert "175, 201" in by_slug["caselle-batch-utility"]
