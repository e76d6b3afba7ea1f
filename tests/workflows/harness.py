"""Run the ``run:`` steps of a GitHub Actions workflow locally, the way a runner would.

An honest local stand-in for the runner, for tests: it reads the workflow,
evaluates ``if:`` conditions and ``${{ }}`` expressions (in ``env:``, ``with:``
and job ``outputs:``) against a context the test gives, and runs each job's
``run:`` steps in order with ``bash --noprofile --norc -eo pipefail`` (GitHub's
``shell: bash``), with the file commands (``GITHUB_OUTPUT``, ``GITHUB_ENV``,
``GITHUB_PATH``, ``GITHUB_STEP_SUMMARY``) and the variables a runner sets.

``uses:`` steps are not run: the workspace is checked out by the test and the
Python environment is the test's own. ``actions/upload-artifact`` is emulated:
its ``path`` is evaluated and the files it names are recorded (and a missing one
fails the step under ``if-no-files-found: error``), so tests can read artifacts;
as on GitHub, a name is unique within a run, re-runs included, unless the step
says ``overwrite: true``. A job's ``environment`` is evaluated and recorded.

Only what the project's workflows use is supported; anything else (another
shell, an unknown function) raises instead of being guessed at.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

# ---------------------------------------------------------------------------
# expressions


class ExprError(Exception):
    """An expression the harness does not understand."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<num>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))
      | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)

STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _number(value: Any) -> float:
    """GitHub's coercion to a number (for loose comparisons)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        s = value.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return math.nan
    return math.nan


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b) and not isinstance(a, int | float):
        return a == b if not isinstance(a, dict | list) else a is b
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return _number(a) == _number(b)


def to_string(value: Any) -> str:
    """How GitHub turns a value into text (in ``${{ }}`` inside a string)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


class _Parser:
    def __init__(self, text: str, ctx: Mapping[str, Any], status: Mapping[str, bool]):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = ctx
        self.status = status

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExprError(f"expected {value or 'more'} in {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()!r} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.eq()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.eq()
            value = right if truthy(value) else value
        return value

    def eq(self) -> Any:
        value = self.cmp()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.cmp()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def cmp(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "<"), ("op", ">"), ("op", "<="), ("op", ">=")):
            op = self.take()[1]
            right = self.unary()
            a, b = _number(value), _number(right)
            value = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "ident":
                    raise ExprError(f"bad property in {self.text!r}")
                value = _member(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _member(value, key)
        return value

    def primary(self) -> Any:
        kind, tok = self.take()
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if kind == "num":
            return float(int(tok, 16)) if "x" in tok.lower() else float(tok)
        if tok == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "ident":
            raise ExprError(f"unexpected {tok!r} in {self.text!r}")
        if tok == "true":
            return True
        if tok == "false":
            return False
        if tok == "null":
            return None
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.call(tok, args)
        if tok not in self.ctx:
            raise ExprError(f"unknown context {tok!r} in {self.text!r}")
        return self.ctx[tok]

    def call(self, name: str, args: list[Any]) -> Any:
        lname = name.lower()
        if lname in STATUS_FUNCTIONS:
            return self.status[lname]
        if lname == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(_equal(x, needle) for x in hay)
            return to_string(needle).casefold() in to_string(hay).casefold()
        if lname == "startswith":
            return to_string(args[0]).casefold().startswith(to_string(args[1]).casefold())
        if lname == "endswith":
            return to_string(args[0]).casefold().endswith(to_string(args[1]).casefold())
        if lname == "format":
            fmt = to_string(args[0])
            return re.sub(r"\{(\d+)\}", lambda m: to_string(args[1 + int(m.group(1))]), fmt)
        if lname == "tojson":
            return json.dumps(args[0], indent=2)
        if lname == "fromjson":
            return json.loads(to_string(args[0]))
        raise ExprError(f"function {name}() is not supported by the test harness")


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if isinstance(key, str):
            for k, v in value.items():
                if isinstance(k, str) and k.casefold() == key.casefold():
                    return v
        return None
    if isinstance(value, list) and isinstance(key, int | float) and not isinstance(key, bool):
        index = int(key)
        return value[index] if 0 <= index < len(value) else None
    return None


def evaluate(text: str, ctx: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> Any:
    """The value of one expression (without the ``${{ }}``)."""
    return _Parser(text, ctx, status or _default_status()).parse()


def _default_status() -> dict[str, bool]:
    return {"success": True, "failure": False, "always": True, "cancelled": False}


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def _whole_expression(text: str) -> str | None:
    """The expression when ``text`` is exactly one ``${{ … }}``, else None."""
    found = list(_TEMPLATE.finditer(text))
    stripped = text.strip()
    if len(found) == 1 and found[0].group(0) == stripped:
        return found[0].group(1)
    return None


def interpolate(value: Any, ctx: Mapping[str, Any]) -> Any:
    """``value`` with every ``${{ expr }}`` replaced; a string that is one expression
    keeps the expression's type (as GitHub does for ``with:`` and ``env:``)."""
    if not isinstance(value, str):
        return value
    whole = _whole_expression(value)
    if whole is not None:
        return evaluate(whole, ctx)
    return _TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), ctx)), value)


