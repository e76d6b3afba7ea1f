"""Keep Python's garbage collector off data that lives, unchanged, for a whole run.

``plan``, ``apply`` and ``drift`` load the whole configuration and keep it until
they end; every collection while they plan would walk it again. ``freeze_loaded``
moves everything alive into the collector's permanent generation
(``gc.freeze``); ``thaw`` hands it back when the command ends, for callers that
run ``int360`` in-process. Nothing is frozen if something else froze objects
already: those are not ours to hand back.
"""

from __future__ import annotations

import gc

_frozen_by_us = False


def freeze_loaded() -> None:
    """Take everything alive now out of the collector's walks until ``thaw``."""
    global _frozen_by_us
    if not _frozen_by_us and gc.get_freeze_count() == 0:
        gc.freeze()
        _frozen_by_us = True


def thaw() -> None:
    """Undo ``freeze_loaded`` (nothing if it froze nothing)."""
    global _frozen_by_us
    if _frozen_by_us:
        gc.unfreeze()
        _frozen_by_us = False
