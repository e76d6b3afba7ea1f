"""Secrets never leak: every command runs with known secret values in ``INT360_SECRET_*``
and known CRM tokens, against ``int360 sandbox serve --token …``; then every stdout,
stderr, plan and report file, rewritten biller file, audit note and the sandbox's own
log is searched for the values and the tokens. There must be no hit.
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

from int360apply.crm.client import CrmClient

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
) -> None:
    all_billers = sorted(p.name for p in (REPO_ROOT / "billers").glob("*.yaml"))
    root = copy_repo(tmp_path / "repo", all_billers)
    names = sorted(set(SECRET_REF.findall("".join(p.read_text() for p in root.glob("*/*.yaml")))))
    assert len(names) >= 10
    values = {name: f"S3cr3t-{name.lower()}-{secrets.token_hex(10)}" for name in names}
    secret_env = {f"INT360_SECRET_{name}": value for name, value in values.items()}
    git_init(root)
    server = sandbox_serve(root)
    crm = {"INT360_CRM_URL": server.url, "INT360_CRM_TOKEN": WRITE_TOKEN, **secret_env}
    read_only = {**crm, "INT360_CRM_TOKEN": READ_TOKEN}
    wrong = {**crm, "INT360_CRM_TOKEN": WRONG_TOKEN}

    outputs: dict[str, str] = {}
    codes: dict[str, int] = {}

    def run(label: str, *args: str, env: dict[str, str] | None = None) -> int:
        done = run_int360(*args, repo=root, env=env if env is not None else crm, timeout=60)
        outputs[f"{label}: stdout"] = done.stdout
        outputs[f"{label}: stderr"] = done.stderr
        codes[label] = done.returncode
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
        client.patch_settings(pw_bid, {"ftp": {"port": 2222}}, live.etag)
    for fmt in ("text", "markdown", "json"):
        assert run(f"drift {fmt}", "drift", "--format", fmt) == 2
    run("drift adopt", "drift", "--adopt")
    assert run("import", "import", str(bid), str(pw_bid), "--force") == 0
    assert run("import by integrator id", "import", "--integrator-id", "93", "--force") == 0
    for path in sorted((root / "billers").glob("*.yaml")):
        keep(f"file {path.name}", path)
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
    with sqlite3.connect(tmp_path / "sandbox.sqlite") as db:
        stored = {row[0] for row in db.execute("SELECT value FROM secrets")}
    assert values["FTP_SPRINGFIELD_KEY_2024"] in stored
    assert len(stored & set(values.values())) >= len(names) // 2

    needles = {
        **{f"secret {k}": v for k, v in values.items()},
        "write token": WRITE_TOKEN,
        "read token": READ_TOKEN,
        "wrong token": WRONG_TOKEN,
    }
    hits = [
        (label, what)
        for label, text in outputs.items()
        for what, needle in needles.items()
        if needle in text
    ]
    figure("outputs searched for secrets", len(outputs))
    figure("secrets found in output", len(hits))
    print(f"searched {len(outputs)} outputs for {len(needles)} secret values and tokens")
    assert hits == [], hits


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