def condition(text: Any, ctx: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    """An ``if:``: a status function is implied (``success() && …``) when none is used."""
    if text is None:
        return status["success"]
    if isinstance(text, bool):
        return status["success"] and text
    expr = str(text).strip()
    whole = _whole_expression(expr)
    if whole is not None:
        expr = whole.strip()
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", expr, re.IGNORECASE):
        expr = f"success() && ({expr})"
    return truthy(evaluate(expr, ctx, status))


# ---------------------------------------------------------------------------
# workflows


def load_workflow(path: Path) -> dict[str, Any]:
    """A workflow as plain dicts (YAML 1.2: ``on`` stays a string key)."""
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a mapping")
    return data


def parse_file_commands(path: Path) -> dict[str, str]:
    """``NAME=value`` and ``NAME<<DELIM … DELIM`` lines, as in ``GITHUB_OUTPUT``."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body = []
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"{path}: no closing {delim!r} for {name!r}")
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ValueError(f"{path}: cannot read {line!r}")
    return values


ANNOTATION = re.compile(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$")


@dataclass
class StepResult:
    index: int
    id: str
    name: str
    outcome: str  # success | failure | skipped
    conclusion: str
    uses: str | None = None
    script: str | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    env: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def annotations(self) -> list[tuple[str, str, str]]:
        """``(level, properties, message)`` of each ``::error``/``::warning``/``::notice``."""
        found = []
        for line in (self.stdout + "\n" + self.stderr).splitlines():
            m = ANNOTATION.match(line.strip())
            if m:
                found.append((m.group(1), m.group(2) or "", m.group(3)))
        return found


@dataclass
class JobResult:
    id: str
    conclusion: str  # success | failure | skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, list[Path]] = field(default_factory=dict)
    workspace: Path | None = None
    runner_temp: Path | None = None
    environment: str | None = None

    def step(self, step_id: str) -> StepResult:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(f"job {self.id} has no step {step_id!r}: {[s.id for s in self.steps]}")

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    @property
    def log(self) -> str:
        return "\n".join(
            f"--- {s.id} ({s.outcome}, {s.seconds:.1f}s)\n{s.stdout}{s.stderr}" for s in self.steps
        )


@dataclass
class WorkflowRun:
    jobs: dict[str, JobResult]

    def __getitem__(self, job_id: str) -> JobResult:
        return self.jobs[job_id]


Workspace = Callable[[str], Path]


class Runner:
    """Runs one workflow file for one event.

    ``context`` holds the contexts a run starts with: ``github`` (with ``event``),
    ``secrets``, ``vars``, ``inputs`` (for workflow_dispatch; the declared defaults
    fill what is not given). ``base_env`` is the process environment every step
    starts from (PATH with the fake ``gh`` and the virtualenv, HOME, …).
    ``stubs`` replaces the script of a step, by step id, e.g. the step that runs
    this very test suite. ``env_overrides`` changes values of the workflow's
    top-level ``env:`` (e.g. a smaller apply guard). ``step_env`` adds to (or
    replaces in) the environment of a step, by step id: what a ``uses:`` step
    before it would have provided (e.g. a credential). ``artifacts`` is the
    run's artifact names so far, shared by its attempts (by run id).
    """

    def __init__(
        self,
        workflow: Path,
        context: Mapping[str, Any],
        *,
        base_env: Mapping[str, str],
        tmp: Path,
        stubs: Mapping[str, str] | None = None,
        env_overrides: Mapping[str, str] | None = None,
        step_env: Mapping[str, Mapping[str, str]] | None = None,
        artifacts: dict[str, set[str]] | None = None,
        step_timeout: float = 120.0,
    ) -> None:
        self.path = workflow
        self.wf = load_workflow(workflow)
        self.context = dict(context)
        self.base_env = dict(base_env)
        self.tmp = tmp
        self.stubs = dict(stubs or {})
        self.env_overrides = dict(env_overrides or {})
        self.step_env = {k: dict(v) for k, v in (step_env or {}).items()}
        self.artifacts = artifacts if artifacts is not None else {}
        self.step_timeout = step_timeout
        self._used_stubs: set[str] = set()

    # -- contexts

    def _inputs(self) -> dict[str, Any]:
        github = self.context["github"]
        given = dict(self.context.get("inputs") or {})
        if github.get("event_name") != "workflow_dispatch":
            return given
        declared = ((self.wf.get("on") or {}).get("workflow_dispatch") or {}).get("inputs") or {}
        inputs: dict[str, Any] = {}
        for name, spec in declared.items():
            value = given.pop(name, spec.get("default"))
            if spec.get("required") and value in (None, ""):
                raise ValueError(f"input {name} is required")
            if spec.get("type") == "boolean":
                value = value if isinstance(value, bool) else str(value).lower() == "true"
            elif spec.get("type") == "number" and value not in (None, ""):
                value = float(value)
            elif value is None:
                value = ""
            inputs[name] = value
        if given:
            raise ValueError(f"inputs not declared by the workflow: {sorted(given)}")
        return inputs

    def _runner_env(self, job_id: str, workspace: Path, runner_temp: Path) -> dict[str, str]:
        g = self.context["github"]
        event_path = runner_temp / "_event.json"
        event_path.write_text(json.dumps(g.get("event") or {}), encoding="utf-8")
        env = dict(self.base_env)
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKFLOW": str(self.wf.get("name", self.path.name)),
                "GITHUB_JOB": job_id,
                "GITHUB_RUN_ID": str(g.get("run_id", "1")),
                "GITHUB_RUN_NUMBER": str(g.get("run_number", "1")),
                "GITHUB_RUN_ATTEMPT": str(g.get("run_attempt", "1")),
                "GITHUB_ACTOR": str(g.get("actor", "octocat")),
                "GITHUB_REPOSITORY": str(g["repository"]),
                "GITHUB_EVENT_NAME": str(g["event_name"]),
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_SHA": str(g["sha"]),
                "GITHUB_REF": str(g.get("ref", "")),
                "GITHUB_REF_NAME": str(g.get("ref_name", "")),
                "GITHUB_HEAD_REF": str(g.get("head_ref", "")),
                "GITHUB_BASE_REF": str(g.get("base_ref", "")),
                "GITHUB_SERVER_URL": str(g.get("server_url", "https://github.com")),
                "GITHUB_API_URL": "https://api.github.com",
                "GITHUB_WORKSPACE": str(workspace),
                "RUNNER_TEMP": str(runner_temp),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
            }
        )
        return env

    # -- running

    def run(self, workspace: Workspace, jobs: list[str] | None = None) -> WorkflowRun:
        """Every job (or those named), in ``needs`` order; ``workspace(job_id)`` gives a
        fresh checkout for each job."""
        all_jobs: dict[str, Any] = self.wf["jobs"]
        order: list[str] = []

        def visit(job_id: str, trail: tuple[str, ...] = ()) -> None:
            if job_id in order:
                return
            if job_id in trail:
                raise ValueError(f"needs cycle at {job_id}")
            for dep in _as_list(all_jobs[job_id].get("needs")):
                visit(dep, (*trail, job_id))
            order.append(job_id)

        for job_id in jobs or list(all_jobs):
            visit(job_id)
        results: dict[str, JobResult] = {}
        for job_id in order:
            results[job_id] = self.run_job(job_id, workspace, results)
        # A stub for a step that was skipped is fine (a superseded run installs nothing);
        # one for a step that does not exist is a test that no longer tests anything.
        existing = {
            str(st.get("id"))
            for job_id in order
            for st in all_jobs[job_id].get("steps") or []
            if st.get("id")
        }
        unknown = set(self.stubs) - existing
        if unknown:
            raise AssertionError(f"stubs for steps that do not exist: {unknown}")
        return WorkflowRun(results)

    def run_job(
        self, job_id: str, workspace: Workspace, done: Mapping[str, JobResult]
    ) -> JobResult:
        job = self.wf["jobs"][job_id]
        needs_ids = _as_list(job.get("needs"))
        needs = {
            n: {"result": done[n].conclusion, "outputs": dict(done[n].outputs)} for n in needs_ids
        }
        base_ctx = {
            "github": self.context["github"],
            "secrets": {"GITHUB_TOKEN": self.context["github"].get("token", "")}
            | dict(self.context.get("secrets") or {}),
            "vars": dict(self.context.get("vars") or {}),
            "inputs": self._inputs(),
            "needs": needs,
            "matrix": {},
            "strategy": {},
            "job": {},
        }
        job_status = {
            "success": all(done[n].conclusion == "success" for n in needs_ids),
            "failure": any(done[n].conclusion == "failure" for n in needs_ids),
            "always": True,
            "cancelled": False,
        }
        if not condition(job.get("if"), base_ctx | {"env": {}}, job_status):
            return JobResult(job_id, "skipped")

        ws = workspace(job_id)
        runner_temp = self.tmp / f"runner-temp-{job_id}"
        runner_temp.mkdir(parents=True, exist_ok=False)
        runner_ctx = {"os": "Linux", "arch": "X64", "temp": str(runner_temp)}
        ctx: dict[str, Any] = base_ctx | {"runner": runner_ctx, "steps": {}}

        env_ctx: dict[str, str] = {}
        for key, value in (self.wf.get("env") or {}).items():
            env_ctx[key] = self.env_overrides.get(
                key, to_string(interpolate(value, ctx | {"env": env_ctx}))
            )
        for key, value in (job.get("env") or {}).items():
            env_ctx[key] = to_string(interpolate(value, ctx | {"env": env_ctx}))

        shell = (((job.get("defaults") or {}).get("run") or {}).get("shell")) or (
            ((self.wf.get("defaults") or {}).get("run") or {}).get("shell")
        )
        result = JobResult(job_id, "success", workspace=ws, runner_temp=runner_temp)
        if job.get("environment") is not None:
            environment = job["environment"]
            if isinstance(environment, dict):
                environment = environment.get("name")
            result.environment = to_string(interpolate(environment, ctx | {"env": env_ctx}))
        runner_env = self._runner_env(job_id, ws, runner_temp)
        file_env: dict[str, str] = {}
        extra_path: list[str] = []

        for index, step in enumerate(job.get("steps") or []):
            step_id = str(step.get("id") or f"__{index}")
            name = str(step.get("name") or step.get("uses") or step.get("run", "")[:40])
            status = {
                "success": all(s.conclusion != "failure" for s in result.steps),
                "failure": any(s.conclusion == "failure" for s in result.steps),
                "always": True,
                "cancelled": False,
            }
            step_ctx = ctx | {"env": env_ctx | file_env}
            if not condition(step.get("if"), step_ctx, status):
                res = StepResult(index, step_id, name, "skipped", "skipped")
                result.steps.append(res)
                ctx["steps"][step_id] = {
                    "outcome": "skipped",
                    "conclusion": "skipped",
                    "outputs": {},
                }
                continue

            step_env = {
                k: to_string(interpolate(v, step_ctx)) for k, v in (step.get("env") or {}).items()
            }
            if "uses" in step:
                res = self._uses(index, step_id, name, step, step_ctx, result)
            else:
                res = self._run(
                    index,
                    step_id,
                    name,
                    step,
                    shell,
                    ws,
                    runner_temp,
                    runner_env | file_env | env_ctx | step_env | self.step_env.get(step_id, {}),
                    extra_path,
                )
                file_env.update(parse_file_commands(runner_temp / f"_env_{index}"))
                path_file = runner_temp / f"_path_{index}"
                if path_file.exists():
                    extra_path[:0] = [p for p in path_file.read_text().splitlines() if p][::-1]
            if res.outcome == "failure" and truthy(
                interpolate(step.get("continue-on-error", False), step_ctx)
            ):
                res.conclusion = "success"
            result.steps.append(res)
            ctx["steps"][step_id] = {
                "outcome": res.outcome,
                "conclusion": res.conclusion,
                "outputs": dict(res.outputs),
            }

        if any(s.conclusion == "failure" for s in result.steps):
            result.conclusion = "failure"
        final_ctx = ctx | {"env": env_ctx | file_env}
        for key, value in (job.get("outputs") or {}).items():
            result.outputs[key] = to_string(interpolate(value, final_ctx))
        return result

    def _uses(
        self,
        index: int,
        step_id: str,
        name: str,
        step: Mapping[str, Any],
        ctx: Mapping[str, Any],
        job: JobResult,
    ) -> StepResult:
        uses = str(step["uses"])
        res = StepResult(index, step_id, name, "success", "success", uses=uses)
        if uses.split("@")[0] == "actions/upload-artifact":
            with_ = {k: interpolate(v, ctx) for k, v in (step.get("with") or {}).items()}
            paths = [
                Path(p.strip())
                for p in to_string(with_.get("path", "")).splitlines()
                if p.strip() and not p.strip().startswith("!")
            ]
            found = [p for p in paths if p.exists() and (p.is_file() or any(p.iterdir()))]
            missing = with_.get("if-no-files-found", "warn")
            name = to_string(with_.get("name", "artifact"))
            names = self.artifacts.setdefault(str(self.context["github"].get("run_id", "1")), set())
            if not found and missing == "error":
                res.outcome = res.conclusion = "failure"
                res.stderr = f"no files found at {paths}"
            elif found and name in names and not truthy(with_.get("overwrite", False)):
                res.outcome = res.conclusion = "failure"
                res.stderr = (
                    f"Failed to CreateArtifact: an artifact with this name already exists on "
                    f"the workflow run: {name}"
                )
            elif found:
                names.add(name)
            job.artifacts[name] = found
        return res

    def _run(
        self,
        index: int,
        step_id: str,
        name: str,
        step: Mapping[str, Any],
        shell: str | None,
        workspace: Path,
        runner_temp: Path,
        env: dict[str, str],
        extra_path: list[str],
    ) -> StepResult:
        script = str(step["run"])
        if "${{" in script:
            raise AssertionError(f"step {name!r}: an expression inside run: is not allowed")
        shell = step.get("shell") or shell
        if shell != "bash":
            raise AssertionError(f"step {name!r}: shell is {shell!r}; the harness runs bash only")
        if step_id in self.stubs:
            script = self.stubs[step_id]
            self._used_stubs.add(step_id)
        files = {
            "GITHUB_OUTPUT": runner_temp / f"_output_{index}",
            "GITHUB_ENV": runner_temp / f"_env_{index}",
            "GITHUB_PATH": runner_temp / f"_path_{index}",
            "GITHUB_STEP_SUMMARY": runner_temp / f"_summary_{index}",
        }
        for f in files.values():
            f.write_text("", encoding="utf-8")
        env = env | {k: str(v) for k, v in files.items()} | {"GITHUB_ACTION": step_id}
        if extra_path:
            env["PATH"] = os.pathsep.join([*extra_path, env["PATH"]])
        script_file = runner_temp / f"_step_{index}.sh"
        script_file.write_text(script, encoding="utf-8")
        cwd = workspace / str(step.get("working-directory", "."))
        started = time.monotonic()
        try:
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.step_timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"step {name!r} ran over {self.step_timeout}s") from exc
        outcome = "success" if proc.returncode == 0 else "failure"
        return StepResult(
            index,
            step_id,
            name,
            outcome,
            outcome,
            script=script,
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            outputs=parse_file_commands(files["GITHUB_OUTPUT"]),
            summary=files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8"),
            env=env,
            seconds=time.monotonic() - started,
        )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
