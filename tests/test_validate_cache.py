"""The warm cache of ``int360 validate``: a settled, unchanged repository is answered
from ``.int360/validate-cache.json``; any change to a biller, partner, ``_defaults.yaml``
or schema file (even a same-size rewrite with its mtime put back) is seen.

To tell a cache hit from a fresh verdict, the tests plant a problem in the cache that
no file has: it is printed only when the cache answered.
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

pytestmark = pytest.mark.slow  # real processes and files settling past the racy-clean window

if TYPE_CHECKING:
    from conftest import RunModule

CACHE = ".int360/validate-cache.json"
PLANTED: dict[str, Any] = {
    "path": "billers/planted.yaml",
    "line": 1,
    "col": 1,
    "rule": "yaml",
    "message": "planted in the cache by the test",
}


def _settle(root: Path) -> None:
    """Date every file of the repository 10 s back, as if nobody had touched it lately."""
    past = time.time_ns() - 10_000_000_000
    for path in root.rglob("*"):
        if path.is_file() and ".int360" not in path.parts:
            os.utime(path, ns=(past, past))


def _validate(run: RunModule, root: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    done = run("--repo", str(root), "validate", "--format", "json", *args, cwd=root)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)["problems"]


def _plant(root: Path) -> None:
    cache = root / CACHE
    data = json.loads(cache.read_text(encoding="utf-8"))
    data["problems"] = [PLANTED]
    cache.write_text(json.dumps(data), encoding="utf-8")


def _rewrite_same_size_same_mtime(root: Path) -> None:
    rewrite_keeping_size_and_mtime(root / "billers" / "104233.yaml")


def _append(rel: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        with (root / rel).open("a", encoding="utf-8") as handle:
            handle.write(text)

    return change


def _copy(src: str, dest: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        shutil.copy(root / src, root / dest)

    return change


CHANGES: dict[str, Callable[[Path], object]] = {
    "biller rewritten, same size, mtime put back": _rewrite_same_size_same_mtime,
    "biller edited": _append("billers/104233.yaml", "# reviewed\n"),
    "biller made invalid": _append("billers/104233.yaml", "unknown_key: 1\n"),
    "biller added": _copy("billers/104233.yaml", "billers/104233-copy.yaml"),
    "biller deleted": lambda root: (root / "billers" / "104233.yaml").unlink(),
    "biller renamed": lambda root: (root / "billers" / "104233.yaml").rename(
        root / "billers" / "104233-springfield.yaml"
    ),
    "partner edited": _append("partners/bsa.yaml", "# reviewed\n"),
    "partner added": _copy("partners/bsa.yaml", "partners/bsa-copy.yaml"),
    "partner deleted": lambda root: (root / "partners" / "bsa.yaml").unlink(),
    "defaults edited": _append("partners/_defaults.yaml", "# reviewed\n"),
    "schema edited": _append("schemas/settings.schema.json", "\n"),
}


def test_a_settled_unchanged_repository_is_answered_from_the_cache(
    tmp_repo: Any, int360_subprocess: RunModule
) -> None:
    root = tmp_repo.root
    _settle(root)
    assert _validate(int360_subprocess, root) == (0, [])
    assert (root / CACHE).is_file()
    _plant(root)
    assert _validate(int360_subprocess, root) == (1, [PLANTED])
    # --careful never reads the cache.
    assert _validate(int360_subprocess, root, "--careful") == (0, [])


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_any_change_invalidates_the_cache(
    change: str, tmp_repo: Any, int360_subprocess: RunModule
) -> None:
    root = tmp_repo.root
    _settle(root)
    assert _validate(int360_subprocess, root)[0] == 0
    _plant(root)
    CHANGES[change](root)
    _settle(root)  # even a change dated in the past is seen
    fresh = _validate(int360_subprocess, root)
    assert PLANTED not in fresh[1], "the cache answered for a changed repository"
    assert fresh == _validate(int360_subprocess, root, "--careful")


@pytest.mark.parametrize("stray", ["billers/104233-copy.yml", "billers/old/104233.yaml"])
def test_a_stray_file_added_in_the_past_invalidates_the_cache(
    stray: str, tmp_repo: Any, int360_subprocess: RunModule
) -> None:
    """A .yml file or a file in a sub-folder of billers/ is a problem the cache must not
    hide, even dated in the past (only it, so no other file's stat changes)."""
    root = tmp_repo.root
    _settle(root)
    assert _validate(int360_subprocess, root)[0] == 0
    _plant(root)
    target = root / stray
    target.parent.mkdir(exist_ok=True)
    shutil.copy(root / "billers" / "104233.yaml", target)
    past = time.time_ns() - 20_000_000_000
    os.utime(target, ns=(past, past))
    os.utime(target.parent, ns=(past, past))
    code, problems = _validate(int360_subprocess, root)
    assert PLANTED not in problems, "the cache answered for a changed repository"
    assert code == 1 and [(p["path"], p["rule"]) for p in problems] == [(stray, "filename")]


def test_a_file_changed_just_now_is_not_cached(tmp_repo: Any, int360_subprocess: RunModule) -> None:
    """A file written in the same instant as the run could change again without a visible
    stat change, so a verdict over a tree that changed in the last seconds is not kept."""
    root = tmp_repo.root
    _settle(root)
    (root / "billers" / "104233.yaml").touch()
    assert _validate(int360_subprocess, root) == (0, [])
    assert not (root / CACHE).exists()


def test_an_unreadable_or_corrupt_cache_is_ignored(
    tmp_repo: Any, int360_subprocess: RunModule
) -> None:
    root = tmp_repo.root
    _settle(root)
    (root / ".int360").mkdir()
    (root / CACHE).write_text("{not json", encoding="utf-8")
    assert _validate(int360_subprocess, root) == (0, [])
    assert json.loads((root / CACHE).read_text(encoding="utf-8"))["problems"] == []


def test_plan_takes_the_verdict_from_the_cache_and_sees_a_change(
    tmp_repo: Any, int360_subprocess: RunModule
) -> None:
    """plan (like apply and drift) refuses an invalid repository; the verdict comes from
    the cache when nothing changed, and from the files when anything did."""
    root = tmp_repo.root
    _settle(root)
    assert _validate(int360_subprocess, root)[0] == 0
    _plant(root)
    planned = int360_subprocess("--repo", str(root), "plan", cwd=root)
    assert planned.returncode == 1
    assert PLANTED["message"] in planned.stderr  # the cached verdict was used
    _append("billers/104233.yaml", "unknown_key: 1\n")(root)
    _settle(root)
    planned = int360_subprocess("--repo", str(root), "plan", cwd=root)
    assert planned.returncode == 1
    assert PLANTED["message"] not in planned.stderr
    assert "billers/104233.yaml" in planned.stderr and "unknown_key" in planned.stderr


def test_a_plan_from_a_valid_cache_equals_a_plan_from_the_files(
    tmp_repo: Any, int360_subprocess: RunModule
) -> None:
    """With a valid verdict cached, plan loads the files without checking them again;
    what it plans is exactly what a plan that checks everything plans."""
    root = tmp_repo.root
    _settle(root)
    assert _validate(int360_subprocess, root) == (0, [])
    trusted = int360_subprocess("--repo", str(root), "plan", "--format", "json", cwd=root)
    shutil.rmtree(root / ".int360")
    checked = int360_subprocess("--repo", str(root), "plan", "--format", "json", cwd=root)
    assert trusted.returncode == checked.returncode == 2, trusted.stderr + checked.stderr
    assert json.loads(trusted.stdout)["billers"] == json.loads(checked.stdout)["billers"]


def test_a_file_changed_while_plan_loads_is_validated_afresh(
    tmp_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached verdict covers the files as fingerprinted before loading; a file that
    changes during the (trusted) load is loaded again and checked."""
    from int360apply import validate_run
    from int360apply.repo import Repo

    root = tmp_repo.root
    _settle(root)
    repo = Repo(root)
    assert validate_run.run_validate(repo, None) == []
    assert (root / CACHE).is_file()
    from int360apply.cache import verdict

    real_load = verdict.load_config
    calls: list[bool] = []

    def load_then_edit(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["options"].trusted)
        config = real_load(*args, **kwargs)
        if len(calls) == 1:  # someone saves a file just as the first load finishes
            _append("billers/104233.yaml", "unknown_key: 1\n")(root)
        return config

    monkeypatch.setattr(verdict, "load_config", load_then_edit)
    _config, problems = validate_run.validated_config(repo)
    assert calls == [True, False]
    assert [(p.location.path, p.rule) for p in problems] == [("billers/104233.yaml", "schema")]
