"""The YAML loader: YAML 1.2 values, positions of every node, and what it refuses."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from int360apply import yamlio
from int360apply.model import Problem
from int360apply.yamlio import YamlError, locate, parse


def pos(text: str, line_has: str, token: str | None = None) -> tuple[int, int]:
    """1-based (line, column) of ``token`` on the one line of ``text`` holding ``line_has``."""
    token = line_has if token is None else token
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines) if line_has in line]
    assert len(hits) == 1, line_has
    return hits[0] + 1, lines[hits[0]].index(token) + 1


def refused(raw: bytes | str) -> YamlError:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    with pytest.raises(YamlError) as info:
        parse(data)
    return info.value


# --- YAML 1.2 values -----------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF"])
def test_yaml11_booleans_are_strings(word: str) -> None:
    assert parse(f"a: {word}\n".encode()) == {"a": word}


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("false", False), ("True", True), ("FALSE", False)]
)
def test_yaml12_booleans(text: str, value: bool) -> None:
    assert parse(f"a: {text}\n".encode())["a"] is value


@pytest.mark.parametrize(
    "text", ["2024-01-31", "2024-01-31 10:00:00", "2001-12-14t21:59:43.10-05:00"]
)
def test_dates_are_strings(text: str) -> None:
    assert parse(f"a: {text}\n".encode()) == {"a": text}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("-3", -3),
        ("010", 10),  # 1.2: decimal, not octal
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),  # 1.2: a float without a dot
        ("-2.5E-2", -0.025),
        (".5", 0.5),
    ],
)
def test_yaml12_numbers(text: str, value: float) -> None:
    result = parse(f"a: {text}\n".encode())["a"]
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize("text", ["1_000", "0b101", "12:30", "1:20:30", "+.5e", "0x", "1,000"])
def test_yaml11_only_numbers_are_strings(text: str) -> None:
    assert parse(f"a: {text}\n".encode()) == {"a": text}


@pytest.mark.parametrize("text", ["~", "null", "Null", "NULL", ""])
def test_nulls(text: str) -> None:
    assert parse(f"a: {text}\n".encode()) == {"a": None}


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", ".NaN"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    error = refused(f"a: 1\nb: {text}\n")
    assert (error.line, error.col) == (2, 4)
    assert "finite" in error.message


def test_quoted_values_stay_strings() -> None:
    assert parse(b"a: 'true'\nb: \"10\"\nc: 'null'\n") == {"a": "true", "b": "10", "c": "null"}


def test_nested_data() -> None:
    text = "a:\n  b: [1, two, {c: 3}]\n  d:\n    - x\n    - y: z\n"
    assert parse(text.encode()) == {"a": {"b": [1, "two", {"c": 3}], "d": ["x", {"y": "z"}]}}


# --- positions -----------------------------------------------------------------


def test_positions_of_keys_and_values() -> None:
    text = (
        "# comment\n"
        "bid: 104233\n"
        "overrides:\n"
        "  ftp:\n"
        "    host: sftp.example.gov\n"
        "    auth: {method: ssh_key, private_key: {secret: KEY}}\n"
        "  data_pump:\n"
        "    notify_emails:\n"
        "      - a@example.gov\n"
        "      - b@example.gov\n"
    )
    positions = locate(text.encode())
    assert positions[("bid",)] == (*pos(text, "bid:", "bid"), *pos(text, "bid:", "104233"))
    assert positions[("overrides", "ftp", "host")] == (
        *pos(text, "host:", "host"),
        *pos(text, "host:", "sftp"),
    )
    assert positions[("overrides", "ftp", "auth", "private_key", "secret")] == (
        *pos(text, "auth:", "secret"),
        *pos(text, "auth:", "KEY"),
    )
    # a block list's value starts at its first "-"
    assert positions[("overrides", "data_pump", "notify_emails")][2:] == pos(text, "a@example", "-")
    line, col = pos(text, "b@example", "b@")
    assert positions[("overrides", "data_pump", "notify_emails", 1)] == (line, col, line, col)


def test_every_node_has_a_position() -> None:
    text = "a:\n  b: [1, 2]\n  c: {d: e}\nf: g\n"
    assert set(locate(text.encode())) == {
        ("a",),
        ("a", "b"),
        ("a", "b", 0),
        ("a", "b", 1),
        ("a", "c"),
        ("a", "c", "d"),
        ("f",),
    }


def test_positions_with_bom_and_crlf() -> None:
    text = "a: 1\nb:\n  c: value\n"
    plain = locate(text.encode())
    assert locate(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()) == plain
    assert plain[("b", "c")] == (3, 3, 3, 6)


def test_document_loc_of_values_keys_and_absent_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a:\n  b: 1\n")
    doc = yamlio.load_document(path, "x.yaml")
    assert not isinstance(doc, Problem)
    assert doc.data == {"a": {"b": 1}}
    assert doc.loc(("a", "b")).line == 2 and doc.loc(("a", "b")).col == 6
    assert (doc.loc(("a", "b"), key=True).line, doc.loc(("a", "b"), key=True).col) == (2, 3)
    # an absent path falls back to its nearest present ancestor's key
    assert (doc.loc(("a", "zzz")).line, doc.loc(("a", "zzz")).col) == (1, 1)


# --- refusals ------------------------------------------------------------------


def test_duplicate_key_is_refused_at_the_second_one() -> None:
    text = "a: 1\nb:\n  c: 1\n  c: 2\n"
    error = refused(text)
    assert (error.line, error.col) == pos(text, "c: 2", "c")
    assert "duplicate key 'c'" in error.message
    assert "line 3" in error.message


def test_duplicate_key_differing_only_in_quotes_is_refused() -> None:
    error = refused("a: 1\n'a': 2\n")
    assert (error.line, error.col) == (2, 1)


def test_tab_is_refused_at_its_position() -> None:
    text = "a:\n  b: 1\n  c:\t2\n"
    error = refused(text)
    assert (error.line, error.col) == (3, text.splitlines()[2].index("\t") + 1)
    assert "tab" in error.message


def test_anchor_is_refused_even_when_unused() -> None:
    text = "a: 1\nb: &anchor 2\n"
    error = refused(text)
    assert (error.line, error.col) == pos(text, "b:", "&anchor")
    assert "anchor" in error.message


def test_alias_is_refused() -> None:
    text = "a: 1\nb: *x\n"
    error = refused(text)
    assert (error.line, error.col) == pos(text, "b:", "*x")
    assert "alias" in error.message


def test_merge_key_with_alias_is_refused() -> None:
    error = refused("base: &b {x: 1}\nother:\n  <<: *b\n")
    assert "anchor" in error.message


@pytest.mark.parametrize(
    ("text", "where"),
    [("- a\n- b\n", (1, 1)), ("# c\nplain text\n", (2, 1)), ("# c\n\n'quoted'\n", (3, 1))],
)
def test_top_level_must_be_a_mapping(text: str, where: tuple[int, int]) -> None:
    error = refused(text)
    assert (error.line, error.col) == where
    assert "mapping" in error.message


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_file_is_refused(text: str) -> None:
    error = refused(text)
    assert (error.line, error.col) == (1, 1)


def test_non_utf8_is_refused_at_the_byte() -> None:
    raw = b"a: 1\nname: Caf\xe9\n"
    error = refused(raw)
    assert (error.line, error.col) == (2, len("name: Caf") + 1)
    assert "UTF-8" in error.message


def test_utf16_is_refused() -> None:
    assert "UTF-8" in refused("a: 1\n".encode("utf-16")).message


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"])
def test_control_characters_are_refused_at_their_position(char: str) -> None:
    text = f"a: 1\nb: x{char}y\n"
    error = refused(text)
    assert (error.line, error.col) == (2, 5)


def test_size_limit() -> None:
    head = b"a: 1\n"
    exact = head + b"#" * (yamlio.MAX_BYTES - len(head) - 1) + b"\n"
    assert len(exact) == 256 * 1024
    assert parse(exact) == {"a": 1}
    error = refused(exact + b"\n")
    assert (error.line, error.col) == (1, 1)
    assert "256 KiB" in error.message


def test_unsupported_scalar_tags_are_refused() -> None:
    text = "a: 1\nb: !!python/name:os.system x\n"
    error = refused(text)
    assert (error.line, error.col) == pos(text, "b:", "!!python")
    assert "tag" in error.message


@pytest.mark.parametrize(
    "value", ["!!python/object/apply:os.system [echo]", "!!set {x, y}", "!custom {x: 1}"]
)
def test_unsupported_tags_on_lists_and_mappings_are_refused(value: str) -> None:
    text = f"a: 1\nb: {value}\n"
    error = refused(text)
    assert (error.line, error.col) == pos(text, "b:", "!")
    assert "tag" in error.message


def test_explicit_standard_tags_are_fine() -> None:
    assert parse(b"a: !!str 10\nb: !!int '7'\n") == {"a": "10", "b": 7}


def test_non_string_keys_are_refused() -> None:
    text = "a: 1\n2: two\n"
    error = refused(text)
    assert (error.line, error.col) == (2, 1)


def test_syntax_error_position() -> None:
    text = "a: 1\nname: Test: Town\n"
    error = refused(text)
    assert (error.line, error.col) == pos(text, "name:", ": Town")


def test_deep_nesting_is_refused() -> None:
    text = "".join(" " * i + "k:\n" for i in range(100)) + " " * 100 + "k: 1\n"
    assert "nesting" in refused(text).message
    assert "nesting" in refused("a: " + "[" * 3000 + "]" * 3000 + "\n").message


def test_multiple_documents_are_refused() -> None:
    refused("a: 1\n---\nb: 2\n")


def test_bom_and_crlf_are_accepted() -> None:
    assert parse(b"\xef\xbb\xbfa: 1\r\nb:\r\n  c: yes\r\n") == {"a": 1, "b": {"c": "yes"}}


def test_load_document_reports_rule_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: 1\na: 2\n")
    problem = yamlio.load_document(path, "billers/x.yaml")
    assert isinstance(problem, Problem)
    assert str(problem).startswith("billers/x.yaml:2:1: error[yaml]: duplicate key 'a'")


def test_load_text_equals_load_document(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "a:\n  b: [1, 2]\n"
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    from_file = yamlio.load_document(path, "x.yaml")
    from_text = yamlio.load_text(text, "x.yaml")
    assert not isinstance(from_file, Problem) and not isinstance(from_text, Problem)
    assert from_file.data == from_text.data
    assert from_file.positions == from_text.positions


# --- properties ----------------------------------------------------------------

# YAML's printable set, minus what json.dumps would escape anyway.
_TEXT = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc"),
        blacklist_characters="\ufeff\ufffe\uffff\u2028\u2029\x85",
    ),
    max_size=12,
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=5))
def test_json_documents_load_as_the_same_data(data: dict[str, object]) -> None:
    """JSON is YAML 1.2: every JSON object must load back unchanged (types included)."""
    for text in (
        json.dumps(data, ensure_ascii=False),
        json.dumps(data, ensure_ascii=False, indent=2),
    ):
        loaded = parse(text.encode())
        assert _typed(loaded) == _typed(data)


def _typed(value: object) -> object:
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value == 0:
        return ("float", 0.0)
    return (type(value).__name__, value)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200)
    | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))
)
def test_any_input_parses_or_is_refused_with_a_position(raw: bytes) -> None:
    try:
        data = parse(raw)
    except YamlError as error:
        assert error.line >= 1 and error.col >= 1
    else:
        assert isinstance(data, dict)
        assert set(locate(raw)) >= {(k,) for k in data}


@pytest.mark.parametrize(
    "text",
    [
        "&root\na: 1\n",
        "a: !!str &x v\n",
        "a: [1, &x 2]\n",
        "a: {b: &x 1}\n",
        "a: {b: 1,c: &x 2}\n",
        "a:\n  - &x 1\n",
        "? &x k\n: v\n",
        "a: &x\n  b: 1\n",
        "a: [?&x k]\n",
        "a: {'q':&x v}\n",
        "a: [ &x -1]\n",
    ],
)
def test_an_anchor_anywhere_is_refused(text: str) -> None:
    assert "anchor" in refused(text).message


@pytest.mark.parametrize(
    "text",
    ['cron: "0 6 * * 1-5"\n', "name: R&D Utilities\n", "rule: a*b & c\n", "x: '&nbsp;'\n"],
)
def test_ampersands_and_stars_in_values_are_plain_text(text: str) -> None:
    from int360apply.yamlio import parse

    assert isinstance(parse(text.encode()), dict)


@pytest.mark.slow
def test_the_anchor_prefilter_never_misses_one_libyaml_sees() -> None:
    """Files without a possible anchor skip the second pass over their events: on
    random token soup, every text in which libyaml reports an anchor or alias must be
    one the prefilter sends to that pass."""
    import random

    import yaml

    from int360apply.yamlio import _MAYBE_ANCHOR

    tokens = [
        *("a", "b", "0", "~", "'q'", '"q"', "&x", "*x", "&x ", "*x ", "&", "*"),
        *(":", ": ", "- ", "-", "? ", "?", "!t ", "!!str ", "!", "|", ">", "|\n  ", ">\n  "),
        *("[", "]", "{", "}", ",", ", ", " ", "  ", "\n", "#c", "---\n", "...\n", "<<", "%"),
        *("[?", "{?", "'q':", '"q":', "[-", "!t", "|-", ">-"),
    ]
    rng = random.Random(360)
    anchored = 0
    for _ in range(60_000):
        text = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 14)))
        try:
            events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            continue
        if any(getattr(e, "anchor", None) is not None for e in events):
            anchored += 1
            assert _MAYBE_ANCHOR.search(text), repr(text)
    assert anchored > 500
