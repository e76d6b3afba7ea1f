"""The engine through an in-memory CRM (``tests/fakes.py``): apply and drift, and
``live_import``'s adopt and import."""

from __future__ import annotations

from typing import Any

import pytest

from int360apply import engine, live_import
from int360apply.apply_report import Report
from int360apply.config import Config
from int360apply.crm import Profile
from int360apply.crmconn import Crm
from int360apply.errors import EXIT_REFUSED, Failure, Reported
from int360apply.guard import GuardLimits, GuardRefused
from int360apply.plan import Change, Plan
from int360apply.repo import Repo
from int360apply.runtime import tuned
from int360apply.scope import Scope
from tests.fakes import FakeCrm
from tests.test_planner import in_sync

BID = 200145


@pytest.fixture
def repo(tmp_repo: Any) -> Repo:
    return Repo(tmp_repo.root)


@pytest.fixture
def config(repo: Repo) -> Config:
    return engine.valid_config(repo)


def _drifted(config: Config) -> Crm:
    fake = in_sync(config, *config.billers)
    fake.settings[BID]["advanced"]["account_number_label"] = "Account"
    return Crm(fake, "fake CRM", embedded=False)


def _request(scope: Scope | None, *, yes: bool, saved: Plan | None = None) -> engine.ApplyRequest:
    return engine.ApplyRequest(
        scope=scope, saved=saved, yes=yes, concurrency=2, rotate_secrets=False
    )


def _apply_saved(repo: Repo, config: Config, crm: Crm, saved: Plan) -> Report | None:
    """``apply --plan FILE --yes``: ``saved`` applied with nothing shown or asked."""
    request = _request(None, yes=True, saved=saved)
    return engine.apply(
        repo, config, crm, request, show_plan=lambda p: None, confirm=lambda c: True
    )


def test_an_invalid_repository_is_reported_with_every_problem(tmp_repo: Any) -> None:
    tmp_repo.write("billers/200145.yaml", "bid: 200145\nname: x\npartner: nobody\n")
    with pytest.raises(Reported, match="nobody"):
        engine.valid_config(Repo(tmp_repo.root))


def test_a_confirmed_apply_writes_while_planning_and_shows_the_plan(
    repo: Repo, config: Config
) -> None:
    crm = _drifted(config)
    shown: list[Plan] = []
    report = engine.apply(
        repo,
        config,
        crm,
        _request(Scope(set(config.billers)), yes=True),
        show_plan=shown.append,
        confirm=lambda count: pytest.fail("a confirmed apply asks nothing"),
    )
    assert report is not None and report.summary["applied"] == 1
    assert [p.summary["change"] for p in shown] == [1]
    assert crm.client.get_settings(BID).settings["advanced"]["account_number_label"] == (
        "Parcel Number"
    )


def test_an_apply_not_confirmed_writes_nothing(repo: Repo, config: Config) -> None:
    crm = _drifted(config)
    asked: list[int] = []
    report = engine.apply(
        repo,
        config,
        crm,
        _request(Scope({BID}), yes=False),
        show_plan=lambda plan: None,
        confirm=lambda count: asked.append(count) or False,
    )
    assert report is None and asked == [1]
    assert "patch_settings" not in crm.client.calls  # type: ignore[attr-defined]


def test_the_guard_refuses_before_any_write(repo: Repo, config: Config) -> None:
    crm = _drifted(config)
    request = engine.ApplyRequest(
        scope=Scope({BID}),
        saved=None,
        yes=True,
        limits=GuardLimits(max_billers=0),
        concurrency=2,
        rotate_secrets=False,
    )
    with pytest.raises(GuardRefused) as refused:
        engine.apply(repo, config, crm, request, show_plan=lambda p: None, confirm=lambda c: True)
    assert "patch_settings" not in crm.client.calls  # type: ignore[attr-defined]
    assert refused.value.exit_code == EXIT_REFUSED
    assert refused.value.plan is not None and [b.bid for b in refused.value.plan.changed] == [BID]
    assert refused.value.as_dict() == {
        "changing": 1,
        "managed": len(config.billers),
        "max_billers": 0,
        "max_percent": 30,
    }


def test_the_embedded_sandbox_is_exempt_from_the_guard(repo: Repo, config: Config) -> None:
    crm = _drifted(config)
    embedded = Crm(crm.client, "embedded sandbox", embedded=True)
    request = engine.ApplyRequest(
        scope=Scope({BID}),
        saved=None,
        yes=True,
        limits=GuardLimits(max_billers=0, max_percent=0),
        concurrency=2,
        rotate_secrets=False,
    )
    report = engine.apply(
        repo, config, embedded, request, show_plan=lambda p: None, confirm=lambda c: True
    )
    assert report is not None and report.summary["applied"] == 1
    assert report.guard == {
        "changing": 1,
        "managed": len(config.billers),
        "max_billers": 0,
        "max_percent": 0,
        "exempt": True,
    }


