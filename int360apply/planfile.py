"""``apply --plan FILE``: a saved plan is an approval, never a source of writes.

The file is read, checked against ``schemas/plan.schema.json`` and then held
against a fresh plan of the repository as it is now, against the live CRM.
What is written always comes from the fresh plan: the file only decides
*whether* it may be written. The run is refused as a whole (nothing written)
unless, for every biller, the saved changes equal the fresh ones; a biller
whose CRM state moved since the plan (another ETag) is not written and is
reported ``stale``, provided its saved changes still say what the repository
asks. BIDs, settings paths and which paths are secrets come from the
repository and the settings schema, never from the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .digest import inputs_digest
from .errors import Failure
from .jsonvalue import json_equal, loads
from .model import is_mapping
from .plan import FORMAT_VERSION, BillerPlan, Change, Plan, plan_from_dict
from .repo import RepoError, git

PLAN_SCHEMA = "plan.schema.json"
AGAIN = "nothing was written; plan again and review"
_MAX_SHOWN = 120  # characters of a value from the file shown in a message


class PlanFileError(Failure):
    """The plan file cannot be executed; the message is one line and names the file."""


# --- reading --------------------------------------------------------------------------


def parse_plan(text: str, name: str, schema_dir: Path) -> Plan:
    """The plan in ``text`` (the file ``name``), checked against the plan schema."""
    try:
        data = loads(text, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{name}: not JSON (line {exc.lineno}, column {exc.colno}); "
            "make a plan with int360 plan --out"
        ) from None
    except ValueError as exc:
        raise PlanFileError(
            f"{name}: not JSON: {exc}; make a plan with int360 plan --out"
        ) from None
    if not isinstance(data, dict):
        raise PlanFileError(f"{name}: not a plan (a JSON object); make one with int360 plan --out")
    if "status" in data and "format_version" in data:
        raise PlanFileError(f"{name}: an apply report, not a plan; make one with int360 plan --out")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanFileError(
            f"{name}: format_version {_shown(version)}, this int360 executes format_version "
            f"{FORMAT_VERSION}; plan again and review"
        )
    problem = _schema_problem(data, schema_dir)
    if problem:
        raise PlanFileError(f"{name}: not a plan of {PLAN_SCHEMA}: {problem}")
    _check_consistent(data, name)
    return plan_from_dict(data)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999: no CRM value can be that
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _schema_problem(data: Any, schema_dir: Path) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from .schemas import SchemaSetupError, read_schema_file, schema_uri

    try:
        schema = read_schema_file(schema_dir / PLAN_SCHEMA, "the plan schema")
    except SchemaSetupError as exc:
        raise PlanFileError(str(exc)) from None
    # Schema files carry no $id (editors resolve them next to the file): register it
    # under the URI int360 gives every schema.
    uri = schema_uri(PLAN_SCHEMA)
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(schema, default_specification=DRAFT202012)
    )
    # The plan half of the schema: an apply report is not something to execute.
    validator = Draft202012Validator({"$ref": f"{uri}#/$defs/plan"}, registry=registry)
    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"at {where.lstrip('.') or 'the top'}: {_clip(error.message)}"


def _check_consistent(data: Mapping[str, Any], name: str) -> None:
    """What the schema cannot say: one entry per biller, one change per path, the summary."""
    seen: set[int] = set()
    counts: dict[str, int] = {}
    for entry in data["billers"]:
        if entry["bid"] in seen:
            raise PlanFileError(f"{name}: biller {entry['bid']} is listed twice; {AGAIN}")
        seen.add(entry["bid"])
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        paths = [c["path"] for c in entry["changes"]]
        if len(set(paths)) != len(paths):
            raise PlanFileError(f"{name}: biller {entry['bid']} lists a path twice; {AGAIN}")
    summary = {k: v for k, v in data["summary"].items() if v}
    if summary != counts:
        raise PlanFileError(f"{name}: the summary does not count the billers listed; {AGAIN}")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _shown(value: Any) -> str:
    return _clip(json.dumps(value, ensure_ascii=False))


# --- binding to this repository -------------------------------------------------------


def check_origin(saved: Plan, name: str, config: Config, crm_label: str) -> None:
    """The plan was made for this CRM, by this int360, at a commit of this repository,
    for billers that still have their files."""
    from . import __version__

    if saved.crm != crm_label:
        raise PlanFileError(
            f"{name}: made against the CRM {_shown(saved.crm)}, not {crm_label}; {AGAIN}"
        )
    if saved.int360 != __version__:
        raise PlanFileError(
            f"{name}: made by int360 {_shown(saved.int360)}, this is int360 {__version__}; {AGAIN}"
        )
    if saved.commit is None:
        if _head(config) is not None:
            raise PlanFileError(f"{name}: records no commit, but this repository has one; {AGAIN}")
    elif not _has_commit(config, saved.commit):
        raise PlanFileError(
            f"{name}: commit {_shown(saved.commit)} is not in this repository (a plan of "
            f"another repository?); {AGAIN}"
        )
    if saved.inputs_digest is None:
        raise PlanFileError(f"{name}: has no inputs_digest (a diff is not a plan); {AGAIN}")
    for entry in saved.billers:
        has_file = entry.bid in config.billers
        if entry.status == "removed" and has_file:
            raise PlanFileError(
                f"{name}: biller {entry.bid} is listed as removed, but "
                f"{config.billers[entry.bid].doc.path} exists; {AGAIN}"
            )
        if entry.status != "removed" and not has_file:
            raise PlanFileError(
                f"{name}: biller {entry.bid} has no biller file in this repository; {AGAIN}"
            )


def _head(config: Config) -> str | None:
    try:
        return git(config.repo, "rev-parse", "--verify", "--quiet", "HEAD").strip() or None
    except RepoError:
        return None


def _has_commit(config: Config, sha: str) -> bool:
    try:
        git(config.repo, "cat-file", "-e", f"{sha}^{{commit}}")
    except RepoError:
        return False
    return True


def planned_bids(saved: Plan) -> set[int]:
    """The billers a saved plan covers (its removed entries write nothing)."""
    return {b.bid for b in saved.billers if b.status != "removed"}


# --- the saved plan against a fresh one ----------------------------------------------


@dataclass
class Verified:
    """A fresh plan whose changes the saved plan approves, and the billers not to write."""

    plan: Plan
    stale: dict[int, str] = field(default_factory=dict)  # bid -> why it is not written


def verify(saved: Plan, fresh: Plan, name: str, config: Config) -> Verified:
    """Hold ``saved`` against ``fresh`` (the same billers, planned now); ``PlanFileError``
    naming the first biller and path that differ, else what may be written."""
    fresh_by = {b.bid: b for b in fresh.billers}
    stale: dict[int, str] = {}
    for entry in saved.billers:
        if entry.status == "removed":
            continue
        now = fresh_by[entry.bid]
        if entry.etag == now.etag:
            found = _first_difference(entry, now, config)
        else:
            found = _desired_difference(entry, config)
            if now.status == "change":
                stale[entry.bid] = "the biller changed in the CRM after the plan was made"
        if found is None and entry.etag == now.etag and entry.status != now.status:
            found = f"the saved plan says {entry.status}, the repository says {now.status}"
        if found is not None:
            raise PlanFileError(f"{name}: biller {entry.bid}, {found}; {AGAIN}")
    digest = inputs_digest(config, planned_bids(saved))
    if digest != saved.inputs_digest:
        raise PlanFileError(
            f"{name}: its inputs_digest is not that of the repository now (the files "
            f"changed since the plan was made, or the plan was edited); {AGAIN}"
        )
    fresh.inputs_digest = digest
    return Verified(fresh, stale)


def _first_difference(saved: BillerPlan, fresh: BillerPlan, config: Config) -> str | None:
    """Where the saved changes of a biller whose CRM state did not move differ from now."""
    now = {c.path: c for c in fresh.changes}
    for change in saved.changes:
        found = now.get(change.path)
        if found is None:
            why = (
                _unknown(change.path, config)
                or (
                    "the saved plan writes it again (made with --rotate-secrets: apply with "
                    "--rotate-secrets too)"
                    if _rotation(change)
                    else ""
                )
                or "the saved plan changes it, the repository does not"
            )
            return f"{change.path}: {why}"
        if found.secret != change.secret:
            return f"{change.path}: {_marker(change.secret)}"
        if not json_equal(found.after, change.after):
            return f"{change.path}: the saved value differs from the repository's"
        if not json_equal(found.before, change.before):
            return f"{change.path}: the saved live value differs from the CRM's"
    planned = {c.path for c in saved.changes}
    for change in fresh.changes:
        if change.path not in planned:
            if _rotation(change):
                return (
                    f"{change.path}: --rotate-secrets writes it again, the saved plan "
                    "(made without --rotate-secrets) does not: apply without it"
                )
            return f"{change.path}: the repository changes it, the saved plan does not"
    return None


def _rotation(change: Change) -> bool:
    """A secret written again under the name it already has: what --rotate-secrets adds."""
    return change.secret and change.before is not None and json_equal(change.before, change.after)


def _desired_difference(saved: BillerPlan, config: Config) -> str | None:
    """For a biller whose CRM state moved: do its saved changes still say what the
    repository asks (the live side cannot be compared)?"""
    if saved.status == "error":
        return None
    biller = config.billers[saved.bid]
    desired = config.desired(biller)
    secrets = config.schemas.secret_paths
    for change in saved.changes:
        unknown = _unknown(change.path, config)
        if unknown:
            return f"{change.path}: {unknown}"
        parts = tuple(change.path.split("."))
        secret = parts in secrets
        if secret != change.secret:
            return f"{change.path}: {_marker(change.secret)}"
        wanted = _at(desired, parts)
        if secret:
            name = wanted.get("secret") if is_mapping(wanted) else None
            after = change.after.get("secret") if is_mapping(change.after) else None
            same = name == after and (name is None) == (change.after is None)
        else:
            same = (wanted is _ABSENT and change.after is None) or (
                wanted is not _ABSENT and json_equal(wanted, change.after)
            )
        if not same:
            return f"{change.path}: the saved value differs from the repository's"
    return None


_ABSENT = object()


def _marker(secret: bool) -> str:
    said = "a secret" if secret else "not a secret"
    return f"the saved plan says it is {said}; the settings schema says otherwise"


def _at(settings: Mapping[str, Any], parts: Sequence[str]) -> Any:
    node: Any = settings
    for part in parts:
        if not is_mapping(node) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _unknown(path: str, config: Config) -> str | None:
    if config.schemas.field_schema(tuple(path.split("."))) is None:
        return "not a settings field of schemas/settings.schema.json"
    return None
