"""A hostile CRM (pytest-httpserver on loopback: things the sandbox never does):
bodies that are not JSON, huge or absurdly nested, wrong types, unexpected fields, a
missing ETag, redirects to another host. Each gives a clear ``CrmError`` subclass for that
call — never another exception — and the token never leaves for another host (no other
host is even looked up). Through ``apply`` the error is that biller's alone; through the
CLI it is a clean exit 1 without a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from scripted_crm import answer, calls, crm_url, refuse_other_hosts, scripted

from int360apply.apply import ApplyOptions, apply_plan
from int360apply.cli import main
from int360apply.crm.client import CrmClient
from int360apply.crm.errors import CrmError, CrmProtocolError, CrmUnavailable
from int360apply.crm.port import PatchRequest
from int360apply.crm.retry import RetryPolicy
from int360apply.plan import BillerPlan, Change, Plan

from .conftest import copy_repo

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

EVIL = "https://evil.example.net"
TOKEN = "tok-hostile-crm-5e1f0c2b9a"
FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, deadline=5.0)
SETTINGS = {"advanced": {"min_payment_amount": 100}}
PROFILE = {"bid": 7, "name": "Seven", "integrator_id": 93, "status": "active"}
HUGE = 64 * 1024 * 1024  # a settings body of 64 MiB is no CRM's honest answer


@pytest.fixture
def other_hosts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any host but loopback is refused, and listed here: a client that followed a
    redirect to another host would have to look it up first."""
    return refuse_other_hosts(monkeypatch)


@pytest.fixture
def server(other_hosts: list[str], httpserver: HTTPServer) -> HTTPServer:
    return scripted(httpserver)


@pytest.fixture
def crm(server: HTTPServer) -> Iterator[CrmClient]:
    slept: list[float] = []
    with CrmClient(crm_url(server), TOKEN, retry=FAST, sleep=slept.append) as client:
        yield client


def _assert_token_stayed_home(server: HTTPServer, other_hosts: list[str]) -> None:
    assert other_hosts == [], f"a request went for another host: {other_hosts}"
    assert server.assertions == [], "the client asked for something nobody scripted"
    for call in calls(server):
        assert call.url.startswith(f"{crm_url(server)}/"), call.url
        assert call.headers.get("Authorization") == f"Bearer {TOKEN}"


Register = Callable[[HTTPServer], object]
Call = Callable[[CrmClient], Any]


def _get(path: str, **kwargs: Any) -> Register:
    return lambda m: answer(m, "GET", path, **kwargs)


def _patch(path: str, **kwargs: Any) -> Register:
    return lambda m: answer(m, "PATCH", path, **kwargs)


def _redirect(method: str, path: str, status: int) -> Register:
    """``path`` redirects to the same path on another host (following it would need a
    look-up of that host, which ``other_hosts`` refuses and lists)."""

    def register(m: HTTPServer) -> None:
        answer(m, method, path, status=status, headers={"Location": f"{EVIL}/steal{path}"})

    return register


def _both(*registers: Register) -> Register:
    def register(m: HTTPServer) -> None:
        for r in registers:
            r(m)

    return register


_SETTINGS_CALL: Call = lambda c: c.get_settings(7)  # noqa: E731
_PATCH_CALL: Call = lambda c: c.patch_settings(PatchRequest(7, SETTINGS, '"1"'))  # noqa: E731
_BULK_CALL: Call = lambda c: c.bulk_settings([7, 8])  # noqa: E731
_PROFILE_CALL: Call = lambda c: c.get_biller(7)  # noqa: E731
_LIST_CALL: Call = lambda c: list(c.list_billers())  # noqa: E731
_NOTES_CALL: Call = lambda c: c.list_notes(7)  # noqa: E731
_ETAG = {"ETag": '"5"'}

