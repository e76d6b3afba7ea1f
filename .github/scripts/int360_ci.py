#!/usr/bin/env python3
"""The workflows' calls to GitHub, through the `gh` command (a test puts a fake on PATH).

Standard library only. It renders nothing: every text it posts is a file that
`int360 comment …` wrote from int360's JSON reports; it reads `gh`'s JSON, never
log text.

    tip            the SHA at the tip of a branch
    last-applied   the newest commit an apply run applied in full ("Apply the range"
                   succeeded), among the ancestors of --head; nothing when none
    apply-active   how many apply runs are queued, waiting or in progress
    pulls          the pull requests that merged the commits SINCE..HEAD
    sticky         create the one comment with a marker on an issue or pull request, or update it
    issue          open or update the one open issue with a label, or close it
    adopt-pr       open the pull request of a fixed branch, or update the one that is open
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BOT_LOGIN = "github-actions[bot]"
APPLY_STEP = "Apply the range"
SHA = re.compile(r"[0-9a-f]{40}")


def gh(*args: str) -> str:
    """``gh``'s output; exit with its message when it fails."""
    proc = subprocess.run(["gh", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"gh {' '.join(args[:3])} … failed (exit {proc.returncode}): "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc.stdout


def gh_json(*args: str) -> Any:
    text = gh(*args).strip()
    return json.loads(text) if text else None


def pages(text: str) -> list[Any]:
    """The items of ``gh api --paginate`` output (one JSON array per page)."""
    decoder, items, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return items
        value, pos = decoder.raw_decode(text, pos)
        items.extend(value if isinstance(value, list) else [value])


def repository() -> str:
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise SystemExit("GITHUB_REPOSITORY is not set to OWNER/NAME")
    return repo


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def body_file(text: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as f:
        f.write(text)
        return f.name


# ---------------------------------------------------------------------------


def cmd_tip(a: argparse.Namespace) -> int:
    ref = gh_json("api", f"repos/{repository()}/git/ref/heads/{a.branch}")
    sha = (ref or {}).get("object", {}).get("sha", "")
    if not SHA.fullmatch(sha):
        raise SystemExit(f"no commit at the tip of {a.branch}")
    print(sha)
    return 0


def cmd_last_applied(a: argparse.Namespace) -> int:
    """Candidates: successful runs whose "Apply the range" step succeeded (a superseded
    run skips it; a scoped break-glass run names it otherwise). Of those in --head's
    history, the nearest to --head wins: a re-run's age says nothing."""
    runs = gh_json(
        "run",
        "list",
        "--workflow",
        a.workflow,
        "--branch",
        a.branch,
        "--status",
        "success",
        "--limit",
        str(a.limit),
        "--json",
        "databaseId,headSha",
    )
    best: tuple[int, str] | None = None
    seen: set[str] = set()
    for run in runs or []:
        sha = str(run.get("headSha", ""))
        if not SHA.fullmatch(sha) or sha in seen:
            continue
        jobs = gh_json("api", f"repos/{repository()}/actions/runs/{int(run['databaseId'])}/jobs")
        applied = any(
            step.get("name") == APPLY_STEP and step.get("conclusion") == "success"
            for job in (jobs or {}).get("jobs", [])
            for step in job.get("steps") or []
        )
        if not applied:
            continue
        seen.add(sha)
        if git("merge-base", "--is-ancestor", sha, a.head).returncode != 0:
            continue
        distance = git("rev-list", "--count", f"{sha}..{a.head}").stdout.strip()
        if distance.isdigit() and (best is None or int(distance) < best[0]):
            best = (int(distance), sha)
    if best:
        print(best[1])
    return 0


def cmd_apply_active(a: argparse.Namespace) -> int:
    runs = gh_json(
        "run", "list", "--workflow", a.workflow, "--limit", "20", "--json", "databaseId,status"
    )
    active = [r for r in runs or [] if r.get("status") != "completed"]
    print(len(active))
    return 0


def cmd_pulls(a: argparse.Namespace) -> int:
    listed = git("rev-list", "--max-count", str(a.max_commits), f"{a.since}..{a.head}")
    if listed.returncode != 0:
        raise SystemExit(f"git rev-list {a.since}..{a.head}: {listed.stderr.strip()}")
    numbers: list[int] = []
    for sha in listed.stdout.split():
        for pr in pages(gh("api", f"repos/{repository()}/commits/{sha}/pulls")):
            number = pr.get("number") if isinstance(pr, dict) else None
            if isinstance(number, int) and number not in numbers and pr.get("merged_at"):
                numbers.append(number)
    print(" ".join(str(n) for n in sorted(numbers)))
    return 0


def cmd_sticky(a: argparse.Namespace) -> int:
    repo = repository()
    body = Path(a.body_file).read_text(encoding="utf-8")
    if a.marker not in body:
        body = f"{a.marker}\n{body}"
    ours = [
        c
        for c in pages(gh("api", "--paginate", f"repos/{repo}/issues/{a.issue}/comments"))
        if isinstance(c, dict)
        and (c.get("body") or "").startswith(a.marker)
        and (c.get("user") or {}).get("login") == BOT_LOGIN
    ]
    payload = body_file(json.dumps({"body": body}))
    try:
        if ours:
            comment = min(int(c["id"]) for c in ours)
            endpoint = f"repos/{repo}/issues/comments/{comment}"
            gh("api", "--method", "PATCH", endpoint, "--input", payload)
            print(f"updated comment {comment} on #{a.issue}")
        else:
            endpoint = f"repos/{repo}/issues/{a.issue}/comments"
            gh("api", "--method", "POST", endpoint, "--input", payload)
            print(f"commented on #{a.issue}")
    finally:
        os.unlink(payload)
    return 0


def _open_issue(label: str) -> int | None:
    found = gh_json(
        "issue", "list", "--label", label, "--state", "open", "--limit", "20", "--json", "number"
    )
    numbers = sorted(i["number"] for i in found or [] if isinstance(i.get("number"), int))
    return numbers[0] if numbers else None


def cmd_issue(a: argparse.Namespace) -> int:
    number = _open_issue(a.label)
    if a.close:
        if number is not None:
            gh("issue", "close", str(number), "--comment", a.comment)
            print(f"closed #{number}")
        return 0
    if number is not None:
        gh("issue", "edit", str(number), "--body-file", a.body_file)
        if a.comment:
            gh("issue", "comment", str(number), "--body", a.comment)
        print(number)
        return 0
    gh("label", "create", a.label, "--color", "d93f0b", "--force", "--description", a.title)
    url = gh("issue", "create", "--title", a.title, "--label", a.label, "--body-file", a.body_file)
    print(url.strip().rsplit("/", 1)[-1])
    return 0


def cmd_adopt_pr(a: argparse.Namespace) -> int:
    found = gh_json(
        "pr", "list", "--head", a.branch, "--state", "open", "--limit", "5", "--json", "number"
    )
    numbers = sorted(p["number"] for p in found or [] if isinstance(p.get("number"), int))
    if numbers:
        gh("pr", "edit", str(numbers[0]), "--title", a.title, "--body-file", a.body_file)
        print(f"updated #{numbers[0]}")
    else:
        url = gh(
            "pr",
            "create",
            "--base",
            a.base,
            "--head",
            a.branch,
            "--title",
            a.title,
            "--body-file",
            a.body_file,
        )
        print(f"opened {url.strip()}")
    return 0


_REQUIRED: dict[str, Any] = {"required": True}
# Each subcommand: its function and its options (flag -> ``add_argument`` settings).
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], dict[str, dict[str, Any]]]] = {
    "tip": (cmd_tip, {"--branch": _REQUIRED}),
    "last-applied": (
        cmd_last_applied,
        {
            "--workflow": _REQUIRED,
            "--branch": _REQUIRED,
            "--head": _REQUIRED,
            "--limit": {"type": int, "default": 30},
        },
    ),
    "apply-active": (cmd_apply_active, {"--workflow": _REQUIRED}),
    "pulls": (
        cmd_pulls,
        {
            "--since": _REQUIRED,
            "--head": _REQUIRED,
            "--max-commits": {"type": int, "default": 30},
        },
    ),
    "sticky": (
        cmd_sticky,
        {
            "--issue": {"required": True, "type": int},
            "--marker": _REQUIRED,
            "--body-file": _REQUIRED,
        },
    ),
    "issue": (
        cmd_issue,
        {
            "--label": _REQUIRED,
            "--title": _REQUIRED,
            "--body-file": {},
            "--comment": {"default": ""},
            "--close": {"action": "store_true"},
        },
    ),
    "adopt-pr": (
        cmd_adopt_pr,
        {
            "--branch": _REQUIRED,
            "--base": _REQUIRED,
            "--title": _REQUIRED,
            "--body-file": _REQUIRED,
        },
    ),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    for name, (func, options) in COMMANDS.items():
        s = sub.add_parser(name)
        for flag, settings in options.items():
            s.add_argument(flag, **settings)
        s.set_defaults(func=func)

    args = p.parse_args(argv)
    if args.cmd == "issue" and not args.close and not args.body_file:
        p.error("issue: --body-file, or --close")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
