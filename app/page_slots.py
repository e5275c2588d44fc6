"""Admission of page scripts: at most `SLOTS` of the server's sessions run their page script at once;
the others wait their turn (first come, first served), at most `MAX_WAIT_S` seconds.

Why: every session's script runs on a thread of one Python process, and threads share one
interpreter lock. When a room of visitors opens the Overview together, 30 scripts running at once
share the interpreter in turns, so every visitor's first chart arrives at about the same late time
(all of them finish together), and the server's own event loop, which sends the messages and the
static files, gets one turn in 31. Taking visitors in turn instead gives the first visitor a page
after one script's time and the median visitor after half the room's: the same total work, done
first-come-first-served (Streamlit has no setting for this; a semaphore from the standard library
is all it takes). Fragment reruns (live charts) are not page scripts and are not held back.

`MAX_WAIT_S` bounds the wait behind a slow page (a first analysis, a projection): after it a script
runs without a slot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

SLOTS = 1  # one interpreter lock: a second slot only makes two visitors share it (no faster)
MAX_WAIT_S = 3.0

_SLOTS = threading.BoundedSemaphore(SLOTS)


@contextmanager
def page_slot() -> Iterator[bool]:
    """Hold one of the `SLOTS` page-script slots while the block runs (waiting at most `MAX_WAIT_S`
    for one); yields whether a slot was taken. Released however the block ends (a rerun, a page
    switch and a stop end a script with an exception)."""
    taken = _SLOTS.acquire(timeout=MAX_WAIT_S)
    try:
        yield taken
    finally:
        if taken:
            _SLOTS.release()
