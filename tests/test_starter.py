"""``starter``: a biller file from a CRM profile, then validation naming what is left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from int360apply import starter
from int360apply.config import Config
from int360apply.crm import Profile
from int360apply.load import load_config
from int360apply.repo import Repo
from int360apply.starter import StarterError
from int360apply.validate_run import run_validate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """The real schemas and partners, no biller."""
    for folder in ("schemas", "partners"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "billers").mkdir()
    return Repo(tmp_path)


def start(repo: Repo, profile: Profile, slug: str | None = None) -> Path:
    config = load_config(repo, [])
    chosen, iid = starter.choose_partner(config, profile, slug)
    target = repo.root / "billers" / f"{profile.bid}.yaml"
    target.write_text(starter.starter_text(config, profile, chosen, iid), encoding="utf-8")
    return target


def line_of(text: str, needle: str) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == needle]
    assert len(hits) == 1, needle
    return hits[0]


def test_caselle_batch_starter_names_partner_and_its_id_and_points_at_each_blank(
    repo: Repo,
) -> None:
    path = start(repo, Profile(900001, "Oak Hollow Water & Sewer", 175))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/biller.schema.json\n")
    assert "\nname: Oak Hollow Water & Sewer\n" in text
    assert "\npartner: caselle-batch-utility\n" in text
    assert "\nintegrator_id: 175\n" in text  # the partner has two IDs
    assert "# Host name of the biller's file server; required when enabled." in text

    problems = run_validate(repo, [path])
    where = {(p.location.line, p.rule) for p in problems}
    assert where == {
        (line_of(text, "host:"), "cross-field"),
        (line_of(text, "username:"), "cross-field"),
        (line_of(text, "auth:"), "cross-field"),
        (line_of(text, "host_key_fingerprint:"), "cross-field"),
    }
    assert all(p.location.path == "billers/900001.yaml" for p in problems)


def test_filling_the_blanks_makes_it_valid(repo: Repo) -> None:
    path = start(repo, Profile(900001, "Oak Hollow Water & Sewer", 175))
    text = path.read_text(encoding="utf-8")
    filled = {
        "host:": "host: sftp.oakhollow.example.gov",
        "username:": "username: oakhollow",
        "auth:": "auth: {method: ssh_key, private_key: {secret: FTP_OAK_HOLLOW_KEY}}",
        "host_key_fingerprint:": 'host_key_fingerprint: "SHA256:' + "A" * 43 + '"',
    }
    lines = [
        line[: len(line) - len(line.lstrip())] + filled.get(line.strip(), line.strip())
        if line.strip() in filled
        else line
        for line in text.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run_validate(repo, [path]) == []


def test_a_partner_with_one_id_gets_no_integrator_id_line(repo: Repo) -> None:
    text = start(repo, Profile(900002, "Red: Rock #2 Utilities", 174)).read_text("utf-8")
    assert "\nintegrator_id:" not in text
    assert "\npartner: caselle-realtime-utility\n" in text
    assert "real_time_endpoint:" in text
    config = load_config(repo)
    assert config.billers[900002].name == "Red: Rock #2 Utilities"  # quoted where YAML needs it
    assert config.billers[900002].integrator_id is None


def test_a_partner_that_needs_nothing_more_is_valid_at_once(repo: Repo) -> None:
    path = start(repo, Profile(900003, "Willow Creek Water", 119))
    assert "overrides" not in path.read_text("utf-8")
    assert run_validate(repo, [path]) == []


def test_missing_fields_leave_locked_paths_out(repo: Repo) -> None:
    config: Config = load_config(repo, [])
    missing = starter.missing_fields(config, "caselle-batch-utility")
    assert missing == [
        ("ftp", "host"),
        ("ftp", "username"),
        ("ftp", "auth"),
        ("ftp", "host_key_fingerprint"),
    ]


def test_no_partner_for_the_integrator_id(repo: Repo) -> None:
    config = load_config(repo, [])
    with pytest.raises(StarterError) as caught:
        starter.choose_partner(config, Profile(900004, "Nowhere", 4242), None)
    message = str(caught.value)
    assert "no partner of this repository has integrator ID 4242" in message
    assert "Biller Info → CRM Profile → Integration Partner ID" in message
    assert "--partner" in message


def test_partner_given_must_own_the_profile_id(repo: Repo) -> None:
    config = load_config(repo, [])
    with pytest.raises(StarterError, match="integrator ID 175, but partner bsa has 93"):
        starter.choose_partner(config, Profile(900005, "Elm", 175), "bsa")
    assert starter.choose_partner(config, Profile(900005, "Elm", 201), "caselle-batch-utility") == (
        "caselle-batch-utility",
        201,
    )
