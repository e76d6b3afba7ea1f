"""Minimal overrides that reproduce live settings: for ``import`` and ``drift --adopt``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .config import Config
from .merge import diff_patch, get_path
from .model import Path_, dotted
from .schemas import Schemas, ordered
from .secrets import with_references

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
