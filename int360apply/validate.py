"""Checks across files: duplicates, partner references, locks, the merge and its rules."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from . import rules, yamlio
from .config import Biller, Config, Partner
from .model import Document, Location, Path_, Problem, dotted, is_mapping
from .repo import DEFAULTS
from .schemas import GROUPS, fast_check_for


def validate(config: Config) -> list[Problem]:
    """Every problem of the loaded repository, sorted and without repeats."""
    problems = list(config.problems)
    problems += cross_file_problems(config, config.biller_paths)
    problems += billers_problems(config)
    return sorted(set(problems))


def billers_problems(config: Config) -> list[Problem]:
    """The problems of every loaded biller (one group-validation cache for them all)."""
    cache: dict[tuple[str, str], list[tuple[Path_, str, str]]] = {}
    problems: list[Problem] = []
    for biller in config.billers.values():
        problems += biller_problems(config, biller, cache)
    return problems


def cross_file_problems(config: Config, biller_paths: Mapping[int, list[str]]) -> list[Problem]:
    """Duplicate BIDs and integrator IDs, and the partner templates' own problems."""
    return [
        *_duplicate_bids(config, biller_paths),
        *_duplicate_integrator_ids(config),
        *_partner_problems(config),
    ]


def _duplicate_bids(config: Config, biller_paths: Mapping[int, list[str]]) -> Iterator[Problem]:
    for bid, files in sorted(biller_paths.items()):
        if len(files) < 2:
            continue
        for path in files:
            others = ", ".join(f for f in files if f != path)
            # Rare: read the file again for the position of its bid.
            doc = yamlio.load_document(config.repo.root / path, path)
            where = doc.loc(("bid",)) if isinstance(doc, Document) else Location(path)
            yield Problem(
                where,
                "duplicate-bid",
                f"bid {bid} is also used by {others}; each biller has exactly one file",
            )


def _duplicate_integrator_ids(config: Config) -> Iterator[Problem]:
    owner: dict[int, Partner] = {}
    for partner in sorted(config.partners.values(), key=lambda p: p.doc.path):
        for index, iid in enumerate(partner.integrator_ids):
            first = owner.setdefault(iid, partner)
            if first is not partner:
                yield Problem(
                    partner.doc.loc(("integrator_ids", index)),
                    "duplicate-integrator-id",
                    f"integrator ID {iid} is already claimed by partner '{first.slug}' "
                    f"({first.doc.path}); an ID belongs to one partner",
                )


def _partner_problems(config: Config) -> Iterator[Problem]:
    base_doc = config.defaults
    for partner in config.partners.values():
        for index, path in enumerate(partner.locked):
            if config.schemas.field_schema(tuple(path.split("."))) is None:
                yield Problem(
                    partner.doc.loc(("locked", index)),
                    "locked",
                    f"locked path {path} is not a settings field",
                )
        # Value rules hold for a template whether or not a biller uses it yet.
        base = config.partner_base(partner.slug)
        for finding in rules.check(base, rules.VALUE_CHECKS):
            layer_doc, at = (
                (partner.doc, ("settings",))
                if merge_has(partner.settings, finding.path)
                else (base_doc, ("settings",))
            )
            where = layer_doc.loc((*at, *finding.path)) if layer_doc else Location(DEFAULTS)
            yield Problem(where, finding.rule, finding.message)