HOSTILE: dict[str, tuple[Register, Call]] = {
    "settings: HTML instead of JSON": (
        _get(
            "/billers/7/settings",
            body="<html>maintenance</html>",
            content_type="text/html",
            headers=_ETAG,
        ),
        _SETTINGS_CALL,
    ),
    "settings: empty body": (_get("/billers/7/settings", body="", headers=_ETAG), _SETTINGS_CALL),
    "settings: not UTF-8": (
        _get("/billers/7/settings", body=b"\xff\xfe{\x00}", headers=_ETAG),
        _SETTINGS_CALL,
    ),
    "settings: a JSON list": (
        _get("/billers/7/settings", json=[1, 2], headers=_ETAG),
        _SETTINGS_CALL,
    ),
    "settings: a JSON string": (
        _get("/billers/7/settings", json="ok", headers=_ETAG),
        _SETTINGS_CALL,
    ),
    "settings: no ETag": (_get("/billers/7/settings", json=SETTINGS), _SETTINGS_CALL),
    "settings: empty ETag": (
        _get("/billers/7/settings", json=SETTINGS, headers={"ETag": ""}),
        _SETTINGS_CALL,
    ),
    "settings: NaN is not JSON": (
        _get(
            "/billers/7/settings",
            body='{"advanced": {"min_payment_amount": NaN}}',
            content_type="application/json",
            headers=_ETAG,
        ),
        _SETTINGS_CALL,
    ),
    "settings: nested 100,000 deep": (
        _get(
            "/billers/7/settings",
            body="[" * 100_000 + "]" * 100_000,
            content_type="application/json",
            headers=_ETAG,
        ),
        _SETTINGS_CALL,
    ),
    "settings: a 5,000-digit number": (
        _get(
            "/billers/7/settings",
            body='{"a": ' + "9" * 5000 + "}",
            content_type="application/json",
            headers=_ETAG,
        ),
        _SETTINGS_CALL,
    ),
    "settings: huge body (64 MiB)": (
        _get(
            "/billers/7/settings",
            body=b'{"advanced": {"account_number_label": "' + b"x" * HUGE + b'"}}',
            content_type="application/json",
            headers=_ETAG,
        ),
        _SETTINGS_CALL,
    ),
    "settings: redirect to another host": (
        _redirect("GET", "/billers/7/settings", 302),
        _SETTINGS_CALL,
    ),
    "settings: permanent redirect to another host": (
        _redirect("GET", "/billers/7/settings", 308),
        _SETTINGS_CALL,
    ),
    "patch: 307 redirect to another host": (
        _redirect("PATCH", "/billers/7/settings", 307),
        _PATCH_CALL,
    ),
    "patch: 200 without ETag": (_patch("/billers/7/settings", json=SETTINGS), _PATCH_CALL),
    "patch: 200 with HTML": (
        _patch(
            "/billers/7/settings", body="<b>saved!</b>", content_type="text/html", headers=_ETAG
        ),
        _PATCH_CALL,
    ),
    "patch: 200 with a list": (_patch("/billers/7/settings", json=[], headers=_ETAG), _PATCH_CALL),
    "patch: 422 with garbage details": (
        _patch(
            "/billers/7/settings",
            status=422,
            json={"error": {"code": 5, "message": ["x"], "details": "all wrong"}},
        ),
        _PATCH_CALL,
    ),
    "patch: 418 with HTML": (
        _patch("/billers/7/settings", status=418, body="<html>teapot</html>"),
        _PATCH_CALL,
    ),
    "patch: 400 with an error body nested 100,000 deep": (
        _patch(
            "/billers/7/settings",
            status=400,
            body="[" * 100_000 + "]" * 100_000,
            content_type="application/json",
        ),
        _PATCH_CALL,
    ),
    "patch: 503 forever with an absurd Retry-After": (
        _patch("/billers/7/settings", status=503, headers={"Retry-After": "999999"}),
        _PATCH_CALL,
    ),
    "bulk: items is an object": (_get("/settings", json={"items": {}, "missing": []}), _BULK_CALL),
    "bulk: item without etag": (
        _get("/settings", json={"items": [{"bid": 7, "settings": {}}], "missing": [8]}),
        _BULK_CALL,
    ),
    "bulk: bid as a string": (
        _get(
            "/settings",
            json={"items": [{"bid": "7", "etag": '"1"', "settings": {}}], "missing": [8]},
        ),
        _BULK_CALL,
    ),
    "bulk: settings as a list": (
        _get(
            "/settings", json={"items": [{"bid": 7, "etag": '"1"', "settings": []}], "missing": [8]}
        ),
        _BULK_CALL,
    ),
    "bulk: a BID left out": (
        _get(
            "/settings", json={"items": [{"bid": 7, "etag": '"1"', "settings": {}}], "missing": []}
        ),
        _BULK_CALL,
    ),
    "profile: bid is a string": (_get("/billers/7", json={**PROFILE, "bid": "7"}), _PROFILE_CALL),
    "profile: bid is true": (_get("/billers/7", json={**PROFILE, "bid": True}), _PROFILE_CALL),
    "profile: integrator_id is a float": (
        _get("/billers/7", json={**PROFILE, "integrator_id": 93.0}),
        _PROFILE_CALL,
    ),
    "profile: name missing": (
        _get("/billers/7", json={"bid": 7, "integrator_id": 93, "status": "active"}),
        _PROFILE_CALL,
    ),
    "list: a cursor that repeats forever": (
        _get("/billers", json={"items": [PROFILE], "next_cursor": "again"}),
        _LIST_CALL,
    ),
    "list: cursor is a number": (
        _get("/billers", json={"items": [PROFILE], "next_cursor": 2}),
        _LIST_CALL,
    ),
    "list: items is null": (_get("/billers", json={"items": None}), _LIST_CALL),
    "notes: id is a string": (
        _get(
            "/billers/7/notes",
            json={"items": [{"id": "1", "created_at": "now", "author": "a", "text": "t"}]},
        ),
        _NOTES_CALL,
    ),
    "notes: paths is a string": (
        _get(
            "/billers/7/notes",
            json={
                "items": [
                    {"id": 1, "created_at": "now", "author": "a", "text": "t", "paths": "ftp.host"}
                ]
            },
        ),
        _NOTES_CALL,
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_answer_is_a_clear_crm_error(
    name: str, server: HTTPServer, other_hosts: list[str], crm: CrmClient
) -> None:
    register, call = HOSTILE[name]
    register(server)
    with pytest.raises(CrmError) as caught:
        call(crm)
    message = str(caught.value)
    assert message and TOKEN not in message
    assert len(message) < 2000, "the message should not carry the hostile body"
    _assert_token_stayed_home(server, other_hosts)


def test_redirects_are_protocol_errors_naming_the_other_host(
    server: HTTPServer, other_hosts: list[str], crm: CrmClient
) -> None:
    _redirect("GET", "/billers/7/settings", 302)(server)
    with pytest.raises(CrmProtocolError, match=r"evil\.example\.net"):
        crm.get_settings(7)
    _assert_token_stayed_home(server, other_hosts)
    assert [c.url for c in calls(server)] == [f"{crm_url(server)}/billers/7/settings"]


def test_an_absurd_retry_after_gives_up_at_once_instead_of_sleeping(
    server: HTTPServer,
) -> None:
    answer(server, "GET", "/billers/7", status=429, headers={"Retry-After": "86400"})
    slept: list[float] = []
    with (
        CrmClient(crm_url(server), TOKEN, retry=FAST, sleep=slept.append) as client,
        pytest.raises(CrmUnavailable),
    ):
        client.get_biller(7)
    assert sum(slept) <= FAST.deadline


def test_unexpected_fields_are_tolerated_not_crashes(
    server: HTTPServer, other_hosts: list[str], crm: CrmClient
) -> None:
    """Extra fields in a profile, a bulk page or a note are ignored (forward compatible)."""
    answer(server, "GET", "/billers/7", json={**PROFILE, "owner": "x", "tags": [1, {"a": None}]})
    answer(
        server,
        "GET",
        "/settings",
        json={
            "items": [{"bid": 7, "etag": '"1"', "settings": SETTINGS, "extra": 1}],
            "missing": [8],
            "served_by": "node-3",
        },
    )
    answer(
        server,
        "GET",
        "/billers/7/notes",
        json={
            "items": [{"id": 1, "created_at": "now", "author": "a", "text": "t", "mood": "ok"}],
            "next_cursor": None,
            "total": 1,
        },
    )
    assert crm.get_biller(7).bid == 7
    assert crm.bulk_settings([7, 8]).found[7].settings == SETTINGS
    assert crm.list_notes(7)[0].text == "t"
    _assert_token_stayed_home(server, other_hosts)


# --- through apply: the error belongs to that biller -------------------------------------


def _plan(crm: str, bids: list[int]) -> Plan:
    change = Change("advanced.min_payment_amount", None, 100, "billers/x.yaml:1:1")
    return Plan(
        crm=crm,
        commit="abcdef1",
        billers=[
            BillerPlan(bid, f"Biller {bid}", "bsa", "change", etag='"1"', changes=[change])
            for bid in bids
        ],
    )


def test_through_apply_a_hostile_answer_fails_only_that_biller(
    server: HTTPServer, other_hosts: list[str], crm: CrmClient
) -> None:
    good = {"ETag": '"2"'}
    note = {"id": 1, "created_at": "now", "author": "r", "text": "t"}
    answer(server, "PATCH", "/billers/1/settings", json=SETTINGS, headers=good)
    answer(server, "POST", "/billers/1/notes", json=note, status=201)
    answer(server, "PATCH", "/billers/2/settings", body="<html>oops</html>", headers=good)
    _redirect("PATCH", "/billers/3/settings", 302)(server)
    answer(server, "PATCH", "/billers/4/settings", json=["not", "settings"], headers=good)
    answer(server, "PATCH", "/billers/5/settings", json=SETTINGS)  # no ETag
    answer(server, "PATCH", "/billers/6/settings", json=SETTINGS, headers=good)
    answer(server, "POST", "/billers/6/notes", body="<html>notes are down</html>", status=200)
    report = apply_plan(
        _plan(crm_url(server), [1, 2, 3, 4, 5, 6]), crm, ApplyOptions(concurrency=3, actor="r")
    )
    statuses = {o.bid: o.status for o in report.outcomes}
    assert statuses == {
        1: "applied",
        2: "failed",
        3: "failed",
        4: "failed",
        5: "failed",
        6: "applied",
    }
    for outcome in report.outcomes:
        for error in outcome.errors:
            assert error["message"] and TOKEN not in error["message"]
    _assert_token_stayed_home(server, other_hosts)


def test_through_apply_an_absurdly_nested_answer_fails_only_that_biller(
    server: HTTPServer, crm: CrmClient
) -> None:
    good = {"ETag": '"2"'}
    note = {"id": 1, "created_at": "now", "author": "r", "text": "t"}
    answer(server, "PATCH", "/billers/1/settings", json=SETTINGS, headers=good)
    answer(server, "POST", "/billers/1/notes", json=note, status=201)
    answer(
        server,
        "PATCH",
        "/billers/2/settings",
        body="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers=good,
    )
    try:
        report = apply_plan(
            _plan(crm_url(server), [1, 2]), crm, ApplyOptions(concurrency=1, actor="r")
        )
    except CrmError:
        raise
    except Exception as exc:
        pytest.fail(f"apply_plan raised {type(exc).__name__} for one biller's answer")
    assert {o.bid: o.status for o in report.outcomes} == {1: "applied", 2: "failed"}


# --- through the CLI: exit 1 and a message, no traceback ----------------------------------


@pytest.fixture
def hostile_repo(tmp_path: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_repo(tmp_path / "repo")
    monkeypatch.setenv("INT360_CRM_URL", crm_url(server))
    monkeypatch.setenv("INT360_CRM_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_SHA", "abcdef1234567")
    return root


def _profiles(server: HTTPServer) -> None:
    for bid, iid in ((104233, 201), (110392, 175), (500102, 174), (200145, 93)):
        answer(
            server,
            "GET",
            f"/billers/{bid}",
            json={"bid": bid, "name": f"B{bid}", "integrator_id": iid, "status": "active"},
        )


CLI_HOSTILE: dict[str, Register] = {
    "bulk read answers HTML": _get("/settings", body="<html>down</html>"),
    "bulk read redirects": lambda m: answer(
        m, "GET", "/settings", status=302, headers={"Location": f"{EVIL}/settings"}
    ),
    "bulk read answers a list": _get("/settings", json=[]),
    "bulk read keeps failing": _get("/settings", status=503, headers={"Retry-After": "0"}),
}


@pytest.mark.parametrize("name", list(CLI_HOSTILE))
@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_cli_commands_against_a_hostile_crm_exit_1_without_a_traceback(
    name: str,
    command: str,
    hostile_repo: Path,
    server: HTTPServer,
    other_hosts: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import int360apply.crm.client as client_module

    monkeypatch.setattr(client_module, "RetryPolicy", lambda: FAST)
    _profiles(server)
    CLI_HOSTILE[name](server)
    args = [command] + (["--yes"] if command == "apply" else [])
    try:
        code = main(["--repo", str(hostile_repo), *args])
    except CrmError as exc:  # the bug this test exists for: reported, not raised
        pytest.fail(f"int360 {command} raised {type(exc).__name__}: {exc}")
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert TOKEN not in out + err
    assert "Traceback" not in err
    _assert_token_stayed_home(server, other_hosts)


def test_the_mocked_repo_plans_cleanly_when_the_crm_behaves(
    hostile_repo: Path, server: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI cases above fail because of the hostile answer, not the set-up."""
    _profiles(server)
    items: list[dict[str, object]] = [
        {"bid": bid, "etag": '"1"', "settings": {}} for bid in (104233, 110392, 200145, 500102)
    ]
    answer(server, "GET", "/settings", json={"items": items, "missing": []})
    code = main(["--repo", str(hostile_repo), "plan", "--format", "json"])
    out, _err = capsys.readouterr()
    assert code == 2
    assert json.loads(out)["summary"]["change"] == 4
