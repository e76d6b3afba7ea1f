"""Plain data of the configuration model: locations, problems, loaded documents."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[str | int, ...]
"""A path inside a document or the settings: keys and list indexes."""

_PLAIN = (str, int, float, list, type(None))


def is_mapping(value: object) -> bool:
    """``isinstance(value, Mapping)``, fast for the plain JSON values settings hold (an
    ABC check that fails is slow, and a plan makes one per leaf)."""
    return type(value) is dict or (not isinstance(value, _PLAIN) and isinstance(value, Mapping))


@dataclass(frozen=True, order=True)
class Location:
    """A place in a repository file: path relative to the repo root, 1-based line and column."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Problem:
    """One validation finding, reported as ``PATH:LINE:COL: error[RULE]: message``."""

    location: Location
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: error[{self.rule}]: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: ``{path, line, col, rule, message}``."""
        where = self.location
        return {
            "path": where.path,
            "line": where.line,
            "col": where.col,
            "rule": self.rule,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        """The problem of an ``as_dict`` form (``KeyError``/``TypeError`` when malformed)."""
        return cls(Location(data["path"], data["line"], data["col"]), data["rule"], data["message"])


Positions = dict[Path_, tuple[int, int, int, int]]
"""Document path -> (key line, key column, value line, value column), 1-based."""


@dataclass
class Document:
    """One loaded YAML file: its data and, on demand, the position of every node."""

    path: str
    data: dict[str, Any]
    suspicious: bool = False  # holds text that may be a key block: always scan for secrets
    invalid: list[Path_] = field(default_factory=list)  # paths the schema refused
    _positions: Positions | None = None
    _locate: Callable[[], Positions] | None = field(default=None, repr=False)

    @property
    def positions(self) -> Positions:
        """Positions of every key and value (parsed again only when first asked)."""
        if self._positions is None:
            self._positions = self._locate() if self._locate is not None else {}
        return self._positions

    @property
    def located(self) -> bool:
        """Whether the positions are in memory now."""
        return self._positions is not None

    def release_positions(self) -> None:
        """Forget positions that can be found again (they are about half a biller's memory)."""
        if self._locate is not None:
            self._positions = None

    def loc(self, path: Path_, *, key: bool = False) -> Location:
        """Where ``path`` is written (its value, or its key); the nearest ancestor if absent."""
        positions = self.positions
        probe = tuple(path)
        while probe:
            found = positions.get(probe)
            if found is not None:
                line, col = (found[0], found[1]) if key else (found[2], found[3])
                return Location(self.path, line, col)
            probe = probe[:-1]
            key = True
        return Location(self.path, 1, 1)


def attributes(record: object, names: Iterable[str]) -> dict[str, Any]:
    """``{name: record.name}`` for each of ``names``, in that order: the JSON form of
    the fields of a record that are JSON values as they are."""
    return {name: getattr(record, name) for name in names}


def dotted(path: Path_) -> str:
    """``('ftp', 'auth', 'password')`` -> ``ftp.auth.password``; list indexes as ``[i]``."""
    try:
        return ".".join(path)  # type: ignore[arg-type]  # the common case: names only
    except TypeError:
        pass  # a list index among the parts
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass(frozen=True)
class Partner:
    """A software partner: its template and the paths its billers may not override."""

    slug: str
    name: str
    integrator_ids: tuple[int, ...]
    settings: Mapping[str, Any]
    locked: tuple[str, ...]
    doc: Document


@dataclass(frozen=True)
class Biller:
    """A biller: its partner and its overrides."""

    bid: int
    name: str
    partner: str
    integrator_id: int | None
    overrides: Mapping[str, Any]
    doc: Document
