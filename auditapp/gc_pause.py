"""Pausing CPython's cyclic garbage collector around one bounded, allocation-heavy piece of work."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the length of the block.

    A sync push (up to MAX_BATCH mutations) or a dashboard computation (one row per placement) builds
    hundreds of thousands of short-lived tuples, dicts and lists; each allocation burst triggers
    collections that rescan every live object of the process (ORM state, parsed templates), which
    measured ~30 % of a push and most of the dashboard's slow outliers. The work makes no reference
    cycles worth collecting, reference counting frees its garbage as usual, and normal collection
    resumes when the block ends. Use it only around work whose size is capped.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
