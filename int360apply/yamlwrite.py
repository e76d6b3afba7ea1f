"""The only module that writes YAML: biller files (round-trip, so comments survive) and
the settings ``render`` prints. YAML 1.2 through ruamel, and a string is quoted whenever
a YAML 1.1 tool, a YAML 1.2 tool or this project's own reader would take it for
anything but a string (``"0o17"``, ``".5e3"``, ``"13:30"``, ``"yes"``)."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver

from .yamlio import STR, plain_tag

MODELINE = "# yaml-language-server: $schema=../schemas/biller.schema.json\n"


_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))


def needs_quotes(text: str) -> bool:
    """Whether ``text`` written plain would read back as something other than a string
    under YAML 1.1, YAML 1.2 or ``yamlio``."""
    if plain_tag(text) != STR:
        return True
    return any(str(r.resolve(ScalarNode, text, (True, False))) != STR for r in _RESOLVERS)


def _represent_str(representer: RoundTripRepresenter, data: str) -> Any:
    if needs_quotes(data):
        return representer.represent_scalar(STR, data, style="'")
    return representer.represent_str(data)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.version = None  # no %YAML directive; the files are YAML 1.2 by convention
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    # ``null`` removes an inherited value: write it out, not as an empty value.
    yaml.representer.add_representer(
        type(None), lambda rep, _data: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    yaml.representer.add_representer(str, _represent_str)
    return yaml


def settings_text(settings: Mapping[str, Any]) -> str:
    """Block-style YAML of merged settings, in their own key order."""
    stream = io.StringIO()
    _yaml().dump(_commented(settings), stream)
    return stream.getvalue()


def _commented(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _commented(item)
        return out
    if isinstance(value, list):
        return [_commented(v) for v in value]
    return value


def biller_text(
    bid: int, name: str, partner: str, integrator_id: int | None, overrides: Mapping[str, Any]
) -> str:
    """A new biller file, modeline first, keys in the biller schema's order."""
    data = CommentedMap()
    data["bid"] = bid
    data["name"] = name
    data["partner"] = partner
    if integrator_id is not None:
        data["integrator_id"] = integrator_id
    if overrides:
        data["overrides"] = _commented(overrides)
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return MODELINE + stream.getvalue()


def _update(target: CommentedMap, new: Mapping[str, Any]) -> None:
    """Make ``target`` equal ``new`` in place, keeping comments of keys that stay."""
    for key in [k for k in target if k not in new]:
        del target[key]
    order = list(new)
    for key, value in new.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, CommentedMap):
            _update(current, value)
        elif key in target:
            if current != value:
                target[key] = _commented(value)
        else:
            position = sum(1 for k in target if k in order and order.index(k) < order.index(key))
            target.insert(position, key, _commented(value))


def overrides_text(path: Path, overrides: Mapping[str, Any]) -> str:
    """A biller file's text with its ``overrides`` replaced (comments and the rest kept)."""
    yaml = _yaml()
    data = yaml.load(path.read_text(encoding="utf-8"))
    if overrides:
        if isinstance(data.get("overrides"), CommentedMap):
            _update(data["overrides"], overrides)
        else:
            data["overrides"] = _commented(overrides)
    elif "overrides" in data:
        del data["overrides"]
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename: never a partial file."""
    write_atomic_chunks(path, (text,))


def write_atomic_chunks(path: Path, chunks: Iterable[str]) -> None:
    """``write_atomic`` of text that comes in pieces (written as they come, never joined).

    The temporary file exists before the first piece is asked for, so a folder
    that cannot be written fails before any work.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
