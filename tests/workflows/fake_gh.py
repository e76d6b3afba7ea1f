"""A stand-in for the GitHub CLI, for the workflow tests.

Installed as ``gh`` on the PATH of the steps. It keeps a tiny GitHub in JSON
files under ``$FAKE_GH_DIR`` (issue comments, issues, pull requests, workflow
runs with their jobs, the pull requests of commits), reads branch tips from the
repository at ``$FAKE_GH_ORIGIN``, answers the commands the workflows use the way
``gh`` does, and appends
every call — arguments, and the contents of any ``--input``/``--body-file`` — to
``calls.jsonl`` there. Anything else fails loudly, so a workflow cannot depend on
a command the tests never saw.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

BOT = {"login": "github-actions[bot]", "type": "Bot"}
PAGE = 2  # small pages, so that --paginate matters


def state_dir() -> Path:
    return Path(os.environ["FAKE_GH_DIR"])


def load(name: str) -> Any:
    path = state_dir() / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def save(name: str, data: Any) -> None:
    (state_dir() / f"{name}.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


def fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


def options(args: list[str], flags: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``--name value`` pairs (``flags`` take no value) and the positional words."""
    opts: dict[str, list[str]] = {}
    pos: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            key = a.lstrip("-")
            if "=" in key:
                key, value = key.split("=", 1)
                opts.setdefault(key, []).append(value)
            elif a in flags:
                opts.setdefault(key, []).append("")
            else:
                if i + 1 >= len(args):
                    fail(f"fake gh: {a} needs a value")
                opts.setdefault(key, []).append(args[i + 1])
                i += 1
        else:
            pos.append(a)
        i += 1
    return opts, pos


def one(opts: dict[str, list[str]], *names: str, default: str | None = None) -> str | None:
    for n in names:
        if n in opts:
            return opts[n][-1]
    return default


def fields(items: list[dict[str, Any]], wanted: str | None) -> list[dict[str, Any]]:
    if not wanted:
        fail("fake gh: this command needs --json FIELDS (the workflows parse its output)")
    keys = str(wanted).split(",")
    return [{k: item.get(k) for k in keys} for item in items]


def repo() -> str:
    name = os.environ.get("GITHUB_REPOSITORY") or os.environ.get("GH_REPO")
    if not name:
        fail("fake gh: no repository (GITHUB_REPOSITORY)")
    return str(name)


