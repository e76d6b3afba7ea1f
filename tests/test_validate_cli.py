"""``int360 validate`` as a user runs it: all problems in one run, formats, exit codes, paths."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from int360apply import yamlio

if TYPE_CHECKING:
    from conftest import RunModule, TmpRepo

HEADER = "# yaml-language-server: $schema=../schemas/biller.schema.json\n"
LINE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): error\[(?P<rule>[a-z-]+)\]: (?P<msg>.+)$"
)
GITHUB = re.compile(
    r"^::error file=(?P<path>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),"
    r"title=(?P<rule>[a-z-]+)::(?P<msg>.+)$"
)


def bsa_biller(bid: int, body: str = "") -> str:
    """A BS&A biller with its FTP connection set (valid unless ``body`` breaks it)."""
    return (
        f"{HEADER}bid: {bid}\nname: Test Township {bid}\npartner: bsa\noverrides:\n"
        "  ftp:\n"
        "    host: sftp.test.example.gov\n"
        "    username: tt\n"
        "    auth: {method: ssh_key, private_key: {secret: FTP_TEST_KEY}}\n"
        '    host_key_fingerprint: "SHA256:2vYCu1ls224ZLfl2fI9CR8RmejwpgLhiJgsxdGCPfs4"\n'
        f"{body}"
    )


def problem_lines(out: str) -> list[re.Match[str]]:
    matches = [LINE.match(line) for line in out.splitlines()]
    return [m for m in matches if m]


# --- exit codes ----------------------------------------------------------------


def test_shipped_repository_is_valid(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("validate")
    assert result.code == 0
    assert result.out == ""


def test_real_repository_is_valid(int360_subprocess: RunModule) -> None:
    repo_root = Path(__file__).resolve().parents[1]
    done = int360_subprocess("validate", cwd=repo_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_a_valid_new_biller_keeps_exit_0(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("billers/900001.yaml", bsa_biller(900001))
    assert tmp_repo.run("validate").code == 0


def test_an_invalid_biller_exits_1(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("billers/900001.yaml", bsa_biller(900001, "    port: 0\n"))
    result = tmp_repo.run("validate")
    assert result.code == 1
    assert len(problem_lines(result.out)) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "--format", "xml"),
        ("validate", "--bogus"),
        ("frobnicate",),
        (),
        ("render",),
        ("render", "not-a-bid"),
        ("render", "104233", "--format", "toml"),
    ],
)
def test_usage_errors_exit_64(tmp_repo: TmpRepo, args: tuple[str, ...]) -> None:
    result = tmp_repo.run(*args)
    assert result.code == 64
    assert "usage:" in result.err
    assert "Traceback" not in result.err


def test_usage_error_exit_64_in_a_real_process(
    tmp_repo: TmpRepo, int360_subprocess: RunModule
) -> None:
    done = int360_subprocess("validate", "--format", "xml", cwd=tmp_repo.root)
    assert done.returncode == 64
    assert "invalid choice: 'xml'" in done.stderr


# --- everything in one run -----------------------------------------------------


def test_several_problems_in_one_file_are_all_reported_in_order(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write(
        "billers/900001.yaml",
        bsa_biller(
            900001,
            "    port: 70000\n    enabled: yes\n    protocl: sftp\n"
            "  invoicing:\n    purge_after_days: 10\n",
        ),
    )
    result = tmp_repo.run("validate")
    assert result.code == 1
    found = [
        (m["path"], int(m["line"]), int(m["col"]), m["rule"]) for m in problem_lines(result.out)
    ]
    expected = [
        (rel, *tmp_repo.pos(rel, "port: 70000", "70000"), "schema"),
        (rel, *tmp_repo.pos(rel, "enabled: yes", "yes"), "schema"),
        (rel, *tmp_repo.pos(rel, "protocl:", "protocl"), "schema"),
        (rel, *tmp_repo.pos(rel, "purge_after_days: 10", "10"), "schema"),
    ]
    assert found == expected
    assert result.lines[-1] == "4 problem(s) in 1 file(s)"


def test_problems_of_different_rules_in_one_file_are_all_reported(tmp_repo: TmpRepo) -> None:
    # A typo in one group must not hide the problems of the others.
    rel = tmp_repo.write(
        "billers/900001.yaml",
        bsa_biller(
            900001,
            "    protocl: sftp\n"
            "  data_pump:\n    layout: my-own-layout\n"
            "  invoicing:\n    timezone: America/Springfeld\n",
        )
        + "integrator_id: 94\n",
    )
    result = tmp_repo.run("validate")
    found = {(int(m["line"]), int(m["col"]), m["rule"]) for m in problem_lines(result.out)}
    assert (*tmp_repo.pos(rel, "protocl:", "protocl"), "schema") in found, result.out
    assert (*tmp_repo.pos(rel, "layout: my-own", "layout"), "locked") in found, result.out
    assert (*tmp_repo.pos(rel, "timezone:", "America"), "value") in found, result.out
    assert (*tmp_repo.pos(rel, "integrator_id: 94", "94"), "integrator-id") in found, result.out


def test_cross_field_problem_is_reported_next_to_a_schema_error_in_another_group(
    tmp_repo: TmpRepo,
) -> None:
    # ftp.enabled: yes says nothing about the payment amounts: both problems belong in one run.
    rel = tmp_repo.write(
        "billers/900001.yaml",
        bsa_biller(900001, "    enabled: yes\n  advanced:\n    min_payment_amount: 99999999\n"),
    )
    result = tmp_repo.run("validate")
    found = {(int(m["line"]), int(m["col"]), m["rule"]) for m in problem_lines(result.out)}
    assert (*tmp_repo.pos(rel, "enabled: yes", "yes"), "schema") in found, result.out
    at = tmp_repo.pos(rel, "min_payment_amount:", "min_payment_amount")
    assert (*at, "cross-field") in found, result.out


def test_several_bad_files_are_all_reported_in_one_run(tmp_repo: TmpRepo) -> None:
    a = tmp_repo.write("billers/900001.yaml", bsa_biller(900001, "    port: 0\n"))
    b = tmp_repo.write(
        "billers/900002.yaml", bsa_biller(900002).replace("bid: 900002", "bid: &b 900002")
    )
    c = tmp_repo.write(
        "partners/bsa-too.yaml",
        "slug: bsa-two\nname: BS&A too\nintegrator_ids: [9001]\nsettings: {}\n",
    )
    d = tmp_repo.write(
        "billers/900004.yaml", bsa_biller(900004, '  data_pump:\n    schedule: "0 0 30 2 *"\n')
    )
    result = tmp_repo.run("validate")
    assert result.code == 1
    by_file = {(m["path"], m["rule"]) for m in problem_lines(result.out)}
    assert by_file == {(a, "schema"), (b, "yaml"), (c, "filename"), (d, "value")}, result.out
    assert result.lines[-1] == "4 problem(s) in 4 file(s)"


def test_a_valid_repository_builds_no_position_tables(
    tmp_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path: line numbers are only worked out when there is a problem to place."""
    calls: list[int] = []
    real_locate = yamlio.locate

    def counting_locate(raw: bytes) -> Any:
        calls.append(len(raw))
        return real_locate(raw)

    monkeypatch.setattr(yamlio, "locate", counting_locate)
    assert tmp_repo.run("validate").code == 0
    assert calls == []
    tmp_repo.write("billers/900001.yaml", bsa_biller(900001, "    port: 0\n"))
    assert tmp_repo.run("validate").code == 1
    assert calls  # the control: a problem does need its position


