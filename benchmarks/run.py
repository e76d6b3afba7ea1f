"""The benchmark runner: the SPEC §9 performance targets, measured as whole processes.

``python -m benchmarks run [--quick] [--out FILE] [--repeat N]`` generates a
synthetic fleet (``benchmarks/fleet.py``) in a temporary folder and measures:

1. ``int360 validate`` of the whole fleet with no cache (``.int360/`` and any
   other folder the command left in the repo removed before each run) against
   ``check-jsonschema`` on the same files, in the same run, in alternating order;
2. the same, warm (after one unmeasured run, nothing changed);
3. ``int360 validate billers/<one>.yaml`` (the pre-commit case), warm state;
4. ``int360 plan --all --format json --out FILE`` against a fresh local sandbox
   CRM (``int360 sandbox serve`` in a subprocess), so every biller changes: time
   (4j) and peak memory (4m); then, after one unmeasured ``apply`` of the whole
   fleet, ``int360 plan --all --format json`` where every biller is unchanged
   (4), with the HTTP requests each plan made counted from the sandbox's log;
5. ``int360 apply`` of 1,000 billers against a sandbox with ``--latency-ms 20``
   and ``--concurrency 8``; a fresh sandbox database per run, so all 1,000
   change every time; each repeat once with no ``.int360/`` caches (5c, a fresh
   CI checkout) and once warm (5); compared with the ideal 1,000 × 20 ms / 8;
6. the peak memory of ``validate`` and ``plan --all``.

Results are read from the commands' JSON (``plan --format json``, ``--out``,
``apply --report``), never from their human text. ``--before REV`` measures
the source tree of an older revision too (``git archive``, first on
``PYTHONPATH``), step by step next to this checkout, each with its own copy of
the fleets, so a before/after table comes from one run.

Every command runs in a fresh ``python -c`` wrapper that times it with
``time.perf_counter`` (wrapper start-up excluded) and reports its own
``RUSAGE_CHILDREN`` ``ru_maxrss`` — the largest single process among the
command and the descendants it waited for. For target 6 one extra run of each
command also samples the summed PSS of the whole process tree every 20 ms, so
worker processes would be counted together; the larger of the two is checked.

No test asserts a time; this is for people (and the closing notes of issues 6 and 17).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.fleet import REPO, make_fleet
from int360apply.cache.fingerprint import RACY_NS

FULL_BILLERS = 10_000
QUICK_BILLERS = 1_000
FULL_REPEATS = 5
QUICK_REPEATS = 3
# Every biller of a fresh sandbox changes: over the guard's percent of a real CRM.
WHOLE_FLEET = ("--max-percent", "100")
APPLY_BILLERS = 1_000
APPLY_LATENCY_MS = 20
APPLY_CONCURRENCY = 8
BULK_PAGE = 500
MIB = 1024 * 1024

COLD_RATIO_GOAL = 3.0
WARM_LIMIT_S = 0.5
ONE_FILE_LIMIT_S = 0.5
PLAN_LIMIT_S = 10.0
APPLY_RATIO_GOAL = 1.5
MEMORY_LIMIT_MIB = 300.0
STEPS = ("1", "2", "3", "4", "5", "6")  # the targets, as `--only` names them
# Target 6 reads its memory from the runs of targets 1, 2 (validate) and 4 (plan).
NEEDS = {"6": ("1", "2", "4")}

# Runs one command with stdout/stderr to files; prints one JSON line about it.
# argv: OUT ERR TIMEOUT SAMPLE(0|1) CMD...
_WRAPPER = r"""
import json, os, resource, subprocess, sys, threading, time
out, err, timeout, sample, *cmd = sys.argv[1:]
PAGE = os.sysconf("SC_PAGE_SIZE")

def size_of(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0

def tree_size(root):
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += size_of(pid)
        stack.extend(children.get(pid, ()))
    return total

peak = 0
with open(out, "wb") as o, open(err, "wb") as e:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    done = threading.Event()

    def watch():
        global peak
        while not done.wait(0.02):
            peak = max(peak, tree_size(proc.pid))

    watcher = threading.Thread(target=watch, daemon=True) if sample == "1" else None
    if watcher is not None:
        watcher.start()
    timed_out = False
    try:
        rc = proc.wait(timeout=float(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        timed_out = True
    wall = time.perf_counter() - start
    done.set()
    if watcher is not None:
        watcher.join()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "wall_s": wall, "rc": rc, "timed_out": timed_out, "maxrss_kib": usage.ru_maxrss,
    "tree_peak_bytes": peak if sample == "1" else None,
    "user_s": usage.ru_utime, "sys_s": usage.ru_stime,
}))
"""

_REQUEST_LINE = re.compile(r"^\S+ \S+ (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) (\S+) ")
_SECRET_REF = re.compile(r"secret:\s*([A-Z][A-Z0-9_]*)")


class CommandFailed(Exception):
    """A measured or set-up command failed, timed out or printed something unexpected."""


# --- running one command -------------------------------------------------------


@dataclass
class Run:
    """One whole-process run of a command."""

    wall_s: float
    rc: int
    maxrss_kib: int
    tree_peak_bytes: int | None
    user_s: float
    sys_s: float
    out_path: Path
    err_path: Path

    @property
    def maxrss_mib(self) -> float:
        """``ru_maxrss`` (KiB on Linux) in MiB."""
        return self.maxrss_kib / 1024

    @property
    def stdout(self) -> str:
        """The command's standard output (read from its log when asked: a JSON plan of
        10,000 billers is 100 MB)."""
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        """The command's standard error."""
        return self.err_path.read_text(encoding="utf-8", errors="replace")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


