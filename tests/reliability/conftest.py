"""Shared pieces of the reliability suite: throw-away repositories, fleets of billers,
sandboxes with faults, a bounded ``int360`` child process, and the figures the
suite reports (faults survived, bad inputs tried, billers converged, secrets found).

Everything lives under ``tmp_path``; nothing changes the working directory or the
real repository, so the suite runs under ``pytest -n 2``.
"""

from __future__ import annotations

import os
import random
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from int360apply.crm.client import CrmClient
from int360apply.crm.retry import RetryPolicy
from int360apply.crm.sandbox.server import SandboxServer, start_background
from int360apply.plan import diff_settings
from int360apply.schemas import Schemas, schemas_for

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "schemas"
CORPUS = Path(__file__).resolve().parent / "corpus"
GIB = 1 << 30

# Caselle Batch on each of its IDs, a real-time biller, a BS&A biller.
SAMPLE_BILLERS = (
    "104233.yaml",
    "110392-cedar-falls.yaml",
    "500102-red-mesa.yaml",
    "200145.yaml",
)

# Retries without real waiting (the sandboxes here send Retry-After: 0), unbounded
# client-wide budget, enough tries that a 30 % fault rate never exhausts one call.
FAST_RETRY = RetryPolicy(
    attempts=14, base_delay=0.002, max_delay=0.02, deadline=60.0, total_retries=None
)

# A valid BS&A biller; the corpus files are variations of it (bid 900001).
VALID_BILLER = (
    "# yaml-language-server: $schema=../schemas/biller.schema.json\n"
    "bid: 900001\n"
    "name: Hostile Township\n"
    "partner: bsa\n"
    "overrides:\n"
    "  ftp:\n"
    "    host: sftp.hostile.example.gov\n"
    "    username: hostile\n"
    "    auth: {method: ssh_key, private_key: {secret: FTP_HOSTILE_KEY}}\n"
    '    host_key_fingerprint: "SHA256:2vYCu1ls224ZLfl2fI9CR8RmejwpgLhiJgsxdGCPfs4"\n'
)


# --- bad input the repository cannot hold sensibly as a committed text file -----------


def _too_large() -> bytes:
    padding = "# " + "x" * 76 + "\n"
    body = VALID_BILLER + padding * (300 * 1024 // len(padding))
    return body.encode("utf-8")


GENERATED_CORPUS: dict[str, Callable[[], bytes]] = {
    # Python refuses to convert integers over 4,300 digits.
    "yaml__integer-of-5000-digits.yaml": lambda: (
        VALID_BILLER + "  advanced:\n    max_payment_amount: 1" + "0" * 4999 + "\n"
    ).encode(),
    "yaml__larger-than-256-kib.yaml": _too_large,
    "yaml__not-utf8-latin1.yaml": lambda: VALID_BILLER.replace(
        "Hostile Township", "Caf\u00e9 Township"
    ).encode("latin-1"),
    "yaml__utf16-with-bom.yaml": lambda: VALID_BILLER.encode("utf-16"),
    "yaml__utf8-encoded-surrogate.yaml": lambda: VALID_BILLER.encode().replace(
        b"Hostile", b"Host\xed\xa0\x80ile"
    ),
    "yaml__truncated-multibyte-sequence.yaml": lambda: VALID_BILLER.encode() + b"# \xe2\x82",
    "yaml__control-character.yaml": lambda: VALID_BILLER.replace(
        "Hostile Township", "Hostile\x01Township"
    ).encode(),
    "yaml__nul-byte.yaml": lambda: VALID_BILLER.replace(
        "Hostile Township", "Hostile\x00Township"
    ).encode(),
    "yaml__escape-character-in-name.yaml": lambda: VALID_BILLER.replace(
        "Hostile Township", "Hostile\x1b[2JTownship"
    ).encode(),
}


def accepted_variants(text: str) -> dict[str, bytes]:
    """A valid file with a UTF-8 BOM, with CRLF line ends, and with both."""
    crlf = text.replace("\n", "\r\n")
    return {
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "crlf": crlf.encode(),
        "bom-crlf": b"\xef\xbb\xbf" + crlf.encode(),
    }


# --- repositories -------------------------------------------------------------------------


def copy_repo(root: Path, billers: Iterable[str] = SAMPLE_BILLERS) -> Path:
    """``schemas/``, ``partners/`` and the named sample ``billers/`` copied to ``root``."""
    shutil.copytree(REPO_ROOT / "schemas", root / "schemas")
    shutil.copytree(REPO_ROOT / "partners", root / "partners")
    (root / "billers").mkdir(parents=True)
    for name in billers:
        shutil.copy2(REPO_ROOT / "billers" / name, root / "billers" / name)
    return root


_BID_LINE = re.compile(r"^bid: *\d+ *$", re.M)
_NAME_LINE = re.compile(r"^name: .*$", re.M)
SECRET_REF = re.compile(r"secret: *([A-Z][A-Z0-9_]*)")


@dataclass
class Fleet:
    """A generated repository: its root, its BIDs and a value for every secret it names."""

    root: Path
    bids: list[int]
    secrets: dict[str, str]

    @property
    def secret_env(self) -> dict[str, str]:
        """``INT360_SECRET_<NAME>`` for every secret of the fleet."""
        return {f"INT360_SECRET_{name}": value for name, value in self.secrets.items()}


def make_fleet(root: Path, count: int, *, seed: int = 360, first_bid: int = 910000) -> Fleet:
    """A repository with ``count`` valid billers made from the sample fleet's files.

    Each is a real sample with a new BID, name, host, user and secret names, so the
    mix of partners and overrides is the sample fleet's.
    """
    copy_repo(root, ())
    samples = [
        p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "billers").glob("*.yaml"))
    ]
    rng = random.Random(seed)
    bids: list[int] = []
    secrets: dict[str, str] = {}
    for index in range(count):
        bid = first_bid + index
        town = f"Town{index:05d}"
        text = rng.choice(samples)
        text = _BID_LINE.sub(f"bid: {bid}", text, count=1)
        text = _NAME_LINE.sub(f"name: {town} Utilities", text, count=1)
        text = re.sub(r"host: *[a-z0-9.-]+", f"host: sftp.{town.lower()}.example.gov", text)
        text = re.sub(r"username: *\S+", f"username: {town.lower()}", text)
        text = SECRET_REF.sub(lambda m, i=index: f"secret: {m.group(1)}_{i:05d}", text)
        for name in SECRET_REF.findall(text):
            secrets[name] = f"value-of-{name.lower()}-{rng.getrandbits(48):012x}"
        (root / "billers" / f"{bid}.yaml").write_text(text, encoding="utf-8")
        bids.append(bid)
    return Fleet(root, bids, secrets)


