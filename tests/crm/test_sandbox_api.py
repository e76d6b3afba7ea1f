"""The sandbox over real HTTP: every endpoint and every error status of the contract."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
import requests

from int360apply.crm import Profile
from int360apply.crm.sandbox.server import SandboxServer

from .conftest import PROFILES, READ, WRITE, MakeSandbox

BID = PROFILES[0].bid
MERGE = {"Content-Type": "application/merge-patch+json"}
SECRET_VALUE = "s3cr3t-value-that-must-never-come-back"


def _get(server: SandboxServer, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(server.url + path, timeout=5, **kwargs)


def _patch(
    server: SandboxServer, bid: int, patch: Any, etag: str | None, **headers: str
) -> requests.Response:
    sent = dict(MERGE, **headers)
    if etag is not None:
        sent["If-Match"] = etag
    return requests.patch(
        f"{server.url}/billers/{bid}/settings", data=json.dumps(patch), headers=sent, timeout=5
    )


def _etag(server: SandboxServer, bid: int = BID) -> str:
    return _get(server, f"/billers/{bid}/settings").headers["ETag"]


def _error(resp: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    error = resp.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and isinstance(error["details"], list)
    return dict(error)


# -- billers -------------------------------------------------------------------


def test_get_biller_and_404(sandbox: SandboxServer) -> None:
    assert _get(sandbox, f"/billers/{BID}").json() == PROFILES[0]._asdict()
    for path in ("/billers/42", "/billers/abc", "/billers/0", f"/billers/{2**60}"):
        _error(_get(sandbox, path), 404, "not_found")
    _error(_get(sandbox, "/nowhere"), 404, "not_found")


def test_list_billers_paginates_over_1200(make_sandbox: MakeSandbox) -> None:
    profiles = [Profile(200000 + i, f"Biller {i}", 93 if i % 3 else 175) for i in range(1200)]
    server = make_sandbox(profiles)
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 500}
    pages = 0
    while True:
        page = _get(server, "/billers", params=params).json()
        seen.extend(item["bid"] for item in page["items"])
        pages += 1
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == 3
    assert seen == [p.bid for p in profiles]
    filtered = _get(server, "/billers", params={"integrator_id": 175, "limit": 1000}).json()
    assert [i["bid"] for i in filtered["items"]] == [
        p.bid for p in profiles if p.integrator_id == 175
    ]
    assert filtered["next_cursor"] is None
    assert len(_get(server, "/billers").json()["items"]) == 100  # the default page


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "ten"},
        {"integrator_id": "-1"},
        {"integrator_id": "1_000"},
        {"cursor": "garbage"},
    ],
)
def test_list_billers_rejects_bad_parameters(
    sandbox: SandboxServer, params: dict[str, Any]
) -> None:
    _error(_get(sandbox, "/billers", params=params), 400, "bad_request")


def test_a_notes_cursor_is_not_a_billers_cursor(sandbox: SandboxServer) -> None:
    for i in range(3):
        requests.post(f"{sandbox.url}/billers/{BID}/notes", json={"text": f"n{i}"}, timeout=5)
    cursor = _get(sandbox, f"/billers/{BID}/notes", params={"limit": 1}).json()["next_cursor"]
    _error(_get(sandbox, "/billers", params={"cursor": cursor}), 400, "bad_request")


# -- settings ------------------------------------------------------------------


def test_new_profiles_have_empty_settings_and_an_etag(sandbox: SandboxServer) -> None:
    resp = _get(sandbox, f"/billers/{BID}/settings")
    assert resp.status_code == 200 and resp.json() == {}
    assert resp.headers["ETag"].startswith('"')


def test_patch_changes_settings_and_etag(sandbox: SandboxServer) -> None:
    etag = _etag(sandbox)
    resp = _patch(sandbox, BID, {"ftp": {"port": 22, "inbound_dir": "/ToInvoiceCloud"}}, etag)
    assert resp.status_code == 200
    assert resp.json() == {"ftp": {"port": 22, "inbound_dir": "/ToInvoiceCloud"}}
    new = resp.headers["ETag"]
    assert new != etag
    again = _get(sandbox, f"/billers/{BID}/settings")
    assert again.json() == resp.json() and again.headers["ETag"] == new
    # Every write changes the ETag, even one that changes nothing.
    assert _patch(sandbox, BID, {}, new).headers["ETag"] != new
    # application/json is accepted too (lenient), with the same semantics.
    resp = requests.patch(
        f"{sandbox.url}/billers/{BID}/settings",
        json={"ftp": {"port": None}},
        headers={"If-Match": _etag(sandbox)},
        timeout=5,
    )
    assert resp.json() == {"ftp": {"inbound_dir": "/ToInvoiceCloud"}}


def test_patch_preconditions(sandbox: SandboxServer) -> None:
    etag = _etag(sandbox)
    _error(_patch(sandbox, BID, {}, None), 428, "precondition_required")
    _error(_patch(sandbox, BID, {}, "*"), 428, "precondition_required")
    stale = _error(_patch(sandbox, BID, {}, '"0"'), 412, "precondition_failed")
    assert "read them again" in stale["message"]
    assert _patch(sandbox, BID, {}, '"0"').headers["ETag"] == etag  # tells the current one
    _error(_patch(sandbox, BID, {}, "W/" + etag), 412, "precondition_failed")  # strong only
    assert _patch(sandbox, BID, {}, f'"0", {etag}').status_code == 200  # a list may match
    _error(_patch(sandbox, 42, {}, etag), 404, "not_found")


def test_patch_validation_lists_every_field(sandbox: SandboxServer) -> None:
    etag = _etag(sandbox)
    resp = _patch(sandbox, BID, {"ftp": {"port": 70000, "protocol": "scp"}, "x": 1}, etag)
    error = _error(resp, 422, "invalid_settings")
    assert [d["path"] for d in error["details"]] == ["ftp.port", "ftp.protocol", "x"]
    assert _etag(sandbox) == etag  # nothing was written


def test_patch_body_errors(sandbox: SandboxServer) -> None:
    etag = _etag(sandbox)
    url = f"{sandbox.url}/billers/{BID}/settings"
    bad_json = requests.patch(url, data="{nope", headers={**MERGE, "If-Match": etag}, timeout=5)
    _error(bad_json, 400, "bad_request")
    nan = requests.patch(url, data='{"a": NaN}', headers={**MERGE, "If-Match": etag}, timeout=5)
    _error(nan, 400, "bad_request")
    text = requests.patch(
        url, data="{}", headers={"Content-Type": "text/plain", "If-Match": etag}, timeout=5
    )
    _error(text, 415, "unsupported_media_type")
    huge = requests.patch(
        url, data=b"{" + b" " * (1 << 20) + b"}", headers={**MERGE, "If-Match": etag}, timeout=5
    )
    _error(huge, 413, "payload_too_large")
    _error(_patch(sandbox, BID, [1, 2], etag), 422, "invalid_settings")


def test_if_match_race_one_writer_wins(sandbox: SandboxServer) -> None:
    """Two writers with the same ETag at the same moment: one 200, one 412."""
    etag = _etag(sandbox)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def write(port: int) -> None:
        barrier.wait()
        results.append(_patch(sandbox, BID, {"ftp": {"port": port}}, etag).status_code)

    threads = [threading.Thread(target=write, args=(p,)) for p in (21, 22)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 412]


def test_bulk_settings(make_sandbox: MakeSandbox) -> None:
    profiles = [Profile(300000 + i, f"Biller {i}", 93) for i in range(1200)]
    server = make_sandbox(profiles)
    bids = [p.bid for p in profiles[:499]] + [1]  # 500, one unknown
    resp = _get(server, "/settings", params=[("bid", b) for b in bids])
    body = resp.json()
    assert [i["bid"] for i in body["items"]] == bids[:-1]
    assert body["missing"] == [1]
    first = body["items"][0]
    assert first["settings"] == {} and first["etag"] == _etag(server, first["bid"])
    repeated = _get(server, "/settings", params=[("bid", 300000), ("bid", 300000)]).json()
    assert [i["bid"] for i in repeated["items"]] == [300000]
    too_many = [("bid", p.bid) for p in profiles[:501]]
    _error(_get(server, "/settings", params=too_many), 400, "bad_request")
    _error(_get(server, "/settings"), 400, "bad_request")
    _error(_get(server, "/settings", params={"bid": "x"}), 400, "bad_request")


# -- notes ---------------------------------------------------------------------


def test_notes(sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/billers/{BID}/notes"
    note = {"text": "applied", "commit": "9f1c2ab", "paths": ["ftp.host"], "author": "octocat"}
    created = requests.post(url, json=note, timeout=5)
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in note} == note
    assert body["id"] >= 1 and body["created_at"].endswith("Z")
    plain = requests.post(url, json={"text": "no author"}, timeout=5).json()
    assert plain["author"] == "anonymous" and "commit" not in plain
    listed = _get(sandbox, f"/billers/{BID}/notes").json()
    assert [n["text"] for n in listed["items"]] == ["applied", "no author"]
    assert listed["next_cursor"] is None


def test_note_idempotency_key(sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/billers/{BID}/notes"
    key = {"Idempotency-Key": "apply-1234"}
    first = requests.post(url, json={"text": "once"}, headers=key, timeout=5)
    again = requests.post(url, json={"text": "once"}, headers=key, timeout=5)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    _error(
        requests.post(url, json={"text": "other"}, headers=key, timeout=5),
        409,
        "idempotency_conflict",
    )
    assert len(_get(sandbox, f"/billers/{BID}/notes").json()["items"]) == 1
    bad_key = requests.post(url, json={"text": "x"}, headers={"Idempotency-Key": "a b"}, timeout=5)
    _error(bad_key, 400, "bad_request")


def test_note_errors(sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/billers/{BID}/notes"
    invalid = requests.post(
        url, json={"text": "", "commit": "XYZ", "paths": [1], "x": 1}, timeout=5
    )
    error = _error(invalid, 422, "invalid_note")
    assert [d["path"] for d in error["details"]] == ["x", "text", "commit", "paths"]
    _error(requests.post(url, data="{}", timeout=5), 415, "unsupported_media_type")
    bad = requests.post(url, data="{", headers={"Content-Type": "application/json"}, timeout=5)
    _error(bad, 400, "bad_request")
    _error(
        requests.post(f"{sandbox.url}/billers/42/notes", json={"text": "x"}, timeout=5),
        404,
        "not_found",
    )
    _error(_get(sandbox, "/billers/42/notes"), 404, "not_found")


def test_method_not_allowed(sandbox: SandboxServer) -> None:
    resp = requests.delete(f"{sandbox.url}/billers/{BID}", timeout=5)
    _error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


# -- secrets -------------------------------------------------------------------


def test_secret_values_are_never_returned(sandbox: SandboxServer) -> None:
    """Write secrets, then search every response of every endpoint for the value."""
    bodies: list[str] = []
    write = {
        "ftp": {
            "auth": {"method": "password", "password": {"secret": "FTP_PW", "value": SECRET_VALUE}},
            "pgp_public_key": {"secret": "PGP_KEY", "value": SECRET_VALUE + "-pgp"},
        }
    }
    resp = _patch(sandbox, BID, write, _etag(sandbox))
    bodies.append(resp.text)
    assert resp.json()["ftp"]["auth"]["password"] == {"secret": "FTP_PW", "set": True}
    invalid = dict(write, advanced={"autopay_days_before_due": 99})
    bodies.append(_patch(sandbox, BID, invalid, resp.headers["ETag"]).text)
    literal = {"ftp": {"auth": {"password": SECRET_VALUE}}}
    bodies.append(_patch(sandbox, BID, literal, resp.headers["ETag"]).text)
    bodies.append(_patch(sandbox, BID, write, '"0"').text)
    for path in (
        f"/billers/{BID}",
        f"/billers/{BID}/settings",
        f"/billers/{BID}/notes",
        "/billers",
        f"/settings?bid={BID}",
    ):
        bodies.append(_get(sandbox, path).text)
    assert all(SECRET_VALUE not in body for body in bodies)
    stored = sandbox.store.secret_values(BID)
    assert stored["ftp.auth.password"] == ("FTP_PW", SECRET_VALUE)


# -- auth ----------------------------------------------------------------------


@pytest.fixture
def secured(make_sandbox: MakeSandbox) -> SandboxServer:
    return make_sandbox(tokens=[READ, WRITE])


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_auth_requires_a_known_token(secured: SandboxServer) -> None:
    resp = _get(secured, f"/billers/{BID}")
    _error(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    _error(_get(secured, f"/billers/{BID}", headers=_bearer("wrong")), 401, "unauthorized")
    _error(
        _get(secured, f"/billers/{BID}", headers={"Authorization": f"Basic {READ.value}"}),
        401,
        "unauthorized",
    )
    assert _get(secured, f"/billers/{BID}", headers=_bearer(READ.value)).status_code == 200
    assert _get(secured, f"/billers/{BID}", headers=_bearer(WRITE.value)).status_code == 200


def test_read_tokens_cannot_write(secured: SandboxServer) -> None:
    etag = _get(secured, f"/billers/{BID}/settings", headers=_bearer(READ.value)).headers["ETag"]
    as_reader = _patch(secured, BID, {"ftp": {"port": 22}}, etag, **_bearer(READ.value))
    assert "read" in _error(as_reader, 403, "forbidden")["message"]
    note = requests.post(
        f"{secured.url}/billers/{BID}/notes",
        json={"text": "x"},
        headers=_bearer(READ.value),
        timeout=5,
    )
    _error(note, 403, "forbidden")
    stage = requests.delete(
        f"{secured.url}/_sandbox/billers/{BID}", headers=_bearer(READ.value), timeout=5
    )
    _error(stage, 403, "forbidden")
    as_writer = _patch(secured, BID, {"ftp": {"port": 22}}, etag, **_bearer(WRITE.value))
    assert as_writer.status_code == 200
    written = requests.post(
        f"{secured.url}/billers/{BID}/notes",
        json={"text": "x"},
        headers=_bearer(WRITE.value),
        timeout=5,
    )
    assert written.json()["author"] == WRITE.name  # the token's name by default


def test_request_log_has_no_token_or_body(
    secured: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="int360apply.crm.sandbox")
    etag = _get(secured, f"/billers/{BID}/settings", headers=_bearer(WRITE.value)).headers["ETag"]
    write = {"ftp": {"pgp_public_key": {"secret": "PGP", "value": SECRET_VALUE}}}
    _patch(secured, BID, write, etag, **_bearer(WRITE.value))
    _get(secured, "/billers/1%0AGET%20/forged%20200", headers=_bearer(READ.value))
    lines = [r.getMessage() for r in caplog.records if r.name == "int360apply.crm.sandbox"]
    assert all("\n" not in line for line in lines)  # no forged log lines
    assert any(line.startswith(f"PATCH /billers/{BID}/settings 200 ") for line in lines)
    assert any(line.startswith(f"GET /billers/{BID}/settings 200 ") for line in lines)
    text = "\n".join(lines)
    assert WRITE.value not in text and SECRET_VALUE not in text and "PGP" not in text


# -- staging (outside the contract) ------------------------------------------


def test_sandbox_put_and_delete(sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/_sandbox/billers"
    created = requests.put(f"{url}/555", json={"name": "New", "integrator_id": 93}, timeout=5)
    assert created.status_code == 201
    assert _get(sandbox, "/billers/555").json()["status"] == "active"
    assert _get(sandbox, "/billers/555/settings").json() == {}
    changed = requests.put(
        f"{url}/555", json={"name": "New", "integrator_id": 201, "status": "inactive"}, timeout=5
    )
    assert changed.status_code == 200
    assert _get(sandbox, "/billers/555").json()["integrator_id"] == 201
    invalid = requests.put(f"{url}/555", json={"name": "", "integrator_id": "x", "s": 1}, timeout=5)
    assert invalid.status_code == 422
    assert requests.delete(f"{url}/555", timeout=5).status_code == 204
    _error(_get(sandbox, "/billers/555"), 404, "not_found")
    _error(requests.delete(f"{url}/555", timeout=5), 404, "not_found")
