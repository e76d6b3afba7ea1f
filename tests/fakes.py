"""An in-memory CRM implementing ``CrmPort``, for unit tests of the planner and the applier.

It keeps profiles, settings with an ETag per biller, and audit notes; a PATCH is a
JSON merge patch applied only at the current ETag (``PreconditionFailed`` otherwise),
as the contract says. A secret written as ``{secret, value}`` reads back as
``{secret, set: true}``, as the CRM shows it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from int360apply.crm import AuditNote, Note, Profile
from int360apply.crm.errors import NotFound, PreconditionFailed
from int360apply.crm.port import CrmPort, PatchRequest
from int360apply.crm.results import BulkSettings, PatchResult, Versioned


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and "secret" in value and "value" in value:
            target[key] = {"secret": value["secret"], "set": True}  # values are write-only
        elif isinstance(value, Mapping):
            node = target.get(key)
            if not isinstance(node, dict):
                node = target[key] = {}
            _merge(node, value)
        else:
            target[key] = copy.deepcopy(value)


class FakeCrm:
    """A CRM in a few dictionaries; ``calls`` records the name of every call made."""

    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}
        self.settings: dict[int, dict[str, Any]] = {}
        self.etags: dict[int, int] = {}
        self.notes: dict[int, list[Note]] = {}
        self.calls: list[str] = []

    def add(self, profile: Profile, settings: Mapping[str, Any]) -> None:
        """Create a biller with these settings."""
        self.profiles[profile.bid] = profile
        self.settings[profile.bid] = copy.deepcopy(dict(settings))
        self.etags[profile.bid] = 1

    def etag(self, bid: int) -> str:
        """The current ETag of a biller's settings."""
        return f'"{self.etags[bid]}"'

    def touch(self, bid: int) -> None:
        """Another writer changed the biller: its ETag moves on."""
        self.etags[bid] += 1

    def list_billers(self, integrator_id: int | None = None) -> Iterator[Profile]:
        self.calls.append("list_billers")
        for bid in sorted(self.profiles):
            profile = self.profiles[bid]
            if integrator_id is None or profile.integrator_id == integrator_id:
                yield profile

    def get_biller(self, bid: int) -> Profile:
        self.calls.append("get_biller")
        if bid not in self.profiles:
            raise NotFound(f"GET /billers/{bid}: no such biller", status=404)
        return self.profiles[bid]

    def get_settings(self, bid: int) -> Versioned:
        self.calls.append("get_settings")
        if bid not in self.settings:
            raise NotFound(f"GET /billers/{bid}/settings: no such biller", status=404)
        return self._versioned(bid)

    def bulk_settings(self, bids: Iterable[int]) -> BulkSettings:
        self.calls.append("bulk_settings")
        return BulkSettings.gather(bids, self.settings, self._versioned)

    def patch_settings(self, request: PatchRequest) -> PatchResult:
        self.calls.append("patch_settings")
        bid, patch, etag, note = request
        if bid not in self.settings:
            raise NotFound(f"PATCH /billers/{bid}/settings: no such biller", status=404)
        if etag != self.etag(bid):
            raise PreconditionFailed(
                f"PATCH /billers/{bid}/settings: the settings changed since ETag {etag}",
                current_etag=self.etag(bid),
            )
        _merge(self.settings[bid], patch)
        self.etags[bid] += 1
        note_id = self._note(bid, note).id if note is not None else None
        settings, etag = self._versioned(bid)
        return PatchResult(settings, etag, False, note_id=note_id)

    def add_note(self, bid: int, note: AuditNote) -> Note:
        self.calls.append("add_note")
        return self._note(bid, note)

    def _versioned(self, bid: int) -> Versioned:
        return Versioned(copy.deepcopy(self.settings[bid]), self.etag(bid))

    def _note(self, bid: int, note: AuditNote) -> Note:
        notes = self.notes.setdefault(bid, [])
        made = Note(
            len(notes) + 1,
            "2024-03-01T12:00:00Z",
            note.author or "",
            note.text,
            note.commit,
            note.paths,
        )
        notes.append(made)
        return made


def as_port(fake: FakeCrm) -> CrmPort:
    """``fake`` where a ``CrmPort`` is expected: mypy holds the fake to the port here
    (``tests/test_port_types.py`` runs it on this file)."""
    return fake
