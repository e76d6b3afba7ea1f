"""``int360 render BID``: the merged settings, and with ``--explain`` where each leaf comes from."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml

# RFC 7396 itself: tests/test_merge.py holds merge_patch to the RFC's own examples.
from int360apply.merge import merge

if TYPE_CHECKING:
    from conftest import TmpRepo

SOURCE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)$")
LAYER_FILES = (
    "partners/_defaults.yaml",
    "partners/caselle-batch-utility.yaml",
    "billers/104233.yaml",
)


def layers_of(repo: TmpRepo) -> list[tuple[str, dict[str, Any]]]:
    """The three layers of biller 104233, read independently of the package."""
    out = []
    for rel in LAYER_FILES:
        data = yaml.safe_load(repo.read(rel))
        out.append((rel, data.get("settings", data.get("overrides")) or {}))
    return out


def leaf_paths(value: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, sub in value.items():
        if isinstance(sub, dict):
            out.update(leaf_paths(sub, (*prefix, key)))
        else:
            out[(*prefix, key)] = sub
    return out


def explain_comments(text: str) -> dict[tuple[str, ...], tuple[str, str | None]]:
    """``--explain`` YAML: leaf path -> (its value's text, its ``# `` comment or None)."""
    out: dict[tuple[str, ...], tuple[str, str | None]] = {}
    stack: list[str] = []
    for line in text.splitlines():
        indent = (len(line) - len(line.lstrip(" "))) // 2
        key, _, rest = line.strip().partition(":")
        del stack[indent:]
        if not rest.strip():
            stack.append(key)
            continue
        value_text, sep, comment = rest.strip().rpartition("  # ")
        out[(*stack, key)] = (value_text, comment) if sep else (rest.strip(), None)
    return out


def parse_explain(text: str) -> dict[tuple[str, ...], tuple[Any, str | None]]:
    """``--explain`` YAML: leaf path -> (value, source) from the ``# file:line:col`` comments
    (a lock's note after the source, see tests/test_render_locks.py, left out)."""
    return {
        path: (json.loads(value), comment.partition("; locked by ")[0] if comment else None)
        for path, (value, comment) in explain_comments(text).items()
    }


def written_at(file_text: str, line: int, col: int) -> str:
    return file_text.splitlines()[line - 1][col - 1 :]


def looks_like(written: str, value: Any) -> bool:
    """Whether YAML text starting at a value's position writes ``value``."""
    if isinstance(value, list):
        return written.startswith(("[", "-"))
    if isinstance(value, bool):
        return written.startswith(str(value).lower())
    if isinstance(value, str):
        return written.startswith((value, json.dumps(value), f"'{value}"))
    return written.startswith(str(value))


def test_explain_names_file_line_and_column_of_every_leaf(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("render", "104233", "--explain")
    assert result.code == 0, result.err
    explained = parse_explain(result.out)
    layers = layers_of(tmp_repo)
    expected = leaf_paths(merge([settings for _, settings in layers]))
    assert set(explained) == set(expected)
    for path, (value, source) in explained.items():
        assert value == expected[path], path
        assert source is not None, f"{'.'.join(path)} has no source"
        match = SOURCE.match(source)
        assert match, source
        # the highest layer that writes the leaf
        setters = [rel for rel, settings in layers if path in leaf_paths(settings)]
        assert match["file"] == setters[-1], path
        text = tmp_repo.read(match["file"])
        written = written_at(text, int(match["line"]), int(match["col"]))
        assert looks_like(written, value), (path, source, written)


def test_explain_examples_from_each_layer(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("render", "104233", "--explain")
    biller, partner, defaults = LAYER_FILES[2], LAYER_FILES[1], LAYER_FILES[0]
    line, col = tmp_repo.pos(biller, "host: sftp.", "sftp.")
    assert f'  host: "sftp.springfield.example.gov"  # {biller}:{line}:{col}' in result.lines
    line, col = tmp_repo.pos(partner, "integration_type:", "batch")
    lock_line, lock_col = tmp_repo.pos(partner, "- advanced.integration_type", "advanced")
    # The partner locks it: the explanation says where.
    assert (
        f'  integration_type: "batch"  # {partner}:{line}:{col}; '
        f"locked by {partner}:{lock_line}:{lock_col}"
    ) in result.lines
    line, col = tmp_repo.pos(defaults, "account_number_label:", "Account Number")
    assert f'  account_number_label: "Account Number"  # {defaults}:{line}:{col}' in result.lines


def test_explain_json(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("render", "104233", "--explain", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    plain = json.loads(tmp_repo.run("render", "104233", "--format", "json").out)
    assert document["settings"] == plain
    biller = LAYER_FILES[2]
    line, col = tmp_repo.pos(biller, "host: sftp.", "sftp.")
    assert document["provenance"]["ftp.host"] == f"{biller}:{line}:{col}"
    line, col = tmp_repo.pos(biller, "private_key:", "FTP_SPRINGFIELD_KEY")
    assert document["provenance"]["ftp.auth.private_key.secret"] == f"{biller}:{line}:{col}"
    assert set(document["provenance"]) == {".".join(p) for p in leaf_paths(plain)}


def test_render_yaml_and_json_agree_and_equal_the_merge(tmp_repo: TmpRepo) -> None:
    as_yaml = tmp_repo.run("render", "104233")
    as_json = tmp_repo.run("render", "104233", "--format", "json")
    assert as_yaml.code == as_json.code == 0
    merged = merge([settings for _, settings in layers_of(tmp_repo)])
    assert yaml.safe_load(as_yaml.out) == merged
    assert json.loads(as_json.out) == merged
    assert list(json.loads(as_json.out)) == ["advanced", "ftp", "data_pump", "invoicing"]


def test_render_does_not_reveal_secret_values(
    tmp_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INT360_SECRET_FTP_SPRINGFIELD_KEY", "s3cr3t-value-xyz")
    for args in ((), ("--explain",), ("--format", "json"), ("--explain", "--format", "json")):
        result = tmp_repo.run("render", "104233", *args)
        assert "s3cr3t-value-xyz" not in result.out + result.err
        assert "FTP_SPRINGFIELD_KEY" in result.out


def test_render_null_override_drops_the_partner_value(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write(
        "billers/900001.yaml",
        tmp_repo.read("billers/104233.yaml")
        .replace("bid: 104233", "bid: 900001")
        .replace(
            "  data_pump:\n    notify_emails:\n      - utilitybilling@springfield.example.gov\n",
            "  invoicing:\n    pdf_presentment: null\n",
        ),
    )
    assert "pdf_presentment: null" in tmp_repo.read(rel)
    result = tmp_repo.run("render", "900001", "--format", "json")
    settings = json.loads(result.out)
    assert "notify_emails" not in settings["data_pump"]
    # the partner sets extracted; removing it falls back to nothing, which is incomplete
    assert "pdf_presentment" not in settings["invoicing"]
    assert result.code == 1
    line, col = tmp_repo.pos(rel, "pdf_presentment: null", "pdf_presentment")
    assert f"{rel}:{line}:{col}: error[incomplete]: " in result.err


def test_render_biller_file_with_words_in_its_name(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("render", "110392", "--explain")
    assert result.code == 0, result.err
    rel = "billers/110392-cedar-falls.yaml"
    line, col = tmp_repo.pos(rel, "host:", "sftp.")
    assert f'  host: "sftp.cedarfalls.example.gov"  # {rel}:{line}:{col}' in result.lines


def test_render_unknown_bid_exits_1(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("render", "999999")
    assert result.code == 1
    assert result.out == ""
    assert "999999" in result.err


def test_render_biller_with_an_unknown_partner_exits_1(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write(
        "billers/900001.yaml", "bid: 900001\nname: T\npartner: caselle-batch-utilty\n"
    )
    result = tmp_repo.run("render", "900001")
    assert result.code == 1
    line, col = tmp_repo.pos(rel, "partner:", "caselle")
    assert f"{rel}:{line}:{col}: error[unknown-partner]: " in result.err
    assert "caselle-batch-utility" in result.err


def test_render_broken_biller_file_exits_1_with_the_problem(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write("billers/900001.yaml", "bid: 900001\nname: T\npartner: bsa\nbid: 900001\n")
    result = tmp_repo.run("render", "900001")
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(f"{rel}:4:1: error[yaml]: ")


def test_render_realtime_biller(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("render", "500102", "--format", "json")
    assert result.code == 0, result.err
    settings = json.loads(result.out)
    assert settings["advanced"]["integration_type"] == "real_time"
    assert settings["advanced"]["real_time_endpoint"].startswith("https://")
