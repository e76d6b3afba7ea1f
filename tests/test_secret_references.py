"""``with_references``: secrets turned into the file form or the CRM's read form, the
input left untouched (``diff`` compares file forms with ``set``; ``import`` and
``drift --adopt`` write live settings back as file references)."""

from __future__ import annotations

import copy

from int360apply.secrets import with_references

SECRETS = frozenset({("ftp", "auth", "password"), ("data_pump", "pgp_key")})
LIVE = {
    "ftp": {"port": 22, "auth": {"method": "password", "password": {"secret": "FTP", "set": True}}},
    "data_pump": {"format": "csv"},
}
FILE = {
    "ftp": {"port": 22, "auth": {"method": "password", "password": {"secret": "FTP"}}},
    "data_pump": {"format": "csv"},
}


def test_read_form_to_file_form_and_back() -> None:
    assert with_references(LIVE, SECRETS, read_form=False) == FILE
    assert with_references(FILE, SECRETS, read_form=True) == LIVE


def test_the_input_is_not_changed() -> None:
    live, file = copy.deepcopy(LIVE), copy.deepcopy(FILE)
    with_references(live, SECRETS, read_form=False)
    with_references(file, SECRETS, read_form=True)
    assert (live, file) == (LIVE, FILE)


def test_only_references_are_touched() -> None:
    literal = {"ftp": {"auth": {"password": "hunter2"}}, "advanced": {"x": 1}}
    assert with_references(literal, SECRETS, read_form=True) == literal
    assert with_references({}, SECRETS, read_form=False) == {}