def test_problem_paths_are_relative_to_the_repo_root(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("billers/900001.yaml", bsa_biller(900001, "    port: 0\n"))
    result = tmp_repo.run("validate")
    assert result.lines[0].startswith("billers/900001.yaml:")
    assert str(tmp_repo.root) not in result.out


# --- --format github / json ----------------------------------------------------


def test_format_github_emits_error_workflow_commands(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write(
        "billers/900001.yaml", bsa_biller(900001, "    port: 0\n    protocol: scp\n")
    )
    text = tmp_repo.run("validate")
    github = tmp_repo.run("validate", "--format", "github")
    assert github.code == 1
    assert len(github.lines) == 2
    for text_line, github_line in zip(problem_lines(text.out), github.lines, strict=True):
        match = GITHUB.match(github_line)
        assert match, github_line
        assert (match["path"], match["line"], match["col"], match["rule"], match["msg"]) == (
            text_line["path"],
            text_line["line"],
            text_line["col"],
            text_line["rule"],
            text_line["msg"],
        )
    line, col = tmp_repo.pos(rel, "port: 0", "0")
    assert github.lines[0].startswith(f"::error file={rel},line={line},col={col},title=schema::")


def test_format_github_escapes_properties(tmp_repo: TmpRepo) -> None:
    # A comma in a file name would end the file= property; GitHub wants it as %2C.
    tmp_repo.write("billers/900001,a.yaml", bsa_biller(900001))
    github = tmp_repo.run("validate", "--format", "github")
    assert github.code == 1
    assert github.lines, github.out
    assert github.lines[0].startswith("::error file=billers/900001%2Ca.yaml,line=")


def test_format_github_is_silent_when_valid(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("validate", "--format", "github")
    assert (result.code, result.out) == (0, "")


def test_format_json(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write("billers/900001.yaml", bsa_biller(900001, "    enabled: yes\n"))
    result = tmp_repo.run("validate", "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    line, col = tmp_repo.pos(rel, "enabled: yes", "yes")
    assert document["valid"] is False
    assert len(document["problems"]) == 1
    problem = document["problems"][0]
    assert {k: problem[k] for k in ("path", "line", "col", "rule")} == {
        "path": rel,
        "line": line,
        "col": col,
        "rule": "schema",
    }
    assert "true or false" in problem["message"]


def test_format_json_when_valid(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("validate", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out) == {"valid": True, "problems": []}


# --- PATH arguments ------------------------------------------------------------


def test_path_argument_is_validated_with_its_partner_and_defaults(tmp_repo: TmpRepo) -> None:
    # Only the merge with partners/bsa.yaml (ftp enabled) shows what this file lacks.
    rel = tmp_repo.write("billers/900001.yaml", f"{HEADER}bid: 900001\nname: T\npartner: bsa\n")
    tmp_repo.write("billers/900002.yaml", bsa_biller(900002, "    port: 0\n"))  # not named
    result = tmp_repo.run("validate", str(tmp_repo.path(rel)))
    assert result.code == 1
    found = problem_lines(result.out)
    assert {m["path"] for m in found} == {rel}
    assert {m["rule"] for m in found} == {"cross-field"}
    assert any("ftp.host" in m["msg"] for m in found)


def test_path_argument_still_finds_a_duplicate_bid(tmp_repo: TmpRepo) -> None:
    """The pre-commit case: a new file reusing an existing BID must not pass on its own."""
    rel = tmp_repo.write(
        "billers/104233-copy.yaml",
        tmp_repo.read("billers/104233.yaml").replace("Springfield", "Springfeld"),
    )
    result = tmp_repo.run("validate", str(tmp_repo.path(rel)))
    assert result.code == 1, result.out
    line, col = tmp_repo.pos(rel, "bid: 104233", "104233")
    assert any(
        x.startswith(f"{rel}:{line}:{col}: error[duplicate-bid]: ") and "billers/104233.yaml" in x
        for x in result.lines
    ), result.out


def test_partner_path_argument_still_finds_a_duplicate_integrator_id(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write(
        "partners/zz-clone.yaml", "slug: zz-clone\nname: Z\nintegrator_ids: [93]\nsettings: {}\n"
    )
    result = tmp_repo.run("validate", str(tmp_repo.path(rel)))
    line, col = tmp_repo.pos(rel, "integrator_ids:", "93")
    assert result.lines[0].startswith(f"{rel}:{line}:{col}: error[duplicate-integrator-id]: ")


def test_path_argument_of_a_valid_file_exits_0_despite_other_bad_files(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("billers/900002.yaml", bsa_biller(900002, "    port: 0\n"))
    result = tmp_repo.run("validate", str(tmp_repo.path("billers/104233.yaml")))
    assert (result.code, result.out) == (0, "")


def test_path_argument_relative_to_the_current_directory(
    tmp_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel = tmp_repo.write("billers/900001.yaml", bsa_biller(900001, "    port: 0\n"))
    monkeypatch.chdir(tmp_repo.path("billers"))
    result = tmp_repo.run("validate", "900001.yaml")
    line, col = tmp_repo.pos(rel, "port: 0", "0")
    assert result.lines[0].startswith(f"{rel}:{line}:{col}: error[schema]: ")


def test_repo_is_found_from_the_current_directory_upward(
    tmp_repo: TmpRepo, int360_subprocess: RunModule
) -> None:
    rel = tmp_repo.write("billers/900001.yaml", bsa_biller(900001, "    port: 0\n"))
    done = int360_subprocess("validate", "900001.yaml", cwd=tmp_repo.path("billers"))
    assert done.returncode == 1
    line, col = tmp_repo.pos(rel, "port: 0", "0")
    assert done.stdout.startswith(f"{rel}:{line}:{col}: error[schema]: ")


def test_partner_path_argument_checks_the_partners_billers(tmp_repo: TmpRepo) -> None:
    partner = "partners/bsa.yaml"
    text = tmp_repo.read(partner)
    tmp_repo.write(
        partner, text.replace("locked:\n", "locked:\n  - advanced.account_number_label\n")
    )
    result = tmp_repo.run("validate", str(tmp_repo.path(partner)))
    biller = "billers/200145.yaml"
    line, col = tmp_repo.pos(biller, "account_number_label:", "account_number_label")
    assert f"{biller}:{line}:{col}: error[locked]: " in result.out
    assert result.code == 1


def test_defaults_path_argument_reports_the_defaults(tmp_repo: TmpRepo) -> None:
    rel = "partners/_defaults.yaml"
    tmp_repo.write(rel, tmp_repo.read(rel).replace('cutoff_time: "17:00"', 'cutoff_time: "5pm"'))
    result = tmp_repo.run("validate", str(tmp_repo.path(rel)))
    line, col = tmp_repo.pos(rel, "cutoff_time:", '"5pm"')
    assert result.lines[0].startswith(f"{rel}:{line}:{col}: error[schema]: ")


def test_missing_path_argument_is_a_problem_not_a_crash(tmp_repo: TmpRepo) -> None:
    result = tmp_repo.run("validate", str(tmp_repo.path("billers/999999.yaml")))
    assert result.code == 1
    assert result.lines[0].startswith("billers/999999.yaml:1:1: error[")


def test_path_argument_that_is_not_a_config_file(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("notes.txt", "hello\n")
    result = tmp_repo.run("validate", str(tmp_repo.path("notes.txt")))
    assert result.code == 1
    assert result.lines[0].startswith("notes.txt:1:1: error[")


# --- no traceback on bad input ---------------------------------------------------

_B = b"bid: 900001\nname: T\npartner: bsa\n"
NASTY_BILLERS = {
    "binary": bytes(range(256)) * 4,
    "deep-flow": ("bid: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
    "deep-block": "".join(" " * i + "k:\n" for i in range(200)).encode() + b" " * 200 + b"k: 1\n",
    "python-tag": b"bid: !!python/object/apply:os.system [echo hi]\n",
    "custom-tag": b"bid: !bid 900001\n",
    "complex-key": b"? [a, b]\n: c\n",
    "int-key": b"1: one\n",
    "null-key": b"~: x\n",
    "multi-doc": b"bid: 900001\n---\nbid: 900002\n",
    "infinity": HEADER.encode() + _B + b"overrides: {advanced: {max_payment_amount: .inf}}\n",
    "nan": b"bid: .nan\n",
    "bid-list": b"bid: [900001]\nname: T\npartner: bsa\n",
    "bid-bool": b"bid: true\nname: T\npartner: bsa\n",
    "bid-float": b"bid: 900001.5\nname: T\npartner: bsa\n",
    "bid-huge": b"bid: 1" + b"0" * 400 + b"\nname: T\npartner: bsa\n",
    "partner-int": b"bid: 900001\nname: T\npartner: 7\n",
    "partner-map": b"bid: 900001\nname: T\npartner: {slug: bsa}\n",
    "overrides-list": _B + b"overrides: [1, 2]\n",
    "group-scalar": _B + b"overrides: {ftp: 5, invoicing: []}\n",
    "fee-scalar": _B + b"overrides: {advanced: {convenience_fee: {card: 3}}}\n",
    "auth-list": _B + b"overrides: {ftp: {auth: [password]}}\n",
    "secret-int": _B + b"overrides: {ftp: {auth: {method: password, password: 1234}}}\n",
    "types-string": _B + b"overrides: {advanced: {invoice_types: UB}}\n",
    "cron-garbage": _B + b"overrides: {data_pump: {schedule: '@@ @@ @@ @@ @@'}}\n",
    "tz-path": _B + b"overrides: {data_pump: {timezone: ../../etc/passwd}}\n",
    "template-braces": _B + b"overrides: {data_pump: {file_name_template: '{{}}{'}}\n",
    "regex-parens": _B + b"overrides: {advanced: {account_number_pattern: '(((((((((('}}\n",
    "only-null": b"~\n",
    "only-bom": b"\xef\xbb\xbf",
    "utf16": "bid: 900001\n".encode("utf-16"),
    "nul-byte": b"bid: 900001\x00\n",
    "control-char": b"bid: 900001\nname: \x07\n",
    "lone-surrogate-escape": b'bid: 900001\nname: "\\ud800"\npartner: bsa\n',
    "unterminated": b'bid: 900001\nname: "T\n',
}


@pytest.mark.parametrize("name", sorted(NASTY_BILLERS))
def test_bad_biller_file_is_a_problem_not_a_crash(tmp_repo: TmpRepo, name: str) -> None:
    rel = tmp_repo.write("billers/900001.yaml", NASTY_BILLERS[name])
    result = tmp_repo.run("validate")  # an exception would fail the test here
    assert result.code == 1
    assert problem_lines(result.out), result.out
    assert all(m["path"] == rel for m in problem_lines(result.out)), result.out
    rendered = tmp_repo.run("render", "900001")
    assert rendered.code == 1
    assert rendered.err.strip()


@pytest.mark.slow
def test_bad_files_in_a_real_process_print_no_traceback(
    tmp_repo: TmpRepo, int360_subprocess: RunModule
) -> None:
    for index, name in enumerate(sorted(NASTY_BILLERS)):
        tmp_repo.write(f"billers/{910000 + index}.yaml", NASTY_BILLERS[name])
    tmp_repo.write(
        "partners/broken.yaml", b"slug: broken\nname: B\nintegrator_ids: x\nsettings: 5\n"
    )
    tmp_repo.write(
        "partners/locks.yaml",
        b"slug: locks\nname: L\nintegrator_ids: [9901]\nsettings: {}\nlocked: [advanced.nope]\n",
    )
    tmp_repo.path("billers/920000.yaml").mkdir()
    for fmt in ("text", "github", "json"):
        done = int360_subprocess("validate", "--format", fmt, cwd=tmp_repo.root)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
    done = int360_subprocess("render", "910000", cwd=tmp_repo.root)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr


def test_broken_symlink_is_reported_under_its_own_name(tmp_repo: TmpRepo) -> None:
    tmp_repo.path("billers/900001.yaml").symlink_to("nowhere.yaml")
    result = tmp_repo.run("validate")
    assert result.code == 1
    assert result.lines[0].startswith("billers/900001.yaml:1:1: error["), result.out


def test_locked_path_that_is_not_a_field(tmp_repo: TmpRepo) -> None:
    rel = tmp_repo.write(
        "partners/locks.yaml",
        "slug: locks\nname: L\nintegrator_ids: [9901]\nsettings: {}\nlocked:\n  - advanced.nope\n",
    )
    result = tmp_repo.run("validate")
    line, col = tmp_repo.pos(rel, "- advanced.nope", "advanced")
    assert result.lines[0].startswith(f"{rel}:{line}:{col}: error[")
    assert "advanced.nope" in result.lines[0]


@pytest.mark.parametrize("damage", ["missing", "not-json"])
def test_broken_schemas_give_a_clear_error_not_a_traceback(
    tmp_repo: TmpRepo, int360_subprocess: RunModule, damage: str
) -> None:
    schema = tmp_repo.path("schemas/settings.schema.json")
    if damage == "missing":
        schema.unlink()
    else:
        schema.write_text("{not json", encoding="utf-8")
    done = int360_subprocess("validate", cwd=tmp_repo.root)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert "settings.schema.json" in done.stdout + done.stderr


def test_missing_defaults_is_reported(tmp_repo: TmpRepo) -> None:
    tmp_repo.remove("partners/_defaults.yaml")
    result = tmp_repo.run("validate")
    assert result.code == 1
    assert result.lines[0].startswith("partners/_defaults.yaml:1:1: error[")


def test_not_a_repository_is_a_clear_error(tmp_path: Path, int360_subprocess: RunModule) -> None:
    done = int360_subprocess("validate", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "--repo" in done.stderr
