"""``onboarding.billers_view`` reads only what it needs from a CRM that holds other
products' billers too, and still tells a mismatch from a missing profile (through the
in-memory CRM of ``tests.fakes``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from int360apply import onboarding, planner
from int360apply.config import Config
from int360apply.crm import Profile
from int360apply.fleet_view import Filters
from int360apply.load import load_config
from int360apply.repo import Repo
from tests.fakes import FakeCrm

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Three BS&A files (93) and one Harris AUS file (64)."""
    root = tmp_path_factory.mktemp("onboarding")
    for folder in ("schemas", "partners"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "billers").mkdir()
    for bid in (200145, 200388, 201022, 300210):
        shutil.copy2(ROOT / "billers" / f"{bid}.yaml", root / "billers" / f"{bid}.yaml")
    return load_config(Repo(root))


def crm(*profiles: Profile) -> FakeCrm:
    fake = FakeCrm()
    for profile in profiles:
        fake.add(profile, {})
    return fake


def states(view: onboarding.FleetView) -> dict[int, str]:
    return {r.bid: r.state for r in view.rows}


def test_a_partner_lists_its_ids_and_looks_up_only_its_files_not_found(config: Config) -> None:
    fake = crm(
        Profile(200145, "Maple Grove", 93),
        Profile(200388, "Lakeport", 77777),  # a BS&A file on another product's ID
        Profile(300210, "Brookhaven", 64),
        Profile(900001, "Unmanaged BS&A", 93),
        *(Profile(800000 + i, f"Parking {i}", 77777) for i in range(500)),
    )
    view = onboarding.billers_view(config, fake, Filters(partner="bsa"))
    assert states(view) == {
        200145: "managed",
        200388: "mismatch",
        201022: "no-profile",
        900001: "unmanaged",
    }
    assert "(no partner of this repository)" in view.rows[1].hint
    # one listing of 93, then 200388 and 201022 by BID; never the 500 others
    assert fake.calls == ["list_billers", "get_biller", "get_biller"]


def test_unmanaged_needs_no_lookup(config: Config) -> None:
    fake = crm(Profile(900001, "Unmanaged BS&A", 93))
    view = onboarding.billers_view(config, fake, Filters(partner="bsa", unmanaged=True))
    assert states(view) == {900001: "unmanaged"}
    assert fake.calls == ["list_billers"]


def test_many_files_without_a_listed_profile_list_everything_once(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planner, "PROFILE_LIST_THRESHOLD", 1)  # the lookup the planner uses
    fake = crm(Profile(200388, "Lakeport", 77777))
    view = onboarding.billers_view(config, fake, Filters(partner="bsa"))
    assert states(view) == {200145: "no-profile", 200388: "mismatch", 201022: "no-profile"}
    assert fake.calls == ["list_billers", "list_billers"]


def test_no_filter_lists_every_partner_id(config: Config) -> None:
    fake = crm(Profile(300210, "Brookhaven", 64))
    onboarding.billers_view(config, fake, Filters())
    ids = {iid for p in config.partners.values() for iid in p.integrator_ids}
    assert fake.calls.count("list_billers") == len(ids)
    assert fake.calls.count("get_biller") == 3  # the BS&A files, found under no ID
