"""Fuzzing ``validate``: mutated bytes of real biller and partner files never crash it.

Each example takes a sample file, applies a few mutations (delete, insert or replace
bytes, swap or duplicate lines, insert YAML punctuation), writes it over the original
in a throw-away repository and runs ``int360 validate`` in-process. It must return 0
or 1 and raise nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from int360apply.cli import main

from .conftest import REPO_ROOT, copy_repo

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

TARGETS = (
    "billers/104233.yaml",
    "billers/110392-cedar-falls.yaml",
    "billers/500102-red-mesa.yaml",
    "billers/200145.yaml",
    "partners/caselle-batch-utility.yaml",
    "partners/bsa.yaml",
    "partners/_defaults.yaml",
)
PUNCTUATION = [
    b":",
    b": ",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"&a ",
    b"*a",
    b"!!str ",
    b"!!python/object:os.system ",
    b"|",
    b">-",
    b"#",
    b"'",
    b'"',
    b"\t",
    b"\n",
    b"\r\n",
    b"---\n",
    b"...\n",
    b"? ",
    b"%YAML 1.2\n",
    b"<<: ",
    b"~",
    b"null",
    b".inf",
    b"0x",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\\u",
    b"-----BEGIN OPENSSH PRIVATE KEY-----",
    b"{secret: X}",
    b"9" * 40,
]


def _mutation() -> st.SearchStrategy[tuple[str, int, int, bytes]]:
    return st.tuples(
        st.sampled_from(["delete", "insert", "replace", "punct", "swap", "duplicate"]),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=10_000),
        st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from(PUNCTUATION)),
    )


def mutate(data: bytes, mutations: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply each mutation; positions wrap around the current length."""
    for kind, a, b, blob in mutations:
        size = max(len(data), 1)
        i = a % size
        if kind == "delete":
            data = data[:i] + data[i + 1 + b % 16 :]
        elif kind == "insert":
            data = data[:i] + blob + data[i:]
        elif kind == "replace":
            data = data[:i] + blob + data[i + len(blob) :]
        elif kind == "punct":
            data = data[:i] + PUNCTUATION[b % len(PUNCTUATION)] + data[i:]
        else:
            lines = data.split(b"\n")
            j, k = a % len(lines), b % len(lines)
            if kind == "swap":
                lines[j], lines[k] = lines[k], lines[j]
            else:
                lines.insert(k, lines[j])
            data = b"\n".join(lines)
    return data


def test_validate_never_crashes_on_mutated_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], figure: Callable[[str, int], None]
) -> None:
    repo = copy_repo(tmp_path / "repo")
    counts = {"runs": 0, "refused": 0}

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        target=st.sampled_from(TARGETS),
        mutations=st.lists(_mutation(), min_size=1, max_size=6),
    )
    def one(target: str, mutations: list[tuple[str, int, int, bytes]]) -> None:
        original = (REPO_ROOT / target).read_bytes()
        path = repo / target
        try:
            path.write_bytes(mutate(original, mutations))
            shutil.rmtree(repo / ".int360", ignore_errors=True)  # a verdict for these bytes
            capsys.readouterr()
            try:
                code = main(["--repo", str(repo), "validate"])
            except SystemExit as exc:  # pragma: no cover - reported by the assert below
                code = exc.code
            out = capsys.readouterr().out
        finally:
            path.write_bytes(original)
        assert code in (0, 1), out
        if code == 1:
            assert out.strip(), "exit 1 without naming a problem"
            counts["refused"] += 1
        counts["runs"] += 1

    one()
    figure("fuzzed inputs tried", counts["runs"])
    assert counts["runs"] >= 100
    # The mutations really break files (they are not mostly no-ops).
    assert counts["refused"] >= counts["runs"] // 3