def merge_has(settings: Mapping[str, Any], path: Path_) -> bool:
    """Whether the layer ``settings`` writes ``path`` (null included)."""
    node: Any = settings
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def biller_problems(
    config: Config,
    biller: Biller,
    cache: dict[tuple[str, str], list[tuple[Path_, str, str]]] | None = None,
) -> list[Problem]:
    """The cross-file problems of one biller (partner, IDs, locks, merge, rules)."""
    doc = biller.doc
    partner = config.partners.get(biller.partner)
    if partner is None:
        if biller.partner in config.broken_partners:
            return []  # the partner file's own errors are reported; merging would only echo them
        close = difflib.get_close_matches(biller.partner, sorted(config.partners), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else "see `int360 partners`"
        return [
            Problem(
                doc.loc(("partner",)),
                "unknown-partner",
                f"no partner '{biller.partner}' (no file partners/{biller.partner}.yaml); {hint}",
            )
        ]
    problems = list(_integrator_id(biller, partner))
    problems += _locked(biller, partner)
    if config.defaults is None:
        return problems
    desired = config.desired(biller)
    findings = []
    if biller.bid not in config.flawed:
        # A file's refused values are left out of its merge: "incomplete" would echo them.
        findings = _complete(config, desired, cache if cache is not None else {})
    findings += [(f.path, f.rule, f.message) for f in rules.check(desired)]
    if biller.doc.invalid:
        # A finding about a value the schema refused would only repeat that error.
        refused = [p[1:] for p in biller.doc.invalid if p[:1] == ("overrides",)]
        findings = [f for f in findings if not any(_related(f[0], r) for r in refused)]
    if findings:
        problems += _locate(config, biller, desired, findings)
    return problems


def _related(a: Path_, b: Path_) -> bool:
    size = min(len(a), len(b))
    return a[:size] == b[:size]


def _integrator_id(biller: Biller, partner: Partner) -> Iterator[Problem]:
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


def _locked(biller: Biller, partner: Partner) -> Iterator[Problem]:
    if not partner.locked:
        return
    locked = [(tuple(p.split(".")), i) for i, p in enumerate(partner.locked)]
    for path in _override_paths(biller.overrides):
        value = _at(biller.overrides, path)
        for lock, index in locked:
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


def _complete(
    config: Config,
    desired: Mapping[str, Any],
    cache: dict[tuple[str, str], list[tuple[Path_, str, str]]],
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
            found = _group_errors(config, group, value)
            cache[key] = found
        out += found
    return out


def _group_errors(config: Config, group: str, value: Any) -> list[tuple[Path_, str, str]]:
    if fast_check_for(config.repo.schema_dir).group(group, value):
        return []
    from .schemacheck import describe

    validator = config.schemas.group_validators[group]
    found: list[tuple[Path_, str, str]] = []
    for error in validator.iter_errors(value):
        if error.validator == "required":
            prefix = (group, *error.absolute_path)
            for name in error.validator_value:
                if name not in error.instance:
                    path = (*prefix, name)
                    found.append(
                        (
                            path,
                            "incomplete",
                            f"{dotted(path)} is required but no layer sets it (_defaults, "
                            "the partner or this biller); set it under overrides or in the "
                            "partner template",
                        )
                    )
            continue
        for path, _at_key, message in describe(error):
            found.append(((group, *path), "schema", f"{group}.{message}"))
    return found


def _locate(
    config: Config,
    biller: Biller,
    desired: Mapping[str, Any],
    findings: list[tuple[Path_, str, str]],
) -> list[Problem]:
    """Place each finding: a bad value where it is written; a missing one in the biller file."""
    provenance = config.provenance(biller)
    out = []
    for path, rule, message in findings:
        written = _written_at(provenance, path)
        if rule in ("value", "schema") and written is not None:
            out.append(Problem(written, rule, message))
            continue
        if written is not None and written.path != biller.doc.path:
            message += f" (the value in effect comes from {written})"
        out.append(Problem(_biller_anchor(biller, path), rule, message))
    return out


def _written_at(provenance: Mapping[Path_, Location], path: Path_) -> Location | None:
    probe = path
    while probe:
        if probe in provenance:
            return provenance[probe]
        probe = probe[:-1]
    return None


def _biller_anchor(biller: Biller, path: Path_) -> Location:
    """The line of ``overrides.<path>`` (or its nearest written ancestor, or ``partner:``)."""
    positions = biller.doc.positions
    probe: Path_ = ("overrides", *path)
    while len(probe) > 1:
        if probe in positions:
            return biller.doc.loc(probe, key=True)
        probe = probe[:-1]
    if ("overrides",) in positions:
        return biller.doc.loc(("overrides",), key=True)
    return biller.doc.loc(("partner",), key=True)
