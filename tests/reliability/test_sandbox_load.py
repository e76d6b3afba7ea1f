"""The sandbox under load: 8 concurrent clients × 500 mixed requests (reads, bulk reads,
conditional patches, notes) with injected faults. No 5xx but the injected ones, no
error surfaces from the clients, and the final state is exact: each client owns its
billers and increments a counter on them, so the counters and the note counts at the
end are known in advance.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from int360apply.crm import AuditNote, Profile
from int360apply.crm.port import PatchRequest
from int360apply.crm.sandbox.faults import FaultConfig

from .conftest import MakeSandbox, fast_client

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

CLIENTS = 8
REQUESTS = 500
BILLERS_PER_CLIENT = 4
FIRST_BID = 700000
COUNTER = ("advanced", "max_payment_amount")
_LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\S+) \S+ms(?P<fault> fault=\S+)?$"
)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:  # called under the handler's lock
        self.lines.append(record.getMessage())
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())


@pytest.fixture
def request_log() -> Iterator[_Lines]:
    logger = logging.getLogger("int360apply.crm.sandbox")
    handler = _Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _counter(settings: dict[str, Any]) -> int:
    value = settings.get(COUNTER[0], {}).get(COUNTER[1], 0)
    assert isinstance(value, int)
    return value


def test_eight_clients_by_500_mixed_requests_end_in_an_exact_state(
    tmp_path: Path,
    make_sandbox: MakeSandbox,
    request_log: _Lines,
    figure: Callable[[str, int], None],
) -> None:
    bids = [FIRST_BID + i for i in range(CLIENTS * BILLERS_PER_CLIENT)]
    server = make_sandbox(
        [Profile(bid, f"Load Biller {bid}", 93) for bid in bids],
        faults=FaultConfig(fail_rate=0.08, seed=8, retry_after=0),
    )
    increments = {bid: 0 for bid in bids}
    notes = {bid: 0 for bid in bids}
    done = dict.fromkeys(range(CLIENTS), 0)
    failures: list[str] = []

    def client_loop(index: int) -> None:
        rng = random.Random(1000 + index)
        mine = bids[index * BILLERS_PER_CLIENT : (index + 1) * BILLERS_PER_CLIENT]
        with fast_client(server.url, concurrency=1) as client:
            try:
                for step in range(REQUESTS):
                    bid = rng.choice(mine)
                    roll = rng.random()
                    if roll < 0.25:
                        client.get_settings(rng.choice(bids))
                    elif roll < 0.35:
                        found = client.bulk_settings(bids)
                        assert not found.missing and len(found.found) == len(bids)
                    elif roll < 0.45:
                        assert client.get_biller(rng.choice(bids)).integrator_id == 93
                    elif roll < 0.50:
                        assert len(list(client.list_billers(page_size=7))) == len(bids)
                    elif roll < 0.85:
                        current = client.get_settings(bid)
                        value = _counter(current.settings) + 1
                        result = client.patch_settings(
                            PatchRequest(bid, {COUNTER[0]: {COUNTER[1]: value}}, current.etag)
                        )
                        assert _counter(result.settings) == value
                        increments[bid] += 1  # only this thread touches its billers
                    else:
                        client.add_note(
                            bid, AuditNote(f"client {index} step {step}", author=f"c{index}")
                        )
                        notes[bid] += 1
                    done[index] += 1
            except Exception as exc:
                failures.append(f"client {index}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    injected = server.faults.injected
    server.faults.configure(FaultConfig())

    assert failures == []
    assert sum(done.values()) == CLIENTS * REQUESTS
    with fast_client(server.url) as client:
        live = client.bulk_settings(bids).found
        for bid in bids:
            assert _counter(live[bid].settings) == increments[bid], bid
            assert len(client.list_notes(bid)) == notes[bid], bid

    parsed = [m for m in map(_LINE.match, request_log.lines) if m]
    server_errors = [m.group(0) for m in parsed if m["status"].startswith("5")]
    unexplained = [line for line in server_errors if " fault=" not in line]
    assert unexplained == [], unexplained[:10]
    assert request_log.errors == []
    assert injected > 0
    assert len(parsed) >= CLIENTS * REQUESTS
    assert sum(increments.values()) > CLIENTS * REQUESTS // 4
    figure("faults injected and survived (load)", injected)
    figure("requests served under load", len(parsed))
    print(
        f"{len(parsed)} requests, {injected} injected faults, {len(server_errors)} 5xx "
        f"(all injected), {sum(increments.values())} increments, {sum(notes.values())} notes"
    )
