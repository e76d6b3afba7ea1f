"""Place a finding about merged settings in the file a user should edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import Biller, Config
from ..model import Location, Path_, Problem


def locate(
    config: Config,
    biller: Biller,
    desired: Mapping[str, Any],
    findings: list[tuple[Path_, str, str]],
) -> list[Problem]:
    """Place each finding: a bad value where it is written; a missing one in the biller file."""
    provenance = config.provenance(biller)
    out = []
    for path, rule, message in findings:
        written = written_at(provenance, path)
        if rule in ("value", "schema") and written is not None:
            out.append(Problem(written, rule, message))
            continue
        if written is not None and written.path != biller.doc.path:
            message += f" (the value in effect comes from {written})"
        out.append(Problem(biller_anchor(biller, path), rule, message))
    return out


def written_at(provenance: Mapping[Path_, Location], path: Path_) -> Location | None:
    """Where ``path`` (or its nearest written ancestor) is written; None when nowhere."""
    probe = path
    while probe:
        if probe in provenance:
            return provenance[probe]
        probe = probe[:-1]
    return None


def biller_anchor(biller: Biller, path: Path_) -> Location:
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


def related(a: Path_, b: Path_) -> bool:
    """Whether one path is inside the other (or they are the same)."""
    size = min(len(a), len(b))
    return a[:size] == b[:size]
