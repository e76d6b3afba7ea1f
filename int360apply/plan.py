"""The plan: desired settings against live settings, per biller, per leaf. Pure.

A ``Plan`` is a value. Renderers read it, ``apply`` executes it, and its JSON
form (``schemas/plan.schema.json``) is what ``apply --plan`` loads back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .errors import Int360Error
from .guard import GuardLimits, GuardRefused, raise_if_unsafe
from .jsonvalue import json_equal, secret_holds
from .model import Path_, attributes, dotted, is_mapping

# 2: a plan records its scope, the digest of its inputs and the int360 version.
FORMAT_VERSION = 2


@dataclass(frozen=True, slots=True)
class Change:
    """One leaf that differs: ``before`` live, ``after`` desired (None = absent).

    Slotted: a plan of 10,000 new billers holds half a million of these.
    """

    path: str
    before: Any
    after: Any
    source: str | None = None
    secret: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON form; secrets by name only (whatever the change was built with)."""
        before, after = self.before, self.after
        if self.secret:
            before, after = masked(before), masked(after)
        out = {"path": self.path, "before": before, "after": after, "source": self.source}
        if self.secret:
            out["secret"] = True
        return out


def masked(value: Any) -> dict[str, Any] | None:
    """A secret field's value as a plan may show it: ``{secret: NAME}``, None when
    absent, and ``{secret: null}`` for anything else the CRM holds there (a
    plaintext in a legacy record, a malformed reference): never the value."""
    if value is None:
        return None
    name = value.get("secret") if isinstance(value, Mapping) else None
    return {"secret": name if isinstance(name, str) and _showable_name(name) else None}


def _showable_name(name: str) -> bool:
    """A name the CRM holds is shown only if it could be one: short, printable, one
    line and not key material (a record edited by hand may hold a key there)."""
    from .secrets.literals import looks_like_key_material

    return (
        0 < len(name) <= 64
        and name.isprintable()
        and " " not in name
        and (not looks_like_key_material(name))
    )


@dataclass(frozen=True)
class BillerError:
    """Why a biller cannot be planned or applied."""

    code: str
    message: str


