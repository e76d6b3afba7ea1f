"""Process tuning for long runs, owned by one context manager and put back when it ends.

``plan``, ``apply`` and ``drift`` load the whole configuration and keep it,
unchanged, until they end; every garbage collection while they plan would walk
it again. ``Tuning.freeze_loaded`` moves everything alive into the collector's
permanent generation (``gc.freeze``). An apply's worker threads wait on the CRM
while the main thread plans: ``Tuning.io_bound`` shortens the thread switch
interval so a worker whose response arrived does not wait out Python's default
5 ms. ``tuned`` undoes both when it exits, for callers that run ``int360``
in-process (tests, the benchmarks).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .crm import IO_SWITCH_INTERVAL


class Tuning:
    """What a run changed in the process, to undo at the end (see ``tuned``)."""

    def __init__(self) -> None:
        self._froze = False
        self._switch_interval: float | None = None

    def freeze_loaded(self) -> None:
        """Take everything alive now out of the collector's walks until ``tuned`` exits.

        Nothing is frozen if something else froze objects already: those are not
        ours to hand back.
        """
        if not self._froze and gc.get_freeze_count() == 0:
            gc.freeze()
            self._froze = True

    def io_bound(self) -> None:
        """Switch threads every ``IO_SWITCH_INTERVAL`` until ``tuned`` exits."""
        if self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(IO_SWITCH_INTERVAL)

    def restore(self) -> None:
        """Put back what this tuning changed."""
        if self._froze:
            gc.unfreeze()
            self._froze = False
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None


@contextmanager
def tuned() -> Iterator[Tuning]:
    """A ``Tuning`` whose changes are undone when the block exits, however it exits."""
    tuning = Tuning()
    try:
        yield tuning
    finally:
        tuning.restore()


__all__ = ["Tuning", "tuned"]
