"""Secrets never leak: every command runs with known secret values in ``INT360_SECRET_*``,
known CRM tokens and a password inside ``INT360_CRM_URL``, against ``int360 sandbox serve
--token …``; also a token pasted with a newline, a legacy plaintext at a secret path in
the CRM, a CRM that echoes what it was sent in its 422, the embedded sandbox, and a key
pasted where a secret's name goes. Then every stdout, stderr, plan and report file,
every file of the repository (``.int360/`` caches and the embedded sandbox's database
with its WAL included, as bytes), audit note, the sandbox's own log and its database
(but for the CRM's secret store, the positive control) is searched. There must be no hit.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apply._support import stage_raw
from pytest_httpserver import HTTPServer
from scripted_crm import answer, calls, scripted
from scripted_crm import crm_url as scripted_url

from int360apply.crm.client import CrmClient
from int360apply.crm.port import PatchRequest

from .conftest import (
    REPO_ROOT,
    SECRET_REF,
    child_env,
    copy_repo,
    git_init,
    limit_memory,
    run_int360,
)

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

WRITE_TOKEN = "tok-write-" + secrets.token_hex(12)
READ_TOKEN = "tok-read-" + secrets.token_hex(12)
WRONG_TOKEN = "tok-wrong-" + secrets.token_hex(12)
PASTED_TOKEN = "tok-pasted-" + secrets.token_hex(12)  # with a trailing newline
ECHOED_TOKEN = "tok-echoed-" + secrets.token_hex(12)  # sent to a CRM that echoes it
URL_PASSWORD = "urlpw-" + secrets.token_hex(12)
LEGACY_VALUE = "legacy-plaintext-" + secrets.token_hex(12)  # a hand-made CRM record
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" + secrets.token_hex(20)


class Sandbox:
    """``int360 sandbox serve`` in a child process, its log in a file."""

    def __init__(self, repo: Path, db: Path) -> None:
        self.log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - read in stop
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "int360apply",
                "--repo",
                str(repo),
                "sandbox",
                "serve",
                "--db",
                str(db),
                "--port",
                "0",
                "--token",
                f"ci-apply:write:{WRITE_TOKEN}",
                "--token",
                f"ci-plan:read:{READ_TOKEN}",
            ],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            preexec_fn=limit_memory,
        )
        assert self.process.stdout is not None
        self.banner = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:[0-9]+", self.banner)
        assert found, f"no URL in the sandbox's first line: {self.banner!r}"
        self.url = found.group(0)

    def stop(self) -> tuple[str, str]:
        """Stop it (Ctrl-C); its remaining stdout and its whole log."""
        self.process.send_signal(signal.SIGINT)
        try:
            rest, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        self.log.seek(0)
        return self.banner + (rest or ""), self.log.read()


@pytest.fixture
def sandbox_serve(tmp_path: Path) -> Iterator[Callable[[Path], Sandbox]]:
    started: list[Sandbox] = []

    def start(repo: Path) -> Sandbox:
        server = Sandbox(repo, tmp_path / "sandbox.sqlite")
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_no_command_prints_or_writes_a_secret_value_or_a_token(
    tmp_path: Path,
    sandbox_serve: Callable[[Path], Sandbox],
    figure: Callable[[str, int], None],
    httpserver: HTTPServer,
) -> None:
    all_billers = sorted(p.name for p in (REPO_ROOT / "billers").glob("*.yaml"))
    root = copy_repo(tmp_path / "repo", all_billers)
    names = sorted(set(SECRET_REF.findall("".join(p.read_text() for p in root.glob("*/*.yaml")))))
    assert len(names) >= 10
    values = {name: f"S3cr3t-{name.lower()}-{secrets.token_hex(10)}" for name in names}
    secret_env = {f"INT360_SECRET_{name}": value for name, value in values.items()}
    git_init(root)
    server = sandbox_serve(root)
    # Credentials inside the URL: redacted wherever the CRM is named.
    crm_url = server.url.replace("http://", f"http://ops:{URL_PASSWORD}@")
    crm = {"INT360_CRM_URL": crm_url, "INT360_CRM_TOKEN": WRITE_TOKEN, **secret_env}
    read_only = {**crm, "INT360_CRM_TOKEN": READ_TOKEN}
    wrong = {**crm, "INT360_CRM_TOKEN": WRONG_TOKEN}

    outputs: dict[str, str] = {}
    codes: dict[str, int] = {}

    def run(label: str, *args: str, env: dict[str, str] | None = None) -> int:
        done = run_int360(*args, repo=root, env=env if env is not None else crm, timeout=60)
        outputs[f"{label}: stdout"] = done.stdout
        outputs[f"{label}: stderr"] = done.stderr
        codes[label] = done.returncode
        print(f"--- {label}: exit {done.returncode}\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
        return done.returncode

    def keep(label: str, path: Path) -> None:
        outputs[label] = path.read_text(encoding="utf-8")

    bid = 104233  # a Caselle biller with an SSH key secret
    password_biller = next(
        p for p in sorted((root / "billers").glob("*.yaml")) if "password:" in p.read_text()
    )
    pw_bid = int(password_biller.name.split("-")[0].split(".")[0])

    assert run("validate", "validate") == 0
    run("validate json", "validate", "--format", "json")
    run("validate github", "validate", "--format", "github")
    for who in (bid, pw_bid):
        assert run(f"render {who}", "render", str(who)) == 0
        run(f"render {who} json", "render", str(who), "--format", "json")
        run(f"render {who} explain", "render", str(who), "--explain")
        run(f"render {who} explain json", "render", str(who), "--explain", "--format", "json")
    assert run("partners", "partners") == 0

    # A change after the commit: a renamed secret and a new host, for diff and plan.
    biller_file = root / "billers" / "104233.yaml"
    text = biller_file.read_text(encoding="utf-8")
    biller_file.write_text(
        text.replace("FTP_SPRINGFIELD_KEY", "FTP_SPRINGFIELD_KEY_2024").replace(
            "sftp.springfield.example.gov", "sftp2.springfield.example.gov"
        ),
        encoding="utf-8",
    )
    values["FTP_SPRINGFIELD_KEY_2024"] = "S3cr3t-rotated-" + secrets.token_hex(10)
    crm["INT360_SECRET_FTP_SPRINGFIELD_KEY_2024"] = values["FTP_SPRINGFIELD_KEY_2024"]
    for fmt in ("text", "markdown", "json"):
        assert run(f"diff {fmt}", "diff", "--base", "HEAD", "--format", fmt) == 2

    plan_file, reports = tmp_path / "plan.json", tmp_path / "reports"
    reports.mkdir()
    assert run("plan text", "plan") == 2
    assert run("plan markdown", "plan", "--format", "markdown") == 2
    assert run("plan json", "plan", "--format", "json", "--out", str(plan_file)) == 2
    keep("plan file", plan_file)
    assert (
        run(
            "apply --plan",
            "apply",
            "--plan",
            str(plan_file),
            "--yes",
            "--max-billers",
            "1000",
            "--max-percent",
            "100",
            "--report",
            str(reports / "1.json"),
        )
        == 0
    )
    assert (
        run(
            "apply --rotate-secrets",
            "apply",
            "--yes",
            "--rotate-secrets",
            "--max-billers",
            "1000",
            "--max-percent",
            "100",
            "--report",
            str(reports / "2.json"),
        )
        == 0
    )
    assert run("plan read token", "plan", "--format", "json", env=read_only) == 0
    run(
        "apply read token",
        "apply",
        "--yes",
        "--rotate-secrets",
        "--max-billers",
        "1000",
        "--max-percent",
        "100",
        "--report",
        str(reports / "3.json"),
        env=read_only,
    )
    assert codes["apply read token"] == 1
    run("plan wrong token", "plan", env=wrong)
    assert codes["plan wrong token"] != 0
    missing = {k: v for k, v in crm.items() if k != "INT360_SECRET_FTP_SPRINGFIELD_KEY_2024"}
    run(
        "apply missing secret",
        "apply",
        "--yes",
        "--rotate-secrets",
        "--bid",
        "104233",
        "--report",
        str(reports / "4.json"),
        env=missing,
    )

    # A change made in the CRM: drift sees it, --adopt writes it back to the file.
    with CrmClient(server.url, WRITE_TOKEN) as client:
        live = client.get_settings(pw_bid)
        client.patch_settings(PatchRequest(pw_bid, {"ftp": {"port": 2222}}, live.etag))
    for fmt in ("text", "markdown", "json"):
        assert run(f"drift {fmt}", "drift", "--format", fmt) == 2
    run("drift adopt", "drift", "--adopt")
    assert run("import", "import", str(bid), str(pw_bid), "--force") == 0
    assert run("import by integrator id", "import", "--integrator-id", "93", "--force") == 0
    # A token or URL pasted with a trailing newline: one line naming the variable.
    for variable, value in (
        ("INT360_CRM_TOKEN", PASTED_TOKEN + "\n"),
        ("INT360_CRM_URL", crm_url + "\n"),
    ):
        for command in (("plan",), ("apply", "--yes"), ("drift",), ("secrets",)):
            label = f"{variable} with a newline: {command[0]}"
            assert (
                run(label, *command, env={**crm, "INT360_CRM_TOKEN": PASTED_TOKEN, variable: value})
                == 1
            )
            assert variable in outputs[f"{label}: stderr"]
            assert "Traceback" not in outputs[f"{label}: stderr"]

    # The pre-flight of secrets, in both formats.
    assert run("secrets", "secrets") == 0
    assert run("secrets json", "secrets", "--format", "json") == 0

    # A legacy record: a plaintext at a secret path, set up by hand behind the API.
    password_path = "ftp.auth.password"
    stage_raw(tmp_path / "sandbox.sqlite", pw_bid, tuple(password_path.split(".")), LEGACY_VALUE)
    with CrmClient(server.url, READ_TOKEN) as client:
        assert LEGACY_VALUE in json.dumps(client.get_settings(pw_bid).settings)
    for fmt in ("text", "markdown", "json"):
        assert run(f"plaintext plan {fmt}", "plan", "--format", fmt, "--bid", str(pw_bid)) == 2
        assert run(f"plaintext drift {fmt}", "drift", "--format", fmt) == 2
    assert run("plaintext import", "import", str(pw_bid), "--force") == 1
    assert password_path in outputs["plaintext import: stderr"]
    assert run("plaintext adopt", "drift", "--adopt") == 2  # drift; the file not adopted
    assert "not adopted" in outputs["plaintext adopt: stderr"]
    report = reports / "5.json"
    assert (
        run("plaintext apply", "apply", "--yes", "--bid", str(pw_bid), "--report", str(report)) == 0
    )

    # A CRM that echoes the request (its secret value) and the token in its 422.
    echoing = scripted(httpserver)
    echo_settings(echoing, config_bid=bid, value=values["FTP_SPRINGFIELD_KEY_2024"])
    echo_url = scripted_url(echoing).replace("http://", f"http://ops:{URL_PASSWORD}@")
    echo_env = {**crm, "INT360_CRM_URL": echo_url, "INT360_CRM_TOKEN": ECHOED_TOKEN}
    report = reports / "6.json"
    assert (
        run(
            "echoing CRM",
            "apply",
            "--yes",
            "--bid",
            str(bid),
            "--report",
            str(report),
            env=echo_env,
        )
        == 1
    )
    sent = [c.get_data(as_text=True) for c in calls(echoing) if c.method == "PATCH"]
    assert sent and values["FTP_SPRINGFIELD_KEY_2024"] in sent[0], "the value was sent"
    assert "error[invalid_settings]" in outputs["echoing CRM: stdout"]

    # The embedded sandbox (no INT360_CRM_URL): a placeholder, never a value, in .int360/.
    embedded = {k: v for k, v in crm.items() if k not in ("INT360_CRM_URL", "INT360_CRM_TOKEN")}
    report = reports / "7.json"
    assert (
        run(
            "embedded apply",
            "apply",
            "--yes",
            "--rotate-secrets",
            "--max-billers",
            "1000",
            # The in-process sandbox's threads and the writers' share the child's 1 GiB.
            "--concurrency",
            "2",
            "--report",
            str(report),
            env=embedded,
        )
        == 0
    )
    assert "never real ones" in outputs["embedded apply: stderr"]

    # Key material pasted where a secret's NAME goes: a plaintext-secret problem, not echoed.
    leaky = root / "billers" / "900001.yaml"
    leaky.write_text(
        (REPO_ROOT / "billers" / "104233.yaml")
        .read_text(encoding="utf-8")
        .replace("bid: 104233", "bid: 900001")
        .replace(
            "{secret: FTP_SPRINGFIELD_KEY}",
            f'{{secret: "-----BEGIN OPENSSH PRIVATE KEY-----\\n{KEY_BODY}\\n"}}',
        ),
        encoding="utf-8",
    )
    for fmt in ("text", "json", "github"):
        assert run(f"key as a name: validate {fmt}", "validate", "--format", fmt) == 1
        assert "plaintext-secret" in outputs[f"key as a name: validate {fmt}: stdout"]
    leaky.unlink()  # the input itself; what validate wrote (its cache) stays to be searched

    # Every file written to the repository, .int360/ (caches, the embedded sandbox's
    # database with its WAL) included, searched as bytes.
    files = 0
    for path in sorted(root.rglob("*")):
        if ".git" in path.parts or not path.is_file():
            continue
        outputs[f"repository file {path.relative_to(root)}"] = path.read_bytes().decode("latin-1")
        files += 1
    assert (root / ".int360" / "sandbox.sqlite").is_file()
    assert any(".int360" in label and "cache" in label for label in outputs)
    for path in sorted(reports.glob("*.json")):
        keep(f"report {path.name}", path)

    with CrmClient(server.url, READ_TOKEN) as client:
        bids = [p.bid for p in client.list_billers()]
        # Every biller file's profile, beside the CRM-only billers a new sandbox holds.
        file_bids = {int(name.split(".")[0].split("-")[0]) for name in all_billers}
        assert len(file_bids) == len(all_billers)
        assert file_bids <= set(bids)
        noted = 0
        for each in bids:
            notes = client.list_notes(each)
            noted += len(notes)
            outputs[f"notes {each}"] = json.dumps([n._asdict() for n in notes])
    assert noted >= len(all_billers)

    banner, log = server.stop()
    outputs["sandbox stdout"] = banner
    outputs["sandbox log"] = log
    assert log.count("\n") > 100, "the sandbox should have logged every request"

    # A positive control: the values really reached the CRM (the search is not vacuous).
    # That table is the CRM's secret store, where values belong; every other table of
    # the served sandbox's database is searched.
    with sqlite3.connect(tmp_path / "sandbox.sqlite") as db:
        stored = {row[0] for row in db.execute("SELECT value FROM secrets")}
        for table in ("profiles", "settings", "notes", "meta"):
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
            outputs[f"sandbox database table {table}"] = json.dumps(rows)
    assert values["FTP_SPRINGFIELD_KEY_2024"] in stored
    assert len(stored & set(values.values())) >= len(names) // 2

    needles = {
        **{f"secret {k}": v for k, v in values.items()},
        "write token": WRITE_TOKEN,
        "read token": READ_TOKEN,
        "wrong token": WRONG_TOKEN,
        "pasted token": PASTED_TOKEN,
        "echoed token": ECHOED_TOKEN,
        "URL password": URL_PASSWORD,
        "legacy plaintext": LEGACY_VALUE,
        "key pasted as a name": KEY_BODY[:32],
    }
    hits = [
        (label, what)
        for label, text in outputs.items()
        for what, needle in needles.items()
        if needle in text
    ]
    figure("outputs searched for secrets", len(outputs))
    figure("secrets found in output", len(hits))
    print(
        f"searched {len(outputs)} outputs ({files} repository files) for {len(needles)} "
        f"secret values, tokens and credentials: {len(hits)} found"
    )
    assert len(outputs) >= 200
    assert hits == [], hits


def echo_settings(crm: HTTPServer, *, config_bid: int, value: str) -> None:
    """A CRM that knows biller ``config_bid`` with empty settings and refuses its PATCH
    with a 422 quoting the secret value and the token it was sent."""
    profile = {"bid": config_bid, "name": "Echo", "integrator_id": 201, "status": "active"}
    answer(crm, "GET", f"/billers/{config_bid}", json=profile)
    answer(crm, "GET", "/billers", json={"items": [profile], "next_cursor": None})
    bulk = {"items": [{"bid": config_bid, "etag": '"1"', "settings": {}}], "missing": []}
    answer(crm, "GET", "/settings", json=bulk)
    quoted = f'{{"ftp":{{"auth":{{"private_key":{{"value":"{value}"}}}}}}}}'
    answer(
        crm,
        "PATCH",
        f"/billers/{config_bid}/settings",
        status=422,
        json={
            "error": {
                "code": "invalid_settings",
                "message": f"cannot store {quoted} for Bearer {ECHOED_TOKEN}",
                "details": [{"path": "ftp.auth.private_key", "message": f"{value} is too weak"}],
            }
        },
    )


def test_a_literal_secret_in_a_file_is_not_echoed_by_validate(tmp_path: Path) -> None:
    """The plaintext-secret error names the field, never the value written there."""
    root = copy_repo(tmp_path / "repo")
    value = "hunter2-" + secrets.token_hex(8)
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\n      b3Blb" + secrets.token_hex(16) + "\n"
    path = root / "billers" / "900001.yaml"
    path.write_text(
        "bid: 900001\nname: Leaky Township\npartner: bsa\noverrides:\n  ftp:\n"
        "    host: sftp.leaky.example.gov\n    username: leaky\n"
        f"    auth:\n      method: password\n      password: {value}\n"
        "    pgp_encrypt: true\n    pgp_public_key: |\n"
        f"      {key}"
        '    host_key_fingerprint: "SHA256:2vYCu1ls224ZLfl2fI9CR8RmejwpgLhiJgsxdGCPfs4"\n',
        encoding="utf-8",
    )
    for fmt in ("text", "json", "github"):
        done = run_int360("validate", "--format", fmt, repo=root)
        assert done.returncode == 1
        assert "plaintext-secret" in done.stdout
        assert value not in done.stdout + done.stderr
        assert key.strip()[40:] not in done.stdout + done.stderr
