"""The character budget of a GitHub body (comment, issue or pull request).

GitHub refuses a body over 65,536 characters. A ``Body`` keeps within its limit on
every path: its fixed parts are clipped to what is left, whole entries are added
while they fit, and what does not fit is counted in a note naming where the rest is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .cells import clip

COMMENT_LIMIT = 65_536
# Room kept for the note that says what was left out.
_NOTE_ROOM = 400


@dataclass
class Body:
    """A body that never grows past ``limit``: ``head`` always fits (it is small and
    clipped), entries are added while they fit with room for ``foot`` and a note."""

    limit: int
    foot: str = ""
    parts: list[str] = field(default_factory=list)

    def used(self) -> int:
        """The characters placed so far (``foot`` not counted)."""
        return sum(len(p) for p in self.parts)

    def room(self) -> int:
        """The characters still free, with ``foot`` kept."""
        return self.limit - self.used() - len(self.foot)

    def add(self, text: str) -> bool:
        """Add ``text`` when it fits (leaving room for a note); False when it does not."""
        if len(text) + _NOTE_ROOM > self.room():
            return False
        self.parts.append(text)
        return True

    def add_head(self, text: str) -> None:
        """A fixed part: clipped to what is left so that the budget holds regardless."""
        room = self.room() - _NOTE_ROOM
        self.parts.append(text if len(text) <= room else clip(text, max(0, room)))

    def entries(self, items: Iterable[str], total: int, rest: str) -> int:
        """Add entries in order while they fit; then one note with how many are left out
        (``rest`` names where they are). The number added."""
        added = 0
        for item in items:
            if not self.add(item):
                break
            added += 1
        if added < total:
            note = (
                f"\n_… {total - added} more not shown here (the limit is "
                f"{self.limit:,} characters); {rest}._\n"
            )
            self.parts.append(clip(note, max(0, self.room())))
        return added

    def text(self) -> str:
        """The body: its parts, then ``foot``; never over ``limit``."""
        out = "".join(self.parts) + self.foot
        if len(out) > self.limit:  # defensive: the rules above keep this from happening
            out = out[: self.limit - 1] + "…"
        return out
