"""SPEC §6: the embedded sandbox is seeded once, when its database is new, with the
repository's profiles and a few CRM-only billers per partner; a biller file added
later meets the CRM's "unknown biller", whose message names the sandbox command."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from int360apply.crm import Profile
from int360apply.crm.sandbox.edit import open_store, put_profile
from int360apply.crm.sandbox.seeding import PER_PARTNER, SeedBiller
from int360apply.crm.sandbox.server import InvalidSeed, start_background
from int360apply.crmconn import SANDBOX_DB, connect, seed_billers
from int360apply.load import load_config
from int360apply.planner import build_plan
from int360apply.repo import Repo
from int360apply.scope import Scope

from .conftest import REPO_ROOT

NEW_BID = 104299


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A copy of the repository's data (no CRM configured: the embedded sandbox)."""
    root = tmp_path / "repo"
    for folder in ("billers", "partners", "schemas"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    monkeypatch.delenv("INT360_CRM_URL", raising=False)
    return Repo(root)


def _profiles(url: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{url}/billers", params=params, timeout=5).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


def test_a_new_database_holds_the_files_and_crm_only_billers(repo: Repo) -> None:
    config = load_config(repo)
    with start_background(
        repo.root / SANDBOX_DB, seed_billers(config), schemas=config.schemas
    ) as s:
        profiles = {p["bid"]: p for p in _profiles(s.url)}
        only = {bid: p for bid, p in profiles.items() if bid not in config.billers}
        assert set(config.billers) <= set(profiles)
        assert len(only) == PER_PARTNER * len(config.partners)
        for partner in config.partners.values():
            mine = [p for p in only.values() if p["integrator_id"] in partner.integrator_ids]
            assert len(mine) >= PER_PARTNER, partner.slug
            assert {p["status"] for p in mine} == {"active", "inactive"}
        names = [str(p["name"]) for p in only.values()]
        assert len(set(names)) == len(names)
        # Complete settings, valid against the settings schema, secrets set by name only.
        validator = config.schemas.validator("settings")
        for bid in only:
            live = requests.get(f"{s.url}/billers/{bid}/settings", timeout=5).json()
            as_written = _secret_refs(live)
            errors = [e.message for e in validator.iter_errors(as_written)]
            assert not errors, (bid, errors[:3])
            assert set(live) == {"advanced", "ftp", "data_pump", "invoicing"}


def _secret_refs(node: object) -> object:
    """Read-form secrets ``{secret, set}`` as the files write them: ``{secret}``."""
    if isinstance(node, dict):
        if "secret" in node:
            return {"secret": node["secret"]}
        return {k: _secret_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_secret_refs(v) for v in node]
    return node


def test_later_starts_add_nothing_and_the_plan_names_the_sandbox_command(repo: Repo) -> None:
    db = repo.root / SANDBOX_DB
    config = load_config(repo)
    with start_background(db, seed_billers(config), schemas=config.schemas) as first:
        count = len(_profiles(first.url))
    source = (repo.root / "billers" / "104233.yaml").read_text(encoding="utf-8")
    (repo.root / "billers" / f"{NEW_BID}.yaml").write_text(
        source.replace("bid: 104233", f"bid: {NEW_BID}"), encoding="utf-8"
    )
    config = load_config(repo)
    assert NEW_BID in config.billers
    with connect(config) as crm:
        plan = build_plan(
            config, Scope({NEW_BID}), crm.client, crm=crm.label, commit=None, embedded_sandbox=True
        )
    [entry] = plan.billers
    assert entry.status == "error"
    message = entry.errors[0].message
    assert f"int360 sandbox profile {NEW_BID} --integrator-id 201" in message
    assert f"billers/{NEW_BID}.yaml" in message

    # Created the documented way, the biller is planned like any other.
    store = open_store(db)
    try:
        put_profile(store, NEW_BID, integrator_id=201)
    finally:
        store.close()
    with connect(config) as crm:
        plan = build_plan(config, Scope({NEW_BID}), crm.client, crm=crm.label, commit=None)
        with start_background(db, [], schemas=config.schemas) as again:
            assert len(_profiles(again.url)) == count + 1
    assert plan.billers[0].status == "change"


def test_without_the_embedded_sandbox_the_message_names_no_sandbox_command(repo: Repo) -> None:
    config = load_config(repo)
    with connect(config) as crm:
        store = open_store(repo.root / SANDBOX_DB)
        store.delete_profile(104233)
        store.close()
        plan = build_plan(config, Scope({104233}), crm.client, crm=crm.label, commit=None)
    message = plan.billers[0].errors[0].message
    assert "the CRM has no biller 104233" in message
    assert "sandbox" not in message


def test_no_seed_leaves_a_new_database_empty(repo: Repo) -> None:
    config = load_config(repo)
    db = repo.root / SANDBOX_DB
    with start_background(db, seed_billers(config), schemas=config.schemas, seed=False) as s:
        assert _profiles(s.url) == []


def test_a_database_seeded_before_reads_none_of_the_seed(repo: Repo) -> None:
    db = repo.root / SANDBOX_DB
    config = load_config(repo)
    with start_background(db, seed_billers(config), schemas=config.schemas):
        pass
    read: list[object] = []

    def watched() -> Iterator[Any]:
        for item in seed_billers(config):
            read.append(item)
            yield item

    with start_background(db, watched(), schemas=config.schemas) as again:
        assert _profiles(again.url)
    assert read == [], "the seed was worked out for a database that needs none"


def test_seed_settings_the_crm_would_refuse_stop_the_start_with_a_clear_error(
    repo: Repo,
) -> None:
    config = load_config(repo)
    bad = SeedBiller(Profile(990001, "Broken Seed", 93), {"ftp": {"port": "twenty-two"}})
    with pytest.raises(InvalidSeed) as refused:
        start_background(repo.root / "new.sqlite", [bad], schemas=config.schemas)
    message = str(refused.value)
    assert message.startswith("cannot seed the sandbox: the settings of biller 990001 ")
    assert "ftp.port" in message and refused.value.exit_code == 1
