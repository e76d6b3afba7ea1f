"""``render --live`` output: the CRM's settings with every secret by name only."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from int360apply.render.live import live_json, live_yaml, masked
from int360apply.schemas import schemas_for

SCHEMAS = schemas_for(Path(__file__).resolve().parents[1] / "schemas")
LIVE = {
    "ftp": {
        "port": 22,
        "host": "sftp.a.example.gov",
        "enabled": True,
        "auth": {"method": "password", "password": {"secret": "FTP_A", "set": True}},
        "pgp_public_key": "-----BEGIN PGP PUBLIC KEY BLOCK----- literal",
    },
    "advanced": {"integration_type": "batch"},
}


def test_secrets_by_name_and_a_literal_at_a_secret_path_hidden() -> None:
    out = masked(LIVE, SCHEMAS)
    assert out["ftp"]["auth"]["password"] == {"secret": "FTP_A"}
    assert out["ftp"]["pgp_public_key"] == "(hidden)"
    assert LIVE["ftp"]["auth"]["password"] == {"secret": "FTP_A", "set": True}, "input untouched"


def test_schema_key_order() -> None:
    out = masked(LIVE, SCHEMAS)
    assert list(out) == ["advanced", "ftp"]
    assert list(out["ftp"])[:3] == ["enabled", "host", "port"]


def test_yaml_and_json() -> None:
    text = live_yaml(104233, "http://crm", '"7"', LIVE, SCHEMAS)
    assert text.startswith('# biller 104233: live settings from http://crm (ETag "7")\n')
    assert yaml.safe_load(text)["ftp"]["auth"]["password"] == {"secret": "FTP_A"}
    assert "BEGIN PGP" not in text
    doc = json.loads(live_json(104233, "http://crm", '"7"', LIVE, SCHEMAS))
    assert doc["bid"] == 104233 and doc["etag"] == '"7"'
    assert "BEGIN PGP" not in json.dumps(doc)
