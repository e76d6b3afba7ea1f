"""The YAML reader of every load (``yamlwrite`` writes, and re-reads a file it edits).

Files are read with YAML 1.2 core-schema semantics on top of libyaml: ``yes``,
``no``, ``on``, ``off`` and dates stay strings. Duplicate keys, tabs, anchors and
aliases, non-mappings, non-UTF-8 and files over 256 KiB are refused.

Two ways to build a document from the same node tree keep the fast path fast:
``load`` builds plain data only; ``locate`` builds the position table of every
key and value, and runs only when a position is actually needed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml import nodes as ynodes

from .model import Document, Location, Path_, Positions, Problem

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_DIGITS = 100  # an integer literal longer than this is refused

try:  # libyaml is part of PyYAML's wheels; the pure parser is the fallback
    from yaml._yaml import CParser as _Parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


class _Resolver12(yaml.resolver.BaseResolver):
    """Implicit tags of the YAML 1.2 core schema (no yes/no booleans, no timestamps)."""


_Resolver12.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _Resolver12.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


class _Composer(_Parser, _Resolver12):  # type: ignore[misc, valid-type]
    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        _Resolver12.__init__(self)


def plain_tag(text: str) -> str:
    """The tag this reader gives ``text`` written as a plain (unquoted) scalar: how a
    writer knows a string must be quoted to read back as a string."""
    tag: str = _PLAIN_RESOLVER.resolve(ynodes.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag


_PLAIN_RESOLVER = _Resolver12()

STR = "tag:yaml.org,2002:str"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"
_SCALARS = {
    STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class YamlError(Exception):
    """A file that is not acceptable YAML; carries the 1-based position."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def _scalar(node: ynodes.ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag == STR:
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value in ("true", "True", "TRUE")
    if tag == "tag:yaml.org,2002:int":
        if len(value) > MAX_DIGITS:
            # Python refuses to convert over 4,300 digits; no setting needs a tenth of that.
            raise YamlError(f"a number of {len(value)} digits is out of range", *_mark(node))
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)
    if tag == "tag:yaml.org,2002:float":
        lowered = value.lower()
        if lowered.endswith(("inf", "nan")):
            raise YamlError(f"'{value}' is not a finite number", *_mark(node))
        number = float(value)
        if number in (math.inf, -math.inf):  # 1e999 overflows to infinity
            raise YamlError(f"'{value}' is out of range (not a finite number)", *_mark(node))
        return number
    raise YamlError(f"the tag '{tag}' is not supported; write plain values", *_mark(node))


