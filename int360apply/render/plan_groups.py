"""A plan's identical changes grouped: ``field: before → after`` on N billers.

Shared by the plan's terminal text and Markdown (``render.plan``) and the
pull-request comment made from the JSON plan (``render.sections``), which groups
the plan's JSON form the same way. Values are keyed by how they print.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..plan import BillerPlan, Change

# Billers listed one by one (text and markdown) before the rest is only counted.
DETAIL_LIMIT = 20
# Distinct changes listed in the grouped summary before the rest is only counted.
GROUP_LIMIT = 15
OWN_FILE = "each biller's file"
SEVERAL = "several files"  # a group whose new value comes from different layers


def value_text(value: Any, secret: bool = False) -> str:
    """How a value prints in a plan: JSON, ``(unset)``, or ``(secret NAME)``."""
    if value is None:
        return "(unset)"
    if secret or (
        isinstance(value, dict) and set(value) <= {"secret", "set"} and "secret" in value
    ):
        name = value.get("secret") if isinstance(value, dict) else None
        return f"(secret {name})" if name else "(secret)"
    if type(value) is int or type(value) is bool:
        return "true" if value is True else "false" if value is False else str(value)
    return _JSON(value)


_JSON = json.JSONEncoder(ensure_ascii=False).encode


def count_text(count: int, noun: str) -> str:
    """A count and its noun: ``1 field``, ``1,000 fields``."""
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


def billers_text(count: int) -> str:
    """``1 biller``, ``1,000 billers``."""
    return count_text(count, "biller")


@dataclass(frozen=True)
class ChangeGroup:
    """One change (field, before, after) and the billers it is planned for."""

    path: str
    before: str
    after: str
    source: str | None  # where the new value is written (OWN_FILE, SEVERAL), None: nowhere
    bids: tuple[int, ...]

    def line(self) -> str:
        """``field: before → after on N billers   [source]``."""
        source = f"   [{self.source}]" if self.source else ""
        return (
            f"{self.path}: {self.before} → {self.after} on {billers_text(len(self.bids))}{source}"
        )


def group_changes(billers: Iterable[BillerPlan]) -> list[ChangeGroup]:
    """Identical changes over billers, the widest first (then by field)."""
    found: dict[tuple[str, str, str], tuple[list[int], set[str | None]]] = {}
    for biller in billers:
        for change in biller.changes:
            key = (
                change.path,
                value_text(change.before, change.secret),
                value_text(change.after, change.secret),
            )
            bids, sources = found.setdefault(key, ([], set()))
            bids.append(biller.bid)
            sources.add(change.source)
    groups = [
        ChangeGroup(path, before, after, _common_source(sources), tuple(bids))
        for (path, before, after), (bids, sources) in found.items()
    ]
    return sorted(groups, key=lambda g: (-len(g.bids), g.path, g.before, g.after))


def groups_of_document(doc: Mapping[str, Any] | None) -> tuple[list[ChangeGroup], int]:
    """``group_changes`` over a plan's JSON form (its ``change`` billers; whatever is
    malformed is skipped), and how many billers change."""
    billers = doc.get("billers") if isinstance(doc, Mapping) else None
    changed: list[BillerPlan] = []
    for index, b in enumerate(billers if isinstance(billers, list) else []):
        if not isinstance(b, Mapping) or b.get("status") != "change":
            continue
        bid = b.get("bid")
        entry = BillerPlan(bid if type(bid) is int else -index, "", "", "change")
        for c in b.get("changes") or []:
            if isinstance(c, Mapping):
                source = c.get("source")
                entry.changes.append(
                    Change(
                        str(c.get("path", "")),
                        c.get("before"),
                        c.get("after"),
                        source if isinstance(source, str) else None,
                        bool(c.get("secret")),
                    )
                )
        changed.append(entry)
    return group_changes(changed), len(changed)


def file_fanout(groups: Iterable[ChangeGroup]) -> list[tuple[str, int]]:
    """Each partner file (``_defaults.yaml`` included) some new value comes from, and
    how many billers to change get a value from it."""
    reached: dict[str, set[int]] = {}
    for group in groups:
        if group.source and group.source.startswith("partners/"):
            reached.setdefault(group.source.split(":", 1)[0], set()).update(group.bids)
    return sorted((path, len(bids)) for path, bids in reached.items())


def _common_source(sources: set[str | None]) -> str | None:
    """The one source of a group's new value; "each biller's file" when every biller
    writes it in its own file; "several files" when layers differ; None for none (a
    removal)."""
    if len(sources) == 1:
        return next(iter(sources))
    if all(s is not None and s.startswith("billers/") for s in sources):
        return OWN_FILE
    return SEVERAL


def rest_text(rest: list[ChangeGroup]) -> str:
    """``N more distinct changes to M fields on K billers``."""
    fields = len({g.path for g in rest})
    on = len({bid for g in rest for bid in g.bids})
    return (
        f"{count_text(len(rest), 'more distinct change')} to {count_text(fields, 'field')} "
        f"on {billers_text(on)}"
    )
