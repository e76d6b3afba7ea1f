"""The command line's conventions: help with a description, examples and exit codes for
every command, ``--version``, and a closed pipe ending quietly."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from int360apply.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def help_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_describes_the_tool_not_its_code(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of(["--help"], capsys)
    assert "argparse" not in out and "one function per command" not in out
    assert "Biller settings for the CRM as code" in out
    assert "examples:\n  int360 validate" in out
    assert "exit codes:" in out and "  64  usage error" in out
    for name in commands():
        line = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(None, 1)) == 2, f"{name} has a one-line summary"


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_has_description_examples_and_exit_codes(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = help_of([name, "--help"], capsys)
    description = out.split("\n\n")[1]
    assert len(description) > 40, f"{name}: a description under the usage"
    examples = out.split("examples:\n")[1].split("\n\n")[0]
    assert all(line.startswith(f"  int360 {name}") for line in examples.splitlines())
    assert "exit codes:\n  0 " in out
    assert "  64  usage error" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of(["--version"], capsys)
    assert out == f"int360 {version('int360-as-code')}\n"


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``int360 partners | head -0``: the reader is gone before the first write."""
    errors = tmp_path / "stderr"
    with errors.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "int360apply", "--repo", str(ROOT), "partners"],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert proc.stdout is not None
        proc.stdout.close()
        code = proc.wait(timeout=60)
    assert errors.read_text() == ""
    assert code == 141  # as a shell reports a command ended by SIGPIPE


@pytest.mark.slow
def test_a_shell_pipe_into_head(tmp_path: Path) -> None:
    result = subprocess.run(
        f"'{sys.executable}' -m int360apply --repo '{ROOT}' partners | head -2",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.splitlines()[0].split()[:2] == ["SLUG", "NAME"]
    assert len(result.stdout.splitlines()) == 2
