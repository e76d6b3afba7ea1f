"""The only module that writes YAML: biller files, round-trip so comments survive."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

MODELINE = "# yaml-language-server: $schema=../schemas/biller.schema.json\n"


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
    return yaml


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


def rewrite_overrides(path: Path, overrides: Mapping[str, Any]) -> None:
    """Replace a biller file's ``overrides`` (comments and the rest of the file kept)."""
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
    write_atomic(path, stream.getvalue())


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
