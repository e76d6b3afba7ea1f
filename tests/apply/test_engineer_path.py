"""The engineer's path, as a user runs it against a sandbox CRM over HTTP: ``billers``
beside the files, ``new`` then ``validate`` naming what is left, ``render --live``.

The CRM is staged through the sandbox's ``PUT``/``DELETE /_sandbox/billers/{bid}``:
unmanaged profiles, a profile on another integrator ID, a file the CRM does not know,
an inactive profile, and another product's biller.
"""

from __future__ import annotations

import re

import pytest
import yaml

from ._support import Workspace

pytestmark = pytest.mark.slow  # real processes and a sandbox over HTTP


def put(ws: Workspace, bid: int, name: str, iid: int, status: str = "active") -> None:
    assert ws.crm is not None
    body = {"name": name, "integrator_id": iid, "status": status}
    resp = ws.crm._req("PUT", f"/_sandbox/billers/{bid}", json=body)
    assert resp.status_code in (200, 201), resp.text


@pytest.fixture
def staged(ws: Workspace) -> Workspace:
    crm = ws.start_crm()
    put(ws, 900001, "Oak Hollow Water District", 175)  # unmanaged Caselle Batch
    put(ws, 900002, "Pine Ridge Sewer Authority", 93, "inactive")  # unmanaged BS&A, inactive
    put(ws, 900003, "Willow Creek Water", 119)  # unmanaged WaterSmart
    put(ws, 900009, "Elsewhere Parking", 99999)  # another product's biller
    put(ws, 110392, "Cedar Falls Public Works", 201)  # the file says 175
    crm.delete_profile(200388)  # a file the CRM does not know
    return ws


def row(out: str, bid: int) -> list[str]:
    found = [line for line in out.splitlines() if line.startswith(f"{bid} ")]
    assert len(found) == 1, out
    return re.split(r"\s{2,}", found[0])


# --- billers ---------------------------------------------------------------------------


def test_billers_lists_every_state_with_counts_and_hints(staged: Workspace) -> None:
    run = staged.run("billers")
    assert run.code == 0, run
    assert run.out.splitlines()[0].startswith("CRM: http://127.0.0.1:")
    assert row(run.out, 900001)[2:] == ["caselle-batch-utility", "175", "unmanaged", "-"]
    assert row(run.out, 900002)[3:5] == ["93", "unmanaged (inactive)"]
    assert row(run.out, 110392)[2:5] == ["caselle-batch-utility", "201", "mismatch"]
    assert row(run.out, 200388)[3:5] == ["-", "no-profile"]
    assert row(run.out, 104233)[4:] == ["managed", "billers/104233.yaml"]
    assert "Elsewhere Parking" not in run.out
    hint = next(line for line in run.out.splitlines() if line.startswith("110392: "))
    assert "integrator ID 201 (partner caselle-batch-utility), the file expects 175" in hint
    assert "Biller Info → CRM Profile → Integration Partner ID" in hint
    assert "partner: line (billers/110392-cedar-falls.yaml:4)" in hint
    caselle = next(
        line for line in run.out.splitlines() if line.startswith("caselle-batch-utility ")
    )
    assert caselle.split()[1:] == [
        "3",
        "1",
        "0",
        "1",
        "0",
    ]  # managed unmanaged none mismatch inactive
    total = next(line for line in run.out.splitlines() if line.startswith("total "))
    assert total.split()[1:] == ["12", "3", "1", "1", "1"]


