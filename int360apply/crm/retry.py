"""How hard the client retries: the per-call policy, the client-wide budget, and the
server's ``Retry-After``.

urllib3's ``Retry`` parses ``Retry-After`` here. The rest is ours because
``Retry`` cannot express it: a budget of retries shared by every call of a run
(so a CRM that is down cannot make a 1,000-biller apply hammer it for an hour),
a per-call deadline, full jitter from an injectable random source and clock,
and the re-read after a lost PATCH response (``client.py``). For the same
reason connect errors are retried here too, not inside the connection pool.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

from int360apply.crm.errors import CrmUnavailable

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_HEADER_PARSER = Retry(total=0)


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


class Backoff:
    """The waiting between tries of every call of one client (thread-safe)."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self._budget = _Budget(policy.total_retries)
        self._sleep = sleep
        self._rng = rng or random.Random()

    def start(self) -> _Attempts:
        """The retry state of a new call."""
        return _Attempts(self.policy)

    def wait(self, attempts: _Attempts, failure: _Transient, method: str, path: str) -> None:
        """Sleep before the next try, or raise ``CrmUnavailable`` when the budget is spent."""
        policy = self.policy
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


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (ASCII delta-seconds or an HTTP date in the
    past or future); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return float(_HEADER_PARSER.parse_retry_after(value))
    except InvalidHeader:
        return None
