"""Running the sandbox: ``int360 sandbox serve`` options, the foreground server, the
background server of the embedded default."""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from int360apply.crm.sandbox.options import (
    DEFAULT_DB,
    DEFAULT_PORT,
    Token,
    add_serve_arguments,
    parse_token,
)
from int360apply.crm.sandbox.server import find_schema_dir, start_background
from int360apply.schemas import Schemas

from .conftest import PROFILES, REPO_ROOT, SCHEMA_DIR


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="int360 sandbox serve")
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_serve_defaults() -> None:
    args = _parse()
    assert (args.db, args.port, args.token) == (DEFAULT_DB, DEFAULT_PORT, [])
    assert (args.latency_ms, args.fail_rate, args.seed, args.no_seed) == (0, 0.0, 0, False)


def test_serve_options() -> None:
    args = _parse(
        "--db", "x.sqlite", "--port", "9000", "--token", "ci:read:a:b", "--token", "cd:write:c",
        "--latency-ms", "20", "--fail-rate", "0.3", "--seed", "7", "--no-seed",
    )  # fmt: skip
    assert args.token == [Token("ci", "read", "a:b"), Token("cd", "write", "c")]
    assert (args.db, args.port, args.latency_ms, args.fail_rate, args.seed) == (
        Path("x.sqlite"), 9000, 20, 0.3, 7,
    )  # fmt: skip
    assert args.no_seed


@pytest.mark.parametrize(
    "argv",
    [
        ["--token", "ci:admin:x"],
        ["--token", "ci:read:"],
        ["--token", "noscope"],
        ["--fail-rate", "2"],
        ["--fail-rate", "lots"],
        ["--latency-ms", "-1"],
    ],
)
def test_bad_options_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parse(*argv)
    assert info.value.code == 2


def test_parse_token_keeps_colons_in_the_value() -> None:
    assert parse_token("n:write:x:y:z") == Token("n", "write", "x:y:z")


def test_find_schema_dir_searches_upward(tmp_path: Path) -> None:
    assert find_schema_dir(REPO_ROOT / "int360apply" / "crm") == SCHEMA_DIR
    with pytest.raises(FileNotFoundError):
        find_schema_dir(tmp_path)


def test_background_server_lifecycle(tmp_path: Path, schemas: Schemas) -> None:
    db = tmp_path / ".int360" / "sandbox.sqlite"  # the parent is created
    with start_background(db, PROFILES, schemas=schemas) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert requests.get(f"{server.url}/billers/{PROFILES[0].bid}", timeout=5).ok
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/billers", timeout=5)
    server.stop()  # idempotent
    # A second start over the same database with no_seed keeps what is there.
    with start_background(db, [], schemas=schemas, seed=False) as again:
        assert len(requests.get(f"{again.url}/billers", timeout=5).json()["items"]) == len(PROFILES)


@pytest.mark.slow
def test_serve_in_the_foreground(tmp_path: Path) -> None:
    """``run_serve`` prints its URL, serves with tokens, logs without them, stops on Ctrl-C."""
    script = (
        "import argparse, sys\n"
        "from pathlib import Path\n"
        "from int360apply.crm.sandbox.options import add_serve_arguments\n"
        "from int360apply.crm.sandbox.server import run_serve\n"
        "parser = argparse.ArgumentParser()\n"
        "add_serve_arguments(parser)\n"
        f"sys.exit(run_serve(parser.parse_args(sys.argv[1:]), [(7, 'Seven', 93)],"
        f" schema_dir=Path({str(SCHEMA_DIR)!r})))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "--db", str(tmp_path / "s.sqlite"), "--port", "0",
         "--token", "ci:read:tok-read-123"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        url = match.group(0)
        assert requests.get(f"{url}/billers/7", timeout=5).status_code == 401
        ok = requests.get(
            f"{url}/billers/7", headers={"Authorization": "Bearer tok-read-123"}, timeout=5
        )
        assert ok.json()["name"] == "Seven"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "GET /billers/7 401" in err and "GET /billers/7 200" in err
    assert "tok-read-123" not in err