def test_billers_filters_and_json(staged: Workspace) -> None:
    run = staged.run(
        "billers", "--partner", "caselle-batch-utility", "--unmanaged", "--format", "json"
    )
    assert run.code == 0, run
    assert run.err.startswith("CRM: "), "the CRM line stays off stdout"
    doc = run.json()
    assert [b["bid"] for b in doc["billers"]] == [900001]
    assert doc["total"] == {
        "managed": 0,
        "unmanaged": 1,
        "no_profile": 0,
        "mismatch": 0,
        "inactive": 0,
    }
    by_id = staged.run("billers", "--integrator-id", "201", "--format", "json").json()
    assert {b["bid"] for b in by_id["billers"]} == {104233, 104871, 110392}
    named = staged.run("billers", "--name", "OAK HOLLOW").out
    assert "900001" in named and "104233" not in named
    md = staged.run("billers", "--unmanaged", "--format", "markdown")
    assert md.out.startswith("| BID | name | partner |"), md
    assert "| 900003 | Willow Creek Water | watersmart | 119 | unmanaged | — |" in md.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--partner", "no-such"), "--partner no-such: no such partner"),
        (("--partner", "bsa", "--integrator-id", "93"), "not allowed with argument"),
        (("--integrator-id", "x"), "invalid int value"),
        (("--format", "yaml"), "invalid choice"),
    ],
)
def test_billers_usage_errors(staged: Workspace, args: tuple[str, ...], message: str) -> None:
    run = staged.run("billers", *args)
    assert run.code == 64, run
    assert message in run.err
    assert "Traceback" not in run.err


# --- new, then validate ----------------------------------------------------------------


def test_new_then_validate_names_what_is_left(staged: Workspace) -> None:
    run = staged.run("new", "900001")
    assert run.code == 1, run
    assert "wrote billers/900001.yaml (partner caselle-batch-utility)" in run.out
    text = staged.read("billers/900001.yaml")
    assert "\nintegrator_id: 175\n" in text
    lines = text.splitlines()
    blanks = {
        key: lines.index(f"    {key}:") + 1
        for key in ("host", "username", "auth", "host_key_fingerprint")
    }
    for key, line in blanks.items():
        assert re.search(
            rf"^billers/900001\.yaml:{line}:\d+: error\[cross-field\]: .*ftp\.{key}", run.out, re.M
        ), (key, run.out)
    assert "4 problem(s) in 1 file(s)" in run.out
    assert "Fill those in, then run: int360 validate billers/900001.yaml" in run.out

    check = staged.run("validate", str(staged.path("billers/900001.yaml")))
    assert check.code == 1, check
    assert sorted(re.findall(r"^billers/900001\.yaml:(\d+):", check.out, re.M)) == sorted(
        str(n) for n in blanks.values()
    )

    filled = text.replace("    host:\n", "    host: sftp.oakhollow.example.gov\n")
    filled = filled.replace("    username:\n", "    username: oakhollow\n")
    filled = filled.replace(
        "    auth:\n", "    auth: {method: ssh_key, private_key: {secret: FTP_OAK_KEY}}\n"
    )
    filled = filled.replace(
        "    host_key_fingerprint:\n", f'    host_key_fingerprint: "SHA256:{"B" * 43}"\n'
    )
    staged.write("billers/900001.yaml", filled)
    assert staged.run("validate", str(staged.path("billers/900001.yaml"))).code == 0


def test_new_for_a_partner_that_needs_nothing_more_is_valid(staged: Workspace) -> None:
    run = staged.run("new", "900003")
    assert run.code == 0, run
    assert "billers/900003.yaml is valid: nothing left to fill." in run.out
    assert yaml.safe_load(staged.read("billers/900003.yaml")) == {
        "bid": 900003,
        "name": "Willow Creek Water",
        "partner": "watersmart",
    }


