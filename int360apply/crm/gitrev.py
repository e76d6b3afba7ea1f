"""A read-only ``CrmPort`` answering from the repository at a git revision.

``int360 diff`` is an ordinary plan of the working tree against this reader:
a biller's "live" settings are its merged desired settings at the revision,
secrets in the CRM's read form (``{secret: NAME, set: true}``), so a plan
compares them by name, as it does against a CRM. A biller with no valid file
at the revision (added since, or its partner or the defaults broken then)
reads as empty settings: every leaf of it is new.

Git keeps no CRM profiles. The reader is given them (``crmconn.profiles``:
one per biller file of the working tree, on the integrator ID the file
expects), so a plan against it is about settings alone.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..config import Config, load_config
from ..repo import Repo, git, git_bytes
from ..secrets import with_references
from . import AuditNote, Note, Profile
from .errors import CrmError, NotFound
from .results import BulkSettings, PatchResult, Versioned

# The folders a configuration is made of; the rest of the tree is not read.
CONFIG_FOLDERS = ("partners", "billers", "schemas")


class ReadOnlyError(CrmError):
    """A write asked of a git revision: a plan against one can be shown, not applied."""

    prefix = ""


class GitRevReader:
    """The desired settings of every biller at one commit, read as a CRM would answer."""

    def __init__(self, base: Config, commit: str, profiles: Iterable[Profile]) -> None:
        """``base``: the configuration loaded at ``commit``; ``profiles``: the billers
        the reader knows (see the module's docstring)."""
        self.base = base
        self.commit = commit
        self.profiles = {p.bid: p for p in profiles}
        # Git has no ETag: the commit is the version every biller's settings are at.
        self.etag = f'"{commit}"'

    @classmethod
    def at(cls, repo: Repo, ref: str, profiles: Iterable[Profile]) -> GitRevReader:
        """The reader of ``repo``'s configuration at ``ref`` (``RepoError`` if git cannot
        resolve or read it)."""
        commit = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        with temp_tree(repo, commit) as folder:
            # Everything is read here: the configuration keeps no file open after loading.
            base = load_config(Repo(Path(folder)))
        return cls(base, commit, profiles)

    def settings_at(self, bid: int) -> dict[str, Any]:
        """``bid``'s merged settings at the commit in the CRM's read form ({} if none)."""
        base = self.base
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
        return Versioned(self.settings_at(bid), self.etag)

    def bulk_settings(self, bids: Iterable[int]) -> BulkSettings:
        """The settings of the ``bids`` with a profile; the others are missing."""
        found, missing = {}, []
        for bid in bids:
            if bid in self.profiles:
                found[bid] = Versioned(self.settings_at(bid), self.etag)
            else:
                missing.append(bid)
        return BulkSettings(found, missing)

    def patch_settings(
        self, bid: int, patch: Mapping[str, Any], etag: str, *, note: AuditNote | None = None
    ) -> PatchResult:
        """Refused: ``ReadOnlyError``."""
        raise self._read_only(f"PATCH /billers/{bid}/settings")

    def add_note(self, bid: int, text: str, **_: object) -> Note:
        """Refused, whatever the note: ``ReadOnlyError``."""
        raise self._read_only(f"POST /billers/{bid}/notes")

    def _read_only(self, call: str) -> ReadOnlyError:
        return ReadOnlyError(
            f"{call}: git {self.commit[:12]} is read-only; apply to a CRM (INT360_CRM_URL)"
        )


def checkout_tree(repo: Repo, ref: str, into: Path) -> None:
    """Write ``partners/``, ``billers/`` and ``schemas/`` as they are at ``ref`` into ``into``."""
    tar = git_bytes(
        repo, "archive", "--format=tar", ref, "--", *CONFIG_FOLDERS, what=f"archive {ref}"
    )
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
