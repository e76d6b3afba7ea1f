"""Biller files from live settings: for ``import`` and ``drift --adopt``.

Both write the minimal overrides that reproduce the live settings, and both check
the file they would write exactly as ``validate`` would: a live state the repository
cannot express (a locked path, a required field removed in the CRM, an integrator
ID the partner does not have) is reported, never written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import Biller, Config
from .crm import Profile
from .merge import diff_patch, get_path
from .model import Path_, Problem, dotted
from .plan import BillerPlan
from .schemas import Schemas, ordered
from .secrets import with_references
from .validate import biller_text_problems
from .yamlwrite import biller_text, overrides_text, write_atomic

# The settings schema's pattern for a secret's name, whole-string (never a newline).
_SECRET_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,63}")


class AdoptError(Exception):
    """The live settings cannot be expressed as this biller's overrides."""


def minimal_overrides(
    config: Config,
    partner_slug: str,
    live: Mapping[str, Any],
    dropped: list[str] | None = None,
) -> dict[str, Any]:
    """The smallest overrides that make the merge equal ``live``; locked paths refuse.

    A secret field the CRM holds in any form but the read form ``{secret, set}``
    refuses the biller (``AdoptError``, naming the field, never the value); fields
    the schema does not know are left out and their dotted paths added to ``dropped``.
    """
    known = known_fields(config.schemas, live, dropped)
    refuse_unreadable_secrets(known, config.schemas.secret_paths)
    base = config.partner_base(partner_slug)
    target = with_references(known, config.schemas.secret_paths, read_form=False)
    overrides = diff_patch(base, target)
    partner = config.partners[partner_slug]
    for lock in partner.locked:
        path = tuple(lock.split("."))
        if _touches(overrides, path):
            raise AdoptError(
                f"the live value of {dotted(path)} differs from partner {partner_slug}'s "
                "template, which locks it; change it back in the CRM or change the partner"
            )
    result: dict[str, Any] = ordered(overrides, config.schemas)
    return result


def refuse_unreadable_secrets(live: Mapping[str, Any], secret_paths: frozenset[Path_]) -> None:
    """``AdoptError`` when a secret field of ``live`` is not the read form ``{secret: NAME,
    set: true|false}`` with a well-formed NAME: a plaintext (a legacy record set up by
    hand, a read form with a ``value``) must never reach a file. The message names
    the field, never what it holds."""
    for path in sorted(secret_paths):
        value = get_path(live, path)
        if value is None or _is_read_form(value):
            continue
        raise AdoptError(
            f"the CRM holds {dotted(path)} in a form other than a secret reference "
            "(a plaintext value?), which is never written to a file; set it in the CRM as a "
            "secret (e.g. write {secret: NAME} in the file and apply), then try again"
        )


def _is_read_form(value: Any) -> bool:
    if not isinstance(value, Mapping) or not set(value) <= {"secret", "set"}:
        return False
    name, flag = value.get("secret"), value.get("set", True)
    well_named = isinstance(name, str) and _SECRET_NAME.fullmatch(name) is not None
    return well_named and flag in (True, False)


