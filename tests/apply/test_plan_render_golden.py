"""Plan text and markdown against golden files a reviewer can read, and the markdown
comment's size limit.

The golden scenario runs ``int360 plan --changed-since HEAD`` on the embedded
sandbox (its label is stable) after one of everything a plan can show: a
one-line biller change, a value with markdown-special characters, a renamed
secret, a partner change that fans out, a profile on the wrong integrator ID,
a biller unknown to the CRM and a deleted biller file. The commit SHA is
replaced by ``<commit>``.

Regenerate after an intended change of the output with
``INT360_UPDATE_GOLDEN=1 pytest tests/apply/test_plan_render_golden.py`` and review
the diff of ``tests/apply/golden/``.
"""

from __future__ import annotations

import os
import re

import pytest

from int360apply.plan import BillerError, BillerPlan, Change, Plan
from int360apply.render.budget import COMMENT_LIMIT
from int360apply.render.plan import markdown

from ._support import GOLDEN, Workspace

pytestmark = pytest.mark.slow  # end to end: real processes, git and the sandbox CRM


def normalise(text: str, ws: Workspace) -> str:
    head = ws.head()
    text = text.replace(head, "<commit>").replace(head[:12], "<commit>")
    assert not re.search(r"\b[0-9a-f]{40}\b", text), "an unnormalised SHA"
    return text


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("INT360_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with INT360_UPDATE_GOLDEN=1 once"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{name} differs from its golden file (INT360_UPDATE_GOLDEN=1 rewrites it)"
    )


@pytest.fixture
def scenario(ws: Workspace) -> Workspace:
    """A converged embedded sandbox, then one of everything in the working tree and the CRM."""
    first = ws.run("apply", "--yes")
    assert first.code == 0, first
    stage = ws.open_crm(ws.embedded_db, seed=False)
    stage.put_profile(104233, "Springfield Water & Sewer", 175)  # its file says 201
    stage.delete_profile(200388)
    stage.server.stop()

    ws.replace("billers/110392-cedar-falls.yaml", "username: cfpw\n", "username: cfpw_ops\n")
    ws.replace(
        "billers/110392-cedar-falls.yaml",
        "account_number_label: Customer-Location No.",
        'account_number_label: "Customer | Location <No.>"',
    )
    ws.replace("billers/200145.yaml", "FTP_MAPLE_GROVE_KEY}", "FTP_MAPLE_GROVE_KEY_2025}")
    ws.env["INT360_SECRET_FTP_MAPLE_GROVE_KEY_2025"] = ws.secrets["FTP_MAPLE_GROVE_KEY"]
    ws.replace("partners/harris-aus.yaml", 'schedule: "0 6 * * 1-5"', 'schedule: "0 7 * * 1-5"')
    for rel in ("billers/104233.yaml", "billers/200388.yaml"):  # touched: in scope
        ws.write(rel, ws.read(rel) + "# contact: utility billing office\n")
    (ws.root / "billers" / "500219.yaml").unlink()
    return ws


def test_plan_text_and_markdown_golden(scenario: Workspace) -> None:
    ws = scenario
    text = ws.run("plan", "--changed-since", "HEAD")
    assert text.code == 1, text  # errors win over changes
    md = ws.run("plan", "--changed-since", "HEAD", "--format", "markdown")
    assert md.code == 1, md
    assert md.err.startswith("CRM: embedded sandbox"), "markdown stays clean for the comment"
    check_golden("plan.txt", normalise(text.out, ws))
    check_golden("plan.md", normalise(md.out, ws))
    ws.assert_no_secret_leaks()


