"""Pure parts of the hygiene work: which live secret forms import/adopt refuse, which
unknown fields they leave out, and how the secrets inventory counts and asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from int360apply.adopt import AdoptError, known_fields, refuse_unreadable_secrets
from int360apply.plan import Change, diff_settings, masked
from int360apply.schemas import schemas_for
from int360apply.secrets.inventory import as_text, take_inventory
from int360apply.secrets.sources import EnvSource, SecretUnavailable

SCHEMAS = schemas_for(Path(__file__).resolve().parents[2] / "schemas")
PLAIN = "plain-7c1e9a"


@pytest.mark.parametrize(
    "held",
    [
        PLAIN,
        {"secret": "FTP_KEY", "set": True, "value": PLAIN},
        {"secret": "FTP_KEY", "value": PLAIN},
        {"secret": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PLAIN}", "set": True},
        {"secret": "FTP_KEY\n", "set": True},
        {"secret": 7, "set": True},
        {"secret": "FTP_KEY", "set": "yes"},
        {"value": PLAIN},
        [PLAIN],
    ],
)
def test_anything_but_the_read_form_at_a_secret_path_is_refused_without_the_value(
    held: Any,
) -> None:
    live = {"ftp": {"auth": {"method": "ssh_key", "private_key": held}}}
    with pytest.raises(AdoptError) as refused:
        refuse_unreadable_secrets(live, SCHEMAS.secret_paths)
    assert "ftp.auth.private_key" in str(refused.value)
    assert PLAIN not in str(refused.value) and "BEGIN" not in str(refused.value)


@pytest.mark.parametrize(
    "held", [None, {"secret": "FTP_KEY", "set": True}, {"secret": "FTP_KEY", "set": False}]
)
def test_the_read_form_and_absence_are_adoptable(held: Any) -> None:
    refuse_unreadable_secrets({"ftp": {"auth": {"private_key": held}}}, SCHEMAS.secret_paths)


def test_unknown_fields_are_left_out_and_named() -> None:
    dropped: list[str] = []
    live = {
        "ftp": {"host": "h.example.gov", "legacy_mode": "on", "auth": {"method": "x", "otp": 1}},
        "crm_only": {"flag": True},
        "advanced": {"payment_methods": ["card"]},
    }
    kept = known_fields(SCHEMAS, live, dropped)
    assert kept == {
        "ftp": {"host": "h.example.gov", "auth": {"method": "x"}},
        "advanced": {"payment_methods": ["card"]},
    }
    assert sorted(dropped) == ["crm_only", "ftp.auth.otp", "ftp.legacy_mode"]


def test_a_secret_change_never_carries_what_the_crm_holds() -> None:
    desired = {"ftp": {"auth": {"private_key": {"secret": "NEW"}}}}
    live = {
        "ftp": {
            "auth": {
                "private_key": PLAIN,
                "password": {"secret": "OLD", "set": True, "value": PLAIN},
            }
        }
    }
    changes = diff_settings(desired, live, SCHEMAS.secret_paths)
    shown = [c.as_dict() for c in changes]
    assert PLAIN not in repr(shown)
    assert {c["path"]: (c["before"], c["after"]) for c in shown} == {
        "ftp.auth.private_key": ({"secret": None}, {"secret": "NEW"}),
        "ftp.auth.password": ({"secret": "OLD"}, None),
    }
    # A change built by hand (a plan file) is masked on the way out too.
    forged = Change("ftp.auth.password", PLAIN, {"secret": "X", "value": PLAIN}, secret=True)
    assert PLAIN not in repr(forged.as_dict())
    assert masked([PLAIN]) == {"secret": None} and masked(None) is None
    key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PLAIN}"
    assert masked({"secret": key, "set": True}) == {"secret": None}
    assert masked({"secret": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" + PLAIN}) == {"secret": None}
    assert masked({"secret": "FTP_KEY", "set": True}) == {"secret": "FTP_KEY"}


class _Broken:
    """A source whose client fails in a way nobody foresaw (its text quotes a request)."""

    def fetch(self, name: str) -> str:
        raise RuntimeError(f"GET /secrets/{name} body={PLAIN}")

    def describe(self) -> str:
        return "a broken source"


def test_the_inventory_counts_the_crm_and_asks_the_source_once_per_name() -> None:
    ref = {"secret": "SHARED_KEY"}
    desired = {
        1: {"ftp": {"auth": {"private_key": ref}}},
        2: {"ftp": {"auth": {"private_key": ref}, "pgp_public_key": {"secret": "PGP_TWO"}}},
        3: {"ftp": {"host": "h"}},
    }
    live = {1: {"ftp": {"auth": {"private_key": {"secret": "SHARED_KEY", "set": True}}}}}
    asked: list[str] = []

    class Counting(EnvSource):
        def fetch(self, name: str) -> str:
            asked.append(name)
            return super().fetch(name)

    source = Counting({"INT360_SECRET_SHARED_KEY": PLAIN})
    inventory = take_inventory(desired, live, SCHEMAS.secret_paths, source, crm="crm")
    entries = {e.name: e for e in inventory.secrets}
    assert sorted(asked) == ["PGP_TWO", "SHARED_KEY"]
    assert entries["SHARED_KEY"].billers == [1, 2] and entries["SHARED_KEY"].set_in_crm == 1
    assert entries["SHARED_KEY"].available and entries["SHARED_KEY"].needed
    assert entries["PGP_TWO"].paths == ["ftp.pgp_public_key"] and not entries["PGP_TWO"].available
    assert not inventory.ok
    assert PLAIN not in as_text(inventory) + repr(inventory.as_dict())

    broken = take_inventory(desired, {}, SCHEMAS.secret_paths, _Broken(), crm="crm")
    for entry in broken.secrets:
        assert entry.problem == f"secret {entry.name}: not read from a broken source: RuntimeError"


def test_a_secret_name_that_cannot_be_shown_is_described_by_its_length() -> None:
    with pytest.raises(SecretUnavailable) as failure:
        EnvSource({}).fetch("A KEY\nBLOCK")
    assert "KEY" not in str(failure.value) and "11 characters" in str(failure.value)
