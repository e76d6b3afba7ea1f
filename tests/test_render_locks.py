"""``render --explain`` marks the leaves the biller's partner locks.

The renderer is driven with a real configuration loaded from a copy of the
repository: its settings, provenance and the partner's locks, as the
``render`` command passes them.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml

from int360apply.load import load_config
from int360apply.render.settings import explain_json, explain_yaml, partner_locks
from int360apply.repo import Repo
from tests.test_render import explain_comments

if TYPE_CHECKING:
    from conftest import TmpRepo

PARTNER = "partners/caselle-batch-utility.yaml"
LOCK_NOTE = re.compile(r"; locked by (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)$")


def explained(tmp_repo: TmpRepo, bid: int, *, with_locks: bool = True) -> tuple[str, str]:
    """(YAML, JSON) explain output of ``bid``, rendered as the CLI renders it."""
    config = load_config(Repo(tmp_repo.root))
    assert not config.problems, config.problems
    biller = config.billers[bid]
    desired = config.desired(biller)
    provenance = config.provenance(biller)
    if not with_locks:
        return explain_yaml(desired, provenance), explain_json(desired, provenance)
    locks = partner_locks(config.partners[biller.partner])
    return explain_yaml(desired, provenance, locks), explain_json(desired, provenance, locks)


def leaves(text: str) -> dict[str, str]:
    """Explain YAML: dotted leaf path -> its comment (without ``# ``)."""
    return {".".join(path): comment or "" for path, (_, comment) in explain_comments(text).items()}


def locked_in_file(tmp_repo: TmpRepo, rel: str) -> dict[str, tuple[int, int]]:
    """The partner file's ``locked:`` entries and the position of each, from its text."""
    paths = yaml.safe_load(tmp_repo.read(rel))["locked"]
    return {path: tmp_repo.pos(rel, f"  - {path}", path) for path in paths}


def test_explain_yaml_marks_exactly_the_locked_leaves(tmp_repo: TmpRepo) -> None:
    text, _ = explained(tmp_repo, 104233)
    locks = locked_in_file(tmp_repo, PARTNER)
    assert set(locks) == {"advanced.integration_type", "data_pump.layout", "data_pump.format"}
    comments = leaves(text)
    marked = {path for path, comment in comments.items() if "locked by" in comment}
    assert marked == set(locks)
    for path, (line, col) in locks.items():
        match = LOCK_NOTE.search(comments[path])
        assert match, comments[path]
        assert (match["file"], int(match["line"]), int(match["col"])) == (PARTNER, line, col)
    # The note follows the source, which stays first.
    line, col = tmp_repo.pos(PARTNER, "layout:", "caselle-payments-v2")
    lock_line, lock_col = locks["data_pump.layout"]
    assert (
        f'  layout: "caselle-payments-v2"  # {PARTNER}:{line}:{col}; '
        f"locked by {PARTNER}:{lock_line}:{lock_col}"
    ) in text.splitlines()


def test_explain_json_lists_the_locked_leaves(tmp_repo: TmpRepo) -> None:
    _, text = explained(tmp_repo, 104233)
    document = json.loads(text)
    locks = locked_in_file(tmp_repo, PARTNER)
    assert document["locked"] == {
        path: f"{PARTNER}:{line}:{col}" for path, (line, col) in locks.items()
    }
    assert set(document["locked"]) <= set(document["provenance"])


def test_a_lock_on_a_group_of_fields_covers_each_leaf_under_it(tmp_repo: TmpRepo) -> None:
    """``locked: [ftp.auth]`` locks ``ftp.auth.method`` and the key's secret name."""
    text = tmp_repo.read(PARTNER).replace(
        "  - data_pump.format\n", "  - data_pump.format\n  - ftp.auth\n"
    )
    tmp_repo.write(PARTNER, text)
    # The biller overrides ftp.auth, which the partner now locks: move it to the partner.
    auth = "    auth:\n      method: ssh_key\n      private_key: {secret: FTP_SPRINGFIELD_KEY}\n"
    biller = tmp_repo.read("billers/104233.yaml")
    assert auth in biller
    tmp_repo.write("billers/104233.yaml", biller.replace(auth, ""))
    tmp_repo.write(PARTNER, text.replace("    port: 22\n", f"    port: 22\n{auth}"))
    yaml_text, json_text = explained(tmp_repo, 104233)
    line, col = tmp_repo.pos(PARTNER, "  - ftp.auth", "ftp.auth")
    comments = leaves(yaml_text)
    auth_leaves = [path for path in comments if path.startswith("ftp.auth.")]
    assert len(auth_leaves) >= 2
    for path in auth_leaves:
        assert comments[path].endswith(f"; locked by {PARTNER}:{line}:{col}"), path
    assert not any("locked" in c for p, c in comments.items() if p.startswith("ftp.h"))
    locked = json.loads(json_text)["locked"]
    assert {p for p in locked if p.startswith("ftp.")} == set(auth_leaves)


def test_a_lock_on_a_path_the_merge_leaves_unset_marks_nothing(tmp_repo: TmpRepo) -> None:
    text = tmp_repo.read(PARTNER).replace(
        "  - data_pump.format\n", "  - data_pump.format\n  - ftp.pgp_public_key\n"
    )
    tmp_repo.write(PARTNER, text)
    yaml_text, json_text = explained(tmp_repo, 104233)
    assert "pgp_public_key" not in yaml_text
    assert "ftp.pgp_public_key" not in json.loads(json_text)["locked"]
    assert len(json.loads(json_text)["locked"]) == 3


def test_a_partner_without_locks_marks_nothing(tmp_repo: TmpRepo) -> None:
    text = tmp_repo.read(PARTNER)
    tmp_repo.write(PARTNER, text[: text.index("locked:")])
    yaml_text, json_text = explained(tmp_repo, 104233)
    assert "locked" not in yaml_text
    assert json.loads(json_text)["locked"] == {}


def test_without_locks_the_output_is_unchanged(tmp_repo: TmpRepo) -> None:
    """The default (what a caller passing no locks gets): no notes and no ``locked`` key."""
    yaml_text, json_text = explained(tmp_repo, 104233, with_locks=False)
    assert "locked" not in yaml_text
    document: dict[str, Any] = json.loads(json_text)
    assert set(document) == {"settings", "provenance"}
    with_locks, _ = explained(tmp_repo, 104233)
    unmarked = [re.sub(r"; locked by \S+$", "", line) for line in with_locks.splitlines()]
    assert unmarked == yaml_text.splitlines()
