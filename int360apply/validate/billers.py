"""The per-biller stage: its partner, integrator ID, locks, and its merged settings
(completeness, cross-field and value rules), each problem placed where to fix it."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from .. import rules
from ..config import Biller, Config, Partner
from ..model import Path_, Problem, dotted, is_mapping
from ..schemas import GROUPS, FastCheck, fast_check_for
from .locate import locate, related
from .schema_errors import group_errors

GroupCache = dict[tuple[str, str], list[tuple[Path_, str, str]]]
"""Group-validation results by (group, its content): billers share most groups."""


def billers_problems(config: Config, *, fast: bool = True) -> list[Problem]:
    """The problems of every loaded biller (one group-validation cache for them all).
    ``fast``: see ``biller_problems``."""
    cache: GroupCache = {}
    problems: list[Problem] = []
    for biller in config.billers.values():
        problems += biller_problems(config, biller, cache, fast=fast)
    return problems


def biller_problems(
    config: Config, biller: Biller, cache: GroupCache | None = None, *, fast: bool = True
) -> list[Problem]:
    """The cross-file problems of one biller (partner, IDs, locks, merge, rules).

    ``fast``: let the quick yes/no schema check spare valid groups the full
    validator (off for ``validate --careful``)."""
    partner = config.partners.get(biller.partner)
    if partner is None:
        return unknown_partner(config, biller)
    problems = list(integrator_id(biller, partner))
    problems += locked(biller, partner)
    if config.defaults is None:
        return problems
    desired = config.desired(biller)
    findings = []
    if biller.bid not in config.flawed:
        # A file's refused values are left out of its merge: "incomplete" would echo them.
        check = fast_check_for(config.repo.schema_dir) if fast else None
        findings = complete(config, check, desired, cache if cache is not None else {})
    findings += [(f.path, f.rule, f.message) for f in rules.check(desired)]
    if biller.doc.invalid:
        # A finding about a value the schema refused would only repeat that error.
        refused = [p[1:] for p in biller.doc.invalid if p[:1] == ("overrides",)]
        findings = [f for f in findings if not any(related(f[0], r) for r in refused)]
    if findings:
        problems += locate(config, biller, desired, findings)
    return problems


def unknown_partner(config: Config, biller: Biller) -> list[Problem]:
    """An ``unknown-partner`` problem for a biller whose partner has no file."""
    if biller.partner in config.broken_partners:
        return []  # the partner file's own errors are reported; merging would only echo them
    close = difflib.get_close_matches(biller.partner, sorted(config.partners), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else "see `int360 partners`"
    return [
        Problem(
            biller.doc.loc(("partner",)),
            "unknown-partner",
            f"no partner '{biller.partner}' (no file partners/{biller.partner}.yaml); {hint}",
        )
    ]


def integrator_id(biller: Biller, partner: Partner) -> Iterator[Problem]:
    """An ``integrator-id`` problem when the biller's ID is missing or not its partner's."""
    ids = ", ".join(map(str, partner.integrator_ids))
    if biller.integrator_id is None:
        if len(partner.integrator_ids) > 1:
            yield Problem(
                biller.doc.loc(("partner",), key=True),
                "integrator-id",
                f"partner '{partner.slug}' has several integrator IDs ({ids}); add "
                "integrator_id: with the one on this biller's CRM profile",
            )
    elif biller.integrator_id not in partner.integrator_ids:
        yield Problem(
            biller.doc.loc(("integrator_id",)),
            "integrator-id",
            f"integrator_id {biller.integrator_id} is not one of partner '{partner.slug}' "
            f"IDs ({ids})",
        )


def _override_paths(overrides: Mapping[str, Any], prefix: Path_ = ()) -> Iterator[Path_]:
    for key, value in overrides.items():
        path = (*prefix, key)
        yield path
        if is_mapping(value):
            yield from _override_paths(value, path)


def locked(biller: Biller, partner: Partner) -> Iterator[Problem]:
    """A ``locked`` problem for each override of a path its partner locks."""
    if not partner.locked:
        return
    locks = [(tuple(p.split(".")), i) for i, p in enumerate(partner.locked)]
    for path in _override_paths(biller.overrides):
        value = _at(biller.overrides, path)
        for lock, index in locks:
            hits = (
                path == lock
                or (path[: len(lock)] == lock)
                or (lock[: len(path)] == path and value is None)
            )
            if hits:
                where = partner.doc.loc(("locked", index))
                yield Problem(
                    biller.doc.loc(("overrides", *path), key=True),
                    "locked",
                    f"{dotted(lock)} is locked by partner '{partner.slug}' ({where}); "
                    "remove this override, or change the partner template",
                )
                break


def _at(settings: Mapping[str, Any], path: Path_) -> Any:
    node: Any = settings
    for part in path:
        node = node[part]
    return node


def complete(
    config: Config, fast: FastCheck | None, desired: Mapping[str, Any], cache: GroupCache
) -> list[tuple[Path_, str, str]]:
    """Check the merged settings against the complete schema, one group at a time.

    Billers share most groups with their partner, so results are cached by the
    group's content: a fleet validates each distinct group once.
    """
    out: list[tuple[Path_, str, str]] = []
    for group in GROUPS:
        value = desired.get(group)
        if value is None:
            out.append(((group,), "incomplete", f"the group {group} is missing after the merge"))
            continue
        key = (group, json.dumps(value, sort_keys=True))
        found = cache.get(key)
        if found is None:
            found = group_errors(config.schemas, fast, group, value)
            cache[key] = found
        out += found
    return out