def _mark(node: ynodes.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(
    node: ynodes.Node, path: Path_, positions: Positions | None, seen: set[int], depth: int
) -> Any:
    if id(node) in seen:
        raise YamlError("aliases (*name) are refused; write the value out", *_mark(node))
    seen.add(id(node))
    if depth > MAX_DEPTH:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", *_mark(node))
    if isinstance(node, ynodes.ScalarNode):
        if node.tag not in _SCALARS:
            raise YamlError(
                f"the tag '{node.tag}' is not supported; write plain values", *_mark(node)
            )
        return _scalar(node)
    if node.tag not in (MAP, SEQ):
        raise YamlError(f"the tag '{node.tag}' is not supported; write plain values", *_mark(node))
    if isinstance(node, ynodes.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            if positions is not None:
                line, col = _mark(item)
                positions[item_path] = (line, col, line, col)
            items.append(_build(item, item_path, positions, seen, depth + 1))
        return items
    if isinstance(node, ynodes.MappingNode):
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if id(key_node) in seen:
                raise YamlError(
                    "aliases (*name) are refused; write the value out", *_mark(key_node)
                )
            seen.add(id(key_node))
            if not isinstance(key_node, ynodes.ScalarNode) or key_node.tag != STR:
                raise YamlError(
                    "keys must be plain strings (quote it if it looks like a number, "
                    "a boolean or null)",
                    *_mark(key_node),
                )
            key = key_node.value
            if key in out:
                raise YamlError(
                    f"duplicate key '{key}' (first set on line {first_line[key]}); "
                    "keep one of them",
                    *_mark(key_node),
                )
            first_line[key] = key_node.start_mark.line + 1
            child = (*path, key)
            if positions is not None:
                positions[child] = (*_mark(key_node), *_mark(value_node))
            out[key] = _build(value_node, child, positions, seen, depth + 1)
        return out
    raise YamlError("unsupported YAML node", *_mark(node))  # pragma: no cover


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise YamlError(f"file is over the limit of {MAX_BYTES} bytes (256 KiB)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlError("not valid UTF-8; save the file as UTF-8", line, col) from None
    if "\t" in text:
        index = text.index("\t")
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        raise YamlError(
            'tab character; indent with spaces (write "\\t" in a double-quoted string '
            "for a tab value)",
            line,
            col,
        )
    return text


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# Where an anchor (&name) or alias (*name) could start: at a line's start, after a
# space, a flow indicator or another indicator (libyaml takes "key":&a and [?&a]),
# and followed by a name character. Anything else with & or
# * in it ("0 6 * * 1-5", "R&D") needs no second pass over its events.
_MAYBE_ANCHOR = re.compile(r"(?:^|[\s\[\]{},:?!|>-])[&*][^\s\[\]{},]", re.MULTILINE)


def _check_anchors(text: str) -> None:
    """Refuse anchors even when never aliased (libyaml drops them from the node tree)."""
    if _MAYBE_ANCHOR.search(text) is None:
        return
    try:
        loader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
        for event in yaml.parse(text, Loader=loader):
            if getattr(event, "anchor", None) is not None:
                mark = event.start_mark
                line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                kind = (
                    "aliases (*name)" if isinstance(event, yaml.AliasEvent) else "anchors (&name)"
                )
                raise YamlError(f"{kind} are refused; write the value out", line, col)
    except yaml.YAMLError:
        return  # the composer reports syntax errors with their own message


def _root(text: str) -> ynodes.Node:
    _check_anchors(text)
    composer = _Composer(text)
    try:
        node = composer.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlError(f"not valid YAML: {what}", line, col) from None
    except yaml.reader.ReaderError as exc:
        line, col = _position(text, exc.position)
        raise YamlError(
            f"character {exc.character!r} is not allowed in YAML (control character)", line, col
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        composer.dispose()
    if node is None:
        raise YamlError("the file is empty; expected a mapping of keys")
    if not isinstance(node, ynodes.MappingNode):
        raise YamlError("expected a mapping of keys at the top level", *_mark(node))
    return node


def parse(raw: bytes) -> dict[str, Any]:
    """Parse one file's bytes into plain data, or raise ``YamlError``."""
    data: dict[str, Any] = _build(_root(_decode(raw)), (), None, set(), 0)
    return data


def locate(raw: bytes) -> Positions:
    """The position of every key and value of a file that ``parse`` accepts."""
    positions: Positions = {}
    _build(_root(_decode(raw)), (), positions, set(), 0)
    return positions


def load_document(path: Path, rel: str, *, positions: bool = False) -> Document | Problem:
    """Read and parse one file; a ``Problem`` of rule ``yaml`` when it is refused.

    ``positions``: record where every key and value is written in the same pass,
    for a caller that will ask for most files' positions (a plan of many changes);
    otherwise they are worked out by a second parse when first asked for.
    """
    try:
        if not path.is_file():
            return Problem(Location(rel), "yaml", "not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # enough to tell it is too big, never more
    except (OSError, RuntimeError) as exc:
        return Problem(
            Location(rel), "yaml", f"cannot read file: {getattr(exc, 'strerror', None) or exc}"
        )
    found: Positions | None = {} if positions else None
    try:
        data: dict[str, Any] = _build(_root(_decode(raw)), (), found, set(), 0)
    except YamlError as exc:
        return Problem(Location(rel, exc.line, exc.col), "yaml", exc.message)
    return Document(
        path=rel,
        data=data,
        suspicious=b"-----BEGIN" in raw,
        _positions=found,
        _locate=lambda: locate(raw),
    )


def load_text(text: str, rel: str) -> Document | Problem:
    """``load_document`` for text already in memory (file contents at a git revision)."""
    raw = text.encode("utf-8")
    try:
        data = parse(raw)
    except YamlError as exc:
        return Problem(Location(rel, exc.line, exc.col), "yaml", exc.message)
    return Document(
        path=rel, data=data, suspicious="-----BEGIN" in text, _locate=lambda: locate(raw)
    )
