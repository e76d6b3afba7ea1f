"""The guide's rehearsal, end to end through ``int360`` processes on the embedded
sandbox: seeded CRM-only billers, import, a hand edit then drift, a new file the CRM
does not know then ``sandbox profile``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT


def _int360(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INT360_")}
    return subprocess.run(
        [sys.executable, "-m", "int360apply", "--repo", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for folder in ("billers", "partners", "schemas"):
        shutil.copytree(REPO_ROOT / folder, repo / folder)
    return repo


def test_rehearse_drift_and_onboarding(root: Path) -> None:
    # No database yet: an edit refuses rather than creating one.
    first = _int360(root, "sandbox", "set", "104233", "ftp.port=2222")
    assert first.returncode == 1 and "no sandbox database" in first.stderr
    assert _int360(root, "apply", "--yes").returncode == 0

    # A CRM-only biller seeded beside the files imports into a file that plans clean.
    imported = _int360(root, "import", "800100")
    assert imported.returncode == 0, imported.stderr
    assert (root / "billers" / "800100.yaml").is_file()
    assert _int360(root, "plan", "--bid", "800100").returncode == 0

    # A hand edit in the CRM is drift.
    edit = _int360(
        root, "sandbox", "set", "104233", "ftp.port=2222", "data_pump.schedule=0 7 * * 1-5"
    )
    assert edit.returncode == 0, edit.stderr
    assert edit.stdout.count("\n") == 1
    drift = _int360(root, "drift")
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "ftp.port: 2222 → 22" in drift.stdout
    assert '"0 7 * * 1-5" → "0 6 * * 1-5"' in drift.stdout

    # A new file meets the CRM's unknown biller; the documented command fixes it.
    source = (root / "billers" / "104233.yaml").read_text(encoding="utf-8")
    (root / "billers" / "104299.yaml").write_text(
        source.replace("bid: 104233", "bid: 104299"), encoding="utf-8"
    )
    unknown = _int360(root, "plan", "--bid", "104299")
    assert unknown.returncode == 1
    assert "int360 sandbox profile 104299 --integrator-id 201" in unknown.stdout
    created = _int360(root, "sandbox", "profile", "104299", "--integrator-id", "201")
    assert created.returncode == 0, created.stderr
    assert "created profile 104299 'Springfield Water & Sewer'" in created.stdout
    assert _int360(root, "plan", "--bid", "104299").returncode == 2  # planned: to change


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["set", "104233", "ftp.nope=1"],
            64,
            "int360 sandbox set: ftp.nope: no such settings field",
        ),
        (["set", "abc", "ftp.port=1"], 64, "not a BID"),
        (["set", "424242", "ftp.port=1"], 1, "the sandbox has no biller 424242"),
        (["profile", "104233", "--status", "paused"], 64, "invalid choice"),
        (["profile", "999999"], 64, "give --integrator-id N"),
    ],
)
def test_sandbox_edit_errors(root: Path, args: list[str], code: int, message: str) -> None:
    assert _int360(root, "plan").returncode in (0, 2)  # creates and seeds the database
    result = _int360(root, "sandbox", *args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_serve_on_a_port_in_use_is_one_line_and_exit_1(root: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _int360(
            root, "sandbox", "serve", "--db", str(tmp_path / "s.sqlite"), "--port", str(port)
        )
    assert run.returncode == 1, run
    assert f"int360 sandbox: cannot serve on 127.0.0.1:{port}:" in run.stderr
    assert "Traceback" not in run.stderr
