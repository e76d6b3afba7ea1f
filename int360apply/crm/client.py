"""The HTTP client of the CRM contract (``schemas/crm-api.openapi.yaml``).

One ``CrmClient`` is shared by all worker threads: it keeps a pool of
``concurrency`` connections. Every request has a timeout. 429, 5xx and
connection failures are retried with exponential backoff and full jitter,
honouring ``Retry-After``, within a budget: a number of attempts and seconds
per call, and a number of retries for the client's whole life (so a CRM that
is down cannot make a 1,000-biller apply hammer it for an hour).

Writes are safe to retry: notes carry an ``Idempotency-Key``, and a settings
PATCH whose outcome is unknown is never re-sent blindly (see
``patch_settings``).

Redirects are not followed (the token must only ever reach the configured
host); error messages never contain the token. The HTTP exchange itself is
``transport.py``'s.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from int360apply.crm import (
    AUDIT_NOTE_HEADER,
    AUDIT_NOTE_ID_HEADER,
    BODY_NOTE_LIMITS,
    HEADER_NOTE_LIMITS,
    AuditNote,
    Note,
    Profile,
)
from int360apply.crm.errors import (
    CrmConfigError,
    CrmError,
    CrmProtocolError,
    CrmRequestError,
    CrmUnavailable,
    FieldProblem,
    Forbidden,
    InvalidSettings,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from int360apply.crm.transport import (
    Answer,
    BodyTooLarge,
    Transport,
    TransportError,
    TransportFailure,
)
from int360apply.jsonvalue import json_equal

ENV_URL = "INT360_CRM_URL"
ENV_TOKEN = "INT360_CRM_TOKEN"
MAX_BULK = 500  # the contract's limit of BIDs per bulk read
MAX_PAGE = 1000  # the contract's largest page of a list
MAX_AUDIT_NOTE_HEADER = 8192
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "int360-as-code/0.1"

Settings = dict[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry.

    Per call: at most ``attempts`` tries (the first included) and ``deadline``
    seconds of waiting; between tries a random delay in
    ``[0, min(max_delay, base_delay * 2**n)]`` (full jitter), or at least the
    server's ``Retry-After``. Per client: at most ``total_retries`` retries
    over all calls (None: unbounded).
    """

    attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 8.0
    deadline: float = 60.0
    total_retries: int | None = 1000


class Versioned(NamedTuple):
    """A biller's settings (secrets in read form) and their ETag."""

    settings: Settings
    etag: str


class PatchResult(NamedTuple):
    """The settings after a PATCH, their ETag, whether the response was lost
    and the change found already in place (see ``CrmClient.patch_settings``),
    and the id of the audit note the CRM committed with the change (None when
    none was sent, or the response that would confirm it was lost)."""

    settings: Settings
    etag: str
    already_applied: bool
    note_id: int | None = None


class BulkSettings(NamedTuple):
    """A bulk read: settings per known BID, and the BIDs the CRM does not know."""

    found: dict[int, Versioned]
    missing: list[int]


class CrmConfig(NamedTuple):
    """Where the CRM is, from the environment; ``url`` None means the embedded sandbox."""

    url: str | None
    token: str | None


class _Transient(Exception):
    """A failure worth retrying: 429/5xx or a connection that failed or dropped."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Budget:
    """The client-wide count of retries left (thread-safe)."""

    def __init__(self, total: int | None) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left is None:
                return True
            if self._left <= 0:
                return False
            self._left -= 1
            return True


class _Attempts:
    """The retry state of one call."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.tries = 1
        self.deadline = time.monotonic() + policy.deadline


def crm_config_from_env(env: Mapping[str, str] | None = None) -> CrmConfig:
    """``INT360_CRM_URL`` and ``INT360_CRM_TOKEN``; empty values count as unset."""
    env = os.environ if env is None else env
    return CrmConfig(url=env.get(ENV_URL) or None, token=env.get(ENV_TOKEN) or None)


