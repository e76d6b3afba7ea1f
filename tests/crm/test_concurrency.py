"""8 threads writing through one client to a sandbox that faults 30% of requests:
every write retried to success, nothing lost, nothing doubled."""

from __future__ import annotations

import threading

import pytest

from int360apply.crm import AuditNote, Profile
from int360apply.crm.client import CrmClient
from int360apply.crm.errors import PreconditionFailed
from int360apply.crm.port import PatchRequest
from int360apply.crm.retry import RetryPolicy
from int360apply.crm.sandbox.faults import FAULT_KINDS, FaultConfig

from .conftest import MakeSandbox

THREADS = 8
ROUNDS = 8
SHARED = 1
OWN = [10 + i for i in range(THREADS)]
# One field of the shared biller per thread: writers race on the same record.
FIELDS = [
    ("advanced", "account_number_label"),
    ("ftp", "username"),
    ("data_pump", "layout"),
    ("invoicing", "invoice_file_pattern"),
    ("data_pump", "file_name_template"),
    ("advanced", "min_payment_amount"),
    ("ftp", "port"),
    ("invoicing", "purge_after_days"),
]


def _value(thread: int, round_: int) -> str | int:
    field = FIELDS[thread][1]
    if field == "min_payment_amount":
        return round_ * 100 + 1
    if field == "port":
        return 2000 + round_
    if field == "purge_after_days":
        return 30 + round_
    return f"t{thread}-r{round_}"


def _write(crm: CrmClient, bid: int, patch: dict[str, dict[str, object]]) -> None:
    """Read, patch with If-Match; on 412 (another writer won) read again and retry."""
    while True:
        _, etag = crm.get_settings(bid)
        try:
            crm.patch_settings(PatchRequest(bid, patch, etag))
            return
        except PreconditionFailed:
            continue


@pytest.mark.slow
def test_concurrent_writers_with_faults_lose_nothing(make_sandbox: MakeSandbox) -> None:
    profiles = [Profile(b, f"Biller {b}", 93) for b in [SHARED, *OWN]]
    server = make_sandbox(profiles, faults=FaultConfig(fail_rate=0.3, seed=2024, retry_after=0))
    policy = RetryPolicy(attempts=30, base_delay=0.001, max_delay=0.005, total_retries=None)
    errors: list[BaseException] = []

    with CrmClient(server.url, concurrency=THREADS, retry=policy) as crm:

        def worker(thread: int) -> None:
            try:
                group, field = FIELDS[thread]
                for round_ in range(ROUNDS):
                    value = _value(thread, round_)
                    _write(crm, SHARED, {group: {field: value}})
                    crm.add_note(SHARED, AuditNote(f"thread {thread} round {round_}"))
                    _write(crm, OWN[thread], {group: {field: value}})
                    crm.add_note(OWN[thread], AuditNote(f"round {round_}"))
            except BaseException as exc:  # surfaced below, with the thread's traceback
                errors.append(exc)

        workers = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for running in workers:
            running.start()
        for running in workers:
            running.join(timeout=60)
        assert not errors, errors[0]

        counts = server.faults.counts()
        server.faults.configure(FaultConfig())  # read the result without faults

        shared, _ = crm.get_settings(SHARED)
        for thread, (group, field) in enumerate(FIELDS):
            assert shared[group][field] == _value(thread, ROUNDS - 1), (group, field)
            own, _ = crm.get_settings(OWN[thread])
            assert own == {group: {field: _value(thread, ROUNDS - 1)}}
            assert len(crm.list_notes(OWN[thread])) == ROUNDS
        assert len(crm.list_notes(SHARED)) == THREADS * ROUNDS

    # The faults really happened, every kind of them.
    assert set(counts) == set(FAULT_KINDS), counts
    assert sum(counts.values()) > 100
