"""The drift issue and the adopt pull request's body, from ``drift --format json``.

Both are kept within GitHub's character budget; hand edits in the CRM come first,
billers pending apply (merged, not yet applied) are told apart and never adopted.
No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .budget import COMMENT_LIMIT, Body
from .cells import cell
from .sections import biller_section, billers_of, headline

DRIFT_MARKER = "<!-- int360-drift -->"


def drift_issue(
    drift: Mapping[str, Any] | None, *, run_url: str, limit: int = COMMENT_LIMIT
) -> str:
    """The body of the one drift issue: hand edits first, then billers pending apply."""
    foot = (
        f"\n<sub>[The drift run]({cell(run_url, 300)}); "
        "its artifact `int360-drift` has the JSON.</sub>\n"
    )
    body = Body(limit, foot)
    billers = billers_of(drift)
    drifted = [b for b in billers if b.get("status") == "change" and not b.get("pending")]
    pending = [b for b in billers if b.get("pending")]
    errors = [b for b in billers if b.get("status") == "error" and not b.get("pending")]
    body.add_head(
        f"{DRIFT_MARKER}\nThe drift check found billers whose live CRM settings differ from "
        "what `main` says. This issue is updated in place and closed when the drift is gone.\n\n"
        f"| changed in the CRM by hand | pending apply (merged, not yet applied) | errors |\n"
        f"|---|---|---|\n| **{len(drifted)}** | {len(pending)} | {len(errors)} |\n\n"
        "**Either** accept the CRM's values: run **Actions → drift → Run workflow** with "
        "`adopt` ticked (it updates the one adopt pull request). **Or** restore the "
        "repository's values: run **Actions → apply → Run workflow** with `scope` "
        "`--bid BID…`.\n\n"
    )
    if drifted:
        body.add_head("### Changed in the CRM by hand\n\n")
        body.entries((biller_section(b) for b in drifted), len(drifted), "see the artifact")
    if errors:
        body.add_head("### Errors\n\n")
        body.entries((biller_section(b) for b in errors), len(errors), "see the artifact")
    if pending:
        body.add_head(
            "### Pending apply\n\nTheir files changed since the last successful apply: the "
            "difference is merged work the next apply writes, not drift. Never adopted.\n\n"
        )
        body.entries(
            (f"- {cell(headline(b))}\n" for b in pending), len(pending), "see the artifact"
        )
    return body.text()


def adopt_body(drift: Mapping[str, Any] | None, *, run_url: str, limit: int = COMMENT_LIMIT) -> str:
    """The body of the adopt pull request (one fixed branch, updated in place)."""
    foot = f"\n<sub>[The drift run]({cell(run_url, 300)}).</sub>\n"
    body = Body(limit, foot)
    billers = billers_of(drift)
    adopted = [b for b in billers if b.get("status") == "change" and not b.get("pending")]
    pending = [b for b in billers if b.get("pending")]
    body.add_head(
        "The drift workflow rewrote these billers' files to the values the CRM holds now "
        "(`int360 drift --adopt`, minimal overrides). Merging accepts them; the apply on "
        "merge then finds nothing to write for them. This pull request lives on one branch "
        "and is updated in place by every adopt run.\n\n"
        "Review it like any change: a value set in the CRM by hand may be a mistake to "
        "revert instead (close this and run the apply workflow with `scope` `--bid BID…`).\n\n"
        "> [!NOTE]\n> A pull request pushed by the workflow token starts no workflows: close "
        "and reopen it to run the checks and get the plan comment.\n\n"
    )
    if pending:
        body.add_head(
            f"{len(pending)} biller(s) pending apply (merged, not yet applied) were left as "
            "they are: their difference is not drift.\n\n"
        )
    body.entries((biller_section(b) for b in adopted), len(adopted), "see the run's artifact")
    return body.text()
