"""The CRM's biller profiles beside the repository's biller files (``int360 billers``).

Pure: CRM profiles and a loaded ``Config`` in, rows and counts out; the renderers
(text, markdown, JSON) only read them. Reading the profiles is the caller's job.

A row is one BID, in one of four states:

* ``managed``    a file and a profile whose integrator ID is one the file expects;
* ``unmanaged``  a profile carrying a partner's integrator ID, and no file;
* ``no-profile`` a file the CRM has no profile for (plan reports it unknown);
* ``mismatch``   a file and a profile on another integrator ID (plan refuses it).

Whether the profile is inactive is a flag beside the state, not a state of its own:
an inactive biller can be managed or not.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import Biller, Config
from .crm import Profile

STATES = ("managed", "unmanaged", "no-profile", "mismatch")
FIX_HINT = "fix it in the CRM (Biller Info → CRM Profile → Integration Partner ID) or the"
NO_PARTNER = "-"


@dataclass(frozen=True)
class Row:
    """One biller: its profile, its file, or both."""

    bid: int
    name: str
    partner: str  # the file's partner; else the partner of the profile's integrator ID
    state: str
    crm_integrator_id: int | None  # None: no profile
    file: str | None  # None: no file
    expected_ids: tuple[int, ...] = ()  # the integrator IDs the file allows
    inactive: bool = False
    hint: str = ""  # what to do (mismatch, no profile, unmanaged)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "bid": self.bid,
            "name": self.name,
            "partner": self.partner if self.partner != NO_PARTNER else None,
            "state": self.state,
            "inactive": self.inactive,
            "crm_integrator_id": self.crm_integrator_id,
            "expected_integrator_ids": list(self.expected_ids),
            "file": self.file,
            "hint": self.hint or None,
        }


@dataclass
class Counts:
    """Billers of one partner per state, and the inactive ones among them."""

    managed: int = 0
    unmanaged: int = 0
    no_profile: int = 0
    mismatch: int = 0
    inactive: int = 0

    def add(self, row: Row) -> None:
        """Count ``row``."""
        attr = row.state.replace("-", "_")
        setattr(self, attr, getattr(self, attr) + 1)
        self.inactive += row.inactive

    def as_dict(self) -> dict[str, int]:
        """The JSON form: every field, in order."""
        return asdict(self)


@dataclass(frozen=True)
class Filters:
    """The command line's filters; every one given must hold."""

    partner: str | None = None
    integrator_id: int | None = None
    name: str | None = None
    unmanaged: bool = False


@dataclass
class FleetView:
    """The rows that pass the filters and their counts per partner."""

    rows: list[Row]
    filters: Filters = field(default_factory=Filters)
    partners: tuple[str, ...] = ()  # counted even with no row (zeros)

    @property
    def counts(self) -> dict[str, Counts]:
        """Counts per partner slug (``-`` for profiles of no partner), sorted by slug."""
        out: dict[str, Counts] = {slug: Counts() for slug in self.partners}
        for row in self.rows:
            out.setdefault(row.partner, Counts()).add(row)
        return dict(sorted(out.items()))

    @property
    def total(self) -> Counts:
        """Counts over every row."""
        total = Counts()
        for row in self.rows:
            total.add(row)
        return total


def partner_of_id(config: Config) -> dict[int, str]:
    """Integrator ID -> partner slug, over every loaded partner."""
    return {iid: slug for slug, p in config.partners.items() for iid in p.integrator_ids}


def expected_ids(config: Config, biller: Biller) -> tuple[int, ...]:
    """The integrator IDs a biller's CRM profile may carry: its own, else its partner's."""
    if biller.integrator_id is not None:
        return (biller.integrator_id,)
    partner = config.partners.get(biller.partner)
    return partner.integrator_ids if partner is not None else ()


def build_rows(config: Config, profiles: Iterable[Profile], asked: int | None = None) -> list[Row]:
    """Every BID the CRM or the repository knows of, in BID order.

    Profiles carrying no partner's integrator ID and no file are other products'
    billers: left out, unless their ID is the one ``asked`` about.
    """
    by_id = partner_of_id(config)
    seen: dict[int, Profile] = {p.bid: p for p in profiles}
    rows: list[Row] = []
    for bid in sorted(set(seen) | set(config.billers)):
        profile = seen.get(bid)
        biller = config.billers.get(bid)
        if biller is None:
            assert profile is not None
            slug = by_id.get(profile.integrator_id)
            if slug is None:
                if profile.integrator_id == asked:
                    rows.append(_partnerless(profile))
                continue
            rows.append(
                Row(
                    bid,
                    profile.name,
                    slug,
                    "unmanaged",
                    profile.integrator_id,
                    None,
                    inactive=profile.status == "inactive",
                    hint=f"int360 new {bid} (or int360 import {bid}) writes its file",
                )
            )
            continue
        rows.append(_file_row(config, biller, profile, by_id))
    return rows


def _partnerless(profile: Profile) -> Row:
    return Row(
        profile.bid,
        profile.name,
        NO_PARTNER,
        "unmanaged",
        profile.integrator_id,
        None,
        inactive=profile.status == "inactive",
        hint=f"no partner of this repository has integrator ID {profile.integrator_id}: "
        "add it to a partner file's integrator_ids, or fix the profile in the CRM",
    )


