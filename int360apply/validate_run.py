"""``validate`` as a command runs it: which files to load for the paths given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .config import load_config
from .model import Location, Problem
from .repo import Repo
from .validate import validate


def run_validate(repo: Repo, paths: Sequence[Path] | None) -> list[Problem]:
    """Validate the whole repo, or the given files with what they need."""
    if paths is None:
        return validate(load_config(repo))
    billers: list[Path] = []
    outside: list[Problem] = []
    whole = False
    for path in paths:
        rel = repo.rel(path)
        kind = repo.kind_of(rel)
        if not path.exists():
            outside.append(Problem(Location(rel), "yaml", "no such file"))
        elif kind == "biller":
            billers.append(path)
        elif kind in ("partner", "defaults"):
            whole = True  # a template change concerns every biller that uses it
        elif rel.startswith("schemas/"):
            whole = True
        else:
            outside.append(
                Problem(
                    Location(rel),
                    "filename",
                    "not a partner or biller file (expected partners/*.yaml or billers/*.yaml)",
                )
            )
    config = load_config(repo, None if whole else billers)
    return sorted(set(validate(config)) | set(outside))
