"""Fixtures of the hygiene tests: the applier's 14-biller workspace (see ``apply._support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apply._support import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """The 14-biller fixture repository, committed; runs use the embedded sandbox."""
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    workspace.close()
