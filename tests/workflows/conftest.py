"""Fixtures for the workflow tests: a repository like a GitHub one, a CRM, a fake ``gh``.

``seed_repo`` is this working tree's state (tracked and untracked, not ignored
files), committed once per session in a temporary repository: the workflows
under test are the ones in the working tree, committed or not. Each test gets a
``Scenario``: its own clone (the "GitHub repository" the jobs check out from),
its own fake ``gh`` state and, when it asks, its own sandbox CRM served over
HTTP with a read token (for plans and drift) and a write token (for apply).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from ruamel.yaml import YAML

from .harness import Runner, WorkflowRun

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
FAKE_GH = Path(__file__).with_name("fake_gh.py")
VENV_BIN = Path(sys.executable).parent
GITHUB_REPOSITORY = "int360/int360-as-code"
READ_TOKEN = "crm-read-token-3b8f1d"
WRITE_TOKEN = "crm-write-token-9c2e7a"
GH_TOKEN = "ghs_fakeWorkflowToken0123456789"
GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid"]
# Steps that cannot run here: installing packages (the test's virtualenv already
# has them), pre-commit (fetches hook repositories) and the test suite itself.
STUBS = {
    "install": "echo 'stub: the virtualenv of the test run is already installed'",
    "pre-commit": "echo 'stub: pre-commit needs its hook repositories from the network'",
    "tests": "echo 'stub: this is the test suite that is running this workflow'",
}


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [*GIT, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def secret_names(root: Path) -> set[str]:
    """Every ``{secret: NAME}`` in the partner and biller files under ``root``."""
    yaml = YAML(typ="safe", pure=True)
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("secret"), str) and set(node) <= {"secret"}:
                names.add(node["secret"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for folder in ("partners", "billers"):
        for path in sorted((root / folder).glob("*.yaml")):
            try:
                walk(yaml.load(path.read_text(encoding="utf-8")))
            except Exception:  # an invalid file is the validate tests' business
                continue
    return names


@pytest.fixture(scope="session")
def seed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's current state as one commit on ``main``."""
    root = tmp_path_factory.mktemp("seed") / "repo"
    root.mkdir()
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        rel = raw.decode()
        src = REPO_ROOT / rel
        if not rel or not src.is_file() or rel.startswith("tests/reliability/corpus"):
            continue
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "seed: the working tree under test")
    return root


