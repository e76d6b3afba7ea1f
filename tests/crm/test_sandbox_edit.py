"""Editing the sandbox as a person edits the CRM (``sandbox set`` / ``sandbox profile``),
checked over the running sandbox's HTTP API."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from int360apply.crm import Profile
from int360apply.crm.sandbox.edit import (
    EditError,
    open_store,
    parse_assignment,
    put_profile,
    set_values,
)
from int360apply.crm.sandbox.seeding import PLACEHOLDER
from int360apply.crm.sandbox.server import SandboxServer
from int360apply.schemas import Schemas

from .conftest import PROFILES, SCHEMA_DIR, MakeSandbox

BID = PROFILES[0].bid


def _settings(server: SandboxServer, bid: int = BID) -> requests.Response:
    return requests.get(f"{server.url}/billers/{bid}/settings", timeout=5)


def _edit(server: SandboxServer, schemas: Schemas, *assignments: str, bid: int = BID) -> str:
    store = open_store(server.store.path)
    try:
        return set_values(store, schemas, bid, assignments)
    finally:
        store.close()


def test_set_changes_the_live_settings_with_a_new_etag_and_a_note(
    sandbox: SandboxServer, schemas: Schemas
) -> None:
    before = _settings(sandbox).headers["ETag"]
    etag = _edit(sandbox, schemas, "ftp.port=2222", "data_pump.schedule='0 7 * * 1-5'")
    after = _settings(sandbox)
    assert after.headers["ETag"] == etag != before
    assert after.json()["ftp"]["port"] == 2222
    assert after.json()["data_pump"]["schedule"] == "0 7 * * 1-5"
    notes = requests.get(f"{sandbox.url}/billers/{BID}/notes", timeout=5).json()["items"]
    assert [n["paths"] for n in notes] == [["ftp.port", "data_pump.schedule"]]


def test_values_are_yaml_1_2(sandbox: SandboxServer, schemas: Schemas) -> None:
    # YAML 1.2: "on" and "0o17" are strings and an octal number, not a boolean and a string.
    _edit(sandbox, schemas, "advanced.account_number_label=on", "ftp.enabled=true")
    _edit(sandbox, schemas, "advanced.invoice_types=[UB, RE]")
    live = _settings(sandbox).json()
    assert live["advanced"]["account_number_label"] == "on"
    assert live["ftp"]["enabled"] is True
    assert live["advanced"]["invoice_types"] == ["UB", "RE"]
    _edit(sandbox, schemas, "advanced.invoice_types=null")  # null removes the field
    assert "invoice_types" not in _settings(sandbox).json()["advanced"]


def test_a_secret_is_set_by_name_and_stores_no_value_from_the_command_line(
    sandbox: SandboxServer, schemas: Schemas
) -> None:
    _edit(sandbox, schemas, "ftp.auth.method=ssh_key", "ftp.auth.private_key={secret: HAND_KEY}")
    live = _settings(sandbox).json()
    assert live["ftp"]["auth"]["private_key"] == {"secret": "HAND_KEY", "set": True}
    assert sandbox.store.secret_values(BID) == {"ftp.auth.private_key": ("HAND_KEY", PLACEHOLDER)}


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("ftp.port", "expected PATH=VALUE"),
        ("=3", "expected PATH=VALUE"),
        ("ftp..port=3", "not a settings path"),
        ("ftp.colour=3", "ftp.colour: no such settings field"),
        ("ftp.port=[1", "ftp.port: the value is not YAML"),
        ("ftp.auth.private_key=abc", "a secret is set by name"),
        ("ftp.auth={method: password, password: {secret: X}}", "set a secret at its own path"),
    ],
)
def test_a_bad_path_or_value_is_a_usage_error(
    schemas: Schemas, argument: str, message: str
) -> None:
    with pytest.raises(EditError) as info:
        parse_assignment(argument, schemas)
    assert info.value.code == 64
    assert message in info.value.message
    assert "\n" not in info.value.message


def test_a_value_the_crm_refuses_writes_nothing(sandbox: SandboxServer, schemas: Schemas) -> None:
    before = _settings(sandbox)
    with pytest.raises(EditError) as info:
        _edit(sandbox, schemas, "ftp.enabled=false", "ftp.port=not-a-port")
    assert info.value.code == 1
    assert info.value.message.startswith("ftp.port")
    after = _settings(sandbox)
    assert (after.json(), after.headers["ETag"]) == (before.json(), before.headers["ETag"])


def test_set_on_an_unknown_biller_names_the_profile_command(
    sandbox: SandboxServer, schemas: Schemas
) -> None:
    with pytest.raises(EditError) as info:
        _edit(sandbox, schemas, "ftp.port=22", bid=424242)
    assert info.value.code == 1
    assert "int360 sandbox profile 424242 --integrator-id N" in info.value.message


def test_profile_creates_and_changes(sandbox: SandboxServer) -> None:
    store = open_store(sandbox.store.path)
    try:
        created = put_profile(store, 424242, integrator_id=175, default_name="From The File")
        assert created == (Profile(424242, "From The File", 175, "active"), True)
        changed = put_profile(store, BID, integrator_id=999, status="inactive")
        assert changed == (PROFILES[0]._replace(integrator_id=999, status="inactive"), False)
        with pytest.raises(EditError) as info:
            put_profile(store, 515151, name="No Partner")
        assert info.value.code == 64 and "--integrator-id" in info.value.message
        with pytest.raises(EditError):
            put_profile(store, BID, status="paused")
    finally:
        store.close()
    got = requests.get(f"{sandbox.url}/billers/424242", timeout=5).json()
    assert got == {"bid": 424242, "name": "From The File", "integrator_id": 175, "status": "active"}
    assert _settings(sandbox, 424242).json() == {}
    assert requests.get(f"{sandbox.url}/billers/{BID}", timeout=5).json()["status"] == "inactive"


def test_an_edit_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(EditError) as info:
        open_store(tmp_path / "nowhere.sqlite")
    assert "no sandbox database" in info.value.message
    assert not (tmp_path / "nowhere.sqlite").exists()


def test_edits_reach_a_sandbox_started_later(make_sandbox: MakeSandbox, schemas: Schemas) -> None:
    first = make_sandbox()
    db = first.store.path
    _edit(first, schemas, "ftp.port=2200")
    first.stop()
    again = make_sandbox(db=db)
    assert _settings(again).json()["ftp"]["port"] == 2200


# -- the command-line side: int360 sandbox set / profile ------------------------------


def _run(kind: str, root: Path, *argv: str) -> int:
    import argparse

    from int360apply.crm.sandbox import commands

    parser = argparse.ArgumentParser(prog=f"int360 sandbox {kind}")
    if kind == "set":
        commands.add_set_arguments(parser)
        args = parser.parse_args(argv)
        return commands.run_set(args, root, schema_dir=SCHEMA_DIR)
    commands.add_profile_arguments(parser)
    args = parser.parse_args(argv)
    return commands.run_profile(args, root, commands.biller_name(root, args.bid))


@pytest.fixture
def repo_with_sandbox(tmp_path: Path, make_sandbox: MakeSandbox) -> Path:
    """A repository copy whose embedded sandbox database exists (as after a first plan)."""
    import shutil

    from .conftest import REPO_ROOT

    root = tmp_path / "repo"
    for folder in ("billers", "partners", "schemas"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    make_sandbox(db=root / ".int360" / "sandbox.sqlite").stop()
    return root


def test_sandbox_set_command(
    repo_with_sandbox: Path, make_sandbox: MakeSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("set", repo_with_sandbox, str(BID), "ftp.port=2022") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and f"biller {BID} changed: ftp.port" in out
    server = make_sandbox(db=repo_with_sandbox / ".int360" / "sandbox.sqlite")
    assert _settings(server).json()["ftp"]["port"] == 2022


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["424242", "ftp.port=1"], 1, "the sandbox has no biller 424242"),
        ([str(BID), "ftp.colour=1"], 64, "ftp.colour: no such settings field"),
        ([str(BID), "ftp.port=[1"], 64, "the value is not YAML"),
        ([str(BID), "ftp.port=-4"], 1, "ftp.port"),
    ],
)
def test_sandbox_set_errors_are_one_line(
    repo_with_sandbox: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    assert _run("set", repo_with_sandbox, *argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("int360 sandbox set: ") and captured.err.count("\n") == 1
    assert message in captured.err


def test_sandbox_set_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("set", tmp_path, str(BID), "ftp.port=22") == 1
    assert "no sandbox database" in capsys.readouterr().err
    assert not (tmp_path / ".int360").exists()


def test_sandbox_profile_command_names_from_the_file(
    repo_with_sandbox: Path, make_sandbox: MakeSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # 104233 exists in the repository's files; 100001 (the fixture's) does not.
    assert _run("profile", repo_with_sandbox, "104233", "--integrator-id", "201") == 0
    assert "created profile 104233 'Springfield Water & Sewer'" in capsys.readouterr().out
    assert _run("profile", repo_with_sandbox, "104233", "--status", "inactive") == 0
    assert "changed profile 104233" in capsys.readouterr().out
    assert _run("profile", repo_with_sandbox, "777777") == 64
    assert "--integrator-id" in capsys.readouterr().err
    server = make_sandbox(db=repo_with_sandbox / ".int360" / "sandbox.sqlite")
    got = requests.get(f"{server.url}/billers/104233", timeout=5).json()
    assert (got["integrator_id"], got["status"]) == (201, "inactive")


def test_sandbox_bid_arguments_are_checked() -> None:
    import argparse

    from int360apply.crm.sandbox import commands

    parser = argparse.ArgumentParser()
    commands.add_profile_arguments(parser)
    for bad in (["0"], ["-5"], ["12a"], ["١٢"], ["5", "--integrator-id", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
