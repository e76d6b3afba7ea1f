"""Choosing the secret source: ``INT360_SECRET_SOURCE`` and ``INT360_KEYVAULT_URL``.

A mistake there is a configuration error: one line naming the variable, exit 1,
no traceback, nothing written, and never the text of a password put in the URL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply._support import Workspace

from int360apply.secrets import (
    EnvSource,
    SecretSourceError,
    SecretUnavailable,
    source_from_environment,
)
from int360apply.secrets.keyvault import KeyVaultSource

# A first apply writes every biller of the fixture: over the guard's 30 % of a real CRM.
WHOLE_FLEET = ("--max-percent", "100")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """The fixture repository without the vault (this module configures sources itself)."""
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


def test_the_environment_is_the_default_source() -> None:
    environ = {"INT360_SECRET_FTP_X": "v-1"}
    for configured in ({}, {"INT360_SECRET_SOURCE": "env"}, {"INT360_SECRET_SOURCE": " "}):
        source = source_from_environment({**environ, **configured})
        assert isinstance(source, EnvSource)
        assert source.fetch("FTP_X") == "v-1"
    with pytest.raises(SecretUnavailable) as caught:
        source.fetch("FTP_Y")
    assert (
        caught.value.message == "secret FTP_Y: not set in the environment: set INT360_SECRET_FTP_Y"
    )
    assert caught.value.code == "secret-missing"


def test_azure_keyvault_with_a_vault_url() -> None:
    source = source_from_environment(
        {
            "INT360_SECRET_SOURCE": "azure-keyvault",
            "INT360_KEYVAULT_URL": "https://billing-secrets.vault.azure.net",
        }
    )
    assert isinstance(source, KeyVaultSource)
    assert source.describe() == "Azure Key Vault https://billing-secrets.vault.azure.net/"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"INT360_SECRET_SOURCE": "vault"},
            "INT360_SECRET_SOURCE is 'vault', not a secret source: use env or azure-keyvault",
        ),
        (
            {"INT360_SECRET_SOURCE": "azure\nkeyvault"},
            "INT360_SECRET_SOURCE is '(a name of 14 characters)', not a secret source: "
            "use env or azure-keyvault",
        ),
        (
            {"INT360_SECRET_SOURCE": "azure-keyvault"},
            "INT360_SECRET_SOURCE=azure-keyvault needs the vault's URL in INT360_KEYVAULT_URL "
            "(e.g. https://my-vault.vault.azure.net/)",
        ),
        (
            {"INT360_SECRET_SOURCE": "azure-keyvault", "INT360_KEYVAULT_URL": "http://v.example/"},
            "INT360_KEYVAULT_URL must be a vault URL https://NAME.vault.azure.net/ "
            "(the Azure SDK speaks only HTTPS)",
        ),
        (
            {
                "INT360_SECRET_SOURCE": "azure-keyvault",
                "INT360_KEYVAULT_URL": "https://me:hunter2@v.vault.azure.net/",
            },
            "INT360_KEYVAULT_URL must be a vault URL https://NAME.vault.azure.net/, "
            "without a user name or password",
        ),
        (
            {
                "INT360_SECRET_SOURCE": "azure-keyvault",
                "INT360_KEYVAULT_URL": "https://v.vault.azure.net/secrets/x",
            },
            "INT360_KEYVAULT_URL must be a vault URL https://NAME.vault.azure.net/, "
            "without a path or query",
        ),
        (
            {
                "INT360_SECRET_SOURCE": "azure-keyvault",
                "INT360_KEYVAULT_URL": "https://v.vault.azure.net/\r\nX: 1",
            },
            "INT360_KEYVAULT_URL must be a vault URL https://NAME.vault.azure.net/; "
            "it holds a control character or a space",
        ),
        (
            {
                "INT360_SECRET_SOURCE": "azure-keyvault",
                "INT360_KEYVAULT_URL": "https://v.vault.azure.net:port/",
            },
            "INT360_KEYVAULT_URL must be a vault URL https://NAME.vault.azure.net/; "
            "it is not a URL",
        ),
    ],
)
def test_a_misconfigured_source_is_an_error_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SecretSourceError) as caught:
        source_from_environment(environ)
    assert str(caught.value) == message


def assert_one_line_error(err: str, *expected: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("int360: "), err
    for text in expected:
        assert text in lines[0], err
    assert "Traceback" not in err


def test_apply_stops_before_any_write_on_a_bad_source(ws: Workspace) -> None:
    crm = ws.start_crm()
    bad = ws.run("apply", "--yes", *WHOLE_FLEET, env={"INT360_SECRET_SOURCE": "keyvault"})
    assert bad.code == 1, bad
    assert_one_line_error(bad.err, "INT360_SECRET_SOURCE is 'keyvault'")
    no_url = ws.run("apply", "--yes", *WHOLE_FLEET, env={"INT360_SECRET_SOURCE": "azure-keyvault"})
    assert no_url.code == 1, no_url
    assert_one_line_error(no_url.err, "INT360_KEYVAULT_URL")
    leaky = ws.run(
        "apply",
        "--yes",
        *WHOLE_FLEET,
        env={
            "INT360_SECRET_SOURCE": "azure-keyvault",
            "INT360_KEYVAULT_URL": "https://me:hunter2-pw@v.vault.azure.net/",
        },
    )
    assert leaky.code == 1, leaky
    assert_one_line_error(leaky.err, "INT360_KEYVAULT_URL", "without a user name or password")
    assert "hunter2-pw" not in leaky.out + leaky.err
    assert all(crm.settings(bid)[0] == {} for bid in crm.bids())
    assert all(crm.notes(bid) == [] for bid in crm.bids())


def test_without_the_azure_extra_apply_says_what_to_install(ws: Workspace) -> None:
    """The SDK made unimportable, as in an installation without ``[azure]``."""
    crm = ws.start_crm()
    env = dict(
        ws.env,
        INT360_SECRET_SOURCE="azure-keyvault",
        INT360_KEYVAULT_URL="https://billing-secrets.vault.azure.net/",
    )
    code = (
        "import sys\n"
        "sys.modules['azure.keyvault.secrets'] = None  # what a missing package raises\n"
        "from int360apply.cli import main\n"
        f"args = ['--repo', {str(ws.root)!r}, 'apply', '--yes', *{WHOLE_FLEET!r}]\n"
        "raise SystemExit(main(args))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ws.tmp,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert_one_line_error(
        done.stderr,
        "INT360_SECRET_SOURCE=azure-keyvault needs the Azure SDK: "
        "pip install 'int360-as-code[azure]'",
    )
    assert all(crm.settings(bid)[0] == {} for bid in crm.bids())