def _file_row(
    config: Config, biller: Biller, profile: Profile | None, by_id: Mapping[int, str]
) -> Row:
    wanted = expected_ids(config, biller)
    path = biller.doc.path
    if profile is None:
        return Row(
            biller.bid,
            biller.name,
            biller.partner,
            "no-profile",
            None,
            path,
            wanted,
            hint=f"the CRM has no biller {biller.bid}: create its profile in the CRM, "
            f"or correct bid: in {path}",
        )
    inactive = profile.status == "inactive"
    if profile.integrator_id in wanted:
        return Row(
            biller.bid,
            biller.name,
            biller.partner,
            "managed",
            profile.integrator_id,
            path,
            wanted,
            inactive,
        )
    other = by_id.get(profile.integrator_id)
    owner = f" (partner {other})" if other else " (no partner of this repository)"
    ids = ", ".join(map(str, wanted)) or "none"
    # The file's line costs a second parse: only for a biller in this state.
    where = f"{path}:{biller.doc.loc(('partner',)).line}"
    return Row(
        biller.bid,
        biller.name,
        biller.partner,
        "mismatch",
        profile.integrator_id,
        path,
        wanted,
        inactive,
        hint=f"the CRM profile has integrator ID {profile.integrator_id}{owner}, the file "
        f"expects {ids} (partner {biller.partner}); {FIX_HINT} partner: line ({where})",
    )


def select(rows: Iterable[Row], config: Config, filters: Filters) -> FleetView:
    """The rows that pass every filter given."""
    by_id = partner_of_id(config)
    needle = filters.name.casefold() if filters.name else None
    kept = []
    for row in rows:
        if filters.unmanaged and row.state != "unmanaged":
            continue
        if filters.partner is not None and filters.partner not in (
            row.partner,
            by_id.get(row.crm_integrator_id or 0),
        ):
            continue
        if filters.integrator_id is not None and filters.integrator_id not in (
            row.crm_integrator_id,
            *row.expected_ids,
        ):
            continue
        if needle is not None and needle not in row.name.casefold():
            biller = config.billers.get(row.bid)
            if biller is None or needle not in biller.name.casefold():
                continue
        kept.append(row)
    unfiltered = filters == Filters()
    # Unfiltered, every partner is counted, a partner without billers too.
    return FleetView(kept, filters, tuple(config.partners) if unfiltered else ())


def fleet_view(config: Config, profiles: Iterable[Profile], filters: Filters) -> FleetView:
    """``build_rows`` then ``select``."""
    return select(build_rows(config, profiles, filters.integrator_id), config, filters)


# --- renderers -------------------------------------------------------------------


def _state_text(row: Row) -> str:
    return f"{row.state} (inactive)" if row.inactive else row.state


def _counts_cells(counts: Counts) -> list[str]:
    return [
        str(counts.managed),
        str(counts.unmanaged),
        str(counts.no_profile),
        str(counts.mismatch),
        str(counts.inactive),
    ]


COUNT_HEADER = ["PARTNER", "MANAGED", "UNMANAGED", "NO PROFILE", "MISMATCH", "INACTIVE"]


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
    return out


def _iid(row: Row) -> str:
    return str(row.crm_integrator_id) if row.crm_integrator_id is not None else "-"


def _needing(view: FleetView) -> list[Row]:
    """Rows whose hint says what to fix (an unmanaged one's says how to start its file)."""
    return [
        r for r in view.rows if r.state in ("mismatch", "no-profile") or r.partner == NO_PARTNER
    ]


def text(view: FleetView) -> str:
    """A table of billers, the hints of the ones that need something, counts per partner."""
    if not view.rows:
        return "No billers match.\n"
    table = [["BID", "NAME", "PARTNER", "CRM ID", "STATE", "FILE"]]
    table += [
        [str(r.bid), r.name, r.partner, _iid(r), _state_text(r), r.file or "-"] for r in view.rows
    ]
    lines = _table(table, right={0, 3})
    hints = _needing(view)
    if hints:
        lines.append("")
        lines += [f"{r.bid}: {r.hint}" for r in hints]
    lines.append("")
    counts = [COUNT_HEADER]
    counts += [[slug, *_counts_cells(c)] for slug, c in view.counts.items()]
    counts.append(["total", *_counts_cells(view.total)])
    lines += _table(counts, right={1, 2, 3, 4, 5})
    return "\n".join(lines) + "\n"


def _md(text_: str) -> str:
    """A CRM name or hint as a table cell: no HTML, pipes, line breaks or @mentions."""
    escaped = html.escape(text_, quote=False).replace("|", "\\|").replace("\n", " ")
    return escaped.replace("@", "&#64;")


def markdown(view: FleetView) -> str:
    """The same as Markdown tables (for an issue or a pull request)."""
    if not view.rows:
        return "No billers match.\n"
    lines = [
        "| BID | name | partner | CRM integrator ID | state | file |",
        "|---:|---|---|---:|---|---|",
    ]
    for r in view.rows:
        file = f"`{r.file}`" if r.file else "—"
        lines.append(
            f"| {r.bid} | {_md(r.name)} | {r.partner} | {_iid(r)} | {_state_text(r)} | {file} |"
        )
    hints = _needing(view)
    if hints:
        lines.append("")
        lines += [f"- **{r.bid}**: {_md(r.hint)}" for r in hints]
    lines += ["", "| " + " | ".join(h.lower() for h in COUNT_HEADER) + " |"]
    lines.append("|---|" + "---:|" * (len(COUNT_HEADER) - 1))
    for slug, c in view.counts.items():
        lines.append(f"| {slug} | " + " | ".join(_counts_cells(c)) + " |")
    lines.append("| **total** | " + " | ".join(_counts_cells(view.total)) + " |")
    return "\n".join(lines) + "\n"


def as_json(view: FleetView) -> str:
    """``{"billers": [...], "partners": {slug: counts}, "total": counts}``."""
    doc = {
        "billers": [r.as_dict() for r in view.rows],
        "partners": {slug: c.as_dict() for slug, c in view.counts.items()},
        "total": view.total.as_dict(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


FORMATS = {"text": text, "markdown": markdown, "json": as_json}