@dataclass
class BillerPlan:
    """The plan of one biller."""

    bid: int
    name: str
    partner: str
    status: str  # change | unchanged | error | removed
    etag: str | None = None
    changes: list[Change] = field(default_factory=list)
    errors: list[BillerError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of ``schemas/plan.schema.json``."""
        out = attributes(self, _BILLER_FIELDS)
        out["changes"] = [c.as_dict() for c in self.changes]
        out["errors"] = [attributes(e, _ERROR_FIELDS) for e in self.errors]
        return out


# A biller's JSON fields, in the order of the document, before its changes and errors.
_BILLER_FIELDS = ("bid", "name", "partner", "status", "etag")
_ERROR_FIELDS = ("code", "message")


STATUSES = ("change", "unchanged", "error", "removed")


@dataclass
class Plan:
    """Every biller of a scope; the summary counts derive from them."""

    crm: str
    commit: str | None
    billers: list[BillerPlan]
    fanout: dict[str, int] = field(default_factory=dict)  # changed partner -> billers in scope
    scope: dict[str, Any] = field(default_factory=lambda: {"description": "", "selector": []})
    inputs_digest: str | None = None  # digest.inputs_digest over the billers planned
    int360: str = __version__
    # Made from a working tree that differs from ``commit`` (shown, not part of the JSON).
    uncommitted: bool = False

    @property
    def summary(self) -> dict[str, int]:
        """Billers per status (``removed`` only when a biller was)."""
        from .tally import tally

        return tally((biller.status for biller in self.billers), STATUSES, optional="removed")

    @property
    def changed(self) -> list[BillerPlan]:
        """The billers that would be written."""
        return [b for b in self.billers if b.status == "change"]

    def raise_if_unsafe(self, managed: int, limits: GuardLimits) -> None:
        """Refuse (``guard.GuardRefused``, carrying this plan) a plan whose changing billers
        exceed ``limits`` out of ``managed`` billers; the caller skips it for the embedded
        sandbox."""
        try:
            raise_if_unsafe(len(self.changed), managed, limits)
        except GuardRefused as refused:
            refused.plan = self
            raise

    def as_dict(self) -> dict[str, Any]:
        """The JSON document ``apply --plan`` executes."""
        out: dict[str, Any] = {"format_version": FORMAT_VERSION}
        out.update(attributes(self, _PLAN_FIELDS))
        out["billers"] = [b.as_dict() for b in self.billers]
        return out


# The plan's JSON fields between its format_version and its billers, in order.
_PLAN_FIELDS = ("crm", "commit", "scope", "inputs_digest", "int360", "summary")


class PlanFormatError(Int360Error, ValueError):
    """A plan file that is not a plan this version can execute."""


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """Load a plan written by ``as_dict`` (``apply --plan``)."""
    if not isinstance(data, Mapping) or data.get("format_version") != FORMAT_VERSION:
        raise PlanFormatError(
            f"not a plan of format_version {FORMAT_VERSION}; make it with int360 plan --out"
        )
    try:
        billers = [
            BillerPlan(
                bid=int(b["bid"]),
                name=str(b["name"]),
                partner=str(b["partner"]),
                status=str(b["status"]),
                etag=b.get("etag"),
                changes=[
                    Change(
                        c["path"], c["before"], c["after"], c.get("source"), bool(c.get("secret"))
                    )
                    for c in b.get("changes", [])
                ],
                errors=[BillerError(e["code"], e["message"]) for e in b.get("errors", [])],
            )
            for b in data["billers"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFormatError(f"malformed plan: {exc}") from exc
    return Plan(
        crm=str(data.get("crm", "")),
        commit=data.get("commit"),
        billers=billers,
        scope=dict(data.get("scope") or {}),
        inputs_digest=data.get("inputs_digest"),
        int360=str(data.get("int360", "")),
    )


# --- diffing ---------------------------------------------------------------


def _leaves(
    settings: Mapping[str, Any], secret_paths: frozenset[Path_], prefix: Path_ = ()
) -> dict[Path_, Any]:
    """Leaves of settings by path; a secret field is one leaf (its reference), lists are
    values."""
    found: dict[Path_, Any] = {}
    _collect(settings, secret_paths, prefix, found)
    return found


def _collect(
    settings: Mapping[str, Any],
    secret_paths: frozenset[Path_],
    prefix: Path_,
    found: dict[Path_, Any],
) -> None:
    # One dict filled in place: a generator per level costs more than the walk itself.
    for key, value in settings.items():
        path = (*prefix, key)
        # An empty mapping is a leaf: a CRM holding ``auth: {}`` must show in a plan.
        if path in secret_paths or not is_mapping(value) or not value:
            found[path] = value
        else:
            _collect(value, secret_paths, path, found)


def _secret_name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        name = value.get("secret")
        return name if isinstance(name, str) else None
    return None


def _secret_same(desired: Any, live: Any) -> bool:
    name = _secret_name(desired)
    return name is not None and secret_holds(name, live)


Sources = Mapping[Path_, str]


def diff_settings(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    secret_paths: frozenset[Path_],
    sources: Sources | Callable[[], Sources] | None = None,
    rotate_secrets: bool = False,
) -> list[Change]:
    """Changed leaves from ``live`` to ``desired``, in desired order, removals last.

    ``sources`` (where each desired leaf is written) may be a function, called
    only when something changed: working them out costs a second parse.
    """
    want = _leaves(desired, secret_paths)
    have = _leaves(live, secret_paths)
    changes = []
    found: Sources | None = None if callable(sources) else sources
    for path, after in want.items():
        before = have.get(path)
        secret = path in secret_paths
        if secret:
            if _secret_same(after, before) and not rotate_secrets:
                continue
            after = masked(after)
            before = masked(before)
        elif path in have and json_equal(after, before):
            continue
        if found is None and callable(sources):
            found = sources()
        changes.append(Change(_dotted(path), before, after, _source(found, path), secret))
    removed: dict[Path_, Any] = {}  # what goes, by the outermost path that goes whole
    wanted = _prefixes(want)
    for path, before in have.items():
        # A live value where the desired settings hold a mapping is replaced by it.
        if path not in want and path not in wanted and not _covered(path, want):
            secret = path in secret_paths
            # A secret leaf, alone or inside a mapping that goes, by name only.
            shown = masked(before) if secret else before
            # A mapping the desired settings drop goes as a whole (``auth: null``):
            # removing its leaves one by one would leave ``auth: {}`` in the CRM.
            cut = next(i for i in range(1, len(path) + 1) if path[:i] not in wanted)
            if cut == len(path):
                changes.append(Change(_dotted(path), shown, None, None, secret))
            else:
                node = removed.setdefault(path[:cut], {})
                for part in path[cut:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = shown
    changes += [Change(_dotted(path), value, None) for path, value in removed.items()]
    return changes


def _prefixes(leaves: Mapping[Path_, Any]) -> set[Path_]:
    """Every path that holds a leaf or leads to one."""
    return {p[:i] for p in leaves for i in range(1, len(p) + 1)}


def _dotted(path: Path_) -> str:
    # Interned: every biller changes the same few hundred fields, so a plan of many
    # billers shares one string per field instead of holding one per change.
    return sys.intern(dotted(path))


def _covered(path: Path_, want: Mapping[Path_, Any]) -> bool:
    """A live leaf under a desired leaf (e.g. a mapping that became a scalar) is replaced."""
    return any(path[:i] in want and want[path[:i]] != {} for i in range(1, len(path)))


def _source(sources: Mapping[Path_, str] | None, path: Path_) -> str | None:
    if not sources:
        return None
    probe = path
    while probe:
        if probe in sources:
            return sources[probe]
        # a secret leaf's provenance is recorded on its ``secret`` key
        found = sources.get((*probe, "secret"))
        if found:
            return found
        probe = probe[:-1]
    return None


def patch_from_changes(changes: Iterable[Change]) -> dict[str, Any]:
    """The JSON merge patch that makes the changes (secret values not yet filled in)."""
    patch: dict[str, Any] = {}
    for change in changes:
        parts = change.path.split(".")
        node = patch
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = change.after
    return patch
