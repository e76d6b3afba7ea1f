"""Counting items per status, in a fixed order: the summaries of plans and reports."""

from __future__ import annotations

from collections.abc import Iterable


def tally(statuses: Iterable[str], order: tuple[str, ...], optional: str) -> dict[str, int]:
    """How many of ``statuses`` there are of each of ``order``, in that order.

    ``optional`` is left out when there is none of it: a status that only some
    runs have (a removed biller, a refusal by the guard) is not shown as zero.
    """
    counts = dict.fromkeys(order, 0)
    for status in statuses:
        counts[status] += 1
    if not counts[optional]:
        del counts[optional]
    return counts
