"""Find the repository and its files; the git change scope."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import Int360Error

BILLER_STEM = re.compile(r"^(?P<bid>[0-9]+)(?:-[a-z0-9][a-z0-9-]*)?$")
DEFAULTS = "partners/_defaults.yaml"


class RepoError(Int360Error):
    """The repository cannot be found or read."""


@dataclass(frozen=True)
class Repo:
    """A configuration repository: the folder holding ``partners/`` and ``billers/``."""

    root: Path

    @property
    def schema_dir(self) -> Path:
        """Where the JSON Schemas live."""
        return self.root / "schemas"

    def rel(self, path: Path) -> str:
        """``path`` relative to the root, with forward slashes (as errors print it)."""
        # Files listed from the root are relative already; resolve only what came from outside.
        text, root = str(path), str(self.root)
        if text.startswith(root) and text[len(root) : len(root) + 1] == os.sep:
            return text[len(root) + 1 :].replace(os.sep, "/")  # relative_to, without its cost
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            pass
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def partner_files(self) -> list[Path]:
        """``partners/*.yaml`` without ``_defaults.yaml``, sorted."""
        return sorted(
            p
            for p in (self.root / "partners").glob("*.yaml")
            if p.name != "_defaults.yaml" and _utf8(p.name)
        )

    def biller_files(self) -> list[Path]:
        """``billers/*.yaml``, sorted (names that are not UTF-8 are ``stray_files``)."""
        folder = self.root / "billers"
        # One folder: sorting the names sorts the paths, at a fraction of Path's cost.
        names = sorted(
            n for n in os.listdir(folder) if fnmatch.fnmatchcase(n, "*.yaml") and _utf8(n)
        )
        return [folder / n for n in names]

    def stray_files(self) -> list[tuple[str, str]]:
        """Files in ``partners/`` or ``billers/`` that look like configuration but are
        never loaded: ``(printable repo-relative path, why)``, sorted.

        Silently skipping them would let ``validate`` say valid while a biller is never
        planned: ``.yml`` or ``.YAML`` names, files in sub-folders, names not in UTF-8.
        """
        found: list[tuple[str, str]] = []
        for folder in ("partners", "billers"):
            top = self.root / folder
            # scandir: the entries' types come with the listing (no stat per file, which
            # at 10,000 billers cost 65 ms of every run's fingerprint).
            with os.scandir(top) as entries:
                listed = [(e.name, _is_dir(e), e.is_symlink()) for e in entries]
            for name, is_dir, is_link in listed:
                if name.startswith("."):
                    continue  # editors' and our own temporary files
                shown = f"{folder}/{printable(name)}"
                path = top / name
                if not _utf8(name):
                    found.append((shown, "the file name is not valid UTF-8; rename the file"))
                elif is_dir and is_link and not _yaml_like(name):
                    found.append(
                        (
                            shown,
                            f"a link to a folder is not read; {folder[:-1]} files live "
                            f"directly in {folder}/",
                        )
                    )
                elif is_dir and not is_link:
                    found += [
                        (
                            f"{folder}/{inner}",
                            f"{folder[:-1]} files live directly in {folder}/, "
                            f"not in a sub-folder; move it to {folder}/{inner.rsplit('/', 1)[-1]}",
                        )
                        for inner in _yaml_like_inside(path)
                    ]
                elif _yaml_like(name) and not name.endswith(".yaml"):
                    stem = name.rsplit(".", 1)[0]
                    found.append(
                        (
                            shown,
                            f"the file name must end in .yaml; rename it to {folder}/"
                            f"{printable(stem)}.yaml",
                        )
                    )
        return sorted(found)

    def kind_of(self, rel: str) -> str | None:
        """``defaults``, ``partner``, ``biller`` or None for a repo-relative path."""
        if rel == DEFAULTS:
            return "defaults"
        folder, _, name = rel.partition("/")
        if "/" in name or not name.endswith(".yaml"):
            return None
        if folder == "partners":
            return "partner"
        if folder == "billers":
            return "biller"
        return None


def printable(name: str) -> str:
    """A file name as it can be printed: bytes that are not UTF-8 as ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """``entry`` is a folder or a link to one; False where ``Path.is_dir`` says so too (a
    link loop, a dangling link)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _yaml_like(name: str) -> bool:
    return name.lower().endswith((".yaml", ".yml"))


def _yaml_like_inside(folder: Path) -> list[str]:
    """Files below ``folder`` whose names look like YAML, relative to ``folder``'s parent."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath).relative_to(folder.parent).as_posix()
        found += [f"{printable(base)}/{printable(n)}" for n in filenames if _yaml_like(n)]
    return found


def find_repo(start: Path | None = None) -> Repo:
    """The nearest folder at or above ``start`` holding ``partners/`` and ``billers/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "partners").is_dir() and (folder / "billers").is_dir():
            return Repo(folder)
    raise RepoError(
        f"no Int360 repository at or above {here} (a folder holding partners/ and billers/); "
        "run inside one or pass --repo DIR"
    )


def open_repo(path: str | None) -> Repo:
    """``--repo DIR`` when given, else the repository found from the current directory."""
    if path is None:
        return find_repo()
    root = Path(path).resolve()
    if not ((root / "partners").is_dir() and (root / "billers").is_dir()):
        raise RepoError(f"{path} is not an Int360 repository (no partners/ and billers/ in it)")
    return Repo(root)


def biller_paths(repo: Repo, bid: int | str) -> list[Path]:
    """The files of biller ``bid``: ``billers/{bid}.yaml`` first, then ``{bid}-*.yaml``."""
    folder = repo.root / "billers"
    return sorted(folder.glob(f"{bid}.yaml")) + sorted(folder.glob(f"{bid}-*.yaml"))


def git_bytes(repo: Repo, *args: str, what: str | None = None) -> bytes:
    """Run git in the repository (the only place that does): its output as bytes.

    ``RepoError`` on failure, with git's last line of error, introduced by
    ``git WHAT`` (default: the arguments).
    """
    try:
        result = subprocess.run(["git", *args], cwd=repo.root, capture_output=True, check=False)
    except OSError as exc:
        raise RepoError(f"cannot run git: {exc}") from exc
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        label = what if what is not None else " ".join(args)
        raise RepoError(f"git {label}: {message[-1] if message else 'failed'}")
    return result.stdout


def git(repo: Repo, *args: str) -> str:
    """Run git in the repository; its output as text, ``RepoError`` on failure."""
    return git_bytes(repo, *args).decode("utf-8")