def test_new_notes_an_inactive_profile(staged: Workspace) -> None:
    run = staged.run("new", "900002")
    assert "note: the CRM profile of 900002 is inactive" in run.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("424242",), "the CRM has no biller 424242; create its profile in the CRM first"),
        (("104233",), "billers/104233.yaml exists; edit it"),
        (("110392",), "billers/110392-cedar-falls.yaml exists"),
        (
            ("900001", "--partner", "bsa"),
            "its CRM profile has integrator ID 175, but partner bsa has 93",
        ),
        (("900009",), "no partner of this repository has integrator ID 99999"),
    ],
)
def test_new_refuses_and_writes_nothing(
    staged: Workspace, args: tuple[str, ...], message: str
) -> None:
    before = sorted(p.name for p in (staged.root / "billers").iterdir())
    run = staged.run("new", *args)
    assert run.code == 1, run
    assert message in run.err
    assert "Traceback" not in run.err
    assert sorted(p.name for p in (staged.root / "billers").iterdir()) == before


def test_new_with_an_unknown_partner_is_a_usage_error(staged: Workspace) -> None:
    run = staged.run("new", "900001", "--partner", "nope")
    assert run.code == 64, run
    assert "--partner nope: no such partner" in run.err
    assert not (staged.root / "billers" / "900001.yaml").exists()


# --- render --live ---------------------------------------------------------------------


def test_render_live_shows_the_crms_settings_with_secrets_by_name(staged: Workspace) -> None:
    assert staged.run("apply", "--bid", "200145", "--yes").code == 0
    staged.crm.edit(200145, {"ftp": {"port": 2222}})  # type: ignore[union-attr]
    run = staged.run("render", "200145", "--live")
    assert run.code == 0, run
    assert run.out.startswith(f"# biller 200145: live settings from {staged.crm.url} (ETag ")  # type: ignore[union-attr]
    live = yaml.safe_load(run.out)
    assert live["ftp"]["port"] == 2222
    assert live["ftp"]["auth"]["private_key"] == {"secret": "FTP_MAPLE_GROVE_KEY"}
    doc = staged.run("render", "200145", "--live", "--format", "json").json()
    assert doc["settings"]["ftp"]["port"] == 2222
    assert doc["bid"] == 200145
    staged.assert_no_secret_leaks()


def test_render_live_of_an_unmanaged_biller_and_of_none(staged: Workspace) -> None:
    assert staged.run("render", "900001", "--live").code == 0  # no file needed
    missing = staged.run("render", "424242", "--live")
    assert missing.code == 1
    assert "the CRM has no biller 424242" in missing.err
    both = staged.run("render", "200145", "--live", "--explain")
    assert both.code == 64
    assert "--explain" in both.err


# --- the embedded sandbox: its CRM-only billers, and a biller it does not know ----------


def test_rehearse_onboarding_on_the_embedded_sandbox(ws: Workspace) -> None:
    listed = ws.run(
        "billers", "--partner", "caselle-batch-utility", "--unmanaged", "--format", "json"
    )
    assert listed.code == 0, listed
    assert listed.err.startswith("CRM: embedded sandbox")
    unmanaged = listed.json()["billers"]
    assert unmanaged, "a new embedded sandbox holds CRM-only billers to onboard"
    bid = unmanaged[0]["bid"]
    started = ws.run("new", str(bid))
    assert started.code == 1, started  # Caselle Batch needs the FTP connection filled in
    assert f"wrote billers/{bid}.yaml (partner caselle-batch-utility)" in started.out
    after = ws.run("billers", "--partner", "caselle-batch-utility", "--format", "json").json()
    assert {b["bid"]: b["state"] for b in after["billers"]}[bid] == "managed"


def test_new_for_a_biller_the_embedded_sandbox_does_not_know(ws: Workspace) -> None:
    run = ws.run("new", "424242", "--partner", "bsa")
    assert run.code == 1
    assert (
        "the CRM has no biller 424242; create its profile in the CRM first (in the embedded "
        "sandbox: int360 sandbox profile 424242 --name NAME --integrator-id 93)" in run.err
    )
    made = ws.run("sandbox", "profile", "424242", "--name", "Elm Water", "--integrator-id", "93")
    assert made.code == 0, made
    again = ws.run("new", "424242", "--partner", "bsa")
    assert "wrote billers/424242.yaml (partner bsa)" in again.out, again
