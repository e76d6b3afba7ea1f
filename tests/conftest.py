"""Shared fixtures: a throw-away copy of the repository and ways to run ``int360`` on it.

Everything happens under ``tmp_path``; nothing changes the current directory or
any global state, so the suite is safe under ``pytest -n auto``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from int360apply.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]

# A few real billers: Caselle Batch on each of its IDs, a real-time one, a BS&A one.
SAMPLE_BILLERS = (
    "104233.yaml",
    "110392-cedar-falls.yaml",
    "500102-red-mesa.yaml",
    "200145.yaml",
)


@dataclass(frozen=True)
class CliResult:
    """What one ``int360`` run printed and returned."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """The stdout lines."""
        return self.out.splitlines()


class TmpRepo:
    """A copy of the repository in ``tmp_path``: write files, find positions, run the CLI."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self._capsys = capsys

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, content: str | bytes) -> str:
        """Create or overwrite ``rel``; returns ``rel`` (the path errors print)."""
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_bytes(content.encode("utf-8"))
        return rel

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8-sig")

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink()

    def pos(self, rel: str, line_has: str, token: str | None = None) -> tuple[int, int]:
        """1-based (line, column) of ``token`` on the one line of ``rel`` containing ``line_has``.

        ``token`` defaults to ``line_has``. Computed from the file text, so tests
        state positions by content, not by copying output.
        """
        return text_pos(self.read(rel), line_has, token)

    def run(self, *args: str) -> CliResult:
        """``int360 --repo ROOT ARGS…`` in-process; usage errors (SystemExit) become codes."""
        self._capsys.readouterr()
        try:
            code = main(["--repo", str(self.root), *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = self._capsys.readouterr()
        return CliResult(code, captured.out, captured.err)


def rewrite_keeping_size_and_mtime(path: Path) -> None:
    """Change ``path``'s bytes (still valid YAML) but not its size or mtime: a change
    only its ctime (and the content) can reveal to a stat-keyed cache."""
    before = path.stat()
    text = path.read_bytes()
    assert text.endswith(b"\n")
    path.write_bytes(text[:-1] + b" ")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def text_pos(text: str, line_has: str, token: str | None = None) -> tuple[int, int]:
    """1-based (line, column) of ``token`` on the one line of ``text`` containing ``line_has``."""
    token = line_has if token is None else token
    hits = [i for i, line in enumerate(text.splitlines()) if line_has in line]
    assert len(hits) == 1, f"{line_has!r} must be on exactly one line, found {len(hits)}"
    line = text.splitlines()[hits[0]]
    assert token in line, f"{token!r} is not on the line {line!r}"
    return hits[0] + 1, line.index(token) + 1


@pytest.fixture
def tmp_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> TmpRepo:
    """``schemas/``, ``partners/`` and a handful of ``billers/`` copied into ``tmp_path``."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "schemas", root / "schemas")
    shutil.copytree(REPO_ROOT / "partners", root / "partners")
    (root / "billers").mkdir()
    for name in SAMPLE_BILLERS:
        shutil.copy2(REPO_ROOT / "billers" / name, root / "billers" / name)
    return TmpRepo(root, capsys)


RunModule = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def int360_subprocess() -> RunModule:
    """Run ``python -m int360apply ARGS…`` in a real process (for exit codes and tracebacks)."""

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INT360_")}
        env["PYTHONIOENCODING"] = "utf-8"
        return subprocess.run(
            [sys.executable, "-m", "int360apply", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


# Hypothesis: derandomized on CI (CI=true), so a green run is reproducible; free
# exploration on a developer's machine.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
_hypothesis_settings.register_profile("dev", deadline=None)
_hypothesis_settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
