"""``fleet_view``: CRM profiles beside biller files, over the repository's real partners."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from int360apply import fleet_view
from int360apply.config import Config
from int360apply.crm import Profile
from int360apply.fleet_view import Filters
from int360apply.load import load_config
from int360apply.repo import Repo

ROOT = Path(__file__).resolve().parents[1]
FILES = ("104233.yaml", "110392-cedar-falls.yaml", "200145.yaml", "300210.yaml")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Four biller files: two Caselle Batch (201, 175), one BS&A (93), one Harris AUS (64)."""
    root = tmp_path_factory.mktemp("fleet")
    for folder in ("schemas", "partners"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "billers").mkdir()
    for name in FILES:
        shutil.copy2(ROOT / "billers" / name, root / "billers" / name)
    return load_config(Repo(root))


PROFILES = [
    Profile(104233, "Springfield Water & Sewer", 201),  # managed (its own ID of two)
    Profile(110392, "Cedar Falls Public Works", 201),  # mismatch: the file says 175
    Profile(200145, "Maple Grove Township Treasurer", 93, "inactive"),  # managed, inactive
    # 300210 has no profile
    Profile(900001, "Oak Hollow Water District", 175),  # unmanaged Caselle Batch
    Profile(900002, "Pine Ridge Sewer Authority", 64, "inactive"),  # unmanaged, inactive
    Profile(900003, "Elsewhere Parking", 99999),  # no partner's ID: not listed
]


def by_bid(view: fleet_view.FleetView) -> dict[int, fleet_view.Row]:
    return {r.bid: r for r in view.rows}


def test_every_state_and_the_other_products_left_out(config: Config) -> None:
    rows = by_bid(fleet_view.fleet_view(config, PROFILES, Filters()))
    assert {bid: (r.state, r.inactive) for bid, r in rows.items()} == {
        104233: ("managed", False),
        110392: ("mismatch", False),
        200145: ("managed", True),
        300210: ("no-profile", False),
        900001: ("unmanaged", False),
        900002: ("unmanaged", True),
    }
    assert rows[900001].partner == "caselle-batch-utility"
    assert rows[900001].file is None
    assert rows[300210].file == "billers/300210.yaml"


def test_a_mismatch_says_where_to_fix_it(config: Config) -> None:
    row = by_bid(fleet_view.fleet_view(config, PROFILES, Filters()))[110392]
    assert row.crm_integrator_id == 201
    assert row.expected_ids == (175,)
    assert "Biller Info → CRM Profile → Integration Partner ID" in row.hint
    # the partner: line of the file, with its line number
    assert "partner: line (billers/110392-cedar-falls.yaml:4)" in row.hint
    assert "integrator ID 201 (partner caselle-batch-utility)" in row.hint


def test_counts_per_partner(config: Config) -> None:
    view = fleet_view.fleet_view(config, PROFILES, Filters())
    counts = {slug: c.as_dict() for slug, c in view.counts.items()}
    assert counts["caselle-batch-utility"] == {
        "managed": 1,
        "unmanaged": 1,
        "no_profile": 0,
        "mismatch": 1,
        "inactive": 0,
    }
    assert counts["bsa"]["managed"] == 1 and counts["bsa"]["inactive"] == 1
    assert counts["harris-aus"] == {
        "managed": 0,
        "unmanaged": 1,
        "no_profile": 1,
        "mismatch": 0,
        "inactive": 1,
    }
    assert view.total.as_dict() == {
        "managed": 2,
        "unmanaged": 2,
        "no_profile": 1,
        "mismatch": 1,
        "inactive": 2,
    }


@pytest.mark.parametrize(
    ("filters", "bids"),
    [
        (Filters(partner="caselle-batch-utility"), {104233, 110392, 900001}),
        (Filters(integrator_id=175), {110392, 900001}),
        (Filters(integrator_id=201), {104233, 110392}),
        (Filters(name="WATER"), {104233, 300210, 900001}),
        (Filters(unmanaged=True), {900001, 900002}),
        (Filters(partner="caselle-batch-utility", unmanaged=True), {900001}),
        (Filters(name="no such town"), set()),
    ],
)
def test_filters(config: Config, filters: Filters, bids: set[int]) -> None:
    assert set(by_bid(fleet_view.fleet_view(config, PROFILES, filters))) == bids