def client_from_env(env: Mapping[str, str] | None = None, **kwargs: Any) -> CrmClient | None:
    """A client for ``INT360_CRM_URL`` with ``INT360_CRM_TOKEN``, or None when no URL
    is set (the caller then starts the embedded sandbox). ``kwargs`` go to ``CrmClient``."""
    config = crm_config_from_env(env)
    if config.url is None:
        return None
    return CrmClient(config.url, config.token, **kwargs)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CrmClient:
    """A client of the CRM contract; thread-safe, one per process is enough."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: tuple[float, float] = (3.05, 30.0),
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """``base_url`` like ``https://crm.example.com/api``; ``concurrency`` sizes the
        connection pool (use the number of worker threads); ``timeout`` is
        (connect, read) seconds. ``sleep`` and ``rng`` are for tests.
        """
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CrmConfigError(
                f"{ENV_URL} must be http(s)://host[:port][/path], not {base_url!r}"
            )
        loopback = _is_loopback(parts.hostname)
        if token and parts.scheme == "http" and not loopback:
            raise CrmConfigError(
                f"refusing to send the CRM token in clear text to {parts.hostname}: "
                "use an https:// URL"
            )
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._retry = retry or RetryPolicy()
        self._budget = _Budget(self._retry.total_retries)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._concurrency = max(1, concurrency)
        # Proxy settings from the environment would route the loopback sandbox
        # through a proxy; a remote CRM may need them.
        self._transport = Transport(
            self.base_url,
            pool_size=self._concurrency,
            timeout=timeout,
            use_environment=not loopback,
        )

    def __repr__(self) -> str:
        return f"CrmClient({self.base_url!r})"  # never the token

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    def __enter__(self) -> CrmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls of the contract ----------------------------------------------

    def list_billers(
        self, integrator_id: int | None = None, *, page_size: int = MAX_PAGE
    ) -> Iterator[Profile]:
        """Every biller profile (optionally of one integrator ID), in BID order.

        Lazy: pages are fetched while iterating, so errors surface there.
        """
        params: dict[str, Any] = {"limit": page_size}
        if integrator_id is not None:
            params["integrator_id"] = integrator_id
        yield from self._pages("/billers", params, _profile)

    def get_biller(self, bid: int) -> Profile:
        """One biller profile; ``NotFound`` if the CRM does not know the BID."""
        path = f"/billers/{int(bid)}"
        return _profile(self._json("GET", path, self._call("GET", path)), f"GET {path}")

    def get_settings(self, bid: int) -> Versioned:
        """A biller's settings (secrets in read form) and their ETag."""
        path = f"/billers/{int(bid)}/settings"
        resp = self._call("GET", path)
        return Versioned(
            _object(self._json("GET", path, resp), f"GET {path}"), _etag(resp, "GET", path)
        )

    def bulk_settings(self, bids: Iterable[int]) -> BulkSettings:
        """The settings of many billers, ``MAX_BULK`` per request; unknown BIDs in ``missing``."""
        wanted = list(dict.fromkeys(int(b) for b in bids))
        chunks = [wanted[i : i + MAX_BULK] for i in range(0, len(wanted), MAX_BULK)]
        found: dict[int, Versioned] = {}
        missing: list[int] = []
        # Pages are independent: read several at once, within the connection pool.
        workers = max(1, min(len(chunks), self._concurrency))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for page_found, page_missing in pool.map(self._bulk_page, chunks):
                found.update(page_found)
                missing.extend(page_missing)
        return BulkSettings(found, missing)

    def _bulk_page(self, chunk: list[int]) -> tuple[dict[int, Versioned], list[int]]:
        resp = self._call("GET", "/settings", params=[("bid", b) for b in chunk])
        what = f"GET /settings ({len(chunk)} BIDs)"
        page = _object(self._json("GET", "/settings", resp), what)
        found: dict[int, Versioned] = {}
        for item in _list(page.get("items"), f"{what}: items"):
            entry = _object(item, f"{what}: item")
            bid = _int(entry.get("bid"), f"{what}: item bid")
            etag = entry.get("etag")
            if not isinstance(etag, str) or not etag:
                raise CrmProtocolError(f"{what}: biller {bid} has no etag")
            found[bid] = Versioned(_object(entry.get("settings"), f"{what}: settings"), etag)
        missing = [_int(b, f"{what}: missing") for b in _list(page.get("missing"), what)]
        unanswered = set(chunk) - set(found) - set(missing)
        if unanswered:
            raise CrmProtocolError(
                f"{what}: the CRM left out {len(unanswered)} BID(s), e.g. {min(unanswered)}"
            )
        return found, missing

    def patch_settings(
        self,
        bid: int,
        patch: Mapping[str, Any],
        etag: str,
        *,
        note: AuditNote | None = None,
    ) -> PatchResult:
        """Apply a JSON merge patch to a biller's settings if they are still at ``etag``.

        Secrets in ``patch`` are in write form ``{"secret": NAME, "value": V}``.
        ``note`` goes in the ``Audit-Note`` header, so the CRM commits it with
        the change; a note too long for a header is not sent (``note_id`` stays
        None and the caller adds it with ``add_note``).
        Returns the new settings and ETag. Raises ``PreconditionFailed`` when
        the settings moved on (read again and recompute), ``InvalidSettings``
        (422, per-field ``details``), ``NotFound`` and the other ``CrmError`` s.

        A lost response (connection dropped, timeout, 429/5xx) leaves it unknown
        whether the write happened, and re-sending with the same If-Match would
        get 412 if it did. So after backing off the client re-reads the settings:

        * ETag unchanged: the write did not happen; it is sent again.
        * ETag changed and the live settings already hold every value of the
          patch (a secret: its name, since values cannot be read): the write
          happened (or someone made the same change); returns the live
          settings with ``already_applied=True``.
        * otherwise someone else changed the biller: ``PreconditionFailed``.

        When the retry budget runs out first, ``CrmUnavailable`` is raised and
        the last try may or may not have been applied: plan again (a re-run
        converges and writes nothing that already holds).
        """
        path = f"/billers/{int(bid)}/settings"
        body = json.dumps(patch, allow_nan=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/merge-patch+json", "If-Match": etag}
        if note is not None:
            note = conforming_note(note)
        if note is not None and note.fits(HEADER_NOTE_LIMITS):
            header = json.dumps(note.as_json(), ensure_ascii=True, separators=(",", ":"))
            # Proxies commonly refuse header lines over 8 KiB.
            if len(header) <= MAX_AUDIT_NOTE_HEADER:
                headers[AUDIT_NOTE_HEADER] = header
        attempts = _Attempts(self._retry)
        while True:
            try:
                resp = self._send("PATCH", path, body=body, headers=headers)
            except _Transient as failure:
                self._back_off(attempts, failure, "PATCH", path)
                live = self.get_settings(bid)
                if live.etag == etag:
                    continue
                if patch_holds(live.settings, patch):
                    return PatchResult(live.settings, live.etag, already_applied=True)
                raise PreconditionFailed(
                    f"PATCH {path}: the response was lost ({failure.reason}) and the settings "
                    f"changed since ETag {etag}; read them again and recompute the change",
                    current_etag=live.etag,
                    status=412,
                ) from None
            settings = _object(self._json("PATCH", path, resp), f"PATCH {path}")
            note_id = resp.headers.get(AUDIT_NOTE_ID_HEADER)
            return PatchResult(
                settings,
                _etag(resp, "PATCH", path),
                already_applied=False,
                note_id=int(note_id) if note_id and _ascii_digits(note_id) else None,
            )

    def add_note(
        self,
        bid: int,
        text: str,
        *,
        author: str | None = None,
        commit: str | None = None,
        paths: Iterable[str] | None = None,
        idempotency_key: str | None = None,
    ) -> Note:
        """Add an audit note; retried safely (one ``Idempotency-Key`` for all tries)."""
        import uuid  # only for a note too long for the PATCH header: rare

        path = f"/billers/{int(bid)}/notes"
        note = conforming_note(
            AuditNote(text, author, commit, tuple(paths) if paths is not None else None)
        )
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key or uuid.uuid4().hex,
        }
        resp = self._call("POST", path, body=json.dumps(note.as_json()).encode(), headers=headers)
        return _note(self._json("POST", path, resp), f"POST {path}")

    def list_notes(self, bid: int) -> list[Note]:
        """A biller's audit notes, oldest first (all pages)."""
        return list(self._pages(f"/billers/{int(bid)}/notes", {"limit": 1000}, _note))

    # -- plumbing ----------------------------------------------------------------

    def _pages(
        self, path: str, params: dict[str, Any], parse: Callable[[Any, str], Any]
    ) -> Iterator[Any]:
        seen: set[str] = set()
        while True:
            page = _object(self._json("GET", path, self._call("GET", path, params=params)), path)
            for item in _list(page.get("items"), f"GET {path}: items"):
                yield parse(item, f"GET {path}")
            cursor = page.get("next_cursor")
            if cursor is None:
                return
            if not isinstance(cursor, str) or cursor in seen:
                raise CrmProtocolError(f"GET {path}: the CRM returned a bad or repeated cursor")
            seen.add(cursor)
            params = {**params, "cursor": cursor}

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One call of the contract, retried on transient failures; a 2xx response."""
        attempts = _Attempts(self._retry)
        while True:
            try:
                return self._send(method, path, params=params, body=body, headers=headers)
            except _Transient as failure:
                self._back_off(attempts, failure, method, path)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One try: a 2xx response, ``_Transient``, or the ``CrmError`` of the status."""
        sent = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }
        if self._token:
            sent["Authorization"] = f"Bearer {self._token}"
        try:
            resp = self._transport.send(
                method,
                path,
                query=urlencode(params, doseq=True) if params else "",
                body=body,
                headers=sent,
                limit=MAX_BODY_BYTES,
            )
        except TransportFailure as failure:
            raise _Transient(failure.reason) from None
        except TransportError as exc:
            raise CrmError(self._scrub(f"{method} {path}: {exc}")) from None
        except BodyTooLarge:
            raise CrmProtocolError(
                f"{method} {path}: the CRM answered more than {MAX_BODY_BYTES} bytes; refused"
            ) from None
        if resp.status in RETRY_STATUSES:
            raise _Transient(
                f"HTTP {resp.status}",
                retry_after=_retry_after(resp.headers.get("Retry-After")),
            )
        if 200 <= resp.status < 300:
            return resp
        raise self._error(method, path, resp)

    def _back_off(self, attempts: _Attempts, failure: _Transient, method: str, path: str) -> None:
        """Sleep before the next try, or raise ``CrmUnavailable`` when the budget is spent."""
        policy = self._retry
        if attempts.tries >= policy.attempts:
            raise CrmUnavailable(
                f"{method} {path}: {failure.reason}; gave up after {attempts.tries} tries"
            )
        delay = self._rng.uniform(
            0, min(policy.max_delay, policy.base_delay * 2 ** (attempts.tries - 1))
        )
        if failure.retry_after is not None:
            delay = max(delay, failure.retry_after)
        if time.monotonic() + delay > attempts.deadline:
            raise CrmUnavailable(
                f"{method} {path}: {failure.reason}; waiting {delay:.1f} s more would exceed "
                f"the retry deadline of {policy.deadline:.0f} s"
            )
        if not self._budget.take():
            raise CrmUnavailable(
                f"{method} {path}: {failure.reason}; the client's budget of "
                f"{policy.total_retries} retries is spent"
            )
        attempts.tries += 1
        self._sleep(delay)

    def _error(self, method: str, path: str, resp: Answer) -> CrmError:
        status = resp.status
        where = f"{method} {path}"
        if 300 <= status < 400:
            target = urlsplit(resp.headers.get("Location", ""))
            return CrmProtocolError(
                self._scrub(
                    f"{where}: the CRM redirected (HTTP {status}) to {target.netloc or 'nowhere'}; "
                    f"redirects are not followed, check {ENV_URL}"
                ),
                status=status,
            )
        code, message, details = _error_body(resp)
        text = self._scrub(f"{where}: HTTP {status}{f' {code}' if code else ''}: {message}")
        kwargs: dict[str, Any] = {"status": status, "code": code, "details": details}
        if status == 401:
            return Unauthorized(f"{text} (check {ENV_TOKEN})", **kwargs)
        if status == 403:
            return Forbidden(f"{text} (does {ENV_TOKEN} have write scope?)", **kwargs)
        if status == 404:
            return NotFound(text, **kwargs)
        if status == 412:
            return PreconditionFailed(text, current_etag=resp.headers.get("ETag"), **kwargs)
        if status == 422:
            listed = "; ".join(f"{d.path or '(body)'}: {d.message}" for d in details[:20])
            return InvalidSettings(self._scrub(f"{text}: {listed}" if listed else text), **kwargs)
        if 400 <= status < 500:
            return CrmRequestError(text, **kwargs)
        return CrmProtocolError(f"{text} (not a status the contract allows)", **kwargs)

    def _json(self, method: str, path: str, resp: Answer) -> Any:
        try:
            return json.loads(resp.body, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            ctype = resp.headers.get("Content-Type") or "no content type"
            raise CrmProtocolError(
                f"{method} {path}: HTTP {resp.status} with a body that is not JSON ({ctype})",
                status=resp.status,
            ) from None

    def _scrub(self, text: str) -> str:
        """Never let the token into a message, even if a server echoes it."""
        return text.replace(self._token, "***") if self._token else text


# -- response shapes -----------------------------------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CrmProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise CrmProtocolError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return value


def _int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise CrmProtocolError(f"{what}: expected an integer, got {type(value).__name__}")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise CrmProtocolError(f"{what}: expected a string, got {type(value).__name__}")
    return value


def _profile(value: Any, what: str) -> Profile:
    obj = _object(value, f"{what}: profile")
    return Profile(
        bid=_int(obj.get("bid"), f"{what}: bid"),
        name=_str(obj.get("name"), f"{what}: name"),
        integrator_id=_int(obj.get("integrator_id"), f"{what}: integrator_id"),
        status=_str(obj.get("status"), f"{what}: status"),
    )


def _note(value: Any, what: str) -> Note:
    obj = _object(value, f"{what}: note")
    commit = obj.get("commit")
    paths = obj.get("paths")
    return Note(
        id=_int(obj.get("id"), f"{what}: id"),
        created_at=_str(obj.get("created_at"), f"{what}: created_at"),
        author=_str(obj.get("author"), f"{what}: author"),
        text=_str(obj.get("text"), f"{what}: text"),
        commit=_str(commit, f"{what}: commit") if commit is not None else None,
        paths=(
            tuple(_str(p, f"{what}: paths") for p in _list(paths, f"{what}: paths"))
            if paths is not None
            else None
        ),
    )


def _etag(resp: Answer, method: str, path: str) -> str:
    etag = resp.headers.get("ETag")
    if not etag:
        raise CrmProtocolError(f"{method} {path}: the response has no ETag")
    return etag


MAX_BODY_BYTES = 16 * 1024 * 1024


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON; the contract has no use for them."""
    raise ValueError(f"{name} is not a JSON value")


def _error_body(resp: Answer) -> tuple[str | None, str, list[FieldProblem]]:
    """Code, message and details of a contract error body; a fallback for anything else."""
    fallback = resp.reason or "error"
    try:
        error = json.loads(resp.body, parse_constant=_no_constant)["error"]
        code = error.get("code")
        message = error.get("message")
        raw_details = error.get("details") or []
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None, f"{fallback} (no error body of the contract)", []
    details = [
        FieldProblem(str(d.get("path", "")), str(d.get("message", "")))
        for d in (raw_details if isinstance(raw_details, list) else [])
        if isinstance(d, dict)
    ]
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else fallback,
        details,
    )


_COMMIT_SHA = re.compile(r"[0-9a-f]{7,64}")
MAX_AUTHOR = 200


def conforming_note(note: AuditNote) -> AuditNote:
    """``note`` within the contract's ``NoteCreate``, so a value from the environment
    cannot make every write fail with 422: the author cut to 200 characters (none: the
    CRM names the caller), a commit that is no lower-case hex SHA left to the text,
    the text and paths cut to the body's limits."""
    author = note.author[:MAX_AUTHOR] if note.author else None
    commit = note.commit.lower() if note.commit else None
    if commit is not None and not _COMMIT_SHA.fullmatch(commit):
        commit = None  # the text still names it
    text = note.text
    if len(text) > BODY_NOTE_LIMITS.text:
        text = text[: BODY_NOTE_LIMITS.text - 1] + "…"
    paths = note.paths
    if paths is not None:
        paths = tuple(p[: BODY_NOTE_LIMITS.path] for p in paths if p)[: BODY_NOTE_LIMITS.paths]
    return AuditNote(text or "(no text)", author, commit, paths)


def _ascii_digits(value: str) -> bool:
    """``0``-``9`` only: ``str.isdigit`` also takes ``"²"`` and ``"٣"``, which ``int``
    refuses or a header should not carry."""
    return value.isascii() and value.isdigit()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if _ascii_digits(value):
        return float(value)
    import email.utils  # only for a Retry-After date: slow to import for every run

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# -- lost responses ------------------------------------------------------------


def _is_secret_write(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secret", "value"}


def patch_holds(live: Any, patch: Any) -> bool:
    """Whether applying the merge ``patch`` to ``live`` would change nothing.

    A secret write holds when the live secret has the same name and is set.
    """
    if _is_secret_write(patch):
        return (
            isinstance(live, dict)
            and live.get("secret") == patch["secret"]
            and live.get("set") is True
        )
    if not isinstance(patch, dict):
        return json_equal(live, patch)
    if not isinstance(live, dict):
        return False
    for key, value in patch.items():
        if value is None:
            if key in live:
                return False
        elif key not in live or not patch_holds(live[key], value):
            return False
    return True


__all__ = [
    "ENV_TOKEN",
    "ENV_URL",
    "MAX_BULK",
    "AuditNote",
    "BulkSettings",
    "CrmClient",
    "CrmConfig",
    "PatchResult",
    "RetryPolicy",
    "Versioned",
    "client_from_env",
    "crm_config_from_env",
    "patch_holds",
]
