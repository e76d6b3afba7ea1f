"""adopt.py: biller files written from live settings (import, drift --adopt), or why not."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from int360apply import engine
from int360apply.adopt import (
    AdoptError,
    adopt,
    import_file,
    minimal_overrides,
    shared_drift,
)
from int360apply.config import Config
from int360apply.crm import Profile
from int360apply.load import load_config
from int360apply.plan import BillerPlan, Change
from int360apply.repo import Repo


@pytest.fixture
def config(tmp_repo: Any) -> Config:
    return engine.valid_config(Repo(tmp_repo.root))


def _live(config: Config, bid: int) -> dict[str, Any]:
    """The desired settings of ``bid`` (file form of secrets): what an in-sync CRM holds."""
    return copy.deepcopy(dict(config.desired(config.billers[bid])))


def test_live_settings_equal_to_the_merge_give_back_the_file_overrides(config: Config) -> None:
    for bid in (104233, 200145):
        biller = config.billers[bid]
        assert minimal_overrides(config, biller.partner, _live(config, bid)) == biller.overrides


def test_a_live_value_on_a_locked_path_refuses(config: Config) -> None:
    live = _live(config, 200145)
    live["data_pump"]["format"] = "something-else"
    with pytest.raises(AdoptError) as caught:
        minimal_overrides(config, "bsa", live)
    assert str(caught.value) == (
        "the live value of data_pump.format differs from partner bsa's template, which "
        "locks it; change it back in the CRM or change the partner"
    )


def test_a_live_value_removed_on_a_locked_path_refuses(config: Config) -> None:
    live = _live(config, 200145)
    del live["data_pump"]["format"]
    with pytest.raises(AdoptError, match=r"data_pump\.format"):
        minimal_overrides(config, "bsa", live)


def test_adopt_rewrites_the_file_keeping_its_comments(config: Config) -> None:
    biller = config.billers[200145]
    live = _live(config, 200145)
    live["advanced"]["account_number_label"] = "Parcel ID"
    written = adopt(config, biller, live)
    assert written.reason is None and written.text is not None
    assert written.path == "billers/200145.yaml"
    assert "# Property tax only." in written.text
    assert "account_number_label: Parcel ID" in written.text
    written.write(config)
    again = load_config(config.repo)
    assert dict(again.desired(again.billers[200145])) == live


def test_adopt_refuses_a_locked_difference_without_writing(config: Config) -> None:
    before = (config.repo.root / "billers/200145.yaml").read_bytes()
    live = _live(config, 200145)
    live["invoicing"]["import_format"] = "xml"
    written = adopt(config, config.billers[200145], live)
    assert written.text is None
    assert written.reason is not None and "invoicing.import_format" in written.reason
    assert (config.repo.root / "billers/200145.yaml").read_bytes() == before


def test_adopt_refuses_a_live_state_that_would_not_validate(config: Config) -> None:
    live = _live(config, 200145)
    live["advanced"]["max_payment_amount"] = "lots"
    live["advanced"]["autopay_days_before_due"] = "soon"
    written = adopt(config, config.billers[200145], live)
    assert written.text is None
    assert written.reason is not None
    assert written.reason.startswith("the file would not validate: line ")
    assert "error[schema]" in written.reason
    assert written.reason.endswith("(and 1 more)")


def test_import_writes_a_new_valid_biller_file(config: Config) -> None:
    live = _live(config, 104233)
    written = import_file(
        config,
        Profile(300001, "New Town", 175),
        "caselle-batch-utility",
        live,
        "billers/300001.yaml",
    )
    assert written.reason is None and written.text is not None
    data = yaml.safe_load(written.text)
    assert data["bid"] == 300001
    assert data["name"] == "New Town"
    assert data["partner"] == "caselle-batch-utility"
    assert data["integrator_id"] == 175  # the partner has two: the file names its own
    assert data["overrides"] == config.billers[104233].overrides


def test_import_names_no_integrator_id_when_the_partner_has_one(config: Config) -> None:
    live = _live(config, 200145)
    written = import_file(config, Profile(300002, "T", 93), "bsa", live, "billers/300002.yaml")
    assert written.text is not None
    assert "integrator_id" not in yaml.safe_load(written.text)


def test_import_refuses_an_integrator_id_the_partner_lacks(config: Config) -> None:
    written = import_file(
        config, Profile(300003, "T", 999), "bsa", _live(config, 200145), "billers/300003.yaml"
    )
    assert written.text is None
    assert written.reason == (
        "its CRM profile has integrator ID 999, not one of partner bsa's (93); "
        "fix the profile in the CRM or name the right --partner"
    )


def test_import_of_a_biller_without_settings_refuses(config: Config) -> None:
    written = import_file(config, Profile(300004, "T", 93), "bsa", {}, "billers/300004.yaml")
    assert written.text is None
    assert written.reason is not None
    assert "the CRM holds no settings for it yet" in written.reason
    assert "billers/300004.yaml" in written.reason


def test_import_refuses_a_locked_difference_and_an_invalid_result(config: Config) -> None:
    live = _live(config, 200145)
    live["data_pump"]["layout"] = "other"
    locked = import_file(config, Profile(300005, "T", 93), "bsa", live, "billers/300005.yaml")
    assert locked.reason is not None and "data_pump.layout" in locked.reason
    live = _live(config, 200145)
    live["advanced"]["max_payment_amount"] = "lots"
    invalid = import_file(config, Profile(300005, "T", 93), "bsa", live, "billers/300005.yaml")
    assert invalid.reason is not None
    assert invalid.reason.startswith("the file would not validate:")


def _drifted(bid: int, partner: str, after: Any) -> BillerPlan:
    return BillerPlan(bid, "", partner, "change", changes=[Change("ftp.port", 22, after)])


def test_shared_drift_points_at_the_template_when_every_biller_drifted_alike(
    config: Config,
) -> None:
    [hint] = shared_drift(
        config,
        [
            _drifted(104233, "caselle-batch-utility", 2222),
            _drifted(110392, "caselle-batch-utility", 2222),
        ],
    )
    assert hint == (
        "every biller of partner caselle-batch-utility (2) drifted the same way (ftp.port): "
        "the template partners/caselle-batch-utility.yaml is likely what should change, "
        "not 2 overrides"
    )


def test_shared_drift_is_silent_for_different_drift_some_billers_or_a_lone_biller(
    config: Config,
) -> None:
    slug = "caselle-batch-utility"
    assert shared_drift(config, [_drifted(104233, slug, 2222), _drifted(110392, slug, 2223)]) == []
    assert shared_drift(config, [_drifted(104233, slug, 2222)]) == []
    assert shared_drift(config, [_drifted(200145, "bsa", 2222)]) == []
