"""``python -m benchmarks.transport [--requests N] [--repeat N]``: the CPU the CRM
client spends per request, on ``requests`` against bare ``urllib3``.

Both send ``GET /billers/{bid}/settings`` with ``Accept`` and ``User-Agent`` (the
transport adds its ``Accept-Encoding``; the sandbox needs no token and never
compresses) over a kept-alive pool of 8 connections, from 8 threads, to one
sandbox served in its own process with no added latency, in alternating rounds
in this one run. What
is measured is this process's CPU time (user + system) per request: the cost a
real CRM's network round trip hides, and the one that shows when the sandbox
shares the machine's cores (benchmark 5).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import urllib3

from benchmarks.fleet import make_fleet
from int360apply.crm.session import USER_AGENT
from int360apply.crm.transport import Transport

THREADS = 8
BILLERS = 50


def _serve(repo: Path, db: Path) -> tuple[subprocess.Popen[str], str]:
    """The sandbox CRM in its own process, and its URL."""
    cmd = [sys.executable, "-m", "int360apply", "--repo", str(repo), "sandbox", "serve"]
    cmd += ["--db", str(db), "--port", "0"]
    proc = subprocess.Popen(
        cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"https?://[0-9.]+:\d+", line)
        if found:
            return proc, found.group(0)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def _cpu(send: Callable[[int], int], bids: list[int], count: int) -> float:
    """CPU seconds of this process per request, ``count`` requests from 8 threads."""
    paths = [bids[i % len(bids)] for i in range(count)]
    start = time.process_time()
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(send, paths))
    used = time.process_time() - start
    if any(status != 200 for status in statuses):
        raise SystemExit(f"unexpected answers: {sorted(set(statuses))}")
    return used / count


def measure(count: int, repeat: int) -> dict[str, list[float]]:
    """Milliseconds of CPU per request, per client, one sample per round."""
    with tempfile.TemporaryDirectory() as work:
        repo = make_fleet(Path(work) / "fleet", BILLERS)
        bids = sorted(int(p.stem) for p in (repo / "billers").glob("*.yaml"))
        proc, url = _serve(repo, Path(work) / "crm.sqlite")
        try:
            ours = Transport(url, pool_size=THREADS, timeout=(5, 30), use_environment=False)
            headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
            host, port = url.removeprefix("http://").split(":")
            bare = urllib3.HTTPConnectionPool(host, int(port), maxsize=THREADS, headers=headers)

            def with_requests(bid: int) -> int:
                path = f"/billers/{bid}/settings"
                return ours.send("GET", path, body=None, headers={}, limit=1 << 20).status

            def with_urllib3(bid: int) -> int:
                return bare.request("GET", f"/billers/{bid}/settings", retries=False).status

            samples: dict[str, list[float]] = {"requests": [], "urllib3": []}
            _cpu(with_requests, bids, 200)  # warm both pools and the sandbox
            _cpu(with_urllib3, bids, 200)
            for _ in range(repeat):
                samples["requests"].append(1000 * _cpu(with_requests, bids, count))
                samples["urllib3"].append(1000 * _cpu(with_urllib3, bids, count))
            ours.close()
            bare.close()
            return samples
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """Print the CPU per request of each client (median, min–max) and their ratio."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transport")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per client")
    args = parser.parse_args(argv)
    samples = measure(args.requests, args.repeat)
    print(f"CPU per request of this process, {args.requests} requests x {args.repeat} rounds, ")
    print(f"{THREADS} threads, sandbox in its own process (load {os.getloadavg()[0]:.1f}):")
    for name, values in samples.items():
        print(
            f"  {name:9s} {statistics.median(values):.3f} ms ({min(values):.3f}–{max(values):.3f})"
        )
    ratio = statistics.median(samples["requests"]) / statistics.median(samples["urllib3"])
    print(f"  requests / urllib3: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
