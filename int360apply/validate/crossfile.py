"""The cross-file stage: duplicate BIDs and integrator IDs, and partner templates
judged with ``_defaults`` (their locked paths and value rules)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .. import rules
from ..config import Config, Partner
from ..model import Document, Location, Path_, Problem
from ..repo import DEFAULTS


def cross_file_problems(
    config: Config, biller_docs: Mapping[int, Sequence[Document | str]]
) -> list[Problem]:
    """Duplicate BIDs and integrator IDs, and the partner templates' own problems.

    ``biller_docs``: every biller file by its bid, as its loaded document (or only
    its repo-relative path when the document stayed in a worker process).
    """
    return [
        *duplicate_bids(biller_docs),
        *duplicate_integrator_ids(config),
        *partner_problems(config),
    ]


def duplicate_bids(biller_docs: Mapping[int, Sequence[Document | str]]) -> Iterator[Problem]:
    """A ``duplicate-bid`` problem at the bid of each file that shares its bid with another."""
    for bid, docs in sorted(biller_docs.items()):
        if len(docs) < 2:
            continue
        paths = [d if isinstance(d, str) else d.path for d in docs]
        for doc, path in zip(docs, paths, strict=True):
            others = ", ".join(f for f in paths if f != path)
            where = Location(doc) if isinstance(doc, str) else doc.loc(("bid",))
            yield Problem(
                where,
                "duplicate-bid",
                f"bid {bid} is also used by {others}; each biller has exactly one file",
            )


def duplicate_integrator_ids(config: Config) -> Iterator[Problem]:
    """A ``duplicate-integrator-id`` problem for each ID a second partner claims."""
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


def locked_path_problems(config: Config, partner: Partner) -> Iterator[Problem]:
    """A ``locked`` problem for each locked path that is not a settings field."""
    for index, path in enumerate(partner.locked):
        if config.schemas.field_schema(tuple(path.split("."))) is None:
            yield Problem(
                partner.doc.loc(("locked", index)),
                "locked",
                f"locked path {path} is not a settings field",
            )


def template_value_problems(config: Config, partner: Partner) -> Iterator[Problem]:
    """The value rules on ``_defaults`` merged with one template, placed in the layer that
    writes each value: they hold whether or not a biller uses the template yet."""
    base_doc = config.defaults
    base = config.partner_base(partner.slug)
    for finding in rules.check(base, rules.VALUE_CHECKS):
        layer_doc, at = (
            (partner.doc, ("settings",))
            if merge_has(partner.settings, finding.path)
            else (base_doc, ("settings",))
        )
        where = layer_doc.loc((*at, *finding.path)) if layer_doc else Location(DEFAULTS)
        yield Problem(where, finding.rule, finding.message)


def partner_problems(config: Config) -> Iterator[Problem]:
    """Every partner template's locked-path and value problems."""
    for partner in config.partners.values():
        yield from locked_path_problems(config, partner)
        yield from template_value_problems(config, partner)


def merge_has(settings: Mapping[str, Any], path: Path_) -> bool:
    """Whether the layer ``settings`` writes ``path`` (null included)."""
    node: Any = settings
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True
