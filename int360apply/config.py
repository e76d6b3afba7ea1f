"""What a repository's files say: ``Partner``, ``Biller`` and the ``Config`` holding them.

``load.load_config`` builds a ``Config``; ``validate`` judges it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from .desired import DesiredState
from .model import Biller, Document, Location, Partner, Path_, Problem
from .repo import Repo
from .schemas import Schemas

__all__ = ["Biller", "Config", "Partner"]


@dataclass
class Config:
    """Everything loaded from a repository, and the problems found file by file."""

    repo: Repo
    schemas: Schemas
    defaults: Document | None
    partners: dict[str, Partner]
    billers: dict[int, Biller]
    problems: list[Problem] = field(default_factory=list)
    biller_docs: dict[int, list[Document]] = field(default_factory=dict)  # bid -> its files
    broken_partners: set[str] = field(default_factory=set)
    flawed: set[int] = field(default_factory=set)  # billers whose file has its own problems

    @property
    def biller_paths(self) -> dict[int, list[str]]:
        """The repo-relative paths of the files of each bid (several: a duplicate)."""
        return {bid: [doc.path for doc in docs] for bid, docs in self.biller_docs.items()}

    @functools.cached_property
    def state(self) -> DesiredState:
        """The merged settings of the billers and where each value is written."""
        return DesiredState(self.defaults, self.partners)

    # The questions plans and checks ask, answered by ``state`` (kept here so callers
    # need not know it exists).

    def partner_base(self, slug: str) -> dict[str, Any]:
        """``_defaults`` merged with one partner's template (cached per partner)."""
        return self.state.partner_base(slug)

    def desired(self, biller: Biller) -> dict[str, Any]:
        """The merged settings of ``biller``."""
        return self.state.desired(biller)

    def provenance(self, biller: Biller) -> dict[Path_, Location]:
        """Where each leaf of ``desired(biller)`` is written."""
        return self.state.provenance(biller)

    def sources(self, biller: Biller) -> dict[Path_, str]:
        """``provenance`` as the ``file:line:col`` text plans show."""
        return self.state.sources(biller)
