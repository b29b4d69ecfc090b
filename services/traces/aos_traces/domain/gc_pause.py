"""Pause Python's cyclic garbage collector around bulk normalisation.

A 50,000-step batch allocates hundreds of thousands of small acyclic dicts and strings; every
few hundred allocations the collector would walk them all again (and the parsed request body
with them). Reference counting frees everything this code makes, so the cyclic collector is
paused while any bulk normalisation runs (counted, so overlapping requests compose) and resumes
as soon as the last one finishes.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
