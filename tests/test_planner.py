"""The planner through an in-memory CRM (``tests/fakes.py``): what it reads and what it plans."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from int360apply.config import Config
from int360apply.crm import Profile
from int360apply.load import LoadOptions, load_config
from int360apply.planner import PROFILE_LIST_THRESHOLD, build_plan, read_profiles
from int360apply.repo import Repo
from int360apply.scope import Scope
from int360apply.secrets import with_references
from tests.fakes import FakeCrm

BID = 200145  # bsa, integrator ID 93


@pytest.fixture
def config(tmp_repo: Any) -> Config:
    return load_config(Repo(tmp_repo.root))


def in_sync(config: Config, *bids: int) -> FakeCrm:
    """A fake CRM holding exactly the desired settings of ``bids``, in the CRM's read form."""
    crm = FakeCrm()
    for bid in bids:
        biller = config.billers[bid]
        partner = config.partners[biller.partner]
        iid = biller.integrator_id or partner.integrator_ids[0]
        live = with_references(config.desired(biller), config.schemas.secret_paths, read_form=True)
        crm.add(Profile(bid, biller.name, iid), live)
    return crm


def test_a_crm_holding_the_desired_settings_plans_no_change(config: Config) -> None:
    crm = in_sync(config, *config.billers)
    plan = build_plan(config, Scope(set(config.billers)), crm, crm="fake", commit="c0ffee")
    assert {b.status for b in plan.billers} == {"unchanged"}
    assert plan.summary["change"] == 0
    assert plan.crm == "fake" and plan.commit == "c0ffee"
    assert "patch_settings" not in crm.calls


def test_a_live_value_that_differs_is_one_change_with_the_etag_read(config: Config) -> None:
    crm = in_sync(config, BID)
    crm.settings[BID]["advanced"]["account_number_label"] = "Account"
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    (entry,) = plan.billers
    assert entry.status == "change"
    assert [c.path for c in entry.changes] == ["advanced.account_number_label"]
    assert (entry.changes[0].before, entry.changes[0].after) == ("Account", "Parcel Number")
    assert entry.etag == crm.etag(BID)


def test_a_biller_the_crm_does_not_know_is_an_error_naming_its_file(config: Config) -> None:
    plan = build_plan(config, Scope({BID}), FakeCrm(), crm="fake", commit=None)
    (entry,) = plan.billers
    assert entry.status == "error"
    assert entry.errors[0].code == "unknown-biller"
    assert "billers/200145.yaml" in entry.errors[0].message
    assert plan.summary["error"] == 1


def test_a_profile_on_another_integrator_id_is_an_error_naming_both(config: Config) -> None:
    crm = in_sync(config, BID)
    crm.profiles[BID] = Profile(BID, "Maple Grove", 4242)
    (entry,) = build_plan(config, Scope({BID}), crm, crm="fake", commit=None).billers
    assert entry.status == "error"
    assert entry.errors[0].code == "integrator-id"
    assert "4242" in entry.errors[0].message and "93" in entry.errors[0].message


def test_on_entry_sees_every_entry_in_bid_order(config: Config) -> None:
    crm = in_sync(config, *config.billers)
    seen: list[int] = []
    build_plan(
        config,
        Scope(set(config.billers)),
        crm,
        crm="fake",
        commit=None,
        on_entry=lambda entry: seen.append(entry.bid),
    )
    assert seen == sorted(config.billers)


def test_removed_billers_are_listed_after_the_planned_ones(config: Config) -> None:
    crm = in_sync(config, BID)
    plan = build_plan(
        config, Scope({BID}, removed={999001: "billers/999001.yaml"}), crm, crm="fake", commit=None
    )
    assert [(b.bid, b.status) for b in plan.billers] == [(BID, "unchanged"), (999001, "removed")]


def test_profiles_are_read_one_by_one_for_few_billers_and_listed_for_many() -> None:
    crm = FakeCrm()
    for bid in range(1, PROFILE_LIST_THRESHOLD + 3):
        crm.add(Profile(bid, f"B{bid}", 7), {})
    assert set(read_profiles(crm, {1, 2, 5000})) == {1, 2}
    assert crm.calls == ["get_biller"] * 3
    crm.calls.clear()
    many = set(range(1, PROFILE_LIST_THRESHOLD + 2))
    assert set(read_profiles(crm, many)) == many
    assert crm.calls == ["list_billers"]


def test_planning_reads_and_never_writes(config: Config) -> None:
    crm = in_sync(config, BID)
    before = copy.deepcopy(crm.settings)
    crm.settings[BID]["advanced"]["max_payment_amount"] = 1
    changed = copy.deepcopy(crm.settings)
    build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    assert crm.settings == changed != before
    assert set(crm.calls) <= {"get_biller", "list_billers", "bulk_settings"}


def test_a_changed_billers_positions_are_let_go_once_its_changes_name_their_sources(
    config: Config,
) -> None:
    crm = in_sync(config, BID)
    crm.settings[BID]["advanced"]["account_number_label"] = "Account"
    doc = config.billers[BID].doc
    assert not doc.located, "loading for a plan works positions out only on demand"
    first = build_plan(config, Scope({BID}), crm, crm="fake", commit=None).billers[0].changes
    assert not doc.located, "a plan of 10,000 changing billers must not keep them all"
    again = build_plan(config, Scope({BID}), crm, crm="fake", commit=None).billers[0].changes
    assert first == again
    assert first[0].source == f"billers/{BID}.yaml:9:27"  # found from the file's positions


def test_positions_loaded_with_the_config_stay(tmp_repo: Any) -> None:
    config = load_config(Repo(tmp_repo.root), options=LoadOptions(positions=True))
    crm = in_sync(config, BID)
    crm.settings[BID]["advanced"]["account_number_label"] = "Account"
    build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    assert config.billers[BID].doc.located
