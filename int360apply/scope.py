"""Which billers a command acts on: from the command line, or from git changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .errors import UsageError
from .repo import BILLER_STEM, DEFAULTS, Repo, RepoError, git

DEFAULTS_STEM = Path(DEFAULTS).stem


@dataclass
class Scope:
    """Billers in scope, and billers whose file was deleted (no longer managed).

    ``selector`` is the command line that chose them (``--all``, ``--bid 1 2``,
    ``--partner bsa``, ``--changed-since REF``), recorded in saved plans.
    """

    bids: set[int]
    removed: dict[int, str] = field(default_factory=dict)  # bid -> deleted file path
    description: str = "all billers"
    partners_changed: set[str] = field(default_factory=set)  # stems; ``_defaults`` too
    selector: tuple[str, ...] = ("--all",)

    def as_dict(self) -> dict[str, object]:
        """The ``scope`` of a JSON plan: how it was chosen, in words and as arguments."""
        return {"description": self.description, "selector": list(self.selector)}

    def fanout(self, config: Config) -> dict[str, int]:
        """Each changed partner file (``_defaults`` included): the billers in scope that
        use it."""
        out = {}
        for slug in sorted(self.partners_changed):
            if slug == DEFAULTS_STEM:
                out[slug] = len(self.bids)
            else:
                out[slug] = sum(1 for b in self.bids if config.billers[b].partner == slug)
        return out


@dataclass(frozen=True)
class GitChanges:
    """Files changed since a revision (committed, staged, unstaged and untracked)."""

    changed: frozenset[str]
    deleted: frozenset[str]


def changed_files(repo: Repo, ref: str) -> GitChanges:
    """``git diff --name-status REF`` against the working tree, plus untracked files."""
    git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    # --relative: paths from the repository's folder (it may sit below the git work tree).
    out = git(repo, "diff", "--relative", "--name-status", "-M", "--no-color", ref, "--")
    changed: set[str] = set()
    deleted: set[str] = set()
    for line in out.splitlines():
        parts = line.split("\t")
        status = parts[0]
        if status.startswith("R") and len(parts) == 3:
            deleted.add(parts[1])
            changed.add(parts[2])
        elif status.startswith("D"):
            deleted.add(parts[1])
        elif len(parts) >= 2:
            changed.add(parts[-1])
    untracked = git(
        repo,
        "ls-files",
        "--others",
        "--exclude-standard",
        "--",
        "partners",
        "billers",
        "schemas",
        "int360apply",
    )
    changed.update(line for line in untracked.splitlines() if line)
    return GitChanges(frozenset(changed), frozenset(deleted - changed))


def default_base(repo: Repo) -> str:
    """The merge base with ``origin/main`` when there is one, else ``HEAD``."""
    try:
        return git(repo, "merge-base", "HEAD", "origin/main").strip()
    except RepoError:
        return "HEAD"


def _bid_of(path: str) -> int | None:
    if not path.startswith("billers/") or not path.endswith(".yaml"):
        return None
    match = BILLER_STEM.match(Path(path).stem)
    return int(match["bid"]) if match else None


def decides_everything(path: str) -> bool:
    """Whether a changed file can change every biller's desired settings or how they are
    written: ``_defaults.yaml``, the schemas, the applier's code, its dependencies."""
    name = path.rsplit("/", 1)[-1]
    return (
        path == DEFAULTS
        or path.startswith(("schemas/", "int360apply/"))
        or path == "pyproject.toml"
        # A dependency bump (a YAML or JSON Schema library) can change what is merged.
        or (name.startswith("requirements") and name.endswith(".txt"))
        or name.endswith(".lock")
    )


def scope_from_changes(config: Config, changes: GitChanges, ref: str) -> Scope:
    """Billers whose file changed; every biller of a changed partner; all when a file
    that decides every biller changed (``decides_everything``)."""
    selector = ("--changed-since", ref)
    partners = {
        Path(f).stem
        for f in changes.changed | changes.deleted
        if f.startswith("partners/") and f.endswith(".yaml")
    }
    deciding = sorted(f for f in changes.changed | changes.deleted if decides_everything(f))
    if deciding:
        more = f" and {len(deciding) - 1} more" if len(deciding) > 1 else ""
        return Scope(
            set(config.billers),
            description=f"all billers ({deciding[0]}{more} changed since {ref})",
            partners_changed=partners,
            selector=selector,
        )
    bids = {b for f in changes.changed if (b := _bid_of(f)) is not None}
    bids |= {b.bid for b in config.billers.values() if b.partner in partners}
    removed = {
        bid: f
        for f in changes.deleted
        if (bid := _bid_of(f)) is not None and bid not in config.billers
    }
    bids &= set(config.billers) | set(removed)
    bids -= set(removed)
    return Scope(
        bids,
        removed,
        description=f"billers changed since {ref}",
        partners_changed=partners,
        selector=selector,
    )


class ScopeError(UsageError):
    """A ``--bid`` or ``--partner`` that names nothing in the repository (a usage error:
    planning or applying around it would do less than was asked, silently)."""


def check_names(config: Config, bids: Iterable[int], partners: Iterable[str]) -> None:
    """``ScopeError`` naming every ``--bid`` without a file and ``--partner`` without one."""
    import difflib

    problems = []
    missing = [b for b in bids if b not in config.billers]
    if missing:
        shown = " ".join(map(str, missing))
        files = ", ".join(f"billers/{b}.yaml" for b in missing[:3])
        problems.append(
            f"--bid {shown}: no biller file ({files}{', …' if len(missing) > 3 else ''})"
        )
    for slug in partners:
        if slug not in config.partners:
            close = difflib.get_close_matches(slug, sorted(config.partners), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "see int360 partners"
            problems.append(f"--partner {slug}: no such partner; {hint}")
    if problems:
        raise ScopeError("; ".join(problems))


def select(
    config: Config,
    *,
    bids: Iterable[int] = (),
    partners: Iterable[str] = (),
    changed_since: str | None = None,
) -> Scope:
    """The scope of the command line: ``--bid``, ``--partner``, ``--changed-since`` or all."""
    bid_list, partner_list = list(bids), list(partners)
    check_names(config, bid_list, partner_list)
    if changed_since is not None:
        return scope_from_changes(config, changed_files(config.repo, changed_since), changed_since)
    if not bid_list and not partner_list:
        return Scope(set(config.billers))
    chosen = set(bid_list)
    chosen |= {b.bid for b in config.billers.values() if b.partner in set(partner_list)}
    what = ", ".join([*(str(b) for b in bid_list), *(f"partner {p}" for p in partner_list)])
    selector = ("--bid", *map(str, bid_list)) if bid_list else ("--partner", *partner_list)
    return Scope(chosen, description=what, selector=selector)
