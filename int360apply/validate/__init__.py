"""One validation pipeline: the file stage (``files``), the cross-file stage
(``crossfile``), the per-biller stage (``billers``). ``registry.RULES`` names the
functions behind each rule id; ``validate_run`` decides which files to judge."""

from __future__ import annotations

from ..config import Config
from ..model import Problem
from .billers import biller_problems, billers_problems
from .crossfile import cross_file_problems
from .files import check_file, stray_problems
from .registry import RULES

__all__ = [
    "RULES",
    "biller_problems",
    "biller_text_problems",
    "billers_problems",
    "check_file",
    "cross_file_problems",
    "stray_problems",
    "validate",
]


def validate(config: Config, *, fast: bool = True) -> list[Problem]:
    """Every problem of the loaded repository, sorted and without repeats: the file
    stage's (found while loading), then the cross-file and per-biller stages'.
    ``fast``: see ``biller_problems``."""
    problems = list(config.problems)
    problems += cross_file_problems(config, config.biller_docs)
    problems += billers_problems(config, fast=fast)
    return sorted(set(problems))


def biller_text_problems(config: Config, rel: str, text: str) -> list[Problem]:
    """Every problem the biller file ``rel`` would have with ``text`` as its contents:
    its own (YAML, schema, file name, literal secrets) and those of its merge. For a
    writer (import, drift --adopt) that must never leave the repository invalid."""
    from pathlib import Path

    from .. import yamlio
    from ..load import biller_of
    from .files import content_problems, filename_problems

    loaded = yamlio.load_text(text, rel)
    if isinstance(loaded, Problem):
        return [loaded]
    problems = filename_problems(loaded, "biller", Path(rel).stem)
    problems += content_problems(config.schemas, "biller", loaded)
    biller = biller_of(loaded)
    if biller is not None and not problems:
        problems += biller_problems(config, biller)
    return sorted(set(problems))
