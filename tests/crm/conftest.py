"""Fixtures for the CRM tests: a real sandbox on loopback, clients that retry fast."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from int360apply.crm import Profile
from int360apply.crm.client import CrmClient
from int360apply.crm.retry import RetryPolicy
from int360apply.crm.sandbox.options import Token
from int360apply.crm.sandbox.server import SandboxServer, start_background
from int360apply.schemas import Schemas, schemas_for

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "schemas"

PROFILES = (
    Profile(100001, "Springfield Water & Sewer", 175),
    Profile(100002, "Shelbyville Utilities", 201),
    Profile(100003, "Ogdenville Tax Office", 93),
    Profile(100004, "North Haverbrook Water", 203),
)
READ = Token("ci-plan", "read", "read-token-1f4e9c")
WRITE = Token("ci-apply", "write", "write-token-7d2a0b")

# Retries without real waiting; Retry-After from the sandbox is set to 0 in tests.
FAST_RETRY = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01, deadline=30.0)

MakeSandbox = Callable[..., SandboxServer]


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    """The repository's schemas."""
    return schemas_for(SCHEMA_DIR)


@pytest.fixture
def make_sandbox(tmp_path: Path, schemas: Schemas) -> Iterator[MakeSandbox]:
    """Start sandboxes (own database under ``tmp_path`` unless ``db`` is given); all
    are stopped at the end of the test."""
    started: list[SandboxServer] = []

    def make(profiles: Any = PROFILES, *, db: Path | None = None, **kwargs: Any) -> SandboxServer:
        path = db or tmp_path / f"sandbox-{len(started)}.sqlite"
        server = start_background(path, profiles, schemas=schemas, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> SandboxServer:
    """A sandbox seeded with ``PROFILES``, no tokens, no faults."""
    return make_sandbox()


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[CrmClient]:
    """A client of ``sandbox`` that retries without waiting."""
    with CrmClient(sandbox.url, retry=FAST_RETRY) as crm:
        yield crm
