"""A real git repository around ``tmp_repo`` for the scope, diff and pending tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid"]


def git(root: Path, *args: str) -> str:
    """Run git in ``root``; its stdout."""
    done = subprocess.run(
        [*GIT, *args], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def commit_all(root: Path, message: str) -> str:
    """Stage everything and commit; the new commit's SHA."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def init(root: Path) -> str:
    """``git init`` with everything committed; the first commit's SHA."""
    git(root, "init", "-q", "-b", "main")
    return commit_all(root, "initial")
