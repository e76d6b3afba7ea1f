"""The one YAML writer: what it writes reads back the same under this project's reader,
under a YAML 1.1 tool (PyYAML) and under ruamel's YAML 1.2 reader (issue 15, "Files")."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from int360apply.yamlio import parse
from int360apply.yamlwrite import (
    biller_text,
    overrides_text,
    settings_text,
    write_atomic,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

# Strings that some YAML reader takes for something else when written plain.
AMBIGUOUS = [
    "0o17",
    ".5e3",
    "13:30",
    "yes",
    "No",
    "on",
    "1_000",
    "0x1F",
    "2024-01-01",
    "1e3",
    "~",
    "null",
    "=",
    "<<",
    "",
    ".inf",
    "+1",
    "12:30:45",
    "0b101",
    "y",
]


def _ruamel12(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


@pytest.mark.parametrize("value", AMBIGUOUS)
def test_an_ambiguous_string_is_quoted_and_reads_back_as_a_string(value: str) -> None:
    settings = {"data_pump": {"file_name_template": value}}
    text = settings_text(settings)
    assert parse(text.encode()) == settings
    assert yaml.safe_load(text) == settings, f"a YAML 1.1 tool misreads:\n{text}"
    assert _ruamel12(text) == settings


# Printable text and line feeds (the reader refuses other control characters).
TEXT = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")) | st.just("\n")
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(TEXT, max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), plain_values, max_size=4))
def test_whatever_settings_the_writer_prints_read_back_the_same(settings: dict[str, Any]) -> None:
    text = settings_text(settings)
    assert parse(text.encode()) == settings


def test_a_new_biller_file_quotes_ambiguous_strings() -> None:
    text = biller_text(900001, "13:30", "bsa", None, {"ftp": {"username": "0o17"}})
    data = parse(text.encode())
    assert data["name"] == "13:30"
    assert data["overrides"] == {"ftp": {"username": "0o17"}}
    assert yaml.safe_load(text)["name"] == "13:30"


def test_render_prints_yaml_12_that_reads_back_as_the_json_form(tmp_path: Path) -> None:
    """``render``'s YAML and JSON agree on a biller whose values look like numbers."""
    import shutil

    for folder in ("schemas", "partners"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    (tmp_path / "billers").mkdir()
    (tmp_path / "billers" / "900001.yaml").write_text(
        "bid: 900001\nname: Octal Township\npartner: bsa\noverrides:\n"
        "  ftp:\n    host: sftp.octal.example.gov\n    username: '0o17'\n"
        "    auth: {method: ssh_key, private_key: {secret: FTP_OCTAL_KEY}}\n"
        '    host_key_fingerprint: "SHA256:2vYCu1ls224ZLfl2fI9CR8RmejwpgLhiJgsxdGCPfs4"\n'
        "    inbound_dir: '/13:30'\n",
        encoding="utf-8",
    )

    def render(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "int360apply", "--repo", str(tmp_path), "render", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    import json

    as_yaml, as_json = render("900001"), json.loads(render("900001", "--format", "json"))
    assert "username: '0o17'" in as_yaml
    assert re.search(r"^  cutoff_time: '\d\d:\d\d'$", as_yaml, re.M), as_yaml  # 1.1: base 60
    assert parse(as_yaml.encode()) == as_json
    assert yaml.safe_load(as_yaml) == as_json


BILLER = """\
# yaml-language-server: $schema=../schemas/biller.schema.json
# Top comment.
bid: 300001
name: Town
partner: bsa
overrides:
  advanced:
    account_number_label: Parcel   # the treasurer's word
    autopay_enabled: false
  # FTP is managed by the county.
  ftp:
    host: sftp.example.gov
"""


def test_rewriting_overrides_keeps_comments_of_keys_that_stay(tmp_path: Path) -> None:
    path = tmp_path / "billers" / "300001.yaml"
    path.parent.mkdir()
    path.write_text(BILLER, encoding="utf-8")
    overrides = {
        "advanced": {"account_number_label": "Parcel ID", "autopay_enabled": False},
        "ftp": {"host": "sftp.example.gov", "port": 2222},
    }
    write_atomic(path, overrides_text(path, overrides))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/biller.schema.json\n")
    assert "# Top comment." in text
    assert "# FTP is managed by the county." in text
    assert "account_number_label: Parcel ID" in text
    assert yaml.safe_load(text)["overrides"]["ftp"] == {"host": "sftp.example.gov", "port": 2222}
    assert [p.name for p in path.parent.iterdir()] == ["300001.yaml"]  # no temporary left


def test_rewriting_overrides_drops_removed_keys_and_inserts_new_ones_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "300001.yaml"
    path.write_text(BILLER, encoding="utf-8")
    text = overrides_text(
        path,
        {
            "advanced": {"a_first": 1, "account_number_label": "Parcel", "z_last": None},
            "ftp": {"host": "sftp.example.gov"},
        },
    )
    overrides = yaml.safe_load(text)["overrides"]
    assert list(overrides["advanced"]) == ["a_first", "account_number_label", "z_last"]
    assert overrides["advanced"]["z_last"] is None
    assert "z_last: null" in text
    assert "# the treasurer's word" in text  # an unchanged value keeps its comment


def test_empty_overrides_remove_the_key_and_new_ones_are_added(tmp_path: Path) -> None:
    path = tmp_path / "300001.yaml"
    path.write_text(BILLER, encoding="utf-8")
    without = overrides_text(path, {})
    assert "overrides" not in yaml.safe_load(without)
    assert "# Top comment." in without
    path.write_text(without, encoding="utf-8")
    assert overrides_text(path, {}) == without
    again = yaml.safe_load(overrides_text(path, {"ftp": {"port": 22}}))
    assert again["overrides"] == {"ftp": {"port": 22}}


def test_a_new_biller_file_without_integrator_or_overrides(tmp_path: Path) -> None:
    text = biller_text(300002, "Plain", "bsa", None, {})
    assert text.startswith("# yaml-language-server:")
    assert yaml.safe_load(text) == {"bid": 300002, "name": "Plain", "partner": "bsa"}
    with_id = yaml.safe_load(biller_text(300002, "Plain", "bsa", 93, {"ftp": {"port": 22}}))
    assert list(with_id) == ["bid", "name", "partner", "integrator_id", "overrides"]


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "300001.yaml"
    path.write_text(BILLER, encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "bid: \udc80\n")  # a lone surrogate cannot be written as UTF-8
    assert path.read_text(encoding="utf-8") == BILLER
    assert [p.name for p in tmp_path.iterdir()] == ["300001.yaml"]


def test_an_atomic_write_creates_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "new" / "billers" / "300003.yaml"
    write_atomic(path, "bid: 300003\n")
    assert path.read_text(encoding="utf-8") == "bid: 300003\n"
