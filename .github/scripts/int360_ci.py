#!/usr/bin/env python3
"""Glue for the workflows in .github/workflows: text composition and `gh` calls.

Standard library only (it runs before or without the project's dependencies).
Every GitHub call goes through the `gh` command, so a test can put a fake `gh`
on PATH and see exactly what would have been sent.

    pr-comment      compose the sticky pull-request comment from int360's output
    sticky-comment  create the pull request's one comment with a marker, or update it
    apply-summary   the apply job's summary, from the report and the log
    last-applied    head SHA of the last push run of the apply workflow that succeeded
    drift-issue     open, update or close the one drift issue
    adopt-body      body of the pull request that adopts the CRM's drift
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# GitHub refuses comment, issue and pull-request bodies over 65,536 characters.
BODY_LIMIT = 65_000
BOT_LOGIN = "github-actions[bot]"
GUARD_RE = re.compile(r"(\d+) billers would change, more than --max-billers (\d+)")


# ---------------------------------------------------------------------------
# small helpers


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def count(doc: Any, key: str) -> int | None:
    """``doc["summary"][key]`` as an int, or None when the document has none."""
    if isinstance(doc, dict) and isinstance(doc.get("summary"), dict):
        value = doc["summary"].get(key)
        if isinstance(value, int):
            return value
    return None


def clip(text: str, limit: int, note: str) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``note`` when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(note) - 2)]
    cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else cut
    if cut.count("```") % 2:  # do not leave a code block open
        cut += "\n```\n"
    if cut.count("<details") > cut.count("</details>"):
        cut += "\n</details>\n" * (cut.count("<details") - cut.count("</details>"))
    return cut + "\n" + note


def fence(text: str) -> str:
    """``text`` in a code block that its own backticks cannot close."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"


def doc_url(path: str) -> str:
    """A link to ``path`` in the repository at the commit being run."""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    sha = os.environ.get("GITHUB_SHA", "main")
    return f"{server}/{repo}/blob/{sha}/{path}" if repo else path


def short(sha: str) -> str:
    return sha[:12] if re.fullmatch(r"[0-9a-f]{40}", sha or "") else sha


def gh(*args: str, stdin: str | None = None) -> str:
    """Run ``gh`` and return its output; raise with its message when it fails."""
    proc = subprocess.run(["gh", *args], input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"gh {' '.join(args[:3])} … failed (exit {proc.returncode}): "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc.stdout


def json_values(text: str) -> list[Any]:
    """Every JSON value in ``text``: ``gh api --paginate`` prints one array per page."""
    decoder = json.JSONDecoder()
    values, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return values
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)


def repository() -> str:
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise SystemExit("GITHUB_REPOSITORY is not set to OWNER/NAME")
    return repo


# ---------------------------------------------------------------------------
# pr-comment


def guard_warning(touched: int, max_billers: int) -> str:
    return (
        "> [!WARNING]\n"
        f"> This change would write **{touched}** billers, more than the apply guard "
        f"(`--max-billers {max_billers}`). After the merge, the apply run **refuses and "
        "writes nothing**. If the fan-out is intended, a maintainer then runs "
        "**Actions → apply → Run workflow** on `main` with `max_billers` ≥ "
        f"{touched} (optionally a `scope`), which the `production` environment's "
        "reviewers approve. Otherwise, split the change.\n"
    )


