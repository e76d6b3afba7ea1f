"""``int360 diff``: merged settings at a git revision against the working tree, no CRM."""

from __future__ import annotations

import functools
from pathlib import Path

from .config import Config
from .load import load_config
from .plan import BillerPlan, Plan, diff_settings
from .repo import Repo
from .scope import changed_files, scope_from_changes, temp_tree
from .secrets import with_references


def diff_since(config: Config, ref: str) -> Plan:
    """Per affected biller, the leaves whose merged value differs between ``ref`` and now."""
    scope = scope_from_changes(config, changed_files(config.repo, ref))
    with temp_tree(config.repo, ref) as folder:
        base = load_config(Repo(Path(folder)))
    secrets = config.schemas.secret_paths
    billers = []
    for bid in sorted(scope.bids):
        biller = config.billers[bid]
        old = base.billers.get(bid)
        before = (
            base.desired(old)
            if old is not None and old.partner in base.partners and base.defaults is not None
            else {}
        )
        after = config.desired(biller)
        entry = BillerPlan(bid, biller.name, biller.partner, "unchanged")
        # Both sides are references, so secrets compare by name: mark them as set.
        entry.changes = diff_settings(
            after,
            with_references(before, secrets, read_form=True),
            secrets,
            functools.partial(config.sources, biller),
        )
        if entry.changes:
            entry.status = "change"
        billers.append(entry)
    for bid, path in sorted(scope.removed.items()):
        billers.append(BillerPlan(bid, path, "", "removed"))
    fanout = {
        slug: sum(1 for b in scope.bids if config.billers[b].partner == slug)
        for slug in scope.partners_changed
    }
    return Plan(crm=f"git {ref} → working tree", commit=None, billers=billers, fanout=fanout)
