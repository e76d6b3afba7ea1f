"""A new biller file from its CRM profile (``int360 new``). Pure: profile + config → text.

The file names the biller, its partner (found from the profile's integrator ID)
and, where the partner has several IDs, ``integrator_id``. Every field the merge
still needs (required by the settings schema or by a cross-field rule, and set by
neither ``_defaults`` nor the partner) is written under ``overrides`` as an empty
value with the schema's description above it: validating the file then points at
each line left to fill.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

from . import rules
from .config import Config
from .crm import Profile
from .fleet_view import FIX_HINT, partner_of_id
from .merge import get_path
from .model import Path_, dotted, is_mapping
from .schemas import ordered
from .yamlwrite import MODELINE, biller_text

GROUPS = ("advanced", "ftp", "data_pump", "invoicing")
WIDTH = 88


class StarterError(Exception):
    """The profile cannot start a file (no partner for it, or another partner's ID)."""


def choose_partner(config: Config, profile: Profile, slug: str | None) -> tuple[str, int | None]:
    """The partner slug of ``profile`` and the ``integrator_id`` line its file needs.

    ``slug`` (``--partner``) must be a loaded partner (the caller checks) that owns
    the profile's integrator ID.
    """
    iid = profile.integrator_id
    if slug is None:
        found = partner_of_id(config).get(iid)
        if found is None:
            raise StarterError(
                f"biller {profile.bid}: no partner of this repository has integrator ID {iid}; "
                f"{FIX_HINT.replace('fix it', 'fix the profile')} --partner SLUG option "
                "(see int360 partners)"
            )
        slug = found
    partner = config.partners[slug]
    if iid not in partner.integrator_ids:
        ids = ", ".join(map(str, partner.integrator_ids))
        raise StarterError(
            f"biller {profile.bid}: its CRM profile has integrator ID {iid}, but partner "
            f"{slug} has {ids}; {FIX_HINT.replace('fix it', 'fix the profile')} "
            "--partner option (see int360 partners)"
        )
    return slug, iid if len(partner.integrator_ids) > 1 else None


def missing_fields(config: Config, slug: str) -> list[Path_]:
    """Fields a biller of ``slug`` must set: unset after ``_defaults`` and the partner
    merge, yet required by the complete schema or a cross-field rule.

    Locked paths are left out: a biller may not set them (the partner must).
    """
    desired = config.partner_base(slug)
    found: list[Path_] = []
    for group in GROUPS:
        value = desired.get(group)
        validator = config.schemas.group_validators[group]
        for error in validator.iter_errors(value if value is not None else {}):
            if error.validator != "required":
                continue
            prefix = (group, *(str(p) for p in error.absolute_path))
            found += [(*prefix, n) for n in error.validator_value if n not in error.instance]
    for finding in rules.check(desired):
        if finding.rule == "cross-field" and get_path(desired, finding.path) is None:
            found.append(finding.path)
    locked = {tuple(p.split(".")) for p in config.partners[slug].locked}
    out: list[Path_] = []
    for path in found:
        if path not in out and not any(path[: len(lock)] == lock for lock in locked):
            out.append(path)
    return out


def _tree(config: Config, paths: list[Path_]) -> dict[str, Any]:
    """The paths as nested mappings (leaves None), in the settings schema's key order."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(str(part), {})
        node.setdefault(str(path[-1]), None)
    ordered_tree: dict[str, Any] = ordered(tree, config.schemas)
    return ordered_tree


def _placeholder_lines(
    config: Config, node: Mapping[str, Any], prefix: tuple[str, ...], indent: str
) -> Iterator[str]:
    for key, child in node.items():
        path = (*prefix, key)
        if is_mapping(child):
            yield f"{indent}{key}:"
            yield from _placeholder_lines(config, child, path, indent + "  ")
            continue
        schema = config.schemas.field_schema(path) or {}
        description = str(schema.get("description") or dotted(path))
        for line in textwrap.wrap(description, WIDTH - len(indent) - 2):
            yield f"{indent}# {line}"
        yield f"{indent}{key}:"


def starter_text(config: Config, profile: Profile, slug: str, integrator_id: int | None) -> str:
    """The new file: modeline, how to finish it, the profile's keys, the placeholders."""
    head = biller_text(profile.bid, profile.name, slug, integrator_id, {})
    assert head.startswith(MODELINE)
    missing = missing_fields(config, slug)
    note = [
        f"# Started by `int360 new {profile.bid}` from its CRM profile "
        f"(integrator ID {profile.integrator_id}).",
    ]
    if missing:
        note += [
            "# Fill in every empty value under overrides (each says what it is), then run",
            f"# `int360 validate billers/{profile.bid}.yaml`: it names what is left.",
        ]
    body = head[len(MODELINE) :]
    out = MODELINE + "\n".join(note) + "\n" + body
    if missing:
        out += "overrides:\n" + "\n".join(
            _placeholder_lines(config, _tree(config, missing), (), "  ")
        )
        out += "\n"
    return out
