"""The server's run queue: runs beyond the machine's capacity wait their turn instead of being refused.

A queued entry is one Start: one run, or a compare group whose runs start together. Entries start in
order (first in, first out, unless the presenter moves one) as soon as enough training slots are free;
capacity follows the cores (each run trains on one thread, and on 2 cores the aggregate training
throughput is flat beyond 2 runs). A visitor may hold one queued or training entry at a time unless
their limit is lifted. Each entry reports its position and an estimate of when it will start.

Runs are started with `core.engine.launcher.start_runs`; the queue only decides *when*. A daemon thread
checks every `TICK_S` while something waits (the same decision is taken at once on submit and cancel).
No Streamlit here, no torch import.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.config import RunConfig

#: How often the queue checks for free slots while entries wait (seconds).
TICK_S = 0.5
#: Seconds per training step assumed for a run before any run has shown its own pace.
DEFAULT_STEP_S = 0.02


def default_capacity() -> int:
    """Training slots of this machine: one per core available to this process (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class QueueEntry:
    """One Start waiting for (or given) training slots.

    `state`: "queued", "started" (`run_dirs` set), "cancelled" or "failed" (`error`: one line).
    `steps`: the entry's training steps (tasks × iterations, summed over its runs).
    """

    id: str
    configs: tuple[RunConfig, ...]
    root: Path
    threads: int | None
    owner: str
    group: bool
    submitted: float = field(default_factory=time.time)
    state: str = "queued"
    run_dirs: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def steps(self) -> int:
        return sum(c.data.tasks * c.train.iters_per_task for c in self.configs)


Starter = Callable[[Sequence[RunConfig], Path, "int | None", bool], list[str]]
#: (active run folder → (steps done, steps in all, seconds since it started)) of the training runs.
Progress = Callable[[], dict[str, tuple[int, int, float]]]


class RunQueue:
    """First-in-first-out queue of Starts over `capacity` training slots.

    Args:
        start: starts an entry's runs now and returns their folders (`launcher.start_runs`);
            raising ValueError / OSError fails the entry with the message.
        progress: the training runs' progress, for the free-slot count and the start estimates.
        capacity: training slots (default: `default_capacity()`).
        per_owner: queued-or-training entries one owner may hold (None: no limit).
    """

    def __init__(self, start: Starter, progress: Progress, capacity: int | None = None,
                 per_owner: int | None = 1) -> None:
        self._start, self._progress = start, progress
        self.capacity = capacity if capacity is not None else default_capacity()
        self.per_owner = per_owner
        self._entries: list[QueueEntry] = []  # queued ones in order, then the rest
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None

    # --- submitting and steering --------------------------------------------------------------
    def submit(self, configs: Sequence[RunConfig], root: str | Path, owner: str, threads: int | None = None,
               group: bool = False, unlimited: bool = False) -> QueueEntry:
        """Queue one Start (one run, or a compare group) for `owner`; it starts at once if slots are free.

        Raises:
            ValueError: no configs, a Start needing more slots than the machine has, or `owner`
                already holding `per_owner` queued or training entries (not with `unlimited`).
        """
        if not configs:
            raise ValueError("nothing to start: no run configurations")
        if len(configs) > self.capacity:
            raise ValueError(f"{len(configs)} runs started together need {len(configs)} training slots and "
                             f"this machine has {self.capacity}")
        with self._lock:
            held = [e for e in self._entries if e.owner == owner and self._holds_slot_or_waits(e)]
            if not unlimited and self.per_owner is not None and len(held) >= self.per_owner:
                raise ValueError(f"you already have {len(held)} run(s) queued or training (at most "
                                 f"{self.per_owner} per visitor); wait for it to end or cancel it")
            entry = QueueEntry(str(next(self._ids)), tuple(configs), Path(root), threads, owner, group)
            self._entries.append(entry)
        self.advance()
        self._ensure_ticking()
        return entry

    def cancel(self, entry_id: str) -> bool:
        """Cancel a queued entry (True), or do nothing for one that started or ended (False)."""
        with self._lock:
            e = self._get(entry_id)
            if e is None or e.state != "queued":
                return False
            e.state = "cancelled"
        self.advance()
        return True

    def move(self, entry_id: str, position: int) -> None:
        """Put a queued entry at `position` (1 = next to start) among the queued ones.

        Raises:
            ValueError: no queued entry `entry_id`, or a position below 1.
        """
        if position < 1:
            raise ValueError(f"position {position} is not 1 or more")
        with self._lock:
            e = self._get(entry_id)
            if e is None or e.state != "queued":
                raise ValueError(f"no queued run {entry_id!r}")
            queued = [q for q in self._entries if q.state == "queued" and q is not e]
            queued.insert(min(position, len(queued) + 1) - 1, e)
            self._entries = queued + [q for q in self._entries if q.state != "queued"]
        self.advance()

    # --- reading -------------------------------------------------------------------------------
    def get(self, entry_id: str) -> QueueEntry | None:
        with self._lock:
            return self._get(entry_id)

    def queued(self) -> list[QueueEntry]:
        """The waiting entries, next to start first."""
        with self._lock:
            return [e for e in self._entries if e.state == "queued"]

    def position(self, entry_id: str) -> int | None:
        """1-based place of a waiting entry (1 = next to start), None if it is not waiting."""
        ids = [e.id for e in self.queued()]
        return ids.index(entry_id) + 1 if entry_id in ids else None

    def expected_start_s(self, entry_id: str) -> float | None:
        """Estimated seconds until a waiting entry starts (0 once it could start now), None if it is
        not waiting. Each training run frees its slot after its remaining steps at its own pace so far;
        the entries ahead then train at the mean pace seen (or `DEFAULT_STEP_S` per step)."""
        progress = self._progress()
        paces = [t / done for done, _, t in progress.values() if done > 0 and t > 0]
        pace = sum(paces) / len(paces) if paces else DEFAULT_STEP_S
        free_at = sorted(max(0.0, (total - done) * (t / done if done > 0 and t > 0 else pace))
                         for done, total, t in progress.values())
        free_at = [0.0] * max(0, self.capacity - len(free_at)) + free_at
        for e in self.queued():
            need = len(e.configs)
            starts = free_at[need - 1]  # when `need` slots are free
            if e.id == entry_id:
                return starts
            free_at = sorted(free_at[need:] + [starts + e.steps / need * pace] * need)
        return None

    # --- starting --------------------------------------------------------------------------------
    def advance(self) -> list[QueueEntry]:
        """Start waiting entries, in order, while enough slots are free; returns those started now.
        An entry whose start fails is marked failed with its message and the next one is tried."""
        started = []
        with self._lock:
            while True:
                free = self.capacity - len(self._progress())
                nxt = next((e for e in self._entries if e.state == "queued"), None)
                if nxt is None or len(nxt.configs) > free:
                    break
                try:
                    nxt.run_dirs = self._start(nxt.configs, nxt.root, nxt.threads, nxt.group)
                    nxt.state = "started"
                    started.append(nxt)
                except (ValueError, OSError) as err:
                    nxt.state, nxt.error = "failed", str(err).splitlines()[0] if str(err) else type(err).__name__
        return started

    def _holds_slot_or_waits(self, e: QueueEntry) -> bool:
        if e.state == "queued":
            return True
        return e.state == "started" and any(d in self._progress() for d in e.run_dirs)

    def _get(self, entry_id: str) -> QueueEntry | None:
        return next((e for e in self._entries if e.id == entry_id), None)

    def _ensure_ticking(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._tick, name="hypermask-queue", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while True:
            time.sleep(TICK_S)
            self.advance()
            with self._lock:
                if not any(e.state == "queued" for e in self._entries):
                    self._thread = None
                    return


__all__ = ["DEFAULT_STEP_S", "QueueEntry", "RunQueue", "TICK_S", "default_capacity"]