@dataclass
class Crm:
    """A sandbox CRM served over HTTP for one test."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def _headers(self, token: str = WRITE_TOKEN, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **extra}

    def settings(self, bid: int) -> tuple[dict[str, Any], str]:
        r = requests.get(f"{self.url}/billers/{bid}/settings", headers=self._headers(), timeout=10)
        r.raise_for_status()
        return r.json(), r.headers["ETag"]

    def patch(self, bid: int, patch: Mapping[str, Any]) -> None:
        """Change a biller's settings behind the repository's back (a person in the CRM)."""
        _, etag = self.settings(bid)
        r = requests.patch(
            f"{self.url}/billers/{bid}/settings",
            data=json.dumps(patch),
            headers=self._headers(
                **{"If-Match": etag, "Content-Type": "application/merge-patch+json"}
            ),
            timeout=10,
        )
        assert r.status_code == 200, r.text

    def put_profile(self, bid: int, name: str, integrator_id: int) -> None:
        r = requests.put(
            f"{self.url}/_sandbox/billers/{bid}",
            json={"name": name, "integrator_id": integrator_id},
            headers=self._headers(),
            timeout=10,
        )
        assert r.status_code in (200, 201), r.text

    def notes(self, bid: int) -> Any:
        r = requests.get(f"{self.url}/billers/{bid}/notes", headers=self._headers(), timeout=10)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def serve(repo: Path, db: Path, log: Path, env: Mapping[str, str]) -> Crm:
    """``int360 sandbox serve`` on a free loopback port, with a read and a write token."""
    process = subprocess.Popen(
        [
            str(VENV_BIN / "int360"),
            "--repo",
            str(repo),
            "sandbox",
            "serve",
            "--db",
            str(db),
            "--port",
            "0",
            "--token",
            f"ci-plan:read:{READ_TOKEN}",
            "--token",
            f"ci-apply:write:{WRITE_TOKEN}",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=dict(env),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if m:
            return Crm(m.group(1), process, log)
        if process.poll() is not None:
            raise AssertionError(f"the sandbox CRM exited: {log.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the sandbox CRM did not start: {log.read_text()}")


def base_env(tmp: Path, bin_dir: Path | None = None) -> dict[str, str]:
    """The environment every step starts from: no variable of the test run leaks in."""
    path = [str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]
    return {
        "PATH": os.pathsep.join([str(bin_dir), *path] if bin_dir else path),
        "HOME": str(tmp / "home"),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


@pytest.fixture(scope="session")
def staged_db(seed_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox database holding every biller of ``main`` as applied, made once."""
    tmp = tmp_path_factory.mktemp("staged-crm")
    (tmp / "home").mkdir()
    db = tmp / "crm.sqlite"
    env = base_env(tmp)
    crm = serve(seed_repo, db, tmp / "crm.log", env)
    try:
        secrets = {
            f"INT360_SECRET_{name}": f"test-value-of-{name.lower()}"
            for name in secret_names(seed_repo)
        }
        proc = subprocess.run(
            # Staging writes every biller: over the guard's 30 % of the managed billers.
            [
                *(str(VENV_BIN / "int360"), "--repo", str(seed_repo), "apply", "--all", "--yes"),
                *("--max-percent", "100"),
            ],
            env=env | {"INT360_CRM_URL": crm.url, "INT360_CRM_TOKEN": WRITE_TOKEN} | secrets,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"staging the CRM failed:\n{proc.stdout}\n{proc.stderr}"
    finally:
        crm.stop()
    return db


class Scenario:
    """One test's GitHub: a repository, a fake ``gh`` and (optionally) a CRM."""

    def __init__(self, tmp: Path, seed: Path, staged_db: Path) -> None:
        self.tmp = tmp
        self.staged_db = staged_db
        self.origin = tmp / "origin"
        git(tmp, "clone", "-q", str(seed), str(self.origin))
        self.base = git(self.origin, "rev-parse", "HEAD")
        self.gh_dir = tmp / "gh"
        self.gh_dir.mkdir()
        self.bin = tmp / "bin"
        self.bin.mkdir()
        gh = self.bin / "gh"
        gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_GH}" "$@"\n', encoding="utf-8")
        gh.chmod(0o755)
        (tmp / "home").mkdir()
        self.crm: Crm | None = None
        self._runs = 0
        self._run_dirs = 0
        self.artifacts: dict[str, set[str]] = {}  # names per run id, across attempts
        self._workspaces = 0

    # -- the repository

    def commit(self, changes: Mapping[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files in ``origin`` and commit them; the new SHA."""
        for rel, content in changes.items():
            path = self.origin / rel
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
        git(self.origin, "add", "-A")
        git(self.origin, "commit", "-q", "-m", message)
        return git(self.origin, "rev-parse", "HEAD")

    def read(self, rel: str) -> str:
        return (self.origin / rel).read_text(encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> str:
        """``rel``'s text with the one occurrence of ``old`` replaced by ``new``."""
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} must occur once in {rel}"
        return text.replace(old, new)

    def branch(self, name: str) -> None:
        git(self.origin, "switch", "-q", "-c", name)

    # -- the CRM

    def env(self, **extra: str) -> dict[str, str]:
        """The environment every step starts from."""
        return (
            base_env(self.tmp, self.bin)
            | {"FAKE_GH_DIR": str(self.gh_dir), "FAKE_GH_ORIGIN": str(self.origin)}
            | extra
        )

    def start_crm(self) -> Crm:
        """A sandbox CRM holding ``main`` as an earlier apply left it (``staged_db``)."""
        db = self.tmp / "crm.sqlite"
        for suffix in ("", "-wal", "-shm"):
            staged = self.staged_db.with_name(self.staged_db.name + suffix)
            if staged.exists():
                shutil.copy2(staged, db.with_name(db.name + suffix))
        self.crm = serve(self.origin, db, self.tmp / "crm.log", self.env())
        return self.crm

    def secret_values(self, missing: tuple[str, ...] = ()) -> dict[str, str]:
        """A value for every secret the billers name (the production environment's)."""
        return {
            f"INT360_SECRET_{name}": f"test-value-of-{name.lower()}"
            for name in sorted(secret_names(self.origin))
            if name not in missing
        }

    # -- GitHub

    def workspace(self, sha: str) -> Any:
        def make(job_id: str) -> Path:
            self._workspaces += 1
            ws = self.tmp / f"ws{self._workspaces}-{job_id}"
            git(self.tmp, "clone", "-q", str(self.origin), str(ws))
            git(ws, "checkout", "-q", "--detach", sha)
            return ws

        return make

    def github(self, event_name: str, event: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self._runs += 1
        ctx = {
            "event_name": event_name,
            "event": event,
            "repository": GITHUB_REPOSITORY,
            "repository_owner": GITHUB_REPOSITORY.split("/")[0],
            "run_id": str(90000 + self._runs),
            "run_number": str(self._runs),
            "run_attempt": "1",
            "actor": "dev-jane",
            "server_url": "https://github.com",
            "token": GH_TOKEN,
            "workspace": "",
        }
        ctx.update(kw)
        return ctx

    def run(
        self,
        workflow: str,
        github: dict[str, Any],
        *,
        secrets: Mapping[str, str] | None = None,
        vars: Mapping[str, str] | None = None,
        inputs: Mapping[str, Any] | None = None,
        jobs: list[str] | None = None,
        env_overrides: Mapping[str, str] | None = None,
        stubs: Mapping[str, str] | None = None,
        step_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> WorkflowRun:
        self._run_dirs += 1
        runner = Runner(
            WORKFLOWS / workflow,
            {
                "github": github,
                "secrets": dict(secrets or {}),
                "vars": dict(vars or {}),
                "inputs": dict(inputs or {}),
            },
            base_env=self.env(),
            tmp=self.tmp / f"run{self._run_dirs}",
            stubs=stubs,
            env_overrides=env_overrides,
            step_env=step_env,
            artifacts=self.artifacts,
        )
        return runner.run(self.workspace(github["sha"]), jobs)

    def crm_read(self) -> tuple[dict[str, str], dict[str, str]]:
        """(secrets, vars) of the ``crm-read`` environment."""
        assert self.crm is not None
        return {"INT360_CRM_TOKEN": READ_TOKEN}, {"INT360_CRM_URL": self.crm.url}

    def production(self, missing: tuple[str, ...] = ()) -> tuple[dict[str, str], dict[str, str]]:
        """(secrets, vars) of the ``production`` environment."""
        assert self.crm is not None
        return (
            {"INT360_CRM_TOKEN": WRITE_TOKEN} | self.secret_values(missing),
            {"INT360_CRM_URL": self.crm.url},
        )

    def gh_calls(self) -> list[dict[str, Any]]:
        path = self.gh_dir / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def gh_state(self, name: str) -> Any:
        path = self.gh_dir / f"{name}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []

    def gh_seed(self, name: str, data: Any) -> None:
        (self.gh_dir / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def scenario(tmp_path: Path, seed_repo: Path, staged_db: Path) -> Iterator[Scenario]:
    s = Scenario(tmp_path, seed_repo, staged_db)
    try:
        yield s
    finally:
        if s.crm is not None:
            s.crm.stop()
