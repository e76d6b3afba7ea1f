"""Fixtures of the secret-source tests: a Key Vault stand-in over HTTPS on 127.0.0.1,
its CA, a credential for in-process clients, and an ``az`` for child processes.

The child ``int360`` runs the real ``DefaultAzureCredential``; with
``AZURE_TOKEN_CREDENTIALS=AzureCliCredential`` it asks only the Azure CLI, which is
the ``az`` script here (what ``az account get-access-token`` prints after
``az login``), so no credential reaches out and no managed identity is probed.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from apply._support import Workspace
from azure.core.credentials import AccessToken

from .vault_standin import VaultStandIn

TOKEN = "standin-token-" + secrets.token_hex(12)

_AZ = """#!{python}
import json, sys, time
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:3] != ["account", "get-access-token"]:
    sys.stderr.write("ERROR: not a command of this stand-in\\n")
    sys.exit(2)
expires = int(time.time()) + 3600
print(json.dumps({{
    "accessToken": {token!r},
    "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
    "expires_on": expires,
    "subscription": "00000000-0000-0000-0000-0000000000aa",
    "tenant": "00000000-0000-0000-0000-00000000feed",
    "tokenType": "Bearer",
}}))
"""


class StaticCredential:
    """A ``TokenCredential`` that a test passes to the client instead of signing in."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "standin-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def vault(ca: trustme.CA) -> Iterator[VaultStandIn]:
    standin = VaultStandIn(ca, TOKEN)
    yield standin
    standin.stop()


@pytest.fixture
def az_log(tmp_path: Path) -> Path:
    """An ``az`` on a directory of its own; the file it appends its calls to."""
    bin_dir = tmp_path / "az-bin"
    bin_dir.mkdir()
    log = tmp_path / "az-calls.log"
    script = bin_dir / "az"
    script.write_text(_AZ.format(python=sys.executable, log=str(log), token=TOKEN))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def use_vault(ws: Workspace, vault: VaultStandIn, ca_file: Path, az_log: Path) -> None:
    """Configure ``ws``'s runs for the vault: no ``INT360_SECRET_*`` in the
    environment (the vault is the only source), each fixture secret stored in
    the vault under its vault name, the stand-in's CA trusted, ``az`` signed in."""
    for key in [k for k in ws.env if k.startswith(("INT360_SECRET_", "AZURE_"))]:
        del ws.env[key]
    for name, value in ws.secrets.items():
        vault.put(name.lower().replace("_", "-"), value)
    ws.env.update(
        INT360_SECRET_SOURCE="azure-keyvault",
        INT360_KEYVAULT_URL=vault.url,
        REQUESTS_CA_BUNDLE=str(ca_file),
        AZURE_TOKEN_CREDENTIALS="AzureCliCredential",
        PATH=f"{az_log.parent / 'az-bin'}{os.pathsep}{ws.env.get('PATH', '')}",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )


@pytest.fixture
def ws(tmp_path: Path, vault: VaultStandIn, ca_file: Path, az_log: Path) -> Iterator[Workspace]:
    """The 14-biller fixture repository, its secrets in the vault and nowhere else."""
    workspace = Workspace(tmp_path / "ws")
    use_vault(workspace, vault, ca_file, az_log)
    yield workspace
    workspace.close()


def report_errors(path: Path) -> dict[int, list[dict[str, str]]]:
    """BID → errors of the billers that failed, from an apply report."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {b["bid"]: b["errors"] for b in doc["billers"] if b["status"] == "failed"}