def cmd_pr_comment(a: argparse.Namespace) -> int:
    out = Path(a.dir)
    diff_md, diff_err = read_text(out / "diff.md"), read_text(out / "diff.err")
    plan_md, plan_err = read_text(out / "plan.md"), read_text(out / "plan.err")
    diff_changes = count(read_json(out / "diff.json"), "change")
    plan = read_json(out / "plan.json")
    plan_changes = count(plan, "change")
    plan_errors = count(plan, "error")

    head = [
        "<!-- int360-plan -->",
        f"## Int360 plan · `{short(a.head)}`",
        "",
        "| | |",
        "|---|---|",
        "| billers whose merged settings change (git diff, the fan-out) | "
        + (f"**{diff_changes}**" if diff_changes is not None else "—")
        + " |",
    ]
    if a.plan_status in ("changes", "unchanged", "error") and plan_changes is not None:
        head.append(f"| billers the CRM plan would write | **{plan_changes}** |")
        if plan_errors:
            head.append(f"| billers with plan errors | **{plan_errors}** |")
    head.append(f"| apply guard (`--max-billers`) | {a.max_billers} |")
    head.append("")

    touched = max(diff_changes or 0, plan_changes or 0)
    if touched > a.max_billers:
        head.append(guard_warning(touched, a.max_billers))

    if a.diff_exit not in (0, 2):
        head += [
            "> [!CAUTION]",
            "> The files do not merge or validate, so there is no diff and no plan. "
            "The `checks` job lists every problem inline; `int360 diff` said:",
            "",
            fence(diff_err or "(no output)"),
            "",
        ]

    sections: list[tuple[str, str]] = []
    if a.plan_status == "skipped":
        plan_text = (
            "> [!NOTE]\n> No CRM plan: this run has no CRM token (pull requests from "
            "forks and from Dependabot get no secrets). The git diff below shows what "
            "the merge changes; the plan against the CRM runs again on merge, before "
            "anything is written.\n"
        )
    elif a.plan_status == "error" and not plan_md.strip():
        plan_text = "> [!CAUTION]\n> The CRM plan failed:\n\n" + fence(plan_err or "(no output)")
    else:
        plan_text = plan_md
        if a.plan_status == "error":
            plan_text = (
                "> [!CAUTION]\n> The plan has errors: the apply on merge would fail for "
                "these billers. Fix them first.\n\n" + plan_text
            )
    if a.diff_exit in (0, 2):
        # int360's own markdown starts with its heading; a note needs one.
        sections.append(("" if plan_md.strip() else "### CRM plan", plan_text))
        if plan_md.strip():
            # The plan says it all; the git view stays one click away.
            diff_body = (
                "<details><summary>The git diff of the merged settings, base "
                f"<code>{short(a.base)}</code> → this pull request "
                f"({diff_changes if diff_changes is not None else '?'} billers)</summary>\n\n"
                + diff_md
                + "\n</details>"
            )
        else:
            diff_body = diff_md
        sections.append(("", diff_body))

    foot = (
        f"\n<sub>Updated for `{short(a.head)}` by [this run]({a.run_url}). The full plan "
        f"(`plan.json`, what apply would execute) is the run's artifact "
        f"`int360-plan-pr{a.pr}`.</sub>\n"
    )

    text = "\n".join(head)
    note = f"\n_… cut to fit a comment; the artifact `int360-plan-pr{a.pr}` has it all._\n"
    budget = BODY_LIMIT - len(text) - len(foot) - 2 * len(note) - 200
    # When space runs out, the diff gives way first: the plan keeps at least 3/4.
    parts = []
    for index, (title, body) in enumerate(sections):
        rest = sum(len(t) + len(b) for t, b in sections[index + 1 :])
        share = budget - min(rest, budget // 4) if index == 0 else budget
        section = (f"{title}\n\n" if title else "") + clip(
            body.strip() + "\n", max(share, 500), note
        )
        budget -= len(section)
        parts.append(section)
    body = text + "\n" + "\n\n".join(parts) + "\n" + foot
    Path(a.out).write_text(body, encoding="utf-8")
    return 0


# ---------------------------------------------------------------------------
# sticky-comment


def cmd_sticky_comment(a: argparse.Namespace) -> int:
    repo = repository()
    body = Path(a.body_file).read_text(encoding="utf-8")
    if a.marker not in body:
        body = f"{a.marker}\n{body}"
    pages = json_values(gh("api", "--paginate", f"repos/{repo}/issues/{a.issue}/comments"))
    ours = [
        c
        for page in pages
        for c in (page if isinstance(page, list) else [])
        if isinstance(c, dict)
        and a.marker in (c.get("body") or "")
        and (c.get("user") or {}).get("login") == a.author
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump({"body": body}, f)
        payload = f.name
    try:
        if ours:
            comment_id = min(int(c["id"]) for c in ours)
            gh(
                "api",
                "--method",
                "PATCH",
                f"repos/{repo}/issues/comments/{comment_id}",
                "--input",
                payload,
            )
            print(f"updated comment {comment_id} on #{a.issue}")
        else:
            gh(
                "api",
                "--method",
                "POST",
                f"repos/{repo}/issues/{a.issue}/comments",
                "--input",
                payload,
            )
            print(f"created the comment on #{a.issue}")
    finally:
        os.unlink(payload)
    return 0


# ---------------------------------------------------------------------------
# apply-summary


def cmd_apply_summary(a: argparse.Namespace) -> int:
    report = read_json(Path(a.report))
    log = read_text(Path(a.log))
    refused = GUARD_RE.search(log) if a.exit_code != 0 else None
    lines = [f"## Int360 apply · `{short(os.environ.get('GITHUB_SHA', ''))}`", ""]
    lines.append(f"Scope: `{a.scope}`" + (f" — {a.why}" if a.why else "") + "  ")
    lines.append(f"Guard: at most {a.max_billers} billers.")
    lines.append("")
    annotations: list[str] = []

    if refused:
        would, limit = refused.group(1), refused.group(2)
        lines += [
            "> [!CAUTION]",
            f"> **Refused by the apply guard: {would} billers would change, more than "
            f"`--max-billers {limit}`. Nothing was written.**",
            ">",
            "> If this fan-out is intended, use the break-glass path: **Actions → apply → "
            f"Run workflow** on `main`, with `max_billers` ≥ {would} and, optionally, a "
            "`scope` (for example `--partner SLUG`). The `production` environment's "
            "reviewers approve that run. Otherwise revert or split the change.",
            "",
        ]
        annotations.append(
            f"::error title=Apply refused by the guard::{would} billers would change, more "
            f"than --max-billers {limit}; nothing was written. Break-glass: run the apply "
            f"workflow by hand on main with max_billers >= {would}."
        )
    elif isinstance(report, dict):
        summary = report.get("summary") or {}
        keys = ["applied", "unchanged", "stale", "failed"]
        lines += [
            "| " + " | ".join(keys) + " |",
            "|" + "---|" * len(keys),
            "| " + " | ".join(str(summary.get(k, 0)) for k in keys) + " |",
            "",
        ]
        bad = [
            b
            for b in report.get("billers") or []
            if isinstance(b, dict) and b.get("status") in ("failed", "stale")
        ]
        if bad:
            lines += [
                "> [!CAUTION]",
                f"> **{len(bad)} biller(s) not applied.** A re-run applies only what is "
                f"still missing; see [when apply fails]({doc_url('docs/when-apply-fails.md')}).",
                "",
                "| biller | status | why |",
                "|---|---|---|",
            ]
            for b in bad:
                why = (
                    "; ".join(
                        f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                        for e in b.get("errors") or []
                        if isinstance(e, dict)
                    )
                    or "—"
                )
                why = why.replace("|", "\\|").replace("\n", " ")
                name = str(b.get("name", "")).replace("|", "\\|")
                lines.append(f"| {b.get('bid')} {name} | **{b.get('status')}** | {why} |")
                annotations.append(f"::error title=Biller {b.get('bid')} {b.get('status')}::{why}")
            lines.append("")
        elif a.exit_code == 0:
            lines += ["All billers in scope hold their desired settings.", ""]
    if a.exit_code != 0 and not refused and not (isinstance(report, dict)):
        lines += [f"> [!CAUTION]\n> **int360 apply failed (exit {a.exit_code})**; see below.", ""]
        annotations.append(f"::error title=int360 apply failed::exit {a.exit_code}; see the log.")
    elif a.exit_code != 0 and not refused and not annotations:
        annotations.append(f"::error title=int360 apply failed::exit {a.exit_code}; see the log.")

    tail = log[-20_000:]
    lines += [
        "<details><summary>int360 apply output</summary>",
        "",
        fence(("…\n" if len(tail) < len(log) else "") + tail),
        "",
        "</details>",
        "",
    ]
    with open(a.summary, "a", encoding="utf-8") as f:
        f.write("\n".join(lines))
    for line in annotations:
        print(line)
    return 0


# ---------------------------------------------------------------------------
# last-applied


def cmd_last_applied(a: argparse.Namespace) -> int:
    out = gh(
        "run",
        "list",
        "--workflow",
        a.workflow,
        "--branch",
        a.branch,
        "--event",
        "push",
        "--status",
        "success",
        "--limit",
        "1",
        "--json",
        "headSha",
    )
    runs = json.loads(out or "[]")
    sha = runs[0].get("headSha", "") if runs and isinstance(runs[0], dict) else ""
    if re.fullmatch(r"[0-9a-f]{40}", sha):
        print(sha)
    return 0


# ---------------------------------------------------------------------------
# drift-issue


def cmd_drift_issue(a: argparse.Namespace) -> int:
    listed = gh(
        "issue",
        "list",
        "--label",
        a.label,
        "--state",
        "open",
        "--limit",
        "100",
        "--json",
        "number,title",
    )
    found = json.loads(listed or "[]")
    found = [i for i in found if isinstance(i, dict) and isinstance(i.get("number"), int)]
    found.sort(key=lambda i: (i.get("title") != a.title, i["number"]))
    issue = found[0]["number"] if found else None

    if a.state == "clean":
        if issue is None:
            print("no drift, no open drift issue")
            return 0
        gh(
            "issue",
            "close",
            str(issue),
            "--comment",
            f"No drift any more as of [this run]({a.run_url}). Closing.",
        )
        print(f"no drift: closed #{issue}")
        return 0

    drift = read_text(Path(a.drift_file))
    intro = (
        "<!-- int360-drift -->\n"
        "The nightly drift check found billers whose live CRM settings differ from what "
        f"`main` says ([run]({a.run_url})). This issue is updated in place every night "
        "and closed when the drift is gone.\n\n"
        "**Either** accept the CRM's values: run **Actions → drift → Run workflow** with "
        "`adopt` ticked, which opens a pull request rewriting these billers' files. "
        "**Or** restore the repository's values: run **Actions → apply → Run workflow** "
        "with `scope` `--bid BID…` (approved by the `production` reviewers).\n\n"
    )
    note = "\n_… cut to fit an issue; the run's job summary has it all._\n"
    body = intro + clip(drift, BODY_LIMIT - len(intro), note)
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as f:
        f.write(body)
        body_file = f.name
    try:
        if issue is not None:
            gh("issue", "edit", str(issue), "--body-file", body_file)
            print(f"drift: updated #{issue}")
        else:
            gh(
                "label",
                "create",
                a.label,
                "--color",
                "d93f0b",
                "--force",
                "--description",
                "Live CRM settings differ from the repository",
            )
            url = gh(
                "issue", "create", "--title", a.title, "--label", a.label, "--body-file", body_file
            ).strip()
            print(f"drift: opened {url}")
    finally:
        os.unlink(body_file)
    return 0


# ---------------------------------------------------------------------------
# adopt-body


def cmd_adopt_body(a: argparse.Namespace) -> int:
    adopt = read_text(Path(a.adopt_file))
    intro = (
        f"The drift workflow ([run]({a.run_url})) rewrote the drifted billers' files to the "
        "values the CRM holds now (`int360 drift --adopt`, minimal overrides). Merging "
        "this accepts those changes; the apply on merge then finds nothing to write for "
        "them.\n\n"
        "Review it like any change: a value someone set in the CRM by hand may be a "
        "mistake to revert instead (close this pull request and run the apply workflow "
        "with `scope` `--bid BID…`).\n\n"
        "> [!NOTE]\n> Pull requests opened by the workflow token start no workflows: close "
        "and reopen this one to run the checks and get the plan comment.\n\n"
    )
    note = "\n_… cut; the run's log has it all._\n"
    Path(a.out).write_text(intro + clip(adopt, BODY_LIMIT - len(intro), note), encoding="utf-8")
    return 0


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("pr-comment")
    s.add_argument("--dir", required=True, help="where diff.md/json, plan.md/json are")
    s.add_argument("--pr", required=True)
    s.add_argument("--base", required=True)
    s.add_argument("--head", required=True)
    s.add_argument("--diff-exit", type=int, required=True)
    s.add_argument("--plan-status", choices=["changes", "unchanged", "error", "skipped"])
    s.add_argument("--max-billers", type=int, required=True)
    s.add_argument("--run-url", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_pr_comment)

    s = sub.add_parser("sticky-comment")
    s.add_argument("--issue", required=True, type=int)
    s.add_argument("--marker", required=True)
    s.add_argument("--body-file", required=True)
    s.add_argument("--author", default=BOT_LOGIN)
    s.set_defaults(func=cmd_sticky_comment)

    s = sub.add_parser("apply-summary")
    s.add_argument("--report", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--exit-code", type=int, required=True)
    s.add_argument("--scope", required=True)
    s.add_argument("--why", default="")
    s.add_argument("--max-billers", required=True)
    s.add_argument("--summary", required=True)
    s.set_defaults(func=cmd_apply_summary)

    s = sub.add_parser("last-applied")
    s.add_argument("--workflow", required=True)
    s.add_argument("--branch", required=True)
    s.set_defaults(func=cmd_last_applied)

    s = sub.add_parser("drift-issue")
    s.add_argument("--state", choices=["drift", "clean"], required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--title", required=True)
    s.add_argument("--drift-file", required=True)
    s.add_argument("--run-url", required=True)
    s.set_defaults(func=cmd_drift_issue)

    s = sub.add_parser("adopt-body")
    s.add_argument("--adopt-file", required=True)
    s.add_argument("--run-url", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_adopt_body)

    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
