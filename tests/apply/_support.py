"""Helpers of the end-to-end applier tests: a throw-away git repository, ``int360``
run as a real subprocess, a sandbox CRM reached over HTTP, and the secret-leak search.

Everything lives under ``tmp_path``; the only network is 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator

from int360apply.crm.sandbox.faults import FaultConfig
from int360apply.crm.sandbox.server import SandboxServer, start_background
from int360apply.crmconn import SANDBOX_DB, profiles
from int360apply.load import load_config
from int360apply.repo import Repo

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"

# 14 billers over 7 partners: Caselle Batch on both of its IDs (201: 104233, 104871;
# 175: 110392, 112006), billers with overrides in all four groups (200145, 202540,
# 301090, 400342, 690035, 700019), a real-time partner, a file named <bid>-<words>.
FIXTURE_BILLERS = (
    "104233.yaml",
    "104871.yaml",
    "110392-cedar-falls.yaml",
    "112006.yaml",
    "200145.yaml",
    "200388.yaml",
    "202540-northport-income-tax.yaml",
    "300210.yaml",
    "301090.yaml",
    "400342.yaml",
    "500102-red-mesa.yaml",
    "500219.yaml",
    "690035.yaml",
    "700019.yaml",
)
CASELLE_BATCH = (104233, 104871, 110392, 112006)
EVERY_GROUP = (200145, 202540, 301090, 400342, 690035, 700019)
GROUPS = ("advanced", "ftp", "data_pump", "invoicing")

ACTOR = "Pat Reviewer"
# Fixed dates make every commit SHA of the fixture reproducible.
GIT_DATE = "2024-03-01T12:00:00+00:00"

_SECRET_REF = re.compile(r"\{\s*secret:\s*([A-Za-z0-9_]+)\s*\}")


def secret_names(texts: Iterable[str]) -> set[str]:
    """Every ``{secret: NAME}`` named in ``texts``."""
    return {m.group(1) for text in texts for m in _SECRET_REF.finditer(text)}


def fixture_secret_names() -> set[str]:
    """The secret names the fixture's biller and partner files use."""
    files = [REPO_ROOT / "billers" / n for n in FIXTURE_BILLERS]
    files += sorted((REPO_ROOT / "partners").glob("*.yaml"))
    return secret_names(p.read_text(encoding="utf-8") for p in files)


def new_secret_value() -> str:
    """A value that cannot appear anywhere by chance."""
    return f"sv-{secrets.token_hex(12)}"