def test_a_saved_plan_of_another_crm_is_refused(repo: Repo, config: Config) -> None:
    crm = _drifted(config)
    saved = engine.plan(
        config, Scope({BID}), Crm(crm.client, "elsewhere", False), engine.Planning(None)
    )
    with pytest.raises(Failure, match='made against the CRM "elsewhere", not fake CRM'):
        _apply_saved(repo, config, crm, saved)
    assert "patch_settings" not in crm.client.calls  # type: ignore[attr-defined]


def test_a_saved_plan_writes_the_fresh_plan_and_only_when_it_matches(
    repo: Repo, config: Config
) -> None:
    crm = _drifted(config)
    saved = engine.bind(engine.plan(config, Scope({BID}), crm, engine.Planning(None)), config)
    edited = engine.bind(engine.plan(config, Scope({BID}), crm, engine.Planning(None)), config)
    edited.billers[0].changes[0] = Change("advanced.account_number_label", "Account", "Exfiltrated")
    with pytest.raises(Failure, match=r"biller 200145, advanced\.account_number_label: the saved"):
        _apply_saved(repo, config, crm, edited)
    assert "patch_settings" not in crm.client.calls  # type: ignore[attr-defined]
    report = _apply_saved(repo, config, crm, saved)
    assert report is not None and report.summary["applied"] == 1
    assert crm.client.get_settings(BID).settings["advanced"]["account_number_label"] == (
        "Parcel Number"
    )


def test_adopt_rewrites_the_drifted_file_so_drift_is_gone(repo: Repo, config: Config) -> None:
    crm = _drifted(config)
    drifted = engine.drift(config, crm, commit=None)
    assert [b.bid for b in drifted.changed] == [BID]
    assert list(live_import.adopt(config, crm, drifted)) == [("billers/200145.yaml", None, ())]
    assert "account_number_label: Account" in (repo.root / "billers/200145.yaml").read_text()
    assert engine.drift(engine.valid_config(repo), crm, commit=None).summary["change"] == 0


def test_import_writes_new_files_and_refuses_existing_ones(repo: Repo, config: Config) -> None:
    crm = _drifted(config)
    fake: FakeCrm = crm.client  # type: ignore[assignment]
    fake.add(Profile(777001, "New Town", 93), fake.settings[BID])
    fake.add(Profile(777002, "Nobody's", 4242), {})
    done = list(
        live_import.import_billers(
            config, crm, bids=[777001, BID, 777002], integrator_id=None, partner=None, force=False
        )
    )
    assert done[0] == (777001, "billers/777001.yaml", None, False, ())
    assert done[1].problem == "billers/200145.yaml: exists; pass --force to overwrite"
    assert done[2].problem is not None and "no partner has integrator ID 4242" in done[2].problem
    assert "partner: bsa" in (repo.root / "billers/777001.yaml").read_text()
    assert engine.valid_config(repo).billers[777001].name == "New Town"


def test_the_runtime_tuning_is_undone_when_its_block_ends(repo: Repo) -> None:
    import gc
    import sys

    before = sys.getswitchinterval()
    with tuned() as tuning:
        engine.valid_config(repo, tuning=tuning)
        tuning.io_bound()
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() != before
    assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("yes", [True, False], ids=["streaming", "plan-first"])
def test_each_written_outcome_reaches_finished_once_as_its_write_ends(
    repo: Repo, config: Config, yes: bool
) -> None:
    fake = in_sync(config, *config.billers)
    drifted = sorted(config.billers)[:3]
    for bid in drifted:
        fake.settings[bid].setdefault("advanced", {})["account_number_label"] = "Account"
    crm = Crm(fake, "fake CRM", embedded=False)
    seen: list[Any] = []
    request = engine.ApplyRequest(
        scope=Scope(set(config.billers)),
        saved=None,
        yes=yes,
        concurrency=2,
        rotate_secrets=False,
        limits=GuardLimits(max_billers=10, max_percent=100),
        finished=seen.append,
    )
    report = engine.apply(
        repo, config, crm, request, show_plan=lambda p: None, confirm=lambda c: True
    )
    assert report is not None and report.summary["applied"] == len(drifted)
    applied = [o for o in report.outcomes if o.status == "applied"]
    # The very objects of the report (what report_json laid out is what it writes), once each.
    assert sorted(map(id, seen)) == sorted(map(id, applied))
    assert sorted(o.bid for o in seen) == drifted
