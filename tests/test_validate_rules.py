"""Every rule of SPEC §5, each with at least one failing file and its exact location.

Each test writes a file, computes the expected ``PATH:LINE:COL`` from the text it
wrote, runs ``int360 validate`` and looks for the line
``PATH:LINE:COL: error[RULE]: …``.

Where a problem is placed:

* a value that is wrong in itself (schema type/range/enum, ``value`` rules, a
  literal secret, ``filename``, ``unknown-partner``, a bad ``integrator_id``): at the
  value, in the file that wrote it;
* an unknown key, or an override that is not allowed (``locked``): at the key;
* a field that the merged settings lack or must not have (``incomplete``,
  ``cross-field``): in the biller file, at the key of that field under
  ``overrides`` or, when the biller does not write it, at its nearest written
  ancestor (``overrides.<group>``, ``overrides``, then ``partner:``) — where the
  fix goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    from conftest import CliResult, TmpRepo

ACME_BATCH = """\
# yaml-language-server: $schema=../schemas/partner.schema.json
slug: acme-batch
name: Acme Batch
integrator_ids: [9001]
settings:
  advanced:
    integration_type: batch
  data_pump:
    format: csv
    layout: acme-payments-v1
    delimiter: ","
locked:
  - advanced.integration_type
  - data_pump.layout
"""

ACME_MULTI = """\
# yaml-language-server: $schema=../schemas/partner.schema.json
slug: acme-multi
name: Acme Multi
integrator_ids: [9101, 9102]
settings: {}
"""

ACME_REALTIME = """\
# yaml-language-server: $schema=../schemas/partner.schema.json
slug: acme-realtime
name: Acme Real-Time
integrator_ids: [9201]
settings:
  advanced:
    integration_type: real_time
  data_pump:
    format: xml
    layout: acme-rt-recon-v1
    delivery: api
locked:
  - advanced.integration_type