@cache
def plan_validator() -> Draft202012Validator:
    schema = json.loads((REPO_ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def assert_plan_document(doc: Mapping[str, Any]) -> None:
    """``doc`` (a plan or an apply report) follows ``schemas/plan.schema.json``."""
    errors = sorted(plan_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def text_pos(text: str, line_has: str, token: str) -> tuple[int, int]:
    """1-based (line, column) of ``token`` on the one line of ``text`` containing ``line_has``."""
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines) if line_has in line]
    assert len(hits) == 1, f"{line_has!r} must be on exactly one line, found {len(hits)}"
    assert token in lines[hits[0]]
    return hits[0] + 1, lines[hits[0]].index(token) + 1


# --- running int360 ---------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One finished ``int360`` run."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # shown by failed asserts
        head = f"int360 {' '.join(self.args)} → {self.code}"
        return f"{head}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def clean_env(home: Path) -> dict[str, str]:
    """The process environment without anything that would steer int360 or git."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INT360_", "GITHUB_", "GIT_")) and k not in ("CI", "NO_COLOR")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        PYTHONIOENCODING="utf-8",
        LC_ALL="C.UTF-8",
    )
    return env


class Workspace:
    """A git repository in ``tmp_path`` holding schemas, partners and some billers.

    ``run`` starts ``python -m int360apply --repo ROOT …`` with a controlled
    environment: every fixture secret set to a known value, no ``INT360_CRM_URL``
    (the embedded sandbox) unless a test started a sandbox with ``start_crm``.
    Every output is kept, so ``assert_no_secret_leaks`` can search all of it.
    """

    def __init__(self, tmp: Path, billers: Sequence[str] = FIXTURE_BILLERS) -> None:
        self.tmp = tmp
        self.root = tmp / "repo"
        home = tmp / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = clean_env(home)
        self.secrets: dict[str, str] = {n: new_secret_value() for n in fixture_secret_names()}
        self.retired_secrets: list[str] = []  # values replaced by a rotation: must not leak either
        for name, value in self.secrets.items():
            self.env[f"INT360_SECRET_{name}"] = value
        self.runs: list[Run] = []
        self.extra_texts: list[str] = []  # outputs of processes run outside ``run``
        self.crm: CrmHandle | None = None
        self._servers: list[SandboxServer] = []
        shutil.copytree(REPO_ROOT / "schemas", self.root / "schemas")
        shutil.copytree(REPO_ROOT / "partners", self.root / "partners")
        (self.root / "billers").mkdir()
        for name in billers:
            shutil.copy2(REPO_ROOT / "billers" / name, self.root / "billers" / name)
        (self.root / ".gitignore").write_text(".int360/\n", encoding="utf-8")
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", ACTOR)
        self.git("config", "user.email", "pat@example.invalid")
        self.git("config", "commit.gpgsign", "false")
        self.commit("fixture: schemas, partners, billers")

    # -- files and git ------------------------------------------------------------

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def replace(self, rel: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` in ``rel``."""
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        self.write(rel, text.replace(old, new))

    def git(self, *args: str) -> str:
        env = dict(self.env, GIT_AUTHOR_DATE=GIT_DATE, GIT_COMMITTER_DATE=GIT_DATE)
        result = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
        return result.stdout

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    # -- int360 ---------------------------------------------------------------------

    def run(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        timeout: float = 60,
    ) -> Run:
        """``int360 --repo ROOT ARGS…`` in a subprocess, stdin not a terminal."""
        full_env = dict(self.env)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        result = subprocess.run(
            [sys.executable, "-m", "int360apply", "--repo", str(self.root), *args],
            cwd=self.tmp,
            env=full_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run = Run(tuple(args), result.returncode, result.stdout, result.stderr)
        self.runs.append(run)
        return run

    def popen(self, *args: str, out: Path) -> subprocess.Popen[bytes]:
        """Start ``int360`` without waiting (its output goes to ``out``)."""
        handle = out.open("wb")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "int360apply", "--repo", str(self.root), *args],
                cwd=self.tmp,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        finally:
            handle.close()

    # -- the CRM ----------------------------------------------------------------------

    def start_crm(self, faults: FaultConfig | None = None, db: Path | None = None) -> CrmHandle:
        """A sandbox CRM on 127.0.0.1 seeded from the biller files; later runs use it."""
        handle = self.open_crm(db or self.tmp / "crm.sqlite", faults=faults)
        self.crm = handle
        self.env["INT360_CRM_URL"] = handle.url
        return handle

    def open_crm(
        self, db: Path, *, faults: FaultConfig | None = None, seed: bool = True
    ) -> CrmHandle:
        """A sandbox over ``db`` (e.g. the embedded one) to stage or inspect, not used by runs."""
        config = load_config(Repo(self.root))
        server = start_background(
            db,
            list(profiles(config)) if seed else [],
            schema_dir=self.root / "schemas",
            faults=faults,
            seed=seed,
        )
        self._servers.append(server)
        return CrmHandle(server, db)

    @property
    def embedded_db(self) -> Path:
        return self.root / SANDBOX_DB

    def close(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()

    # -- secrets -----------------------------------------------------------------------

    def all_secret_values(self) -> list[str]:
        return [*self.secrets.values(), *self.retired_secrets]

    def assert_no_secret_leaks(self, *extra: str) -> None:
        """No known secret value in any output, written file, plan, report, note or setting.

        Searched for: every stdout and stderr of this test, every file of the
        working tree (biller files rewritten by import/adopt, plan.json,
        report.json) outside ``.git`` and the SQLite files, and every biller's
        settings and notes as the CRM API returns them (the started sandbox
        and/or the embedded one).
        """
        haystacks: dict[str, str] = {}
        for i, run in enumerate(self.runs):
            haystacks[f"run {i} ({' '.join(run.args)}) stdout"] = run.out
            haystacks[f"run {i} ({' '.join(run.args)}) stderr"] = run.err
        for i, text in enumerate([*self.extra_texts, *extra]):
            haystacks[f"extra text {i}"] = text
        for path in sorted(self.tmp.rglob("*")):
            if ".git" in path.parts or not path.is_file():
                continue
            if path.suffix in (".sqlite", ".sqlite-wal", ".sqlite-shm") or "sqlite" in path.name:
                continue
            haystacks[str(path.relative_to(self.tmp))] = path.read_text("utf-8", "replace")
        dbs = [h.db for h in [self.crm] if h is not None]
        if self.embedded_db.exists():
            dbs.append(self.embedded_db)
        for db in dbs:
            handle = self.crm if self.crm is not None and self.crm.db == db else None
            if handle is None:
                handle = self.open_crm(db, seed=False)
            for name, text in handle.api_dump().items():
                haystacks[f"{db.name}: {name}"] = text
        assert haystacks, "nothing was searched"
        values = self.all_secret_values()
        assert values
        leaks = [
            f"{where}: the value of a secret ({value[:6]}…)"
            for where, text in haystacks.items()
            for value in values
            if value in text
        ]
        assert not leaks, "secret values leaked:\n" + "\n".join(leaks)


# --- the sandbox API, as a person or a test would call it ----------------------------


@dataclass
class CrmHandle:
    """A started sandbox, reached over HTTP with ``requests`` (no tokens: all accepted)."""

    server: SandboxServer
    db: Path
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.trust_env = False  # no proxy for 127.0.0.1

    @property
    def url(self) -> str:
        return self.server.url

    def _req(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=30, **kwargs)

    def settings(self, bid: int) -> tuple[dict[str, Any], str]:
        resp = self._req("GET", f"/billers/{bid}/settings")
        assert resp.status_code == 200, resp.text
        return resp.json(), resp.headers["ETag"]

    def edit(self, bid: int, patch: Mapping[str, Any]) -> dict[str, Any]:
        """What a person does in the CRM: read, then PATCH with ``If-Match``."""
        _, etag = self.settings(bid)
        resp = self._req(
            "PATCH",
            f"/billers/{bid}/settings",
            data=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json", "If-Match": etag},
        )
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    def put_profile(self, bid: int, name: str, integrator_id: int) -> None:
        resp = self._req(
            "PUT", f"/_sandbox/billers/{bid}", json={"name": name, "integrator_id": integrator_id}
        )
        assert resp.status_code in (200, 201), resp.text

    def delete_profile(self, bid: int) -> None:
        resp = self._req("DELETE", f"/_sandbox/billers/{bid}")
        assert resp.status_code == 204, resp.text

    def profile(self, bid: int) -> dict[str, Any] | None:
        resp = self._req("GET", f"/billers/{bid}")
        if resp.status_code == 404:
            return None
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    def notes(self, bid: int) -> list[dict[str, Any]]:
        resp = self._req("GET", f"/billers/{bid}/notes", params={"limit": 1000})
        assert resp.status_code == 200, resp.text
        items: list[dict[str, Any]] = resp.json()["items"]
        return items

    def bids(self) -> list[int]:
        found: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = self._req("GET", "/billers", params=params).json()
            found += [p["bid"] for p in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def api_dump(self) -> dict[str, str]:
        """The raw text of every profile, settings document and note the API serves."""
        bids = self.bids()
        out = {"GET /billers": self._req("GET", "/billers", params={"limit": 1000}).text}
        for start in range(0, len(bids), 500):
            chunk = bids[start : start + 500]
            resp = self._req("GET", "/settings", params=[("bid", b) for b in chunk])
            assert resp.status_code == 200, resp.text
            out[f"GET /settings ({len(chunk)} from {chunk[0]})"] = resp.text
        for bid in bids:
            resp = self._req("GET", f"/billers/{bid}/notes", params={"limit": 1000})
            out[f"GET /billers/{bid}/notes"] = resp.text
        return out

    def stored_secrets(self) -> dict[tuple[int, str], tuple[str, str]]:
        """(bid, dotted path) → (name, value) as the sandbox stored them (not over HTTP)."""
        return read_stored_secrets(self.db)


def read_stored_secrets(db: Path) -> dict[tuple[int, str], tuple[str, str]]:
    """The secret values a sandbox database holds, read directly (positive control)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT bid, path, name, value FROM secrets").fetchall()
    return {(bid, path): (name, value) for bid, path, name, value in rows}


def stage_raw(db: Path, bid: int, path: tuple[str, ...], value: Any) -> None:
    """Put ``value`` at ``path`` of a biller's stored settings as a record set up by hand
    would hold it: behind the API's back and past its checks (a plaintext at a secret
    path, a field the schema does not know), in a new revision so the ETag moves."""
    with sqlite3.connect(db, timeout=30) as conn:
        (raw,) = conn.execute("SELECT json FROM settings WHERE bid = ?", (bid,)).fetchone()
        settings = json.loads(raw)
        node = settings
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        (revision,) = conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value"
        ).fetchone()
        conn.execute(
            "UPDATE settings SET json = ?, revision = ? WHERE bid = ?",
            (json.dumps(settings), revision, bid),
        )


def written_billers(db: Path) -> set[int]:
    """BIDs whose stored settings are no longer the empty seed (read directly, no latency)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT bid FROM settings WHERE json != '{}'").fetchall()
    return {row[0] for row in rows}


def by_bid(plan: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    return {b["bid"]: b for b in plan["billers"]}


def statuses(doc: Mapping[str, Any]) -> dict[int, str]:
    return {b["bid"]: b["status"] for b in doc["billers"]}


def leaves(settings: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted leaves of a settings document (secret read forms as one leaf)."""
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and "secret" not in value:
            yield from leaves(value, path + ".")
        else:
            yield path, value


MakeWorkspace = Callable[..., Workspace]
