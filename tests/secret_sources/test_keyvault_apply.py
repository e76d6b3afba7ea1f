"""``int360 apply`` with ``INT360_SECRET_SOURCE=azure-keyvault``, end to end: a real
``int360`` process, the real ``DefaultAzureCredential`` (answered by ``az``) and
``SecretClient``, the Key Vault stand-in over HTTPS and a sandbox CRM over HTTP.

What a user checks: what the CRM holds afterwards, what each biller's outcome says,
what the vault was asked (each name once, only what the run writes), and that no
value appears in any output, report or note.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from apply._support import Workspace

from int360apply.secrets.keyvault import vault_name

from .conftest import report_errors, use_vault
from .vault_standin import VaultStandIn

# A first apply writes every biller of the fixture: over the guard's 30 % of a real CRM.
WHOLE_FLEET = ("--max-percent", "100")

SPRINGFIELD = 104233  # FTP_SPRINGFIELD_KEY
SHELBYVILLE = 104871  # FTP_SHELBYVILLE_PASSWORD, PGP_SHELBYVILLE_PUBLIC_KEY


def stored_values(ws: Workspace) -> dict[tuple[int, str], tuple[str, str]]:
    assert ws.crm is not None
    return ws.crm.stored_secrets()


def test_apply_writes_the_vaults_values_fetching_only_what_it_writes_once_each(
    ws: Workspace, vault: VaultStandIn, az_log: Path
) -> None:
    ws.start_crm()
    first = ws.run("apply", "--yes", *WHOLE_FLEET, "--report", "r1.json")
    assert first.code == 0, first
    assert "Apply: 14 applied, 0 unchanged, 0 stale, 0 failed." in first.out
    assert "placeholder" not in first.err
    stored = stored_values(ws)
    assert {value for _, value in stored.values()} == set(ws.secrets.values())
    assert all(value == ws.secrets[name] for name, value in stored.values())
    assert vault.fetches == {vault_name(name): 1 for name in ws.secrets}
    assert vault.challenges >= 1
    assert "account get-access-token" in az_log.read_text()

    # A change that writes no secret: the vault is not asked.
    vault.reset_counts()
    ws.replace(
        "billers/104233.yaml", "sftp.springfield.example.gov", "sftp2.springfield.example.gov"
    )
    ws.commit("springfield: new host")
    host_only = ws.run("apply", "--yes", *WHOLE_FLEET, "--report", "r2.json")
    assert host_only.code == 0 and "Apply: 1 applied, 13 unchanged" in host_only.out, host_only
    assert vault.fetches == {} and vault.challenges == 0

    # A renamed secret is a write of that secret alone.
    renamed = "FTP_SHELBYVILLE_PASSWORD_2025"
    ws.secrets[renamed] = "sv-" + secrets.token_hex(12)
    vault.put(vault_name(renamed), ws.secrets[renamed])
    ws.replace("billers/104871.yaml", "FTP_SHELBYVILLE_PASSWORD}", f"{renamed}}}")
    ws.commit("shelbyville: a new password")
    rename = ws.run("apply", "--yes", *WHOLE_FLEET, "--report", "r3.json")
    assert rename.code == 0 and "Apply: 1 applied, 13 unchanged" in rename.out, rename
    assert vault.fetches == {"ftp-shelbyville-password-2025": 1}
    del ws.secrets["FTP_SHELBYVILLE_PASSWORD"]

    # --rotate-secrets writes, so fetches, every secret: once each, the new values.
    vault.reset_counts()
    ws.retired_secrets += list(ws.secrets.values())
    for name in ws.secrets:
        ws.secrets[name] = "rotated-" + secrets.token_hex(12)
        vault.put(vault_name(name), ws.secrets[name])
    rotate = ws.run("apply", "--yes", *WHOLE_FLEET, "--rotate-secrets", "--report", "r4.json")
    assert rotate.code == 0, rotate
    assert "Apply: 12 applied, 2 unchanged" in rotate.out  # 500102, 500219 have no secret
    assert vault.fetches == {vault_name(name): 1 for name in ws.secrets}
    assert {value for _, value in stored_values(ws).values()} == set(ws.secrets.values())
    ws.assert_no_secret_leaks()


def test_a_secret_missing_or_forbidden_in_the_vault_fails_that_biller_only(
    ws: Workspace, vault: VaultStandIn
) -> None:
    crm = ws.start_crm()
    del vault.secrets["ftp-springfield-key"]
    vault.forbidden.add("ftp-shelbyville-password")
    run = ws.run("apply", "--yes", *WHOLE_FLEET, "--report", "r.json")
    assert run.code == 1, run
    assert "Apply: 12 applied, 0 unchanged, 0 stale, 2 failed." in run.out
    missing = (
        f"secret FTP_SPRINGFIELD_KEY: not found in Azure Key Vault {vault.url} "
        "(as ftp-springfield-key)"
    )
    assert f"error[secret-missing]: {missing}" in run.out
    assert report_errors(ws.tmp / "r.json") == {
        SPRINGFIELD: [{"code": "secret-missing", "message": missing}],
        SHELBYVILLE: [
            {
                "code": "secret-unreadable",
                "message": (
                    f"secret FTP_SHELBYVILLE_PASSWORD: not read from Azure Key Vault "
                    f"{vault.url} (as ftp-shelbyville-password): "
                    "access denied (Forbidden, ForbiddenByRbac): "
                    "the identity needs the role Key Vault Secrets User on the vault "
                    "(or get permission on secrets in its access policy)"
                ),
            }
        ],
    }
    # Nothing of theirs was written; every other biller was.
    assert crm.settings(SPRINGFIELD)[0] == {} and crm.settings(SHELBYVILLE)[0] == {}
    assert crm.notes(SPRINGFIELD) == [] and crm.notes(SHELBYVILLE) == []
    assert len({bid for bid, _ in stored_values(ws)}) == 14 - 2 - 2  # two have no secret
    assert "Traceback" not in run.err
    ws.assert_no_secret_leaks()


def test_fifty_billers_sharing_one_secret_fetch_it_once(
    tmp_path: Path, vault: VaultStandIn, ca_file: Path, az_log: Path
) -> None:
    ws = Workspace(tmp_path / "fleet", billers=())
    try:
        ws.secrets = {"FTP_FLEET_SHARED_KEY": "sv-" + secrets.token_hex(12)}
        use_vault(ws, vault, ca_file, az_log)
        for i in range(50):
            bid = 910000 + i
            ws.write(
                f"billers/{bid}.yaml",
                f"bid: {bid}\nname: Fleet Town {i}\npartner: caselle-batch-utility\n"
                "integrator_id: 201\noverrides:\n  ftp:\n"
                f"    host: sftp{i}.fleet.example.gov\n    username: fleet{i}\n"
                "    auth:\n      method: ssh_key\n"
                "      private_key: {secret: FTP_FLEET_SHARED_KEY}\n"
                '    host_key_fingerprint: "SHA256:2vYCu1ls224ZLfl2fI9CR8RmejwpgLhiJgsxdGCPfs4"\n',
            )
        ws.commit("fifty billers, one key")
        ws.start_crm()
        run = ws.run("apply", "--yes", *WHOLE_FLEET, "--concurrency", "16", "--max-billers", "50")
        assert run.code == 0, run
        assert "Apply: 50 applied, 0 unchanged, 0 stale, 0 failed." in run.out
        assert vault.fetches == {"ftp-fleet-shared-key": 1}
        stored = stored_values(ws)
        assert len(stored) == 50
        assert set(stored.values()) == {
            ("FTP_FLEET_SHARED_KEY", ws.secrets["FTP_FLEET_SHARED_KEY"])
        }
        ws.assert_no_secret_leaks()
    finally:
        ws.close()


def test_the_embedded_sandbox_gets_placeholders_and_the_vault_is_not_asked(
    ws: Workspace, vault: VaultStandIn
) -> None:
    del vault.secrets["ftp-springfield-key"]
    run = ws.run("apply", "--yes", *WHOLE_FLEET)
    assert run.code == 0, run
    prefix = "warning: the embedded sandbox got placeholder values, never real ones, for the "
    (warning,) = [line for line in run.err.splitlines() if line.startswith(prefix)]
    names = sorted(ws.secrets)
    shown, _, more = warning.removeprefix(prefix + "secrets ").partition(" and ")
    # A few names, then a count: a fleet's warning stays one short line.
    assert shown.split(", ") == names[: len(shown.split(", "))]
    assert more == (f"{len(names) - len(shown.split(', '))} more" if more else "")
    assert len(shown.split(", ")) + (int(more.split()[0]) if more else 0) == len(names)
    assert vault.fetches == {}, "no real value is read for a sandbox in the working tree"
    ws.assert_no_secret_leaks()


def test_without_a_sign_in_each_biller_with_a_secret_fails_and_says_how_to_sign_in(
    ws: Workspace, vault: VaultStandIn, az_log: Path
) -> None:
    """The real ``DefaultAzureCredential`` with no Azure CLI on the PATH (no ``az login``)."""
    crm = ws.start_crm()
    path = os.pathsep.join(
        p for p in ws.env["PATH"].split(os.pathsep) if Path(p) != az_log.parent / "az-bin"
    )
    assert shutil.which("az", path=path) is None
    run = ws.run("apply", "--yes", *WHOLE_FLEET, "--report", "r.json", env={"PATH": path})
    assert run.code == 1, run
    assert "Apply: 2 applied, 0 unchanged, 0 stale, 12 failed." in run.out  # 2 have no secret
    errors = report_errors(ws.tmp / "r.json")
    assert len(errors) == 12
    for bid, [error] in errors.items():
        assert error["code"] == "secret-unreadable", bid
        assert error["message"].endswith(
            "no Azure credential could get a token: sign in with az login, use azure/login "
            "in a workflow, or run where a managed identity is assigned"
        )
        assert crm.settings(bid)[0] == {}
    assert not vault.fetches and vault.challenges >= 1
    assert "Traceback" not in run.err and "DefaultAzureCredential" not in run.err
    ws.assert_no_secret_leaks()
