"""A read-only ``CrmPort`` answering from the repository at a git revision.

``int360 diff`` is an ordinary plan of the working tree against this reader:
a biller's "live" settings are its merged desired settings at the revision,
secrets in the CRM's read form (``{secret: NAME, set: true}``), so a plan
compares them by name, as it does against a CRM. A biller with no valid file
at the revision (added since, or its partner or the defaults broken then)
reads as empty settings: every leaf of it is new. So does every biller at a
revision from before the first biller file (the first commit of a repository
that began with a README, say), whatever else it lacked.

Git keeps no CRM profiles. The reader is given them (``crmconn.profiles``:
one per biller file of the working tree, on the integrator ID the file
expects), so a plan against it is about settings alone.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..config import Config
from ..load import load_config
from ..repo import Repo, RepoError, git, git_bytes
from ..schemas import SCHEMA_FILES, SchemaSetupError
from ..secrets import with_references
from . import AuditNote, Note, Profile
from .errors import CrmError, NotFound
from .port import PatchRequest
from .results import BulkSettings, PatchResult, Versioned

# The folders a configuration is made of; the rest of the tree is not read.
CONFIG_FOLDERS = ("partners", "billers", "schemas")


class ReadOnlyError(CrmError):
    """A write asked of a git revision: a plan against one can be shown, not applied."""

    prefix = ""


class GitRevReader:
    """The desired settings of every biller at one commit, read as a CRM would answer."""

    def __init__(self, base: Config | None, commit: str, profiles: Iterable[Profile]) -> None:
        """``base``: the configuration loaded at ``commit`` (None: it had no biller
        files); ``profiles``: the billers the reader knows (see the module's docstring)."""
        self.base = base
        self.commit = commit
        self.profiles = {p.bid: p for p in profiles}
        # Git has no ETag: the commit is the version every biller's settings are at.
        self.etag = f'"{commit}"'

    @classmethod
    def at(cls, repo: Repo, ref: str, profiles: Iterable[Profile]) -> GitRevReader:
        """The reader of ``repo``'s configuration at ``ref`` (``RepoError`` if git cannot
        resolve or read it, or it has billers but not the schemas to read them)."""
        commit = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        with temp_tree(repo, commit) as folder:
            # Everything is read here: the configuration keeps no file open after loading.
            base = _config_at(Repo(Path(folder)), ref)
        return cls(base, commit, profiles)

    def settings_at(self, bid: int) -> dict[str, Any]:
        """``bid``'s merged settings at the commit in the CRM's read form ({} if none)."""
        base = self.base
        if base is None:  # no biller file at the commit
            return {}
        old = base.billers.get(bid)
        if old is None or old.partner not in base.partners or base.defaults is None:
            return {}
        return with_references(base.desired(old), base.schemas.secret_paths, read_form=True)

    def list_billers(self, integrator_id: int | None = None) -> Iterator[Profile]:
        """Every profile given (of ``integrator_id`` when given), by BID."""
        for bid in sorted(self.profiles):
            profile = self.profiles[bid]
            if integrator_id is None or profile.integrator_id == integrator_id:
                yield profile

    def get_biller(self, bid: int) -> Profile:
        """The profile given for ``bid``; ``NotFound`` if none was."""
        try:
            return self.profiles[bid]
        except KeyError:
            raise NotFound(f"git {self.commit[:12]}: no biller {bid}", status=404) from None

    def get_settings(self, bid: int) -> Versioned:
        """``bid``'s settings at the commit; ``NotFound`` for a biller without a profile."""
        self.get_biller(bid)
        return self._versioned(bid)

    def bulk_settings(self, bids: Iterable[int]) -> BulkSettings:
        """The settings of the ``bids`` with a profile; the others are missing."""
        return BulkSettings.gather(bids, self.profiles, self._versioned)

    def patch_settings(self, request: PatchRequest) -> PatchResult:
        """Refused: ``ReadOnlyError``."""
        raise self._read_only(f"PATCH /billers/{request.bid}/settings")

    def add_note(self, bid: int, note: AuditNote) -> Note:
        """Refused, whatever the note: ``ReadOnlyError``."""
        raise self._read_only(f"POST /billers/{bid}/notes")

    def _versioned(self, bid: int) -> Versioned:
        return Versioned(self.settings_at(bid), self.etag)

    def _read_only(self, call: str) -> ReadOnlyError:
        return ReadOnlyError(
            f"{call}: git {self.commit[:12]} is read-only; apply to a CRM (INT360_CRM_URL)"
        )


def _config_at(tree: Repo, ref: str) -> Config | None:
    """The configuration checked out into ``tree`` from ``ref``; None when it has no
    biller file (nothing at ``ref`` to compare with: every biller is new)."""
    if not tree.biller_files():
        return None
    # Today's schemas would judge the old files by today's rules: a partner that fails
    # them would drop out, its billers read as new, and the diff would say so silently.
    files = SCHEMA_FILES.values()
    missing = [f"schemas/{name}" for name in files if not (tree.schema_dir / name).is_file()]
    if missing:
        shown = "schemas/" if len(missing) == len(SCHEMA_FILES) else ", ".join(missing)
        raise RepoError(
            f"git {ref}: it has billers/ but no {shown}, so its settings cannot be read; "
            "compare with a later revision"
        )
    try:
        return load_config(tree)
    except SchemaSetupError as exc:  # a schema file that is not JSON at ``ref``
        raise RepoError(f"git {ref}: {str(exc).replace(f'{tree.root}{os.sep}', '')}") from None


def checkout_tree(repo: Repo, ref: str, into: Path) -> None:
    """Write ``partners/``, ``billers/`` and ``schemas/`` as they are at ``ref`` into
    ``into``; a folder ``ref`` does not have is written empty."""
    listing = ("ls-tree", "-d", "-z", "--name-only", ref, "--", *CONFIG_FOLDERS)
    listed = git_bytes(repo, *listing, what=f"ls-tree {ref}")
    # Only the folders it has: git refuses a pathspec that matches nothing.
    names = listed.split(b"\0")
    present = [folder for folder in CONFIG_FOLDERS if folder.encode() in names]
    if present:
        tar = git_bytes(repo, "archive", "--format=tar", ref, "--", *present, what=f"archive {ref}")
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(into, filter=_inside_only)
    for folder in CONFIG_FOLDERS:
        (into / folder).mkdir(exist_ok=True)


def _inside_only(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """The ``data`` filter, except that a member it refuses (a symlink to an absolute
    path or out of the tree) is left out: that file was no valid configuration then."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


def temp_tree(repo: Repo, ref: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder holding the repository's config at ``ref``."""
    holder = tempfile.TemporaryDirectory(prefix="int360-base-")
    try:
        checkout_tree(repo, ref, Path(holder.name))
    except BaseException:
        holder.cleanup()  # not left for the collector: git may have failed halfway
        raise
    return holder


__all__ = ["GitRevReader", "ReadOnlyError", "checkout_tree", "temp_tree"]