def git_init(root: Path) -> str:
    """Make ``root`` a git repository with everything committed; returns the commit."""
    env = child_env()

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    git("config", "user.name", "Reliability Bot")
    git("config", "user.email", "reliability@example.invalid")
    git("config", "commit.gpgsign", "false")
    (root / ".gitignore").write_text(".int360/\n", encoding="utf-8")
    git("add", "-A")
    git("commit", "-q", "-m", "fleet")
    return git("rev-parse", "HEAD")


# --- processes ------------------------------------------------------------------------------


def limit_memory() -> None:
    """``preexec_fn`` of a child: at most 1 GiB of address space."""
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child ``int360``: none of ours that could change its behaviour."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INT360_", "GITHUB_")) and k not in ("PYTEST_XDIST_WORKER",)
    }
    env["PYTHONIOENCODING"] = "utf-8"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env.update(extra or {})
    return env


def run_int360(
    *args: str,
    repo: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m int360apply [--repo REPO] ARGS…`` with 1 GiB of memory and a timeout."""
    command = [sys.executable, "-m", "int360apply"]
    if repo is not None:
        command += ["--repo", str(repo)]
    return subprocess.run(
        [*command, *args],
        cwd=cwd or repo or REPO_ROOT,
        env=child_env(env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        preexec_fn=limit_memory,
        check=False,
    )


# --- the CRM ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    """The repository's schemas (the sandbox validates patches against them)."""
    return schemas_for(SCHEMA_DIR)


MakeSandbox = Callable[..., SandboxServer]


@pytest.fixture
def make_sandbox(tmp_path: Path, schemas: Schemas) -> Iterator[MakeSandbox]:
    """Start sandboxes with their own database under ``tmp_path``; all stop at the end."""
    started: list[SandboxServer] = []

    def make(profiles: Any = (), **kwargs: Any) -> SandboxServer:
        db = kwargs.pop("db", None) or tmp_path / f"sandbox-{len(started)}.sqlite"
        server = start_background(db, profiles, schemas=schemas, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def fast_client(url: str, token: str | None = None, **kwargs: Any) -> CrmClient:
    """A client that retries at once (the sandboxes here send ``Retry-After: 0``)."""
    kwargs.setdefault("retry", FAST_RETRY)
    return CrmClient(url, token, **kwargs)


def not_at_desired(config: Any, client: CrmClient, bids: Iterable[int]) -> dict[int, list[str]]:
    """The billers whose live settings differ from their desired settings, with the paths."""
    wanted = sorted(bids)
    live = client.bulk_settings(wanted)
    off: dict[int, list[str]] = {bid: ["unknown to the CRM"] for bid in live.missing}
    for bid in wanted:
        if bid not in live.found:
            continue
        changes = diff_settings(
            config.desired(config.billers[bid]),
            live.found[bid].settings,
            config.schemas.secret_paths,
        )
        if changes:
            off[bid] = [c.path for c in changes]
    return off


# --- figures for the closing note -------------------------------------------------------------

FIGURE_PREFIX = "reliability:"


@pytest.fixture
def figure(record_property: Callable[[str, object], None]) -> Callable[[str, int], None]:
    """Record a figure (summed over the suite and printed at the end of the run)."""

    def record(name: str, value: int) -> None:
        record_property(FIGURE_PREFIX + name, int(value))
        print(f"{name}: {value}")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Sum the figures recorded by the tests (xdist ships them back with the reports)."""
    totals: dict[str, int] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if isinstance(name, str) and name.startswith(FIGURE_PREFIX):
                    key = name[len(FIGURE_PREFIX) :]
                    totals[key] = totals.get(key, 0) + int(value)
    if totals:
        terminalreporter.section("reliability figures")
        for key in sorted(totals):
            terminalreporter.write_line(f"{key}: {totals[key]}")
