"""Fixtures of the end-to-end applier tests (see ``_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._support import FIXTURE_BILLERS, MakeWorkspace, Workspace


@pytest.fixture
def make_ws(tmp_path: Path) -> Iterator[MakeWorkspace]:
    """Build workspaces (each its own git repository under ``tmp_path``); sandboxes
    they started are stopped at the end of the test."""
    made: list[Workspace] = []

    def make(billers: tuple[str, ...] = FIXTURE_BILLERS, name: str = "ws") -> Workspace:
        ws = Workspace(tmp_path / name, billers)
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.close()


@pytest.fixture
def ws(make_ws: MakeWorkspace) -> Workspace:
    """The 14-biller fixture repository, committed; runs use the embedded sandbox."""
    return make_ws()
