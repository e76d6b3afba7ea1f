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
host); error messages never contain the token. A call and its retries are
``exchange.py``'s, the HTTP exchange itself ``transport.py``'s, the retry
policy ``retry.py``'s, answers' shapes ``answers.py``'s.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

from int360apply.crm import AUDIT_NOTE_HEADER, AUDIT_NOTE_ID_HEADER, AuditNote, Note, Profile
from int360apply.crm.answers import _etag, _list, _note, _object, _profile, bulk_page, json_body
from int360apply.crm.audit import audit_note_header, confirmed_note_id, conforming_note
from int360apply.crm.environment import is_loopback
from int360apply.crm.errors import CrmConfigError, CrmProtocolError, PreconditionFailed
from int360apply.crm.exchange import Exchange
from int360apply.crm.port import PatchRequest
from int360apply.crm.reconcile import patch_holds
from int360apply.crm.results import BulkSettings, PatchResult, Versioned
from int360apply.crm.retry import Backoff, RetryPolicy, _Transient
from int360apply.crm.scrub import Scrubber
from int360apply.crm.settings import ENV_TOKEN, ENV_URL, checked, redact_url
from int360apply.crm.transport import Transport

MAX_BULK = 500  # the contract's limit of BIDs per bulk read
MAX_PAGE = 1000  # the contract's largest page of a list
# json.dumps(patch, allow_nan=False, separators=(",", ":")) without making an encoder
# for every PATCH (json.dumps makes one whenever an option is not its default).
_PATCH_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


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
        checked(ENV_URL, base_url)
        if token is not None:
            checked(ENV_TOKEN, token)
        try:
            parts = urlsplit(base_url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CrmConfigError(
                f"{ENV_URL} must be http(s)://host[:port][/path], not {redact_url(base_url)!r}"
            )
        loopback = is_loopback(parts.hostname)
        if token and parts.scheme == "http" and not loopback:
            raise CrmConfigError(
                f"refusing to send the CRM token in clear text to {parts.hostname}: "
                "use an https:// URL"
            )
        self.base_url = base_url.rstrip("/")
        self._concurrency = max(1, concurrency)
        # Proxy settings from the environment would route the loopback sandbox
        # through a proxy; a remote CRM may need them.
        transport = Transport(
            self.base_url,
            pool_size=self._concurrency,
            timeout=timeout,
            use_environment=not loopback,
            token=token,
        )
        backoff = Backoff(retry or RetryPolicy(), sleep=sleep, rng=rng)
        self._exchange = Exchange(transport, backoff, Scrubber(token))

    def __repr__(self) -> str:
        return f"CrmClient({redact_url(self.base_url)!r})"  # never the token or a password

    def close(self) -> None:
        """Close the pooled connections."""
        self._exchange.close()

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
        resp = self._exchange.call("GET", path)
        return _profile(json_body("GET", path, resp), f"GET {path}")

    def get_settings(self, bid: int) -> Versioned:
        """A biller's settings (secrets in read form) and their ETag."""
        path = f"/billers/{int(bid)}/settings"
        resp = self._exchange.call("GET", path)
        return Versioned(
            _object(json_body("GET", path, resp), f"GET {path}"), _etag(resp, "GET", path)
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
        query = urlencode([("bid", b) for b in chunk], doseq=True)
        resp = self._exchange.call("GET", "/settings", query)
        what = f"GET /settings ({len(chunk)} BIDs)"
        return bulk_page(json_body("GET", "/settings", resp), chunk, what)

    def patch_settings(self, request: PatchRequest) -> PatchResult:
        """Apply the request's JSON merge patch to a biller's settings if they are still
        at its ETag.

        Secrets in the patch are in write form ``{"secret": NAME, "value": V}``.
        The note goes in the ``Audit-Note`` header, so the CRM commits it with
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
        bid, patch, etag, note = request
        path = f"/billers/{int(bid)}/settings"
        exchange = self._exchange
        exchange.scrub.remember(patch)
        body = _PATCH_ENCODER.encode(patch).encode()
        headers = {"Content-Type": "application/merge-patch+json", "If-Match": etag}
        header = audit_note_header(note)
        if header is not None:
            headers[AUDIT_NOTE_HEADER] = header
        attempts = exchange.backoff.start()
        while True:
            try:
                resp = exchange.send("PATCH", path, "", body, headers)
            except _Transient as failure:
                exchange.backoff.wait(attempts, failure, "PATCH", path)
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
            settings = _object(json_body("PATCH", path, resp), f"PATCH {path}")
            return PatchResult(
                settings,
                _etag(resp, "PATCH", path),
                already_applied=False,
                note_id=confirmed_note_id(resp.headers.get(AUDIT_NOTE_ID_HEADER)),
            )

    def add_note(self, bid: int, note: AuditNote) -> Note:
        """Add an audit note, cut to the contract's limits; retried safely (one
        ``Idempotency-Key`` for all tries)."""
        import uuid  # only for a note too long for the PATCH header: rare

        path = f"/billers/{int(bid)}/notes"
        body = json.dumps(conforming_note(note).as_json()).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        resp = self._exchange.call("POST", path, "", body, headers)
        return _note(json_body("POST", path, resp), f"POST {path}")

    def list_notes(self, bid: int) -> list[Note]:
        """A biller's audit notes, oldest first (all pages)."""
        return list(self._pages(f"/billers/{int(bid)}/notes", {"limit": 1000}, _note))

    # -- plumbing ----------------------------------------------------------------

    def _pages(
        self, path: str, params: dict[str, Any], parse: Callable[[Any, str], Any]
    ) -> Iterator[Any]:
        seen: set[str] = set()
        while True:
            resp = self._exchange.call("GET", path, urlencode(params, doseq=True))
            page = _object(json_body("GET", path, resp), path)
            for item in _list(page.get("items"), f"GET {path}: items"):
                yield parse(item, f"GET {path}")
            cursor = page.get("next_cursor")
            if cursor is None:
                return
            if not isinstance(cursor, str) or cursor in seen:
                raise CrmProtocolError(f"GET {path}: the CRM returned a bad or repeated cursor")
            seen.add(cursor)
            params = {**params, "cursor": cursor}


__all__ = ["MAX_BULK", "MAX_PAGE", "CrmClient"]