def cmd_api(args: list[str]) -> None:
    opts, pos = options(args, {"--paginate", "--slurp", "--silent", "-i", "--include"})
    if len(pos) != 1:
        fail(f"fake gh api: one endpoint expected, got {pos}")
    endpoint = pos[0].lstrip("/")
    method = (one(opts, "method", "X") or "GET").upper()
    body: dict[str, Any] = {}
    if "input" in opts:
        body = json.loads(Path(str(one(opts, "input"))).read_text(encoding="utf-8"))
    own = repo()
    m = re.fullmatch(r"repos/([^/]+/[^/]+)/issues/(\d+)/comments", endpoint)
    if m and m.group(1) == own:
        comments = load("comments")
        number = int(m.group(2))
        if method == "GET":
            mine = [c for c in comments if c["issue"] == number]
            pages = [mine[i : i + PAGE] for i in range(0, len(mine), PAGE)] or [[]]
            if "paginate" not in opts:
                pages = pages[:1]
            print("".join(json.dumps(p) for p in pages))
            return
        if method == "POST":
            new = {
                "id": 1000 + len(comments) + 1,
                "issue": number,
                "user": BOT,
                "body": body["body"],
            }
            comments.append(new)
            save("comments", comments)
            print(json.dumps(new))
            return
    m = re.fullmatch(r"repos/([^/]+/[^/]+)/git/ref/heads/(.+)", endpoint)
    if m and m.group(1) == own and method == "GET":
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", f"refs/heads/{m.group(2)}"],
            cwd=os.environ["FAKE_GH_ORIGIN"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            fail("gh: Not Found (HTTP 404)")
        ref = f"refs/heads/{m.group(2)}"
        print(json.dumps({"ref": ref, "object": {"sha": proc.stdout.strip(), "type": "commit"}}))
        return
    m = re.fullmatch(r"repos/([^/]+/[^/]+)/actions/runs/(\d+)/jobs", endpoint)
    if m and m.group(1) == own and method == "GET":
        for run in load("runs"):
            if run.get("databaseId") == int(m.group(2)):
                print(
                    json.dumps(
                        {"total_count": len(run.get("jobs", [])), "jobs": run.get("jobs", [])}
                    )
                )
                return
        fail("gh: Not Found (HTTP 404)")
    m = re.fullmatch(r"repos/([^/]+/[^/]+)/commits/([0-9a-f]{40})/pulls", endpoint)
    if m and m.group(1) == own and method == "GET":
        pulls = load("pulls") or {}
        print(json.dumps(pulls.get(m.group(2), [])))
        return
    m = re.fullmatch(r"repos/([^/]+/[^/]+)/issues/comments/(\d+)", endpoint)
    if m and m.group(1) == own and method == "PATCH":
        comments = load("comments")
        for c in comments:
            if c["id"] == int(m.group(2)):
                if c["user"]["login"] != BOT["login"]:
                    fail("gh: Resource not accessible by integration (HTTP 403)")
                c["body"] = body["body"]
                save("comments", comments)
                print(json.dumps(c))
                return
        fail("gh: Not Found (HTTP 404)")
    fail(f"fake gh api: unsupported {method} {endpoint}")


def cmd_issue(args: list[str]) -> None:
    sub, rest = args[0], args[1:]
    opts, pos = options(rest, set())
    issues = load("issues")
    if sub == "list":
        state = one(opts, "state", "s", default="open")
        label = one(opts, "label", "l")
        found = [
            i
            for i in issues
            if (state == "all" or i["state"] == state) and (not label or label in i["labels"])
        ]
        print(json.dumps(fields(found, one(opts, "json"))))
        return
    if sub == "create":
        number = 100 + len(issues) + 1
        body = Path(str(one(opts, "body-file", "F"))).read_text(encoding="utf-8")
        issue = {
            "number": number,
            "title": one(opts, "title", "t"),
            "labels": opts.get("label", []) + opts.get("l", []),
            "body": body,
            "state": "open",
            "comments": [],
        }
        issues.append(issue)
        save("issues", issues)
        print(f"https://github.com/{repo()}/issues/{number}")
        return
    if sub in ("edit", "close", "comment"):
        number = int(pos[0])
        for issue in issues:
            if issue["number"] == number:
                break
        else:
            fail(f"gh: issue {number} not found")
        if sub == "edit" and "body-file" in opts:
            issue["body"] = Path(str(one(opts, "body-file"))).read_text(encoding="utf-8")
        if sub == "close":
            issue["state"] = "closed"
        if "comment" in opts or "body" in opts:
            issue["comments"].append(one(opts, "comment", "body"))
        save("issues", issues)
        print(f"https://github.com/{repo()}/issues/{number}")
        return
    fail(f"fake gh issue: unsupported {sub}")


def cmd_label(args: list[str]) -> None:
    if args[0] != "create":
        fail(f"fake gh label: unsupported {args[0]}")
    opts, pos = options(args[1:], {"--force", "-f"})
    labels = load("labels")
    if pos[0] in labels and "force" not in opts and "f" not in opts:
        fail(f"label with name {pos[0]!r} already exists; use `--force` to update it")
    if pos[0] not in labels:
        labels.append(pos[0])
    save("labels", labels)


def cmd_pr(args: list[str]) -> None:
    if args[0] == "list":
        opts, _ = options(args[1:], set())
        state = one(opts, "state", "s", default="open")
        head = one(opts, "head", "H")
        found = [
            pr
            for pr in load("prs")
            if (state == "all" or pr.get("state", "open") == state)
            and (head is None or pr["head"] == head)
        ]
        print(json.dumps(fields(found, one(opts, "json"))))
        return
    if args[0] == "edit":
        opts, _ = options(args[2:], set())
        prs = load("prs")
        for pr in prs:
            if pr["number"] == int(args[1]):
                if "title" in opts:
                    pr["title"] = one(opts, "title")
                if "body-file" in opts:
                    pr["body"] = Path(str(one(opts, "body-file"))).read_text(encoding="utf-8")
                pr["edits"] = pr.get("edits", 0) + 1
                save("prs", prs)
                print(f"https://github.com/{repo()}/pull/{pr['number']}")
                return
        fail(f"gh: pull request {args[1]} not found")
    if args[0] != "create":
        fail(f"fake gh pr: unsupported {args[0]}")
    opts, _ = options(args[1:], {"--draft", "-d"})
    prs = load("prs")
    if any(
        pr["head"] == one(opts, "head", "H") and pr.get("state", "open") == "open" for pr in prs
    ):
        fail(f"a pull request for branch {one(opts, 'head', 'H')!r} already exists")
    number = 200 + len(prs) + 1
    prs.append(
        {
            "number": number,
            "base": one(opts, "base", "B"),
            "head": one(opts, "head", "H"),
            "title": one(opts, "title", "t"),
            "body": Path(str(one(opts, "body-file", "F"))).read_text(encoding="utf-8"),
            "state": "open",
        }
    )
    save("prs", prs)
    print(f"https://github.com/{repo()}/pull/{number}")


def cmd_run(args: list[str]) -> None:
    if args[0] != "list":
        fail(f"fake gh run: unsupported {args[0]}")
    opts, _ = options(args[1:], set())
    runs = load("runs")
    want = {
        "workflow": one(opts, "workflow", "w"),
        "branch": one(opts, "branch", "b"),
        "event": one(opts, "event", "e"),
        "status": one(opts, "status", "s"),
    }
    status = want.pop("status")
    found = [
        r
        for r in reversed(runs)  # newest first, as gh lists them
        if all(v is None or r.get(k) == v for k, v in want.items())
        # gh's --status takes a status (queued, in_progress, completed…) or a conclusion
        and (status is None or status in (r.get("status"), r.get("conclusion")))
    ]
    limit = int(one(opts, "limit", "L", default="20") or 20)
    print(json.dumps(fields(found[:limit], one(opts, "json"))))


def main() -> None:
    args = sys.argv[1:]
    record: dict[str, Any] = {"argv": args, "cwd": os.getcwd()}
    for flag in ("--input", "--body-file", "-F"):
        if flag in args and args.index(flag) + 1 < len(args):
            path = Path(args[args.index(flag) + 1])
            record[flag] = path.read_text(encoding="utf-8") if path.exists() else None
    with (state_dir() / "calls.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    if not os.environ.get("GH_TOKEN") and not os.environ.get("GITHUB_TOKEN"):
        fail(
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN "
            "environment variable.",
            4,
        )
    if not args:
        fail("fake gh: no command")
    command, rest = args[0], args[1:]
    if command == "auth" and rest[:1] == ["setup-git"]:
        return
    handlers = {
        "api": cmd_api,
        "issue": cmd_issue,
        "label": cmd_label,
        "pr": cmd_pr,
        "run": cmd_run,
    }
    if command not in handlers or (command != "api" and not rest):
        fail(f"fake gh: unsupported command {args}")
    handlers[command](rest)


if __name__ == "__main__":
    main()
