"""BackgroundRun: `run_training` on a daemon thread with start / pause / resume / step / stop, and a
process-wide registry so that a page refresh or a second viewer re-attaches instead of starting twice.

No Streamlit here. The worker appends events to a list guarded by a lock; any number of viewers read
`events_since(i)` from their own cursor. PyTorch kernels release the GIL, so a thread keeps the UI
responsive; the switch to a process would stay local to this file (events are plain data).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from typing import TYPE_CHECKING

from core.config import RunConfig
from core.engine import events as ev

if TYPE_CHECKING:  # the loop (and torch) are imported by the worker, so listing runs stays light
    from core.engine.loop import RunResult


class BackgroundRun:
    """One training run on a daemon thread.

    Control: `pause()` blocks the loop before its next step; `resume()` releases it; `step()` (while
    paused) runs until the next periodic evaluation, then pauses again; `stop()` ends the run within
    one step (completed tasks stay saved). Exactly one terminal event ends `events`.
    """

    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, threads: int | None = None) -> None:
        self.cfg = cfg
        self.threads = threads  # torch intra-op threads for the worker (process-wide); None: leave as is
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.started_at = time.time()
        self.result: RunResult | None = None
        self._events: list[ev.Event] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._go = threading.Event()  # set = running, clear = paused
        self._go.set()
        self._step_until_eval = False
        self._thread = threading.Thread(target=self._work, name=f"hypermask-run-{id(self)}", daemon=True)

    # --- worker side -------------------------------------------------------------------------
    def _emit(self, e: ev.Event) -> None:
        with self._lock:
            self._events.append(e)
        if isinstance(e, ev.Evaluated) and self._step_until_eval:
            self._step_until_eval = False
            self._go.clear()

    def _should_stop(self) -> bool:
        while not self._go.is_set() and not self._stop.is_set():
            self._go.wait(0.1)
        return self._stop.is_set()

    def _work(self) -> None:
        from core.engine.loop import run_training

        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        result = run_training(self.cfg, emit=self._emit, should_stop=self._should_stop, run_dir=self.run_dir)
        # A finished run is read back from its folder; drop the model and data so a long-lived
        # server does not keep every past run in memory.
        result.method, result.benchmark = None, None
        self.result = result

    # --- viewer side -------------------------------------------------------------------------
    def start(self) -> "BackgroundRun":
        """Start the worker thread (once)."""
        self._thread.start()
        return self

    def pause(self) -> None:
        self._step_until_eval = False
        self._go.clear()

    def resume(self) -> None:
        self._step_until_eval = False
        self._go.set()

    def step(self) -> None:
        """While paused: train until the next periodic evaluation, then pause again."""
        self._step_until_eval = True
        self._go.set()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True if it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return self.alive and not self._go.is_set() and not self._stop.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() and self.alive

    def events_since(self, cursor: int = 0) -> tuple[list[ev.Event], int]:
        """Events from index `cursor` on and the new cursor (thread-safe, non-destructive)."""
        with self._lock:
            new = self._events[cursor:]
            return new, cursor + len(new)

    @property
    def n_events(self) -> int:
        with self._lock:
            return len(self._events)

    def status(self) -> str:
        """'running', 'paused', 'stopping', or the terminal state 'finished' / 'stopped' / 'failed'."""
        if self.alive:
            return "stopping" if self._stop.is_set() else ("paused" if self.paused else "running")
        if self.result is None:
            return "starting"
        if self.result.error:
            return "failed"
        return "stopped" if self.result.stopped else "finished"


class RunRegistry:
    """Process-wide table of background runs keyed by run folder, shared by every browser session."""

    def __init__(self) -> None:
        self._runs: dict[str, BackgroundRun] = {}
        self._lock = threading.Lock()

    def start(self, cfg: RunConfig, run_dir: str | Path, threads: int | None = None) -> BackgroundRun:
        """Start and register a run writing to `run_dir`; refuses a folder that already has a live run.
        `threads`: torch intra-op threads for the worker (see BackgroundRun)."""
        key = str(Path(run_dir).resolve())
        with self._lock:
            old = self._runs.get(key)
            if old is not None and old.alive:
                raise ValueError(f"a run is already training into {run_dir}")
            run = BackgroundRun(cfg, run_dir, threads)
            self._runs[key] = run
        return run.start()

    def get(self, run_dir: str | Path) -> BackgroundRun | None:
        return self._runs.get(str(Path(run_dir).resolve()))

    def active(self) -> dict[str, BackgroundRun]:
        """Runs whose worker is still alive, oldest first."""
        with self._lock:
            return {k: r for k, r in self._runs.items() if r.alive}

    def forget_finished(self) -> int:
        """Drop finished runs from the table (their folders stay); returns how many were dropped."""
        with self._lock:
            done = [k for k, r in self._runs.items() if not r.alive]
            for k in done:
                del self._runs[k]
        return len(done)

    def all(self) -> dict[str, BackgroundRun]:
        with self._lock:
            return dict(self._runs)


#: The registry used by the app (one per Python process).
REGISTRY = RunRegistry()