class Runner:
    """Runs commands through the measuring wrapper; keeps their output under ``logs``."""

    def __init__(self, work: Path, timeout: float) -> None:
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self._count = 0

    def run(
        self,
        label: str,
        cmd: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str],
        accept: Sequence[int] = (0,),
        sample_tree: bool = False,
    ) -> Run:
        """Run ``cmd`` once; raise ``CommandFailed`` unless its exit code is in ``accept``."""
        self._count += 1
        stem = self.logs / f"{self._count:04d}-{re.sub(r'[^a-z0-9]+', '-', label.lower())}"
        out, err = stem.with_suffix(".out"), stem.with_suffix(".err")
        wrapper = [sys.executable, "-c", _WRAPPER, str(out), str(err), str(self.timeout)]
        wrapper += ["1" if sample_tree else "0", *cmd]
        try:
            done = subprocess.run(
                wrapper,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout + 60,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandFailed(f"{label}: the measuring wrapper did not finish") from exc
        if done.returncode != 0 or not done.stdout.strip():
            raise CommandFailed(f"{label}: the measuring wrapper failed:\n{_tail(done.stderr)}")
        info = json.loads(done.stdout.strip().splitlines()[-1])
        if info["timed_out"]:
            raise CommandFailed(f"{label}: timed out after {self.timeout:.0f} s: {' '.join(cmd)}")
        if info["rc"] not in accept:
            shown = _tail(err.read_text(errors="replace")) or _tail(out.read_text(errors="replace"))
            raise CommandFailed(
                f"{label}: exit code {info['rc']} (expected {'/'.join(map(str, accept))}) "
                f"from {_short(cmd)}\n{shown}"
            )
        return Run(
            wall_s=info["wall_s"],
            rc=info["rc"],
            maxrss_kib=info["maxrss_kib"],
            tree_peak_bytes=info["tree_peak_bytes"],
            user_s=info["user_s"],
            sys_s=info["sys_s"],
            out_path=out,
            err_path=err,
        )


def _short(cmd: Sequence[str], limit: int = 8) -> str:
    shown = " ".join(cmd[:limit])
    return shown + (f" … (+{len(cmd) - limit} args)" if len(cmd) > limit else "")


# --- the sandbox CRM in a subprocess --------------------------------------------


class Sandbox:
    """``int360 sandbox serve`` on a free port (``--port 0``) for one repo; stopped on exit.

    Its request log (stderr, one line per request) goes to a file; ``requests()``
    counts the lines so far by method and path (numbers as ``N``).
    """

    def __init__(
        self,
        int360: Sequence[str],
        repo: Path,
        db: Path,
        log: Path,
        env: dict[str, str],
        *,
        latency_ms: int = 0,
        startup_timeout: float = 300.0,
    ) -> None:
        self._cmd = [*int360, "--repo", str(repo), "sandbox", "serve", "--db", str(db)]
        self._cmd += ["--port", "0", "--latency-ms", str(latency_ms)]
        self._repo = repo
        self._log = log
        self._env = env
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait for the URL it prints (it seeds the repo's billers first)."""
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                self._cmd,
                cwd=self._repo,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = self._proc.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + self._startup_timeout
        try:
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    continue
                if line is None:
                    break
                found = re.search(r"https?://[0-9.]+:\d+", line)
                if found:
                    self.url = found.group(0)
                    return
            log_tail = _tail(self._log.read_text(encoding="utf-8", errors="replace"))
            raise CommandFailed(f"the sandbox did not start: {_short(self._cmd)}\n{log_tail}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Ctrl-C the server (it closes its database), kill it if it lingers. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

    def requests(self) -> Counter[str]:
        """Requests logged so far, by ``METHOD /path`` (digits replaced by ``N``)."""
        counts: Counter[str] = Counter()
        text = self._log.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            found = _REQUEST_LINE.match(line)
            if found:
                counts[f"{found.group(1)} {re.sub(r'[0-9]+', 'N', found.group(2))}"] += 1
        return counts


# --- results -------------------------------------------------------------------


@dataclass
class Target:
    """One row of the table: samples, what they are compared with, and the verdict."""

    key: str
    title: str
    unit: str  # "s" or "MiB"
    goal: str
    code: str = ""  # which code measured it, when the run compares two (--before)
    samples: list[float] = field(default_factory=list)
    peer: str = ""
    peer_samples: list[float] = field(default_factory=list)
    ideal: float | None = None
    ratio: float | None = None
    met: bool | None = None
    info_only: bool = False
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def median(self) -> float | None:
        """Median of the samples, None when there are none."""
        return statistics.median(self.samples) if self.samples else None

    @property
    def peer_median(self) -> float | None:
        """Median of the peer's samples, None when there are none."""
        return statistics.median(self.peer_samples) if self.peer_samples else None

    def as_json(self) -> dict[str, Any]:
        """Everything, plus the summary statistics."""
        data = asdict(self)
        data["median"] = self.median
        data["min"] = min(self.samples) if self.samples else None
        data["max"] = max(self.samples) if self.samples else None
        if self.peer_samples:
            data["peer_median"] = self.peer_median
            data["peer_min"] = min(self.peer_samples)
            data["peer_max"] = max(self.peer_samples)
        return data


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:.3f} s"


def _verdict(target: Target) -> str:
    if target.error:
        return "FAILED"
    if target.info_only or target.met is None:
        return "info"
    return "yes" if target.met else "NO"


def table(targets: Sequence[Target]) -> str:
    """The compact result table (plain text)."""
    header = ["#", "target", "median", "min", "max", "peer/ideal", "ratio", "goal", "met"]
    sides = any(t.code for t in targets)
    if sides:
        header.insert(1, "code")
    rows = [header]
    for t in targets:
        if t.peer_samples:
            peer = f"{_fmt(t.peer_median, t.unit)} ({t.peer})"
        elif t.ideal is not None:
            peer = f"{_fmt(t.ideal, t.unit)} (ideal)"
        else:
            peer = "—"
        rows.append(
            [
                t.key,
                t.title,
                _fmt(t.median, t.unit),
                _fmt(min(t.samples), t.unit) if t.samples else "—",
                _fmt(max(t.samples), t.unit) if t.samples else "—",
                peer,
                f"{t.ratio:.2f}×" if t.ratio is not None else "—",
                t.goal,
                _verdict(t),
            ]
        )
        if sides:
            rows[-1].insert(1, t.code)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


# --- the benchmark ---------------------------------------------------------------


def _executable(name: str, module: str | None = None) -> list[str] | None:
    """The console script next to this Python, else on PATH, else ``python -m module``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", module] if module else None


def _at_most(limit: float, unit: str) -> str:
    """A goal of the table: ``≤ 0.5 s``, ``≤ 300 MiB``."""
    return f"≤ {limit:g} {unit}"


def _git(*args: str, timeout: float) -> str:
    """The output of ``git ARGS`` in this checkout, stripped; ``CalledProcessError``
    when git fails (its message in ``stderr``), ``TimeoutExpired`` when it hangs."""
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=True
    ).stdout.strip()


def _git_revision() -> str:
    try:
        head = _git("rev-parse", "--short", "HEAD", timeout=10)
        dirty = _git("status", "--porcelain", "--untracked-files=no", timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _secrets_env(repo: Path) -> dict[str, str]:
    """A dummy ``INT360_SECRET_<NAME>`` for every secret the repo's files reference."""
    names: set[str] = set()
    for folder in ("partners", "billers"):
        for path in (repo / folder).glob("*.yaml"):
            names.update(_SECRET_REF.findall(path.read_text(encoding="utf-8")))
    return {f"INT360_SECRET_{name}": f"bench-{name.lower()}" for name in names}


def _load() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every timing."""
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Code:
    """The ``int360`` one side of a run measures: this checkout, or (``--before``) an
    older revision's source tree put first on ``PYTHONPATH``."""

    label: str  # "" when the run measures one side only
    int360: list[str] | None
    pythonpath: Path | None = None


def this_code(label: str = "") -> Code:
    """The ``int360`` installed in this environment (this checkout)."""
    return Code(label, _executable("int360", "int360apply"))


def code_at(revision: str, into: Path) -> Code:
    """The source tree of ``revision`` (``git archive``, no worktree left behind), run with
    this environment's Python and dependencies."""
    try:
        sha = _git("rev-parse", "--short", f"{revision}^{{commit}}", timeout=30)
        into.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", sha], cwd=REPO, capture_output=True, check=True
        )
    except subprocess.CalledProcessError as exc:
        raise CommandFailed(f"--before {revision}: {exc.stderr.strip() or exc}") from exc
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return Code(f"before {sha}", [sys.executable, "-m", "int360apply"], into)


class Benchmark:
    """All targets for one fleet size and one ``Code``; the driver (``measure``) runs
    their steps, alternating sides when two codes are compared."""

    def __init__(
        self,
        work: Path,
        billers: int,
        repeats: int,
        runner: Runner,
        code: Code,
    ) -> None:
        self.work = work
        self.billers = billers
        self.repeats = repeats
        self.runner = runner
        self.code = code
        self.int360 = code.int360
        self.peer_cmd = _executable("check-jsonschema")
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("INT360_SECRET_")
            and k not in ("INT360_CRM_URL", "INT360_CRM_TOKEN", "PYTHONPATH")
        }
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["XDG_CACHE_HOME"] = str(work / "xdg-cache")
        if code.pythonpath is not None:
            # Ahead of this checkout's editable install: the older package is imported.
            self.env["PYTHONPATH"] = str(code.pythonpath)
        self.fleet = work / "fleet"
        self.baseline: set[str] = set()
        self.removed: set[str] = set()
        self.validate_runs: list[Run] = []
        self.plan_runs: list[Run] = []
        self.steps = self._targets()

    # -- helpers --

    def _int360(self, *args: str) -> list[str]:
        assert self.int360 is not None
        return [*self.int360, "--repo", str(self.fleet), *args]

    def _clear_cache(self) -> None:
        """Cold: remove ``.int360/``, anything else new at the repo root, and the XDG cache."""
        for entry in self.fleet.iterdir():
            if entry.name == ".int360" or entry.name not in self.baseline:
                self.removed.add(entry.name)
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        shutil.rmtree(self.env["XDG_CACHE_HOME"], ignore_errors=True)

    def _measure(
        self,
        target: Target,
        label: str,
        cmd: Sequence[str],
        env: dict[str, str] | None = None,
        accept: Sequence[int] = (0,),
    ) -> Run:
        """A timed run in the fleet repo, reported on stderr as it finishes."""
        run = self.runner.run(label, cmd, cwd=self.fleet, env=env or self.env, accept=accept)
        side = f" ({self.code.label})" if self.code.label else ""
        _progress(
            f"  [{target.key}] {label}{side}: {run.wall_s:.3f} s, {run.maxrss_mib:.1f} MiB, "
            f"load {_load()}"
        )
        return run

    # -- the targets --

    def _targets(self) -> dict[str, tuple[tuple[Target, ...], Callable[..., None]]]:
        n = f"{self.billers:,}"
        plan_s, memory = _at_most(PLAN_LIMIT_S, "s"), _at_most(MEMORY_LIMIT_MIB, "MiB")
        what = f"apply {APPLY_BILLERS:,} changed, {APPLY_LATENCY_MS} ms, c={APPLY_CONCURRENCY}"
        ideal = f"≤ {APPLY_RATIO_GOAL:g}× ideal"
        rows = {  # key: title, unit, goal
            "1": (f"validate, cold ({n})", "s", f"≥ {COLD_RATIO_GOAL:g}× peer"),
            "2": (f"validate, warm ({n})", "s", _at_most(WARM_LIMIT_S, "s")),
            "3": (f"validate one file (in {n})", "s", _at_most(ONE_FILE_LIMIT_S, "s")),
            "4": (f"plan --all, unchanged ({n})", "s", f"{plan_s}, bulk"),
            "4j": (f"plan --all --format json --out, all change ({n})", "s", plan_s),
            "4m": (f"peak RSS of 4j ({n})", "MiB", memory),
            "5": (f"{what}, warm", "s", ideal),
            "5c": (f"{what}, no .int360/", "s", ideal),
            "6a": (f"peak RSS validate ({n})", "MiB", memory),
            "6b": (f"peak RSS plan --all, unchanged ({n})", "MiB", memory),
        }
        t = {key: Target(key, *row, code=self.code.label) for key, row in rows.items()}
        return {
            "1": ((t["1"],), self._validate_cold),
            "2": ((t["2"],), self._validate_warm),
            "3": ((t["3"],), self._validate_one),
            "4": ((t["4"], t["4j"], t["4m"]), self._plan),
            "5": ((t["5"], t["5c"]), self._apply),
            "6": ((t["6a"], t["6b"]), self._memory),
        }

    def prepare(self, wanted: Sequence[str], fleet: Path | None = None) -> None:
        """The fleet for the steps other than 5 (which builds its own): generated, or
        copied from ``fleet`` (another side's, before any run touched it)."""
        if not any(step != "5" for step in wanted):
            return
        if fleet is None:
            _progress(f"generating {self.billers} billers in {self.fleet} …")
            make_fleet(self.fleet, self.billers)
        else:
            shutil.copytree(fleet, self.fleet, symlinks=True)
        self.baseline = {p.name for p in self.fleet.iterdir()}

    def step(self, key: str) -> None:
        """Measure one step; a failure marks only its own rows."""
        targets, step = self.steps[key]
        if self.int360 is None:
            for t in targets:
                t.error = "int360 not found"
            return
        try:
            step(*targets)
        except (CommandFailed, OSError, ValueError, KeyError) as exc:
            _progress(f"  FAILED: {exc}")
            for t in targets:
                if t.error is None and t.met is None and not (t.info_only and t.samples):
                    t.error = str(exc)

    def rows(self, key: str) -> tuple[Target, ...]:
        """The table rows of one step."""
        return self.steps[key][0]

    def _validate_cold(self, t: Target) -> None:
        _progress("[1] validate, cold, vs check-jsonschema")
        if self.peer_cmd is None:
            raise CommandFailed("check-jsonschema is not installed")
        files = sorted(
            p.relative_to(self.fleet).as_posix() for p in self.fleet.glob("billers/*.yaml")
        )
        schemas = self.fleet / "schemas"
        peer = [
            *self.peer_cmd,
            "--base-uri",
            f"file://{schemas}/",
            "--schemafile",
            "schemas/biller.schema.json",
        ]
        t.peer = "check-jsonschema"
        t.extra["peer_command"] = " ".join(peer) + " billers/*.yaml"
        # Unmeasured warm-up: byte-compile/page in both programs' code.
        self.runner.run("warm-up validate", self._int360("validate"), cwd=self.fleet, env=self.env)
        self.runner.run("warm-up peer", [*peer, files[0]], cwd=self.fleet, env=self.env)
        for i in range(self.repeats):
            # Alternate the order so neither side always runs right after the other.
            order = ("ours", "peer") if i % 2 == 0 else ("peer", "ours")
            for side in order:
                if side == "ours":
                    self._clear_cache()
                    run = self._measure(t, f"validate cold {i + 1}", self._int360("validate"))
                    t.samples.append(run.wall_s)
                    self.validate_runs.append(run)
                else:
                    run = self._measure(t, f"check-jsonschema {i + 1}", [*peer, *files])
                    t.peer_samples.append(run.wall_s)
        t.notes.append(f"removed before each cold run: {', '.join(sorted(self.removed)) or '—'}")
        t.ratio = statistics.median(t.peer_samples) / statistics.median(t.samples)
        t.met = t.ratio >= COLD_RATIO_GOAL

    def _validate_warm(self, t: Target) -> None:
        _progress("[2] validate, warm")
        self._clear_cache()
        self.runner.run("validate to warm", self._int360("validate"), cwd=self.fleet, env=self.env)
        created = sorted(p.name for p in self.fleet.iterdir() if p.name not in self.baseline)
        t.notes.append(f"left by validate in the repo: {', '.join(created) or 'nothing'}")
        for i in range(self.repeats):
            run = self._measure(t, f"validate warm {i + 1}", self._int360("validate"))
            t.samples.append(run.wall_s)
            self.validate_runs.append(run)
        t.met = statistics.median(t.samples) <= WARM_LIMIT_S

    def _validate_one(self, t: Target) -> None:
        _progress("[3] validate one file (cache state: warm, as left by [2])")
        one = min(self.fleet.glob("billers/*.yaml")).relative_to(self.fleet).as_posix()
        t.extra["file"] = one
        for i in range(self.repeats):
            run = self._measure(t, f"validate {one} {i + 1}", self._int360("validate", one))
            t.samples.append(run.wall_s)
        t.met = statistics.median(t.samples) <= ONE_FILE_LIMIT_S

    def _plan(self, t: Target, fresh: Target, fresh_mem: Target) -> None:
        _progress("[4] plan --all against a sandbox subprocess")
        db = self.work / "plan-sandbox.sqlite"
        env = {**self.env, **_secrets_env(self.fleet)}
        pages = math.ceil(self.billers / BULK_PAGE)
        # Unmeasured: the validation verdict of this code (run alone, as with --only 4,
        # the first plan would otherwise also be a cold validate of the whole fleet).
        self.runner.run(
            "validate (warm-up)", self._int360("validate"), cwd=self.fleet, env=self.env
        )
        with Sandbox(
            self.int360 or [], self.fleet, db, self.work / "plan-sandbox.log", self.env
        ) as sandbox:
            env["INT360_CRM_URL"] = sandbox.url
            # The fresh sandbox: every biller changes (a new CRM). Planning writes
            # nothing, so every repeat finds it fresh.
            saved = self.work / "plan-fresh.json"
            for i in range(self.repeats):
                before = sandbox.requests()
                cmd = self._int360("plan", "--all", "--format", "json", "--out", str(saved))
                run = self._measure(fresh, f"plan json, all change {i + 1}", cmd, env, (2,))
                summary = _plan_summary(saved, run)
                if summary.get("change") != self.billers:
                    raise CommandFailed(f"expected {self.billers} to change, got {summary}")
                fresh.samples.append(run.wall_s)
                fresh_mem.samples.append(run.maxrss_mib)
                fresh.extra["requests"] = dict(sandbox.requests() - before)
            fresh.notes.append(
                f"plan summary {summary}; {_requests(fresh)} per plan; stdout and --out "
                f"({saved.stat().st_size / MIB:.0f} MiB of JSON each) read back as JSON"
            )
            fresh.met = statistics.median(fresh.samples) <= PLAN_LIMIT_S
            fresh_mem.notes.append("ru_maxrss of the runs of 4j")
            fresh_mem.met = max(fresh_mem.samples) <= MEMORY_LIMIT_MIB
            # Set-up: apply everything once, so the measured plans find nothing to change.
            report = self.work / "apply-setup.json"
            cmd = self._int360(
                "apply", "--all", "--yes", "--max-billers", str(2 * self.billers), *WHOLE_FLEET
            )
            setup = self.runner.run(
                "apply all (set-up)", [*cmd, "--report", str(report)], cwd=self.fleet, env=env
            )
            t.notes.append(
                f"measured after one apply of all billers ({setup.wall_s:.1f} s, "
                f"{_report_summary(report)}), so every biller plans as unchanged"
            )
            for i in range(self.repeats):
                before = sandbox.requests()
                cmd = self._int360("plan", "--all", "--format", "json")
                run = self._measure(t, f"plan {i + 1}", cmd, env=env)
                summary = _plan_summary(None, run)
                if summary.get("unchanged") != self.billers:
                    raise CommandFailed(f"expected {self.billers} unchanged, got {summary}")
                t.samples.append(run.wall_s)
                self.plan_runs.append(run)
                used = sandbox.requests() - before
                t.extra.setdefault("requests_per_run", []).append(sum(used.values()))
                t.extra["requests"] = dict(used)
            t.notes.append(f"plan summary {summary}; {_requests(t)} per plan")
            counts = t.extra["requests_per_run"]
            t.extra["bulk_pages_expected"] = pages
        bulk = max(counts) < self.billers / 10
        t.notes.append(
            f"ceil({self.billers}/{BULK_PAGE}) = {pages} pages per bulk read; "
            f"{'bulk reads' if bulk else 'NOT bulk: requests grow per biller'}"
        )
        t.met = statistics.median(t.samples) <= PLAN_LIMIT_S and bulk

    def _apply(self, t: Target, cold: Target) -> None:
        _progress(f"[5] apply of {APPLY_BILLERS} billers, fresh sandbox db per run")
        repo = self.work / "fleet-apply"
        make_fleet(repo, APPLY_BILLERS)
        # A checkout's files are older than the caches' "racily clean" window.
        time.sleep(RACY_NS / 1e9 + 0.1)
        env = {**self.env, **_secrets_env(repo)}
        t.ideal = cold.ideal = APPLY_BILLERS * APPLY_LATENCY_MS / 1000 / APPLY_CONCURRENCY
        cmd = [*(self.int360 or []), "--repo", str(repo), "apply", "--all", "--yes"]
        cmd += ["--max-billers", str(2 * APPLY_BILLERS), *WHOLE_FLEET]
        cmd += ["--concurrency", str(APPLY_CONCURRENCY)]
        for i in range(self.repeats):
            # As CI runs it on a fresh checkout: no .int360 caches. That run fills them,
            # so the next finds the repository as a second run does.
            shutil.rmtree(repo / ".int360", ignore_errors=True)
            first, _used = self._apply_once(f"apply, no caches {i + 1}", repo, cmd, env)
            cold.samples.append(first.wall_s)
            run, used = self._apply_once(f"apply, warm {i + 1}", repo, cmd, env)
            t.samples.append(run.wall_s)
            t.extra["requests"] = used
        t.notes.append(
            f"{_requests(t)} per apply; every request incl. reads is delayed "
            f"{APPLY_LATENCY_MS} ms; each run right after one of 5c"
        )
        cold.notes.append(".int360/ removed before each run (it validates every file)")
        for target in (t, cold):
            target.ratio = statistics.median(target.samples) / t.ideal
            target.met = target.ratio <= APPLY_RATIO_GOAL

    def _apply_once(
        self, label: str, repo: Path, cmd: list[str], env: dict[str, str]
    ) -> tuple[Run, dict[str, int]]:
        """One apply of the whole fleet against a new sandbox (all of it must change):
        the run and the sandbox's request counts."""
        name = re.sub(r"[^a-z0-9]+", "-", label.lower())
        db, log = self.work / f"{name}.sqlite", self.work / f"{name}.log"
        report = self.work / f"{name}.report.json"
        with Sandbox(
            self.int360 or [], repo, db, log, self.env, latency_ms=APPLY_LATENCY_MS
        ) as sandbox:
            run = self.runner.run(
                label,
                [*cmd, "--report", str(report)],
                cwd=repo,
                env={**env, "INT360_CRM_URL": sandbox.url},
            )
            used = sandbox.requests()
        summary = _report_summary(report)
        if summary.get("applied") != APPLY_BILLERS:
            raise CommandFailed(f"{label}: expected {APPLY_BILLERS} applied, got {summary}")
        side = f" ({self.code.label})" if self.code.label else ""
        _progress(
            f"  [5] {label}{side}: {run.wall_s:.3f} s; {sum(used.values())} requests; "
            f"load {_load()}"
        )
        return run, dict(used)

    def _memory(self, mem_v: Target, mem_p: Target) -> None:
        _progress("[6] peak memory (maxrss of the timed runs + one sampled process-tree run each)")
        for target, runs in ((mem_v, self.validate_runs), (mem_p, self.plan_runs)):
            target.samples = [r.maxrss_mib for r in runs]
            if not runs:
                target.error = "no timed runs to take it from (see the rows above)"
        # One extra run each, sampling the PSS summed over the whole process tree.
        if self.validate_runs:
            self._clear_cache()
            run = self.runner.run(
                "validate cold (memory)",
                self._int360("validate"),
                cwd=self.fleet,
                env=self.env,
                sample_tree=True,
            )
            _tree_note(mem_v, run, "cold validate")
        if self.plan_runs:
            db = self.work / "plan-sandbox.sqlite"
            with Sandbox(
                self.int360 or [], self.fleet, db, self.work / "memory-sandbox.log", self.env
            ) as sandbox:
                env = {**self.env, "INT360_CRM_URL": sandbox.url}
                run = self.runner.run(
                    "plan (memory)",
                    self._int360("plan", "--all", "--format", "json"),
                    cwd=self.fleet,
                    env=env,
                    accept=(0, 2),
                    sample_tree=True,
                )
            _tree_note(mem_p, run, "plan --all")
        for target in (mem_v, mem_p):
            if target.samples:
                peak = max([*target.samples, target.extra.get("tree_peak_mib", 0.0)])
                target.met = peak <= MEMORY_LIMIT_MIB