def test_partner_filter_finds_a_file_whose_profile_names_that_partner(config: Config) -> None:
    """A BS&A file whose CRM profile carries Harris' ID shows under either partner."""
    profiles = [Profile(200145, "Maple Grove Township Treasurer", 64)]
    for slug in ("bsa", "harris-aus"):
        rows = by_bid(fleet_view.fleet_view(config, profiles, Filters(partner=slug)))
        assert rows[200145].state == "mismatch"


def test_text_lists_rows_hints_and_counts(config: Config) -> None:
    out = fleet_view.text(fleet_view.fleet_view(config, PROFILES, Filters()))
    lines = out.splitlines()
    assert lines[0].split() == ["BID", "NAME", "PARTNER", "CRM", "ID", "STATE", "FILE"]
    row = next(line for line in lines if line.startswith("900002"))
    assert "Pine Ridge Sewer Authority" in row and "unmanaged (inactive)" in row
    assert any(line.startswith("110392: the CRM profile has integrator ID 201") for line in lines)
    assert any(line.startswith("300210: the CRM has no biller 300210") for line in lines)
    total = next(line for line in lines if line.startswith("total"))
    assert total.split() == ["total", "2", "2", "1", "1", "2"]
    assert "Elsewhere Parking" not in out


def test_markdown_escapes_and_counts(config: Config) -> None:
    profiles = [Profile(900010, "Water | Sewer", 93), Profile(900011, "<b>@team</b>", 93)]
    out = fleet_view.markdown(fleet_view.fleet_view(config, profiles, Filters(unmanaged=True)))
    assert "| 900010 | Water \\| Sewer | bsa | 93 | unmanaged | — |" in out
    assert "| **total** | 0 | 2 | 0 | 0 | 0 |" in out
    assert "<b>" not in out and "@team" not in out


def test_json(config: Config) -> None:
    doc = json.loads(fleet_view.as_json(fleet_view.fleet_view(config, PROFILES, Filters())))
    first = doc["billers"][0]
    assert first == {
        "bid": 104233,
        "name": "Springfield Water & Sewer",
        "partner": "caselle-batch-utility",
        "state": "managed",
        "inactive": False,
        "crm_integrator_id": 201,
        "expected_integrator_ids": [201],
        "file": "billers/104233.yaml",
        "hint": None,
    }
    assert doc["total"]["unmanaged"] == 2
    assert set(doc["partners"]) == set(config.partners), "unfiltered: every partner counted"
    assert doc["partners"]["watersmart"] == dict.fromkeys(
        ("managed", "unmanaged", "no_profile", "mismatch", "inactive"), 0
    )
    unmanaged = json.loads(
        fleet_view.as_json(fleet_view.fleet_view(config, PROFILES, Filters(unmanaged=True)))
    )
    assert set(unmanaged["partners"]) == {"caselle-batch-utility", "harris-aus"}


def test_nothing_matches(config: Config) -> None:
    view = fleet_view.fleet_view(config, PROFILES, Filters(name="zzz"))
    assert fleet_view.text(view) == "No billers match.\n"
    assert json.loads(fleet_view.as_json(view))["billers"] == []


def test_asking_for_an_id_no_partner_has_shows_its_profiles(config: Config) -> None:
    view = fleet_view.fleet_view(config, PROFILES, Filters(integrator_id=99999))
    (row,) = view.rows
    assert (row.bid, row.partner, row.state) == (900003, "-", "unmanaged")
    out = fleet_view.text(view)
    assert "900003: no partner of this repository has integrator ID 99999" in out
    assert json.loads(fleet_view.as_json(view))["billers"][0]["partner"] is None