"""

BILLER = "billers/900001.yaml"


def biller(body: str = "", *, bid: int = 900001, partner: str = "acme-batch") -> str:
    """A biller file of the test partners; ``body`` follows the ``partner:`` line."""
    return (
        "# yaml-language-server: $schema=../schemas/biller.schema.json\n"
        f"bid: {bid}\n"
        "name: Test Town Utilities\n"
        f"partner: {partner}\n"
        f"{body}"
    )


@pytest.fixture
def repo(tmp_repo: TmpRepo) -> TmpRepo:
    """The copied repository plus three small test partners with known templates."""
    tmp_repo.write("partners/acme-batch.yaml", ACME_BATCH)
    tmp_repo.write("partners/acme-multi.yaml", ACME_MULTI)
    tmp_repo.write("partners/acme-realtime.yaml", ACME_REALTIME)
    return tmp_repo


def expect(result: CliResult, rel: str, at: tuple[int, int], rule: str) -> str:
    """The message of the problem ``rel:line:col: error[rule]``; fails when it is absent."""
    assert result.code == 1, result.out + result.err
    prefix = f"{rel}:{at[0]}:{at[1]}: error[{rule}]: "
    messages = [line[len(prefix) :] for line in result.lines if line.startswith(prefix)]
    assert messages, f"no line starting with {prefix!r} in:\n{result.out}"
    return messages[0]


def problems_of(result: CliResult, rel: str) -> list[str]:
    """The problem lines about ``rel``."""
    return [line for line in result.lines if line.startswith(f"{rel}:")]


def test_baseline_test_partners_and_plain_biller_are_valid(repo: TmpRepo) -> None:
    repo.write(BILLER, biller())
    repo.write(
        "billers/900002.yaml", biller(bid=900002, partner="acme-multi") + "integrator_id: 9102\n"
    )
    repo.write(
        "billers/900003.yaml",
        biller(
            "overrides:\n  advanced:\n    real_time_endpoint: https://rt.test.example.com/lookup\n",
            bid=900003,
            partner="acme-realtime",
        ),
    )
    result = repo.run("validate")
    assert result.code == 0, result.out
    assert result.out == ""


# --- yaml --------------------------------------------------------------------


def test_yaml_unparseable_points_at_the_offending_colon(repo: TmpRepo) -> None:
    text = biller().replace("name: Test Town Utilities", "name: Test: Town")
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "name: Test: Town", ": Town"), "yaml")
    assert "not valid YAML" in message


def test_yaml_duplicate_key_points_at_the_second_key(repo: TmpRepo) -> None:
    text = biller("name: Other Town\n")
    repo.write(BILLER, text)
    first_line, _ = repo.pos(BILLER, "name: Test Town")
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "name: Other Town", "name"), "yaml")
    assert "duplicate key 'name'" in message
    assert f"line {first_line}" in message


def test_yaml_duplicate_key_nested(repo: TmpRepo) -> None:
    text = biller("overrides:\n  ftp:\n    port: 22\n    port: 2222\n")
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "port: 2222", "port"), "yaml")
    assert "duplicate key 'port'" in message


def test_yaml_tab_is_refused_where_it_is(repo: TmpRepo) -> None:
    text = biller("overrides:\n\tftp:\n    port: 2222\n")
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "\tftp:", "\t"), "yaml")
    assert "tab" in message


def test_yaml_anchor_is_refused(repo: TmpRepo) -> None:
    text = biller().replace("name: Test Town Utilities", "name: &town Test Town Utilities")
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "&town", "&town"), "yaml")
    assert "anchor" in message


def test_yaml_alias_is_refused(repo: TmpRepo) -> None:
    text = biller("overrides:\n  advanced:\n    account_number_label: *town\n")
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "*town"), "yaml")
    assert "alias" in message


def test_yaml_billion_laughs_is_refused_at_the_first_anchor(repo: TmpRepo) -> None:
    laughs = (
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    )
    repo.write(BILLER, biller(laughs))
    result = repo.run("validate")
    expect(result, BILLER, repo.pos(BILLER, "a: &a", "&a"), "yaml")


def test_yaml_sequence_at_top_level_is_not_a_mapping(repo: TmpRepo) -> None:
    text = "# yaml-language-server: $schema=../schemas/biller.schema.json\n- bid: 900001\n"
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "- bid", "-"), "yaml")
    assert "mapping" in message


def test_yaml_scalar_file_is_not_a_mapping(repo: TmpRepo) -> None:
    repo.write(BILLER, "just some words\n")
    result = repo.run("validate")
    expect(result, BILLER, (1, 1), "yaml")


def test_yaml_empty_file_is_refused(repo: TmpRepo) -> None:
    repo.write(BILLER, "# nothing but a comment\n")
    result = repo.run("validate")
    message = expect(result, BILLER, (1, 1), "yaml")
    assert "empty" in message


def test_yaml_non_utf8_points_at_the_bad_byte(repo: TmpRepo) -> None:
    raw = biller().replace("Test Town", "Caf\x00 Town").encode("utf-8").replace(b"\x00", b"\xe9")
    repo.write(BILLER, raw)
    lines = raw.split(b"\n")
    line_index = next(i for i, line in enumerate(lines) if b"\xe9" in line)
    result = repo.run("validate")
    message = expect(result, BILLER, (line_index + 1, lines[line_index].index(b"\xe9") + 1), "yaml")
    assert "UTF-8" in message


def test_yaml_file_over_256_kib_is_refused(repo: TmpRepo) -> None:
    text = biller() + ("# padding padding padding padding\n" * 8000)
    assert len(text.encode()) > 256 * 1024
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, (1, 1), "yaml")
    assert "256 KiB" in message


def test_yaml_file_of_exactly_256_kib_is_accepted(repo: TmpRepo) -> None:
    text = biller()
    filler = 256 * 1024 - len(text.encode()) - 1
    text += "#" + "x" * (filler - 1) + "\n"
    assert len(text.encode()) == 256 * 1024
    repo.write(BILLER, text)
    result = repo.run("validate")
    assert result.code == 0, result.out


def test_yaml_bom_and_crlf_are_accepted(repo: TmpRepo) -> None:
    text = biller("overrides:\n  data_pump:\n    timezone: America/Denver\n")
    repo.write(BILLER, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    result = repo.run("validate")
    assert result.code == 0, result.out
    render = repo.run("render", "900001", "--explain")
    assert render.code == 0, render.err
    line, col = repo.pos(BILLER, "timezone: America/Denver", "America/Denver")
    assert f'timezone: "America/Denver"  # {BILLER}:{line}:{col}' in render.out


def test_yaml_bom_and_crlf_keep_positions_exact(repo: TmpRepo) -> None:
    text = biller("overrides:\n  ftp:\n    pgp_encrypt: yes\n")
    repo.write(BILLER, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    result = repo.run("validate")
    expect(result, BILLER, repo.pos(BILLER, "pgp_encrypt: yes", "yes"), "schema")


def test_yaml_bom_on_a_first_line_error_does_not_shift_the_column(repo: TmpRepo) -> None:
    text = "bid: [900001\nname: x\n"
    repo.write(BILLER, b"\xef\xbb\xbf" + text.encode())
    with_bom = repo.run("validate")
    repo.write(BILLER, text)
    plain = repo.run("validate")
    assert with_bom.code == plain.code == 1
    assert problems_of(with_bom, BILLER) == problems_of(plain, BILLER)


# --- schema ------------------------------------------------------------------


def test_schema_yes_is_a_string_and_the_message_says_write_true_or_false(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  ftp:\n    enabled: yes\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "enabled: yes", "yes"), "schema")
    assert "overrides.ftp.enabled" in message
    assert "true" in message and "false" in message


@pytest.mark.parametrize("word", ["no", "on", "off"])
def test_schema_other_yaml11_booleans_are_strings_too(repo: TmpRepo, word: str) -> None:
    repo.write(BILLER, biller(f"overrides:\n  advanced:\n    guest_payments: {word}\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, f"guest_payments: {word}", word), "schema")
    assert "true or false" in message


def test_schema_unknown_key_suggests_the_closest_field(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  ftp:\n    hots: sftp.test.example.com\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "hots:", "hots"), "schema")
    assert "'hots'" in message
    assert "did you mean 'host'?" in message


def test_schema_unknown_top_level_key_suggests_overrides(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overides:\n  ftp:\n    port: 2222\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "overides:", "overides"), "schema")
    assert "did you mean 'overrides'?" in message


def test_schema_out_of_range_names_field_and_limit(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  ftp:\n    port: 70000\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "port: 70000", "70000"), "schema")
    assert "overrides.ftp.port" in message
    assert "65535" in message


def test_schema_enum_lists_the_allowed_values(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  ftp:\n    protocol: scp\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "protocol: scp", "scp"), "schema")
    assert "overrides.ftp.protocol" in message
    assert "'sftp'" in message and "'ftps'" in message


def test_schema_missing_required_top_level_field(repo: TmpRepo) -> None:
    text = biller().replace("name: Test Town Utilities\n", "")
    repo.write(BILLER, text)
    result = repo.run("validate")
    lines = [line for line in problems_of(result, BILLER) if "error[schema]" in line]
    assert len(lines) == 1, result.out
    assert "'name'" in lines[0]


def test_schema_errors_in_partner_files_are_reported_there(repo: TmpRepo) -> None:
    rel = "partners/acme-batch.yaml"
    repo.write(rel, ACME_BATCH.replace('    delimiter: ","\n', "    delimiter: tab\n"))
    result = repo.run("validate")
    message = expect(result, rel, repo.pos(rel, "delimiter: tab", "tab"), "schema")
    assert "settings.data_pump.delimiter" in message


# --- filename ----------------------------------------------------------------


def test_filename_partner_slug_must_equal_the_stem(repo: TmpRepo) -> None:
    rel = "partners/acme-other.yaml"
    repo.write(
        rel,
        ACME_MULTI.replace("slug: acme-multi", "slug: acme-othr").replace("[9101, 9102]", "[9301]"),
    )
    result = repo.run("validate")
    message = expect(result, rel, repo.pos(rel, "slug: acme-othr", "acme-othr"), "filename")
    assert "acme-other" in message


def test_filename_biller_bid_must_equal_the_stem_prefix(repo: TmpRepo) -> None:
    rel = "billers/900002-test-town.yaml"
    repo.write(rel, biller(bid=900003))
    result = repo.run("validate")
    message = expect(result, rel, repo.pos(rel, "bid: 900003", "900003"), "filename")
    assert "900003" in message


def test_filename_biller_stem_must_start_with_a_bid(repo: TmpRepo) -> None:
    rel = "billers/test-town.yaml"
    repo.write(rel, biller())
    result = repo.run("validate")
    assert any(line.startswith(f"{rel}:") and "error[filename]" in line for line in result.lines), (
        result.out
    )


# --- duplicate-bid / duplicate-integrator-id ----------------------------------


def test_duplicate_bid_is_reported_in_both_files_at_the_bid(repo: TmpRepo) -> None:
    repo.write(BILLER, biller())
    other = "billers/900001-x.yaml"
    repo.write(other, biller().replace("Test Town Utilities", "Test Town Again"))
    result = repo.run("validate")
    message = expect(result, other, repo.pos(other, "bid: 900001", "900001"), "duplicate-bid")
    assert BILLER in message
    message = expect(result, BILLER, repo.pos(BILLER, "bid: 900001", "900001"), "duplicate-bid")
    assert other in message


def test_duplicate_bid_of_a_shipped_biller(repo: TmpRepo) -> None:
    rel = "billers/104233-x.yaml"
    repo.write(rel, repo.read("billers/104233.yaml").replace("Springfield", "Springfeld"))
    result = repo.run("validate")
    assert any("error[duplicate-bid]" in line and "104233" in line for line in result.lines), (
        result.out
    )
    expect(result, rel, repo.pos(rel, "bid: 104233", "104233"), "duplicate-bid")


def test_duplicate_integrator_id_is_reported_at_the_id(repo: TmpRepo) -> None:
    rel = "partners/acme-two.yaml"
    repo.write(
        rel, ACME_MULTI.replace("acme-multi", "acme-two").replace("[9101, 9102]", "[9302, 9001]")
    )
    result = repo.run("validate")
    message = expect(
        result, rel, repo.pos(rel, "integrator_ids:", "9001"), "duplicate-integrator-id"
    )
    assert "acme-batch" in message


def test_duplicate_integrator_id_of_a_shipped_partner(repo: TmpRepo) -> None:
    rel = "partners/zz-bsa-clone.yaml"
    repo.write(
        rel, ACME_MULTI.replace("acme-multi", "zz-bsa-clone").replace("[9101, 9102]", "[93]")
    )
    result = repo.run("validate")
    message = expect(result, rel, repo.pos(rel, "integrator_ids:", "93"), "duplicate-integrator-id")
    assert "'bsa'" in message


# --- unknown-partner / integrator-id -----------------------------------------


def test_unknown_partner_suggests_the_closest_slug(repo: TmpRepo) -> None:
    repo.write(BILLER, biller(partner="acme-bach"))
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "partner: acme-bach", "acme-bach"), "unknown-partner"
    )
    assert "did you mean 'acme-batch'?" in message


def test_unknown_partner_suggests_a_shipped_slug(repo: TmpRepo) -> None:
    repo.write(BILLER, biller(partner="caselle-batch-utilty") + "integrator_id: 175\n")
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "partner: caselle", "caselle"), "unknown-partner"
    )
    assert "'caselle-batch-utility'" in message


def test_integrator_id_not_among_the_partners(repo: TmpRepo) -> None:
    repo.write(BILLER, biller(partner="acme-multi") + "integrator_id: 9103\n")
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "integrator_id: 9103", "9103"), "integrator-id"
    )
    assert "9101" in message and "9102" in message


def test_integrator_id_wrong_on_a_single_id_partner(repo: TmpRepo) -> None:
    repo.write(BILLER, biller() + "integrator_id: 9002\n")
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "integrator_id: 9002", "9002"), "integrator-id"
    )
    assert "9001" in message


def test_integrator_id_missing_where_the_partner_has_several(repo: TmpRepo) -> None:
    repo.write(BILLER, biller(partner="acme-multi"))
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "partner: acme-multi", "partner"), "integrator-id"
    )
    assert "integrator_id" in message
    assert "9101" in message and "9102" in message


def test_caselle_batch_biller_without_integrator_id(repo: TmpRepo) -> None:
    rel = "billers/104233.yaml"
    repo.write(rel, repo.read(rel).replace("integrator_id: 201\n", ""))
    result = repo.run("validate")
    expect(result, rel, repo.pos(rel, "partner: caselle", "partner"), "integrator-id")


# --- locked ------------------------------------------------------------------


def test_locked_override_names_the_partner_file_and_line(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  data_pump:\n    layout: my-own-layout\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "layout: my-own", "layout"), "locked")
    line, col = repo.pos("partners/acme-batch.yaml", "- data_pump.layout", "data_pump.layout")
    assert f"partners/acme-batch.yaml:{line}:{col}" in message
    assert "data_pump.layout" in message


def test_locked_path_cannot_be_removed_with_null(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  advanced:\n    integration_type: null\n"))
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "integration_type: null", "integration_type"), "locked"
    )
    line, col = repo.pos("partners/acme-batch.yaml", "- advanced.integration_type", "advanced")
    assert f"partners/acme-batch.yaml:{line}:{col}" in message


def test_locked_path_cannot_be_dropped_with_its_whole_group(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  data_pump: null\n"))
    result = repo.run("validate")
    expect(result, BILLER, repo.pos(BILLER, "data_pump: null", "data_pump"), "locked")


def test_locked_on_a_shipped_realtime_partner(repo: TmpRepo) -> None:
    rel = "billers/500102-red-mesa.yaml"
    text = repo.read(rel).replace("  advanced:\n", "  advanced:\n    integration_type: batch\n")
    repo.write(rel, text)
    result = repo.run("validate")
    message = expect(
        result, rel, repo.pos(rel, "integration_type: batch", "integration_type"), "locked"
    )
    partner = "partners/caselle-realtime-utility.yaml"
    line, col = repo.pos(partner, "- advanced.integration_type", "advanced")
    assert f"{partner}:{line}:{col}" in message


def test_unlocked_override_is_fine(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  data_pump:\n    include_header: false\n"))
    assert repo.run("validate").code == 0


# --- incomplete --------------------------------------------------------------


def test_incomplete_required_field_removed_with_null(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  data_pump:\n    timezone: null\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "timezone: null", "timezone"), "incomplete")
    assert "data_pump.timezone" in message


def test_incomplete_required_field_missing_after_the_merge(repo: TmpRepo) -> None:
    repo.write(
        BILLER, biller("overrides:\n  ftp:\n    auth:\n      password: {secret: FTP_TEST}\n")
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "auth:", "auth"), "incomplete")
    assert "ftp.auth.method" in message


def test_incomplete_when_no_layer_sets_a_required_field(repo: TmpRepo) -> None:
    defaults = "partners/_defaults.yaml"
    text = repo.read(defaults)
    assert "    purge_after_days: 730\n" in text
    repo.write(defaults, text.replace("    purge_after_days: 730\n", ""))
    repo.write(BILLER, biller())
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "partner: acme-batch", "partner"), "incomplete"
    )
    assert "invoicing.purge_after_days" in message


def test_incomplete_whole_group_removed(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  invoicing: null\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "invoicing: null", "invoicing"), "incomplete")
    assert "invoicing" in message


# --- cross-field -------------------------------------------------------------


def test_cross_field_real_time_needs_an_endpoint(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  advanced:\n    account_number_label: Acct\n", partner="acme-realtime"
        ),
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "  advanced:", "advanced"), "cross-field")
    assert "real_time_endpoint" in message


def test_cross_field_real_time_endpoint_removed_with_null(repo: TmpRepo) -> None:
    rel = "billers/500102-red-mesa.yaml"
    text = repo.read(rel)
    start = text.index("    real_time_endpoint:")
    end = text.index("\n", start)
    repo.write(rel, text[:start] + "    real_time_endpoint: null" + text[end:])
    result = repo.run("validate")
    expect(
        result, rel, repo.pos(rel, "real_time_endpoint: null", "real_time_endpoint"), "cross-field"
    )


def test_cross_field_batch_forbids_an_endpoint(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller("overrides:\n  advanced:\n    real_time_endpoint: https://rt.test.example.com/a\n"),
    )
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "real_time_endpoint:", "real_time_endpoint"), "cross-field"
    )
    assert "batch" in message


def test_cross_field_min_greater_than_max(repo: TmpRepo) -> None:
    defaults = yaml.safe_load(repo.read("partners/_defaults.yaml"))["settings"]["advanced"]
    high = defaults["max_payment_amount"]  # acme-batch inherits it
    repo.write(BILLER, biller(f"overrides:\n  advanced:\n    min_payment_amount: {high + 1}\n"))
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "min_payment_amount:", "min_payment_amount"), "cross-field"
    )
    assert str(high + 1) in message and str(high) in message


def test_cross_field_min_equal_to_max_is_fine(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  advanced:\n    min_payment_amount: 5000\n    max_payment_amount: 5000\n"
        ),
    )
    assert repo.run("validate").code == 0


def test_cross_field_enabled_sftp_needs_host_username_auth_and_host_key(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  ftp:\n    enabled: true\n"))
    result = repo.run("validate")
    at = repo.pos(BILLER, "  ftp:", "ftp")
    prefix = f"{BILLER}:{at[0]}:{at[1]}: error[cross-field]: "
    messages = [line for line in result.lines if line.startswith(prefix)]
    for field in ("ftp.host", "ftp.username", "ftp.auth", "ftp.host_key_fingerprint"):
        assert any(f"{field} " in m or f"{field} (" in m for m in messages), (field, result.out)
    assert len(messages) == 4, result.out


def test_cross_field_enabled_ftps_needs_no_host_key(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  ftp:\n    enabled: true\n    protocol: ftps\n"
            "    host: ftp.test.example.com\n    username: tt\n"
            "    auth: {method: password, password: {secret: FTP_TEST_PW}}\n"
        ),
    )
    assert repo.run("validate").code == 0


def test_cross_field_enabled_sftp_with_all_fields_but_the_host_key(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  ftp:\n    enabled: true\n"
            "    host: sftp.test.example.com\n    username: tt\n"
            "    auth: {method: ssh_key, private_key: {secret: FTP_TEST_KEY}}\n"
        ),
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "  ftp:", "ftp"), "cross-field")
    assert "host_key_fingerprint" in message
    assert len(problems_of(result, BILLER)) == 1, result.out


def test_cross_field_auth_method_decides_which_secret(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  ftp:\n    auth:\n      method: ssh_key\n"
            "      password: {secret: FTP_TEST_PW}\n"
        ),
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "password:", "password"), "cross-field")
    assert "not allowed" in message
    message = expect(result, BILLER, repo.pos(BILLER, "  auth:", "auth"), "cross-field")
    assert "ftp.auth.private_key" in message


def test_cross_field_pgp_encrypt_needs_a_key(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  ftp:\n    pgp_encrypt: true\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "  ftp:", "ftp"), "cross-field")
    assert "pgp_public_key" in message


def test_cross_field_csv_needs_a_delimiter(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  data_pump:\n    delimiter: null\n"))
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "delimiter: null", "delimiter"), "cross-field"
    )
    assert "csv" in message


def test_cross_field_other_formats_forbid_a_delimiter(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  advanced:\n    real_time_endpoint: https://rt.test.example.com/a\n"
            '  data_pump:\n    delimiter: "|"\n',
            partner="acme-realtime",
        ),
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "delimiter:", "delimiter"), "cross-field")
    assert "xml" in message


def test_cross_field_ftp_delivery_needs_ftp_enabled(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  data_pump:\n    delivery: ftp\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "delivery: ftp", "delivery"), "cross-field")
    assert "ftp.enabled" in message


def test_cross_field_ftp_delivery_of_a_disabled_export_is_fine(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  data_pump:\n    enabled: false\n    delivery: ftp\n"))
    assert repo.run("validate").code == 0


def test_cross_field_file_invoicing_needs_ftp_enabled(repo: TmpRepo) -> None:
    repo.write(
        BILLER, biller("overrides:\n  invoicing:\n    enabled: true\n    import_format: csv\n")
    )
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "import_format: csv", "import_format"), "cross-field"
    )
    assert "ftp.enabled" in message


def test_cross_field_pdf_only_invoicing_needs_no_ftp(repo: TmpRepo) -> None:
    repo.write(
        BILLER, biller("overrides:\n  invoicing:\n    enabled: true\n    import_format: pdf_only\n")
    )
    assert repo.run("validate").code == 0


def test_cross_field_invoice_type_must_be_among_invoice_types(repo: TmpRepo) -> None:
    defaults = yaml.safe_load(repo.read("partners/_defaults.yaml"))["settings"]["advanced"]
    assert defaults["invoice_types"] == ["UB"]  # what acme-batch billers inherit
    repo.write(BILLER, biller("overrides:\n  invoicing:\n    invoice_type: RE\n"))
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "invoice_type: RE", "invoice_type"), "cross-field"
    )
    assert "RE" in message and "UB" in message


def test_cross_field_fee_of_kind_none_has_amount_zero(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  advanced:\n    convenience_fee:\n"
            "      card:\n        kind: none\n        amount: 150\n"
        ),
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "amount: 150", "amount"), "cross-field")
    assert "convenience_fee.card.amount" in message


def test_cross_field_percent_fee_at_most_10(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  advanced:\n    convenience_fee:\n"
            "      card:\n        kind: percent\n        amount: 10\n"
            "      ach:\n        kind: percent\n        amount: 12.5\n"
        ),
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "amount: 12.5", "amount"), "cross-field")
    assert "convenience_fee.ach.amount" in message
    assert len(problems_of(result, BILLER)) == 1, result.out  # 10 % itself is allowed


# --- value -------------------------------------------------------------------


def test_value_regex_that_does_not_compile(repo: TmpRepo) -> None:
    repo.write(BILLER, biller('overrides:\n  advanced:\n    account_number_pattern: "^[0-9"\n'))
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "account_number_pattern:", '"^[0-9"'), "value"
    )
    assert "regular expression" in message


def test_value_cron_that_can_never_fire(repo: TmpRepo) -> None:
    repo.write(BILLER, biller('overrides:\n  data_pump:\n    schedule: "0 0 31 2 *"\n'))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "schedule:", '"0 0 31 2 *"'), "value")
    assert "never" in message


def test_value_cron_on_29_february_fires_in_leap_years(repo: TmpRepo) -> None:
    repo.write(BILLER, biller('overrides:\n  data_pump:\n    schedule: "0 0 29 2 *"\n'))
    assert repo.run("validate").code == 0


def test_value_bad_cron(repo: TmpRepo) -> None:
    repo.write(BILLER, biller('overrides:\n  invoicing:\n    import_schedule: "61 * * * *"\n'))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "import_schedule:", '"61'), "value")
    assert "invoicing.import_schedule" in message


def test_value_unknown_time_zone(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  invoicing:\n    timezone: America/Springfeld\n"))
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "timezone:", "America/Springfeld"), "value")
    assert "IANA" in message


def test_value_file_name_template_with_unknown_placeholder(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            'overrides:\n  data_pump:\n    file_name_template: "pay_{bidd}_{date:%Y%m%d}.csv"\n'
        ),
    )
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "file_name_template:", '"pay_'), "value")
    assert "{bidd}" in message
    assert len(problems_of(result, BILLER)) == 1, result.out  # {date:%Y%m%d} is fine


def test_value_in_a_partner_template_is_reported_in_the_partner_file(repo: TmpRepo) -> None:
    rel = "partners/acme-batch.yaml"
    repo.write(
        rel,
        ACME_BATCH.replace(
            '    delimiter: ","\n', '    delimiter: ","\n    timezone: Mars/Olympus\n'
        ),
    )
    result = repo.run("validate")
    expect(result, rel, repo.pos(rel, "timezone: Mars", "Mars/Olympus"), "value")


# --- plaintext-secret --------------------------------------------------------


def test_plaintext_password(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller("overrides:\n  ftp:\n    auth:\n      method: password\n      password: hunter2\n"),
    )
    result = repo.run("validate")
    message = expect(
        result, BILLER, repo.pos(BILLER, "password: hunter2", "hunter2"), "plaintext-secret"
    )
    assert "{secret: NAME}" in message
    assert "hunter2" not in message
    # One problem for one mistake: not also a schema error about the same value.
    line = repo.pos(BILLER, "password: hunter2")[0]
    assert [p for p in problems_of(result, BILLER) if p.startswith(f"{BILLER}:{line}:")] == [
        f"{BILLER}:{line}:{repo.pos(BILLER, 'password: hunter2', 'hunter2')[1]}: "
        f"error[plaintext-secret]: {message}"
    ]


def test_plaintext_pgp_public_key(repo: TmpRepo) -> None:
    repo.write(BILLER, biller("overrides:\n  ftp:\n    pgp_public_key: my-key-text\n"))
    result = repo.run("validate")
    expect(result, BILLER, repo.pos(BILLER, "pgp_public_key:", "my-key-text"), "plaintext-secret")


def test_private_key_block_anywhere(repo: TmpRepo) -> None:
    text = biller().replace(
        "name: Test Town Utilities\n",
        "name: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n  b3BlbnNzaC1rZXktdjEAAAAA\n"
        "  -----END OPENSSH PRIVATE KEY-----\n",
    )
    repo.write(BILLER, text)
    result = repo.run("validate")
    message = expect(result, BILLER, repo.pos(BILLER, "name: |", "|"), "plaintext-secret")
    assert "BEGIN" not in message and "b3Blbn" not in message


def test_private_key_block_in_a_partner_file(repo: TmpRepo) -> None:
    rel = "partners/acme-batch.yaml"
    text = ACME_BATCH.replace(
        "  data_pump:\n",
        '  ftp:\n    username: "-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA"\n  data_pump:\n',
    )
    repo.write(rel, text)
    result = repo.run("validate")
    expect(result, rel, repo.pos(rel, "username:", '"-----BEGIN'), "plaintext-secret")


def test_secret_reference_is_fine(repo: TmpRepo) -> None:
    repo.write(
        BILLER,
        biller(
            "overrides:\n  ftp:\n    pgp_encrypt: true\n    pgp_public_key: {secret: PGP_TEST}\n"
        ),
    )
    assert repo.run("validate").code == 0