def _tree_note(target: Target, run: Run, what: str) -> None:
    if run.tree_peak_bytes is None:
        return
    mib = run.tree_peak_bytes / MIB
    target.extra["tree_peak_mib"] = mib
    target.notes.append(
        f"samples: ru_maxrss (largest single process) of the timed runs; one {what} "
        f"sampled every 20 ms as summed PSS of its process tree peaked at {mib:.1f} MiB"
    )


def _plan_summary(saved: Path | None, run: Run) -> dict[str, int]:
    """The ``summary`` of the JSON plan a run printed (and, with ``saved``, wrote to
    ``--out``: both must be the same plan)."""
    if saved is not None and _digest(saved) != _digest(run.out_path):
        raise CommandFailed(f"{saved} and standard output hold different plans")
    summary = _json_document(run.out_path, "the plan on stdout").get("summary")
    if not isinstance(summary, dict):
        raise CommandFailed(f"the plan on stdout has no summary: {run.out_path}")
    return summary


def _report_summary(report: Path) -> dict[str, int]:
    """The ``summary`` of an apply's ``--report`` file."""
    summary = _json_document(report, "the apply report").get("summary")
    if not isinstance(summary, dict):
        raise CommandFailed(f"{report}: an apply report without a summary")
    return summary


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _json_document(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            found = json.load(handle)
    except (OSError, ValueError) as exc:
        raise CommandFailed(f"{what} ({path}) is not JSON: {exc}") from exc
    if not isinstance(found, dict):
        raise CommandFailed(f"{what} ({path}) is not a JSON object")
    return found


def _requests(target: Target) -> str:
    counts: dict[str, int] = target.extra.get("requests", {})
    detail = ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{sum(counts.values())} HTTP requests ({detail or 'none'})"


# --- command line ----------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="measure the SPEC §9 targets")
    run.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_BILLERS:,} billers instead of {FULL_BILLERS:,}, {QUICK_REPEATS} repeats",
    )
    run.add_argument("--repeat", type=int, metavar="N", help=f"repeats per target ({FULL_REPEATS})")
    run.add_argument("--billers", type=int, metavar="N", help="fleet size (overrides --quick)")
    run.add_argument(
        "--out", type=Path, default=Path("results.json"), help="JSON result file (results.json)"
    )
    run.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per command before it is killed"
    )
    run.add_argument(
        "--only",
        metavar="N[,N…]",
        help=f"measure only these targets, of {','.join(STEPS)} (e.g. --only 5)",
    )
    run.add_argument(
        "--before",
        metavar="REV",
        help="also measure git revision REV, step by step next to this checkout (same fleets)",
    )
    run.add_argument("--workdir", type=Path, help="where to build the fleets (a new temp dir)")
    run.add_argument("--keep", action="store_true", help="keep the work dir (fleets, logs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``; exit 0 if every target was met, else 1."""
    args = _parser().parse_args(argv)
    repeats = args.repeat or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    billers = args.billers or (QUICK_BILLERS if args.quick else FULL_BILLERS)
    if repeats < 1 or billers < 1:
        _parser().error("--repeat and --billers must be at least 1")
    only = None
    if args.only is not None:
        only = frozenset(k.strip() for k in args.only.split(",") if k.strip())
        if not only or not only <= set(STEPS):
            _parser().error(f"--only takes target numbers among {','.join(STEPS)}")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="int360-bench-", dir=args.workdir))
    else:
        work = Path(tempfile.mkdtemp(prefix="int360-bench-"))
    cores = os.cpu_count()
    load_before = _load()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    began = time.perf_counter()
    _progress(f"int360 benchmarks: {billers:,} billers, {repeats} repeats, {cores} cores; {work}")
    try:
        runner = Runner(work.resolve(), args.timeout)
        if args.before is None:
            codes = [this_code()]
        else:
            codes = [code_at(args.before, work.resolve() / "before-src")]
            codes.append(this_code(f"after {_git_revision()}"))
        targets = measure(work.resolve(), billers, repeats, runner, codes, only)
    except CommandFailed as exc:
        _parser().error(str(exc))
    finally:
        if args.keep:
            _progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    rendered = table(targets)
    head = (
        f"int360 benchmarks — {billers:,} billers, {repeats} repeats, "
        f"os.cpu_count() = {cores}, Python {platform.python_version()}, "
        f"int360 at {_git_revision()}, {time.perf_counter() - began:.0f} s, "
        f"load average {load_before} before, {_load()} after"
    )
    if billers != FULL_BILLERS:
        head += f"\n(the SPEC §9 limits are for {FULL_BILLERS:,} billers)"
    print(head)
    print(rendered)
    for t in targets:
        row = f"{t.key}, {t.code}" if t.code else t.key
        for note in t.notes:
            print(f"  [{row}] {note}")
        if t.error:
            print(f"  [{row}] FAILED: {t.error}")
    result = {
        "started": started,
        "machine": {
            "cpu_count": cores,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": _load(),
        },
        "int360_revision": _git_revision(),
        "before_revision": args.before,
        "billers": billers,
        "repeats": repeats,
        "quick": bool(args.quick),
        "targets": [t.as_json() for t in targets],
        "table": rendered,
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    ours = [t for t in targets if not t.code.startswith("before") and not t.info_only]
    return 0 if all(t.met and not t.error for t in ours) else 1


def wanted_steps(only: frozenset[str] | None) -> list[str]:
    """The steps to run, in table order: those asked for and those they read from."""
    asked = set(STEPS if only is None else only)
    asked.update(need for step in list(asked) for need in NEEDS.get(step, ()))
    return [step for step in STEPS if step in asked]


def measure(
    work: Path,
    billers: int,
    repeats: int,
    runner: Runner,
    codes: Sequence[Code],
    only: frozenset[str] | None = None,
) -> list[Target]:
    """Every asked-for step for each code, the codes alternating step by step (which
    goes first alternates too), so both sides see the machine in the same minutes.
    Each code has its own copy of the fleets, so neither finds the other's caches."""
    wanted = wanted_steps(only)
    benches = [
        Benchmark(work / f"side-{i}" if len(codes) > 1 else work, billers, repeats, runner, code)
        for i, code in enumerate(codes)
    ]
    for index, bench in enumerate(benches):
        bench.prepare(wanted, benches[0].fleet if index else None)
    for number, key in enumerate(wanted):
        order = benches if number % 2 == 0 else benches[::-1]
        for bench in order:
            bench.step(key)
    return [row for key in wanted for bench in benches for row in bench.rows(key)]
