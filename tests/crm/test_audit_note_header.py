"""A PATCH's ``Audit-Note`` header: the note is committed with the settings, both or
neither; the client sends it when it fits and says when it did not."""

from __future__ import annotations

import json

import pytest
import requests
from pytest_httpserver import HTTPServer
from scripted_crm import answer, calls, crm_url, scripted

from int360apply.apply import ApplyOptions, apply_plan
from int360apply.crm import HEADER_NOTE_LIMITS, AuditNote
from int360apply.crm.client import CrmClient
from int360apply.crm.port import PatchRequest
from int360apply.crm.sandbox.records import NewNote, SettingsUpdate
from int360apply.crm.sandbox.server import SandboxServer
from int360apply.plan import BillerPlan, Change, Plan

from .conftest import PROFILES

BID = PROFILES[0].bid
NOTE = {"text": "int360 apply: changed ftp.port", "commit": "9f1c2ab", "paths": ["ftp.port"]}


def _etag(server: SandboxServer) -> str:
    return requests.get(f"{server.url}/billers/{BID}/settings", timeout=5).headers["ETag"]


def _patch(server: SandboxServer, etag: str, note: str) -> requests.Response:
    return requests.patch(
        f"{server.url}/billers/{BID}/settings",
        data=json.dumps({"ftp": {"port": 22}}),
        headers={
            "Content-Type": "application/merge-patch+json",
            "If-Match": etag,
            "Audit-Note": note,
        },
        timeout=5,
    )


def _notes(server: SandboxServer) -> list[dict[str, object]]:
    items: list[dict[str, object]] = requests.get(
        f"{server.url}/billers/{BID}/notes", timeout=5
    ).json()["items"]
    return items


def test_the_note_is_stored_with_the_change_and_its_id_returned(sandbox: SandboxServer) -> None:
    resp = _patch(sandbox, _etag(sandbox), json.dumps(NOTE))
    assert resp.status_code == 200, resp.text
    notes = _notes(sandbox)
    assert len(notes) == 1
    assert resp.headers["Audit-Note-Id"] == str(notes[0]["id"])
    assert {k: notes[0][k] for k in NOTE} == NOTE
    assert notes[0]["author"] == "anonymous"  # the token's name when the note names nobody


def test_without_the_header_no_note_and_no_note_id(sandbox: SandboxServer) -> None:
    resp = requests.patch(
        f"{sandbox.url}/billers/{BID}/settings",
        json={"ftp": {"port": 22}},
        headers={"If-Match": _etag(sandbox)},
        timeout=5,
    )
    assert resp.status_code == 200
    assert "Audit-Note-Id" not in resp.headers
    assert _notes(sandbox) == []


@pytest.mark.parametrize(
    ("header", "fields"),
    [
        ("{not json", [""]),
        ("NaN", [""]),
        ("[1]", [""]),
        (json.dumps({"text": ""}), ["text"]),
        (json.dumps({"text": "x" * (HEADER_NOTE_LIMITS.text + 1)}), ["text"]),
        (json.dumps({"text": "x", "paths": ["p"] * (HEADER_NOTE_LIMITS.paths + 1)}), ["paths"]),
        (json.dumps({"text": "x", "commit": "XYZ", "extra": 1}), ["extra", "commit"]),
    ],
)
def test_an_invalid_note_refuses_the_whole_write(
    sandbox: SandboxServer, header: str, fields: list[str]
) -> None:
    etag = _etag(sandbox)
    resp = _patch(sandbox, etag, header)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_note"
    assert [d["path"] for d in error["details"]] == fields
    assert _etag(sandbox) == etag, "the settings were written despite the invalid note"
    assert _notes(sandbox) == []


def test_a_stale_patch_writes_no_note(sandbox: SandboxServer) -> None:
    resp = _patch(sandbox, '"0"', json.dumps(NOTE))
    assert resp.status_code == 412
    assert _notes(sandbox) == []


