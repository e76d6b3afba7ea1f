"""``int360 secrets`` with Azure Key Vault as the source: each name asked of the vault
once (the value dropped), a missing or refused one named with the vault; no value shown."""

from __future__ import annotations

import json

from apply._support import Workspace

from int360apply.secrets.keyvault import vault_name

from .vault_standin import VaultStandIn


def test_secrets_asks_the_vault_once_per_name_and_names_what_is_missing(
    ws: Workspace, vault: VaultStandIn
) -> None:
    crm = ws.start_crm()
    everything = ws.run("secrets", "--format", "json")
    assert everything.code == 0, everything
    doc = everything.json()
    assert doc["source"] == f"Azure Key Vault {vault.url}"
    assert {e["name"] for e in doc["secrets"]} == set(ws.secrets)
    assert all(e["available"] and e["needed"] for e in doc["secrets"])
    assert vault.fetches == {vault_name(name): 1 for name in ws.secrets}

    # The first apply writes every biller: over the guard's 30 % of a real CRM.
    assert ws.run("apply", "--yes", "--max-percent", "100").code == 0
    vault.reset_counts()
    del vault.secrets["ftp-springfield-key"]
    after = ws.run("secrets")
    # Set in the CRM everywhere: nothing is needed, so a missing one only warns.
    assert after.code == 0, after
    assert "FTP_SPRINGFIELD_KEY: set in the CRM for 1/1 biller(s); NOT AVAILABLE (only a " in (
        after.out
    )
    assert f"not found in Azure Key Vault {vault.url} (as ftp-springfield-key)" in after.out
    # A biller that needs it again (renamed in the CRM by hand): exit 1.
    crm.edit(104233, {"ftp": {"auth": {"private_key": None, "method": "password"}}})
    needed = ws.run("secrets", "--bid", "104233", "--format", "json")
    assert needed.code == 1, needed
    (entry,) = json.loads(needed.out)["secrets"]
    assert entry["name"] == "FTP_SPRINGFIELD_KEY" and entry["needed"] and not entry["available"]
    ws.assert_no_secret_leaks()