def known_fields(
    schemas: Schemas, live: Mapping[str, Any], dropped: list[str] | None = None
) -> dict[str, Any]:
    """``live`` without the fields the settings schema does not know (a CRM newer than
    the schemas): their dotted paths go to ``dropped``. Secrets are kept whole."""

    def keep(node: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        schema = schemas.field_schema(path)
        names = (schema or {}).get("properties")
        out: dict[str, Any] = {}
        for key, value in node.items():
            sub = (*path, str(key))
            if isinstance(names, Mapping) and key not in names:
                if dropped is not None:
                    dropped.append(dotted(sub))
                continue
            if isinstance(value, Mapping) and sub not in schemas.secret_paths:
                out[key] = keep(value, sub)
            else:
                out[key] = value
        return out

    return keep(live, ())


def _touches(overrides: Mapping[str, Any], path: Path_) -> bool:
    node: Any = overrides
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        if node[part] is None:
            return True
        node = node[part]
    return True


@dataclass(frozen=True)
class Written:
    """A biller file to write (``text``), or why it is not written (``reason``)."""

    bid: int
    path: str  # repo-relative
    text: str | None
    reason: str | None = None
    dropped: tuple[str, ...] = ()  # live fields the schema does not know: left out

    def write(self, config: Config) -> None:
        """Write the file (atomically); only for an entry with ``text``."""
        assert self.text is not None
        write_atomic(config.repo.root / self.path, self.text)


def _invalid(problems: list[Problem]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    where = f"line {first.location.line}: " if first.location.line > 1 else ""
    return f"the file would not validate: {where}error[{first.rule}]: {first.message}{more}"


def adopt(config: Config, biller: Biller, live: Mapping[str, Any]) -> Written:
    """``biller``'s file rewritten to ``live`` (comments kept), if the result is valid."""
    rel = biller.doc.path
    dropped: list[str] = []
    try:
        overrides = minimal_overrides(config, biller.partner, live, dropped)
    except AdoptError as exc:
        return Written(biller.bid, rel, None, str(exc))
    text = overrides_text(config.repo.root / rel, overrides)
    problems = biller_text_problems(config, rel, text)
    if problems:
        return Written(biller.bid, rel, None, _invalid(problems))
    return Written(biller.bid, rel, text, dropped=tuple(dropped))


def import_file(
    config: Config, profile: Profile, slug: str, live: Mapping[str, Any], rel: str
) -> Written:
    """A new biller file ``rel`` for ``profile`` under partner ``slug``, if it is valid."""
    partner = config.partners[slug]
    if profile.integrator_id not in partner.integrator_ids:
        ids = ", ".join(map(str, partner.integrator_ids))
        return Written(
            profile.bid,
            rel,
            None,
            f"its CRM profile has integrator ID {profile.integrator_id}, not one of partner "
            f"{slug}'s ({ids}); fix the profile in the CRM or name the right --partner",
        )
    if not live:
        return Written(
            profile.bid,
            rel,
            None,
            "the CRM holds no settings for it yet, so there is nothing to import; "
            f"write {rel} by hand (see the README) and apply it",
        )
    dropped: list[str] = []
    try:
        overrides = minimal_overrides(config, slug, live, dropped)
    except AdoptError as exc:
        return Written(profile.bid, rel, None, str(exc))
    iid = profile.integrator_id if len(partner.integrator_ids) > 1 else None
    text = biller_text(profile.bid, profile.name, slug, iid, overrides)
    problems = biller_text_problems(config, rel, text)
    if problems:
        return Written(profile.bid, rel, None, _invalid(problems))
    return Written(profile.bid, rel, text, dropped=tuple(dropped))


def shared_drift(config: Config, drifted: Iterable[BillerPlan]) -> list[str]:
    """One line per partner whose every biller (two or more) drifted the same way: the
    template is likely what changed, not each biller."""
    by_partner: dict[str, list[BillerPlan]] = {}
    for entry in drifted:
        by_partner.setdefault(entry.partner, []).append(entry)
    hints = []
    for slug, entries in sorted(by_partner.items()):
        members = sum(1 for b in config.billers.values() if b.partner == slug)
        if members < 2 or len(entries) != members or slug not in config.partners:
            continue
        shapes = {
            json.dumps([[c.path, c.before, c.after] for c in e.changes], sort_keys=True)
            for e in entries
        }
        if len(shapes) != 1:
            continue
        paths = ", ".join(c.path for c in entries[0].changes)
        hints.append(
            f"every biller of partner {slug} ({members}) drifted the same way ({paths}): "
            f"the template {config.partners[slug].doc.path} is likely what should change, "
            f"not {members} overrides"
        )
    return hints