def test_a_header_line_over_64_kib_is_a_json_431(sandbox: SandboxServer) -> None:
    resp = _patch(sandbox, _etag(sandbox), json.dumps({"text": "x" * 70000}))
    assert resp.status_code == 431
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["error"]["code"] == "431"


def test_a_failed_computation_rolls_the_note_back(sandbox: SandboxServer) -> None:
    store = sandbox.store
    revision = store.get_settings(BID)
    assert revision is not None

    def boom(doc: dict[str, object], rev: int) -> SettingsUpdate:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        store.update_settings(BID, lambda r: True, boom, NewNote("ci", "note"))
    assert store.list_notes(BID, after=0, limit=10) == []
    assert store.get_settings(BID) == revision


def test_the_client_sends_the_note_and_reports_its_id(client: CrmClient) -> None:
    _, etag = client.get_settings(BID)
    note = AuditNote("changed ftp.port", author="ci", commit="9f1c2ab", paths=("ftp.port",))
    result = client.patch_settings(PatchRequest(BID, {"ftp": {"port": 22}}, etag, note=note))
    notes = client.list_notes(BID)
    assert [n.id for n in notes] == [result.note_id]
    assert (notes[0].text, notes[0].author, notes[0].paths) == (
        "changed ftp.port",
        "ci",
        ("ftp.port",),
    )


def test_non_ascii_in_a_note_survives_the_header(client: CrmClient) -> None:
    _, etag = client.get_settings(BID)
    note = AuditNote("geändert von Zoë ✓", author="zoë")
    result = client.patch_settings(PatchRequest(BID, {}, etag, note=note))
    assert result.note_id is not None
    assert [(n.text, n.author) for n in client.list_notes(BID)] == [(note.text, note.author)]


@pytest.mark.parametrize(
    "note",
    [
        AuditNote("x" * (HEADER_NOTE_LIMITS.text + 1)),
        AuditNote("x", paths=tuple(f"p{i}" for i in range(HEADER_NOTE_LIMITS.paths + 1))),
        # Within the contract's header limits, but over the client's 8 KiB for proxies.
        AuditNote("✓" * 1500),
    ],
)
def test_a_note_too_big_for_a_header_is_not_sent(client: CrmClient, note: AuditNote) -> None:
    _, etag = client.get_settings(BID)
    result = client.patch_settings(PatchRequest(BID, {"ftp": {"port": 22}}, etag, note=note))
    assert result.note_id is None
    assert result.settings == {"ftp": {"port": 22}}
    assert client.list_notes(BID) == []


# A CRM that ignores the header (no Audit-Note-Id) is a condition the sandbox cannot
# produce, so a scripted server plays it.


def _one_change_plan(crm: str) -> Plan:
    change = Change("ftp.port", None, 22, "billers/x.yaml:3:9")
    entry = BillerPlan(7, "Seven", "bsa", "change", etag='"1"', changes=[change])
    return Plan(crm=crm, commit="abcdef1", billers=[entry])


@pytest.mark.parametrize("confirmed", [True, False])
def test_apply_posts_the_note_only_when_the_crm_did_not_confirm_it(
    confirmed: bool, httpserver: HTTPServer
) -> None:
    headers = {"ETag": '"2"', **({"Audit-Note-Id": "5"} if confirmed else {})}
    note = {"id": 5, "created_at": "now", "author": "ci", "text": "t"}
    crm = scripted(httpserver)
    answer(crm, "PATCH", "/billers/7/settings", json={"ftp": {"port": 22}}, headers=headers)
    answer(crm, "POST", "/billers/7/notes", json=note, status=201)
    with CrmClient(crm_url(crm), "token") as client:
        report = apply_plan(_one_change_plan(crm_url(crm)), client, ApplyOptions(actor="ci"))
    assert report.summary["applied"] == 1
    patches = [c for c in calls(crm) if c.method == "PATCH"]
    sent = json.loads(patches[0].headers["Audit-Note"])
    assert sent["paths"] == ["ftp.port"] and sent["commit"] == "abcdef1"
    assert [c.method for c in calls(crm)].count("POST") == (0 if confirmed else 1)
