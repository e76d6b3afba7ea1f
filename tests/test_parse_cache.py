"""The parse cache of ``plan``/``apply``/``drift`` (``.int360/parse-cache.json``): an
unchanged biller file is not parsed again, and any change to one is seen.

To tell a cache hit from a parse, the tests plant a biller name in the cache that no
file has: it shows only when the cache answered.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import rewrite_keeping_size_and_mtime

from int360apply import load as load_module
from int360apply.config import Config
from int360apply.load import LoadOptions, load_config
from int360apply.repo import Repo
from int360apply.validate_run import validated_config

if TYPE_CHECKING:
    from conftest import RunModule

CACHE = ".int360/parse-cache.json"
FILE = "billers/104233.yaml"
PLANTED = "Planted By The Test"


def _settle(root: Path) -> None:
    """Date every file 10 s back, as if nobody had touched it lately."""
    past = time.time_ns() - 10_000_000_000
    for path in root.rglob("*"):
        if path.is_file() and ".int360" not in path.parts:
            os.utime(path, ns=(past, past))


def _plant(root: Path, rel: str = FILE) -> None:
    cache = root / CACHE
    data = json.loads(cache.read_text(encoding="utf-8"))
    data["files"][rel]["data"]["name"] = PLANTED
    cache.write_text(json.dumps(data), encoding="utf-8")


def _names(config: Config) -> dict[int, str]:
    return {bid: biller.name for bid, biller in config.billers.items()}


def _snapshot(config: Config) -> dict[str, Any]:
    """What a plan uses of each biller file: its data and every position."""
    return {
        b.doc.path: (b.doc.data, b.doc.positions, b.overrides)
        for b in config.billers.values()
        if b.doc is not None
    }


def _loaded(root: Path) -> Config:
    config, problems = validated_config(Repo(root), positions=True)
    assert problems == []
    return config


def _rewrite_same_size_same_mtime(root: Path) -> None:
    rewrite_keeping_size_and_mtime(root / FILE)


def _replace(root: Path) -> None:
    """Another file takes the name (and maybe the inode number) of the cached one."""
    (root / FILE).unlink()
    shutil.copy(root / "billers/200145.yaml", root / "billers/200145-copy.yaml")
    (root / "billers/200145.yaml").unlink()
    text = (root / "billers/200145-copy.yaml").read_text(encoding="utf-8")
    (root / FILE).write_text(text.replace("200145", "104233"), encoding="utf-8")


def _append(text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        with (root / FILE).open("a", encoding="utf-8") as handle:
            handle.write(text)

    return change


CHANGES: dict[str, Callable[[Path], object]] = {
    "rewritten, same size, mtime put back": _rewrite_same_size_same_mtime,
    "a comment added": _append("# reviewed\n"),
    "renamed": lambda root: (root / FILE).rename(root / "billers/104233-springfield.yaml"),
    "replaced by another file": _replace,
}


def test_an_unchanged_file_is_taken_from_the_cache(tmp_repo: Any) -> None:
    root = tmp_repo.root
    _settle(root)
    first = _loaded(root)
    assert (root / CACHE).is_file()
    _plant(root)
    assert _names(_loaded(root))[104233] == PLANTED
    assert _names(first)[104233] != PLANTED


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_any_change_to_a_file_is_seen(change: str, tmp_repo: Any) -> None:
    root = tmp_repo.root
    _settle(root)
    _loaded(root)
    _plant(root)
    CHANGES[change](root)
    _settle(root)  # even a change dated in the past is seen
    cached = _loaded(root)
    assert PLANTED not in _names(cached).values()
    assert _snapshot(cached) == _snapshot(
        load_config(Repo(root), options=LoadOptions(positions=True))
    )


def test_documents_and_positions_from_the_cache_equal_a_parse(tmp_repo: Any) -> None:
    root = tmp_repo.root
    _settle(root)
    parsed = _snapshot(_loaded(root))
    cached_config = _loaded(root)
    assert all(  # really from the cache: positions not yet worked out
        b.doc is not None and b.doc._positions is None for b in cached_config.billers.values()
    )
    assert _snapshot(cached_config) == parsed
    assert len(parsed) == len(list((root / "billers").glob("*.yaml")))


def test_a_file_changed_just_now_is_not_cached(tmp_repo: Any) -> None:
    root = tmp_repo.root
    _settle(root)
    (root / FILE).touch()
    _loaded(root)
    files = json.loads((root / CACHE).read_text(encoding="utf-8"))["files"]
    assert FILE not in files
    assert "billers/200145.yaml" in files


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"code": "another parser", "files": {}}', "[]", '{"code": 1, "files": 3}'],
)
def test_a_corrupt_or_foreign_cache_is_ignored_and_replaced(tmp_repo: Any, content: str) -> None:
    root = tmp_repo.root
    _settle(root)
    expected = _snapshot(_loaded(root))
    (root / CACHE).write_text(content, encoding="utf-8")
    assert _snapshot(_loaded(root)) == expected
    assert FILE in json.loads((root / CACHE).read_text(encoding="utf-8"))["files"]


def test_a_malformed_entry_is_a_miss(tmp_repo: Any) -> None:
    root = tmp_repo.root
    _settle(root)
    expected = _snapshot(_loaded(root))
    data = json.loads((root / CACHE).read_text(encoding="utf-8"))
    data["files"][FILE]["positions"] = None
    data["files"]["billers/200145.yaml"] = "nonsense"
    (root / CACHE).write_text(json.dumps(data), encoding="utf-8")
    assert _snapshot(_loaded(root)) == expected


def test_entries_of_deleted_files_are_dropped(tmp_repo: Any) -> None:
    root = tmp_repo.root
    _settle(root)
    _loaded(root)
    (root / FILE).unlink()
    _loaded(root)
    assert FILE not in json.loads((root / CACHE).read_text(encoding="utf-8"))["files"]


def test_a_file_written_while_it_is_read_is_parsed_again_next_time(
    tmp_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache keys a document by the file's stat from before the read, so an edit
    that lands during the read leaves an entry that never matches again."""
    root = tmp_repo.root
    _settle(root)
    real = load_module.yamlio.load_document

    def read_then_edit(path: Path, rel: str, **kwargs: Any) -> Any:
        doc = real(path, rel, **kwargs)
        if rel == FILE:
            _append("name_note: edited during the read\n")(root)
            past = time.time_ns() - 10_000_000_000
            os.utime(path, ns=(past, past))
        return doc

    monkeypatch.setattr(load_module.yamlio, "load_document", read_then_edit)
    validated_config(Repo(root), positions=True)
    monkeypatch.undo()
    config, problems = validated_config(Repo(root), positions=True)
    assert [(p.location.path, p.rule) for p in problems] == [(FILE, "schema")]
    assert "name_note" in config.billers[104233].doc.data  # type: ignore[union-attr]


