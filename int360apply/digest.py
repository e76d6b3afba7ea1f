"""The digest of every input that decides what a plan writes.

A saved plan records it; ``apply --plan`` works it out again and refuses a plan
whose inputs moved. It covers, in this order: the int360 version and the
applier's own code (a development build whose code changed without a version
bump is another applier), every file of ``schemas/``, ``partners/_defaults.yaml``,
and the partner and biller files of the billers planned, by path. Only the
billers planned: a plan for one biller stays valid while another biller's file
changes, and the check against a fresh plan still compares what is written.

Line endings are normalised, so a checkout with CRLF endings binds the same.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import __version__
from .config import Config
from .repo import DEFAULTS

PREFIX = "sha256:"
_PACKAGE = Path(__file__).resolve().parent


def inputs_digest(config: Config, bids: Iterable[int]) -> str:
    """``sha256:HEX`` over the inputs of the billers ``bids`` (each must have a file)."""
    digest = hashlib.sha256()
    for name, content in _inputs(config, sorted(set(bids))):
        # Name and length before the content: no two different input sets hash alike.
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return PREFIX + digest.hexdigest()


def _inputs(config: Config, bids: list[int]) -> Iterator[tuple[str, bytes]]:
    yield "int360", __version__.encode()
    yield "int360apply code", code_digest().encode()
    root = config.repo.root
    schema_dir = config.repo.schema_dir
    if schema_dir.is_dir():
        for path in sorted(p for p in schema_dir.rglob("*") if p.is_file()):
            yield path.relative_to(root).as_posix(), _read(str(path))
    # Plain strings, not Path objects: at 10,000 billers, building Paths costs more
    # than reading the files.
    top = str(root)
    yield DEFAULTS, _read(os.path.join(top, DEFAULTS))
    billers = [config.billers[bid] for bid in bids]
    for slug in sorted({b.partner for b in billers}):
        partner = config.partners.get(slug)
        if partner is not None:
            yield partner.doc.path, _read(os.path.join(top, partner.doc.path))
    for biller in billers:
        yield biller.doc.path, _read(os.path.join(top, biller.doc.path))


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read().replace(b"\r\n", b"\n")
    except FileNotFoundError:
        return b"\0missing"


@functools.cache
def code_digest() -> str:
    """sha256 of the applier's Python sources and data files, by relative path."""
    digest = hashlib.sha256()
    for path in sorted(_code_files(_PACKAGE)):
        content = _read(str(path))
        digest.update(f"{path.relative_to(_PACKAGE).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _code_files(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        if (
            path.is_file()
            and path.suffix in (".py", ".json", ".yaml")
            and ("__pycache__" not in path.parts)
        ):
            yield path
