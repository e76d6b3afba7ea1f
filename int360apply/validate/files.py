"""The file stage: each file's own problems (symlink, YAML, file name, literal
secrets, schema), judged one file at a time with no knowledge of the others."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..model import Document, Location, Path_, Problem
from ..repo import BILLER_STEM, DEFAULTS, Repo
from ..schemas import FastCheck, Schemas
from ..secrets import plaintext_secrets
from .schema_errors import document_problems

SETTINGS_AT: dict[str, Path_] = {
    "defaults": ("settings",),
    "partner": ("settings",),
    "biller": ("overrides",),
}

Reader = Callable[[Path, str], "Document | Problem"]
"""Reads one file into a document (or the ``yaml`` problem saying why it cannot)."""


def symlink_problems(repo: Repo, path: Path, kind: str) -> list[Problem]:
    """A ``filename`` problem when ``path`` is a symlink that leads nowhere or out of its folder."""
    if not path.is_symlink():
        return []
    rel = repo.rel(path)
    folder = "billers" if kind == "biller" else "partners"
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return [Problem(Location(rel), "filename", "a symlink that leads nowhere (or in a loop)")]
    if target.parent != (repo.root / folder).resolve():
        return [
            Problem(
                Location(rel),
                "filename",
                f"this file is a symlink to a file outside {folder}/; "
                f"keep {kind} files as real files in {folder}/",
            )
        ]
    return []


def check_file(
    repo: Repo,
    schemas: Schemas,
    path: Path,
    kind: str,
    read: Reader,
    *,
    trusted: bool = False,
    fast: FastCheck | None = None,
) -> tuple[Document | None, list[Problem]]:
    """The document of one file (None when it cannot be read) and its own problems.

    ``trusted``: the file was just found valid as it is (the validate cache says so):
    only its name is checked. ``fast``: a yes/no schema check that spares valid files
    the full validator; None runs the full validator on every file (``--careful``).
    """
    symlink = symlink_problems(repo, path, kind)
    if symlink:
        return None, symlink  # never read a file from outside the repository's folders
    loaded = read(path, repo.rel(path))
    if isinstance(loaded, Problem):
        return None, [loaded]
    doc = loaded
    at = SETTINGS_AT[kind]
    problems = filename_problems(doc, kind, Path(doc.path).stem)
    if trusted:
        return doc, problems
    if fast is not None and fast.document(kind, doc.data, str(at[0])) and not doc.suspicious:
        return doc, problems  # schema-valid: no literal can sit where a secret goes
    return doc, problems + content_problems(schemas, kind, doc)


def content_problems(schemas: Schemas, kind: str, doc: Document) -> list[Problem]:
    """The literal secrets of a document and its schema errors (those not about a secret)."""
    hits = list(plaintext_secrets(doc.data, schemas.secret_paths, SETTINGS_AT[kind]))
    problems = [Problem(doc.loc(p), "plaintext-secret", m) for p, m in hits]
    return problems + document_problems(schemas, kind, doc, [p for p, _ in hits])


def filename_problems(doc: Document, kind: str, stem: str) -> list[Problem]:
    """A ``filename`` problem when a partner's slug or a biller's bid disagrees with its file."""
    data = doc.data
    if kind == "partner" and isinstance(data.get("slug"), str) and data["slug"] != stem:
        return [
            Problem(
                doc.loc(("slug",)),
                "filename",
                f"slug '{data['slug']}' does not match the file name; rename the file to "
                f"partners/{data['slug']}.yaml or set slug: {stem}",
            )
        ]
    if kind == "biller":
        match = BILLER_STEM.match(stem)
        if match is None:
            return [
                Problem(
                    doc.loc(("bid",)),
                    "filename",
                    f"biller file name '{stem}.yaml' must be <bid>.yaml or <bid>-<words>.yaml "
                    "(lower-case words joined by -)",
                )
            ]
        bid = data.get("bid")
        if isinstance(bid, int) and not isinstance(bid, bool) and str(bid) != match["bid"]:
            return [
                Problem(
                    doc.loc(("bid",)),
                    "filename",
                    f"bid {bid} does not match the file name '{stem}.yaml'; the file must be "
                    f"billers/{bid}.yaml (or billers/{bid}-<words>.yaml)",
                )
            ]
    return []


def stray_problems(repo: Repo) -> list[Problem]:
    """A ``filename`` problem for each file ``Repo.stray_files`` finds (never loaded)."""
    return [Problem(Location(rel), "filename", why) for rel, why in repo.stray_files()]


def defaults_missing(repo: Repo) -> list[Problem]:
    """A ``yaml`` problem when ``partners/_defaults.yaml`` does not exist."""
    if (repo.root / DEFAULTS).exists():
        return []
    return [Problem(Location(DEFAULTS), "yaml", "partners/_defaults.yaml is missing")]