@pytest.mark.slow
def test_plan_with_the_cache_equals_plan_without(
    tmp_repo: Any, int360_subprocess: RunModule
) -> None:
    root = tmp_repo.root
    _settle(root)

    def plan() -> Any:
        done = int360_subprocess("--repo", str(root), "plan", "--format", "json", cwd=root)
        assert done.returncode == 2, done.stderr
        return json.loads(done.stdout)["billers"]

    fresh = plan()
    assert (root / CACHE).is_file()
    assert plan() == fresh


def _while_planning(monkeypatch: pytest.MonkeyPatch, probe: Callable[[], Any]) -> list[Any]:
    """What ``probe`` returns each time a command starts planning, as a list that fills."""
    from int360apply import engine

    seen: list[Any] = []
    real_plan = engine.plan

    def observe(*args: Any, **kwargs: Any) -> Any:
        seen.append(probe())
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(engine, "plan", observe)
    return seen


def test_a_command_run_in_process_leaves_nothing_frozen(
    tmp_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan/apply/drift move their loaded config out of the garbage collector's way
    while they run, and hand it back when ``main`` returns."""
    import gc

    frozen = _while_planning(monkeypatch, gc.get_freeze_count)
    _settle(tmp_repo.root)
    assert tmp_repo.run("plan").code == 2
    assert frozen and frozen[0] > 0
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("positions", ["[1]", '[[["bid"], "x", 1, 2, 3]]', "{}", "not json"])
def test_malformed_cached_positions_are_worked_out_from_the_file(
    tmp_repo: Any, positions: str
) -> None:
    root = tmp_repo.root
    _settle(root)
    expected = _snapshot(_loaded(root))
    data = json.loads((root / CACHE).read_text(encoding="utf-8"))
    data["files"][FILE]["positions"] = positions
    (root / CACHE).write_text(json.dumps(data), encoding="utf-8")
    assert _snapshot(_loaded(root)) == expected


def test_apply_run_in_process_puts_the_switch_interval_back(
    tmp_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """apply switches threads every ``IO_SWITCH_INTERVAL`` while it runs, and restores
    the caller's interval when it returns."""
    import sys

    from int360apply.crm import IO_SWITCH_INTERVAL

    during = _while_planning(monkeypatch, sys.getswitchinterval)
    before = sys.getswitchinterval()
    assert before != IO_SWITCH_INTERVAL
    assert tmp_repo.run("apply", "--yes").code == 0
    assert during == [IO_SWITCH_INTERVAL]
    assert sys.getswitchinterval() == before
