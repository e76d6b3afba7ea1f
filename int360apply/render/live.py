"""A biller's live CRM settings for ``int360 render BID --live``: secrets by name only."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from ..schemas import Schemas, ordered
from ..secrets import is_reference
from .settings import as_yaml


def masked(settings: Mapping[str, Any], schemas: Schemas) -> dict[str, Any]:
    """``settings`` in the schema's key order with every secret field (``writeOnly``)
    as ``{secret: NAME}``; a value there that is not a reference shows as ``(hidden)``."""
    out: dict[str, Any] = copy.deepcopy(dict(settings))
    for path in schemas.secret_paths:
        node: Any = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(path[-1]) is not None:
            node[path[-1]] = _by_name(node[path[-1]])
    result: dict[str, Any] = ordered(out, schemas)
    return result


def _by_name(value: Any) -> Any:
    """A secret as output may show it: its name only; anything else is hidden."""
    return {"secret": value["secret"]} if is_reference(value) else HIDDEN


HIDDEN = "(hidden)"


def live_yaml(bid: int, crm: str, etag: str, settings: Mapping[str, Any], schemas: Schemas) -> str:
    """YAML, headed by a comment naming the CRM and the version it was read at."""
    head = f"# biller {bid}: live settings from {crm} (ETag {etag})\n"
    return head + as_yaml(masked(settings, schemas))


def live_json(bid: int, crm: str, etag: str, settings: Mapping[str, Any], schemas: Schemas) -> str:
    """``{"bid", "crm", "etag", "settings"}``."""
    doc = {"bid": bid, "crm": crm, "etag": etag, "settings": masked(settings, schemas)}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
