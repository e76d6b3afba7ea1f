"""The applier through an in-memory CRM (``tests/fakes.py``): writes, races, guard, notes."""

from __future__ import annotations

from typing import Any

import pytest

from int360apply.apply import ApplyOptions, apply_plan
from int360apply.config import Config
from int360apply.guard import GuardLimits, GuardRefused
from int360apply.load import load_config
from int360apply.plan import Change
from int360apply.planner import build_plan
from int360apply.repo import Repo
from int360apply.scope import Scope
from tests.fakes import FakeCrm
from tests.test_planner import in_sync

BID = 200145
LABEL = "advanced.account_number_label"


@pytest.fixture
def config(tmp_repo: Any) -> Config:
    return load_config(Repo(tmp_repo.root))


def _drifted(config: Config) -> FakeCrm:
    crm = in_sync(config, BID)
    crm.settings[BID]["advanced"]["account_number_label"] = "Account"
    return crm


def test_a_planned_change_is_written_with_an_audit_note(config: Config) -> None:
    crm = _drifted(config)
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit="abc123")
    report = apply_plan(plan, crm, ApplyOptions(actor="Pat"), config)
    assert report.ok and report.summary["applied"] == 1
    assert crm.settings[BID]["advanced"]["account_number_label"] == "Parcel Number"
    (note,) = crm.notes[BID]
    assert note.author == "Pat" and note.commit == "abc123" and note.paths == (LABEL,)
    again = build_plan(config, Scope({BID}), crm, crm="fake", commit="abc123")
    assert again.summary["change"] == 0


def test_a_fresh_plan_that_raced_another_writer_is_planned_again_once(config: Config) -> None:
    crm = _drifted(config)
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    crm.touch(BID)
    report = apply_plan(plan, crm, ApplyOptions(), config)
    assert [o.status for o in report.outcomes] == ["applied"]
    assert crm.calls.count("patch_settings") == 2
    assert crm.settings[BID]["advanced"]["account_number_label"] == "Parcel Number"


def test_a_saved_plan_on_a_moved_biller_is_stale_and_writes_nothing(config: Config) -> None:
    crm = _drifted(config)
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    crm.touch(BID)
    report = apply_plan(plan, crm, ApplyOptions(from_file=True), config)
    (outcome,) = report.outcomes
    assert outcome.status == "stale" and outcome.errors[0]["code"] == "stale"
    assert not report.ok
    assert crm.settings[BID]["advanced"]["account_number_label"] == "Account"
    assert BID not in crm.notes


def test_the_guard_refuses_more_changed_billers_than_allowed(config: Config) -> None:
    crm = _drifted(config)
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    plan.raise_if_unsafe(len(config.billers), GuardLimits(max_billers=1))
    with pytest.raises(GuardRefused, match="--max-billers 0") as refused:
        plan.raise_if_unsafe(len(config.billers), GuardLimits(max_billers=0))
    assert refused.value.plan is plan
    # apply_plan holds the plan's guard itself, before any write.
    with pytest.raises(GuardRefused):
        apply_plan(plan, crm, ApplyOptions(limits=GuardLimits(max_billers=0)), config)
    assert "patch_settings" not in crm.calls
    # ...except on the embedded sandbox.
    options = ApplyOptions(limits=GuardLimits(max_billers=0), embedded=True)
    assert apply_plan(plan, crm, options, config).summary["applied"] == 1


def test_a_biller_found_stale_before_writing_is_reported_and_never_patched(
    config: Config,
) -> None:
    crm = _drifted(config)
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    report = apply_plan(plan, crm, ApplyOptions(from_file=True), config, stale={BID: "moved"})
    (outcome,) = report.outcomes
    assert outcome.status == "stale" and outcome.errors[0]["code"] == "stale"
    assert report.status == "failed" and "patch_settings" not in crm.calls


def test_an_unchanged_biller_is_reported_and_never_patched(config: Config) -> None:
    crm = in_sync(config, BID)
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    report = apply_plan(plan, crm, ApplyOptions(), config)
    assert [o.status for o in report.outcomes] == ["unchanged"]
    assert "patch_settings" not in crm.calls


def test_a_planning_error_is_a_failed_outcome_with_its_code(config: Config) -> None:
    plan = build_plan(config, Scope({BID}), FakeCrm(), crm="fake", commit=None)
    report = apply_plan(plan, FakeCrm(), ApplyOptions(), config)
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and outcome.errors[0]["code"] == "unknown-biller"


def test_one_billers_unexpected_failure_is_contained_and_reported(config: Config) -> None:
    """An entry that sets ``advanced`` to a scalar and a leaf below it (no merge patch says
    both): that biller fails with the reason and nothing is written for it."""
    crm = _drifted(config)
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit=None)
    plan.billers[0].changes.insert(0, Change("advanced", None, 5))
    report = apply_plan(plan, crm, ApplyOptions(), config)
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and outcome.errors[0]["code"] == "internal-error"
    assert "patch_settings" not in crm.calls


def test_a_note_the_crm_refuses_after_the_write_is_a_warning_of_the_run(config: Config) -> None:
    from int360apply.crm import AuditNote, Note
    from int360apply.crm.errors import CrmError
    from int360apply.crm.port import PatchRequest
    from int360apply.crm.results import PatchResult

    class NoteRefused(FakeCrm):
        def patch_settings(self, request: PatchRequest) -> PatchResult:
            result = super().patch_settings(request._replace(note=None))
            return result._replace(note_id=None)  # as when the note is too long for a header

        def add_note(self, bid: int, note: AuditNote) -> Note:
            raise CrmError("POST /billers/200145/notes: HTTP 500")

    crm = NoteRefused()
    crm.__dict__.update(_drifted(config).__dict__)  # the same CRM state, notes refused
    plan = build_plan(config, Scope({BID}), crm, crm="fake", commit="abc123")
    report = apply_plan(plan, crm, ApplyOptions(), config)
    assert report.ok and report.summary["applied"] == 1, "the settings were written"
    assert report.warnings == [
        f"biller {BID}: audit note not written: POST /billers/200145/notes: HTTP 500"
    ]