def test_golden_files_read_well() -> None:
    """What a reviewer relies on, stated once so a regenerated golden cannot lose it."""
    txt = (GOLDEN / "plan.txt").read_text(encoding="utf-8")
    md = (GOLDEN / "plan.md").read_text(encoding="utf-8")
    assert txt.splitlines()[0] == "CRM: embedded sandbox (.int360/sandbox.sqlite)"
    assert txt.splitlines()[-1] == (
        "Plan: 4 to change, 0 unchanged, 2 with errors, 1 no longer managed."
    )
    assert '    ftp.username: "cfpw" → "cfpw_ops"   [billers/110392-cedar-falls.yaml:' in txt
    assert (
        "    ftp.auth.private_key: (secret FTP_MAPLE_GROVE_KEY) → (secret FTP_MAPLE_GROVE_KEY_2025)"
        in txt
    )
    assert "partners/harris-aus.yaml changed: used by 2 billers in scope, 2 to change" in txt
    assert (
        'data_pump.schedule: "0 6 * * 1-5" → "0 7 * * 1-5" on 2 billers   '
        "[partners/harris-aus.yaml:17:15]" in txt
    ), "the partner's change, grouped"
    assert "Biller Info → CRM Profile → Integration Partner ID" in txt
    assert md.startswith(
        "### Int360 plan: 4 to change, 0 unchanged, 2 with errors, 1 no longer managed\n"
    )
    assert "made from uncommitted changes in the working tree** on top of commit `<commit>`" in md
    assert md.count("<details>") == md.count("</details>") == 7
    assert "Customer \\| Location &lt;No.&gt;" in md, "table cells escaped"
    # A deleted biller has no partner to show: no empty "()" after its headline.
    assert "- 500219 billers/500219.yaml" in txt
    assert " ()" not in txt and " ()" not in md


# --- the comment limit ----------------------------------------------------------------------------


def big_plan(count: int) -> Plan:
    billers = []
    for i in range(count):
        bid = 800000 + i
        if i % 10 == 9:
            billers.append(
                BillerPlan(
                    bid,
                    f"Generated Utility {i}",
                    "bsa",
                    "error",
                    errors=[BillerError("unknown-biller", f"the CRM has no biller {bid}")],
                )
            )
            continue
        changes = [
            Change(
                f"ftp.host_{j}",
                f"old-{i}-{j}.example.gov",
                f"new-{i}-{j}.example.gov",
                f"billers/{bid}.yaml:{8 + j}:11",
            )
            for j in range(6)
        ]
        changes.append(
            Change("ftp.auth.private_key", {"secret": "OLD"}, {"secret": "NEW"}, None, secret=True)
        )
        billers.append(BillerPlan(bid, f"Generated Utility {i}", "bsa", "change", '"1"', changes))
    billers.append(BillerPlan(899999, "Quiet Utility", "bsa", "unchanged", '"2"'))
    return Plan(
        crm="http://127.0.0.1:8360", commit="0" * 40, billers=billers, fanout={"bsa": count}
    )


def test_markdown_is_truncated_under_the_comment_limit_with_a_note() -> None:
    plan = big_plan(1500)
    out = markdown(plan)
    assert COMMENT_LIMIT == 65_536
    assert len(out) <= COMMENT_LIMIT
    first = out.splitlines()[0]
    assert first == "### Int360 plan: 1,350 to change, 1 unchanged, 150 with errors", (
        "summary first"
    )
    assert "- `partners/bsa.yaml` changed: used by 1,500 billers in scope, 1,350 to change" in out
    shown = out.count("<details>")
    assert out.count("</details>") == shown, "no section is cut in half"
    assert 0 < shown < 1500
    note = re.search(r"_… ([\d,]+) more biller\(s\) not shown", out)
    assert note, out[-500:]
    assert shown + int(note.group(1).replace(",", "")) == 1500, "the note counts what is missing"
    assert out.rstrip().endswith("the full plan is in the workflow artifact._")


def test_markdown_sections_stop_at_the_comment_limit_with_a_note() -> None:
    """With no cap on sections, the comment limit is what stops them."""
    out = markdown(big_plan(1500), detail_limit=10_000)
    assert len(out) <= COMMENT_LIMIT
    note = re.search(
        r"_… ([\d,]+) more biller\(s\) not shown: the comment limit is 65,536 characters", out
    )
    assert note, out[-500:]
    assert out.count("<details>") + int(note.group(1).replace(",", "")) == 1500


def test_markdown_of_a_small_plan_is_complete() -> None:
    plan = big_plan(5)
    out = markdown(plan)
    assert "not shown" not in out
    assert out.count("<details>") == 5
    assert "(secret NEW)" in out and "OLD" in out  # by name only
    assert out.index("### Int360 plan") == 0


@pytest.mark.parametrize("limit", [2_000, 10_000, 65_536])
def test_markdown_respects_any_limit(limit: int) -> None:
    out = markdown(big_plan(300), limit=limit)
    assert len(out) <= limit
    assert out.count("<details>") == out.count("</details>")
