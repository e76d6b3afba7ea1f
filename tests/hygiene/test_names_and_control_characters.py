"""A secret NAME that is key material is a ``plaintext-secret`` problem that never echoes
it; ``NAME\\n`` is invalid for the full and the fast validator alike; no string field
accepts a control character."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import pytest
from conftest import TmpRepo

from int360apply.schemas import FastCheck, schemas_for

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAA" + secrets.token_hex(24)
PEM = f"-----BEGIN OPENSSH PRIVATE KEY-----\\n{KEY_BODY}\\n-----END OPENSSH PRIVATE KEY-----"
BILLER = "billers/104233.yaml"


def _with_name(repo: TmpRepo, name_yaml: str) -> None:
    text = repo.read(BILLER)
    assert text.count("{secret: FTP_SPRINGFIELD_KEY}") == 1
    repo.write(BILLER, text.replace("{secret: FTP_SPRINGFIELD_KEY}", f"{{secret: {name_yaml}}}"))


@pytest.mark.parametrize(
    "name_yaml",
    [
        f'"{PEM}"',  # a private key pasted where the name goes
        KEY_BODY,  # a long base64 blob
        '"FTP_SPRINGFIELD_KEY\\n"',  # a name with a pasted newline
    ],
    ids=["pem", "base64", "newline"],
)
def test_key_material_as_a_secret_name_is_a_plaintext_secret_never_echoed(
    tmp_repo: TmpRepo, name_yaml: str
) -> None:
    _with_name(tmp_repo, name_yaml)
    past = time.time_ns() - 10_000_000_000  # a settled tree: its verdict is cached
    for path in tmp_repo.root.rglob("*"):
        os.utime(path, ns=(past, past))
    line, _ = tmp_repo.pos(BILLER, "private_key:")
    outputs = []
    for fmt in ("text", "json", "github"):
        run = tmp_repo.run("validate", "--format", fmt)
        assert run.code == 1, run
        outputs += [run.out, run.err]
    again = tmp_repo.run("validate", "--format", "json")  # answered from the cache
    outputs += [again.out, again.err]
    problems = json.loads(outputs[2])["problems"]
    assert json.loads(again.out)["problems"] == problems
    found = [(p["path"], p["line"], p["rule"]) for p in problems]
    assert found == [(BILLER, line, "plaintext-secret")]
    assert "not a secret's name" in problems[0]["message"]
    cache = (tmp_repo.root / ".int360" / "validate-cache.json").read_text(encoding="utf-8")
    for text in [*outputs, cache]:
        assert KEY_BODY[:24] not in text and "BEGIN OPENSSH" not in text
        assert "FTP_SPRINGFIELD_KEY\\n" not in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (("ftp", "auth", "private_key", "secret"), "FTP_KEY\n"),
        (("ftp", "username"), "ops\n"),
        (("ftp", "username"), "o\tps"),
        (("ftp", "host_key_fingerprint"), "SHA256:" + "A" * 43 + "\n"),
        (("data_pump", "cutoff_time"), "23:00\n"),
        (("data_pump", "layout"), "caselle\n"),
        (("data_pump", "schedule"), "0 3\n* * *"),
        (("advanced", "account_number_label"), "Account\r\nnumber"),
        (("invoicing", "invoice_file_pattern"), "UB_*.csv\x00"),
    ],
)
def test_the_full_and_the_fast_validator_both_refuse_a_control_character(
    field: tuple[str, ...], value: str
) -> None:
    schemas = schemas_for(REPO_SCHEMAS)
    fast = FastCheck(schemas)
    good = value.replace("\n", "").replace("\t", "").replace("\r", "").replace("\x00", "")
    good = good.replace("0 3* * *", "0 3 * * *")
    for candidate, valid in ((good, True), (value, False)):
        settings: dict[str, object] = {}
        node = settings
        for part in field[:-1]:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[field[-1]] = candidate
        biller = {"bid": 1, "name": "x", "partner": "p", "overrides": settings}
        errors = [e.message for e in schemas.validator("biller").iter_errors(biller)]
        assert (not errors) is valid, (candidate, errors)
        assert fast.document("biller", biller, "overrides") is valid, candidate
        assert fast.partial_settings(settings) is valid, candidate


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("biller", {"bid": 1, "name": "Springfield\n", "partner": "p"}),
        ("biller", {"bid": 1, "name": "Springfield", "partner": "bsa\n"}),
        ("partner", {"slug": "bsa\n", "name": "BS&A", "integrator_ids": [93]}),
    ],
)
def test_file_level_strings_refuse_a_trailing_newline_in_both_validators(
    kind: str, document: dict[str, object]
) -> None:
    schemas = schemas_for(REPO_SCHEMAS)
    assert list(schemas.validator(kind).iter_errors(document))
    assert FastCheck(schemas).document(kind, document, None) is False


def test_a_control_character_in_a_field_is_one_clear_problem(tmp_repo: TmpRepo) -> None:
    text = tmp_repo.read(BILLER)
    tmp_repo.write(BILLER, text.replace("username: springfield", 'username: "spring\\tfield"'))
    run = tmp_repo.run("validate")
    assert run.code == 1
    assert "ftp.username: holds a control character" in run.out
    assert "spring\\tfield" not in run.out
