"""``int360 secrets [SCOPE]`` on a generated fleet of 1,000 billers, against a sandbox
CRM and the environment source: every referenced secret, where it is used, whether
the CRM holds it, whether the source has it; never a value."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from apply._support import Workspace, clean_env

from benchmarks.fleet import make_fleet
from int360apply.crm.client import CrmClient
from int360apply.crm.port import PatchRequest
from int360apply.crm.sandbox.server import start_background
from int360apply.crmconn import profiles
from int360apply.load import load_config
from int360apply.repo import Repo

FLEET = 1000
SECRET_REF = re.compile(r"secret: *([A-Z][A-Z0-9_]*)")


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "int360apply", "--repo", str(root), "secrets", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_secrets_on_a_fleet_of_1000_billers_against_the_sandbox_and_the_environment(
    tmp_path: Path,
) -> None:
    root = make_fleet(tmp_path / "fleet", FLEET)
    uses: dict[str, set[int]] = {}
    for path in (root / "billers").glob("*.yaml"):
        bid = int(path.stem)
        for name in SECRET_REF.findall(path.read_text(encoding="utf-8")):
            uses.setdefault(name, set()).add(bid)
    for path in (root / "partners").glob("*.yaml"):
        assert not SECRET_REF.findall(path.read_text(encoding="utf-8")), "partners name none"
    assert len(uses) >= 900, "nearly every biller has its own secret"
    values = {name: f"fleet-value-{i:05d}-{name.lower()}" for i, name in enumerate(sorted(uses))}
    missing = sorted(uses)[:3]

    config = load_config(Repo(root))
    server = start_background(
        tmp_path / "crm.sqlite", list(profiles(config)), schema_dir=root / "schemas"
    )
    try:
        # The CRM already holds some of them: one biller's settings written by hand.
        held = sorted(uses)[3]
        (held_bid,) = uses[held]
        with CrmClient(server.url) as client:
            desired = config.desired(config.billers[held_bid])
            etag = client.get_settings(held_bid).etag
            client.patch_settings(PatchRequest(held_bid, _write_form(desired, values), etag))
        env = clean_env(tmp_path / "home")
        env["INT360_CRM_URL"] = server.url
        env.update({f"INT360_SECRET_{n}": v for n, v in values.items() if n not in missing})

        started = time.perf_counter()
        run = _run(root, env, "--format", "json")
        seconds = time.perf_counter() - started
        assert run.returncode == 1, run.stderr
        assert run.stderr.startswith(f"CRM: {server.url}")
        doc = json.loads(run.stdout)
        by_name = {e["name"]: e for e in doc["secrets"]}
        assert set(by_name) == set(uses)
        for name, entry in by_name.items():
            assert set(entry["billers"]) == uses[name]
            assert entry["paths"] and all(p.startswith("ftp.") for p in entry["paths"])
            assert entry["available"] is (name not in missing)
        assert by_name[held]["set_in_crm"] == 1 and by_name[held]["needed"] is False
        assert sum(e["set_in_crm"] for e in doc["secrets"]) == 1
        assert doc["summary"] == {
            "referenced": len(uses),
            "needed": len(uses) - 1,
            "unavailable": 3,
            "needed_unavailable": 3,
        }
        for name in missing:
            assert f"INT360_SECRET_{name}" in by_name[name]["problem"]

        text = _run(root, env)
        assert text.returncode == 1
        assert text.stdout.startswith(f"CRM: {server.url}\n")
        assert f"{missing[0]}: set in the CRM for 0/1 biller(s); NOT AVAILABLE" in text.stdout
        assert (
            f"Secrets: {len(uses)} referenced, {len(uses) - 1} needed by the next apply, "
            "3 of those not available from the environment" in text.stdout
        )

        # A scope: one partner's billers only; then every secret provided: exit 0.
        partner = config.billers[held_bid].partner
        scoped = json.loads(_run(root, env, "--partner", partner, "--format", "json").stdout)
        in_partner = {b for b, biller in config.billers.items() if biller.partner == partner}
        assert {b for e in scoped["secrets"] for b in e["billers"]} <= in_partner
        env.update({f"INT360_SECRET_{n}": values[n] for n in missing})
        done = _run(root, env, "--format", "json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["summary"]["needed_unavailable"] == 0
    finally:
        server.stop()

    for output in (run, text, done):
        for value in values.values():
            assert value not in output.stdout + output.stderr
    print(f"int360 secrets on {FLEET} billers, {len(uses)} secrets: {seconds:.1f} s")
    assert seconds < 60


def _write_form(desired: dict[str, object], values: dict[str, str]) -> dict[str, object]:
    """The FTP group of ``desired`` with its secrets in write form."""
    ftp = json.loads(json.dumps(desired["ftp"]))

    def fill(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict) and set(value) == {"secret"}:
                    node[key] = {"secret": value["secret"], "value": values[value["secret"]]}
                else:
                    fill(value)

    fill(ftp)
    return {"ftp": ftp}


def test_secrets_says_what_is_wrong_in_one_line(ws: Workspace) -> None:
    bad_source = ws.run("secrets", env={"INT360_SECRET_SOURCE": "vault"})
    assert bad_source.code == 1, bad_source
    assert bad_source.err.splitlines()[-1].startswith("int360: INT360_SECRET_SOURCE is 'vault'")
    assert "Traceback" not in bad_source.err
    unknown = ws.run("secrets", "--bid", "999999")
    assert unknown.code == 64, unknown
    assert unknown.err == "int360: error: --bid 999999: no biller file (billers/999999.yaml)\n"
    no_url = ws.run(
        "secrets", env={"INT360_SECRET_SOURCE": "azure-keyvault", "INT360_KEYVAULT_URL": None}
    )
    assert no_url.code == 1 and "INT360_KEYVAULT_URL" in no_url.err, no_url
    # The embedded sandbox, every secret in the environment: exit 0, no value shown.
    fine = ws.run("secrets")
    assert fine.code == 0, fine
    assert fine.out.startswith("CRM: embedded sandbox")
    ws.assert_no_secret_leaks()
