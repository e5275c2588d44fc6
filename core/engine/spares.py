"""Training processes: starting one (`python -m core.engine.worker`), closing its pipes and reaping
it, and `SpareWorkers`, processes started ahead of time so that a run started from the app trains at
once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

#: The folder that holds the `core` package: the child's working directory and PYTHONPATH entry.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long an ended spare may take to exit before it is killed: one still importing PyTorch finishes
#: its imports first (3.5 s on 2 idle cores, about 13 s on a loaded machine).
SPARE_EXIT_S = 120.0


def spawn_worker(warm: bool = False) -> subprocess.Popen[str]:
    """Start `python -m core.engine.worker` (with `--warm`: it imports what training needs before it
    reads its run) in the repository root, with pipes for its stdin, stdout and stderr.

    Raises:
        OSError: the process could not be started.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "core.engine.worker", *(["--warm"] if warm else [])], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT, env=env,
        text=True, encoding="utf-8", errors="replace", bufsize=1)


def close_pipes(*streams: IO[str] | None) -> None:
    """Close a child's pipe ends (None and already-broken ones are skipped)."""
    for stream in streams:
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass


def reap(proc: subprocess.Popen[str], timeout: float = 10.0) -> None:
    """Wait for a child told to end (its stdin closed); kill it after `timeout` seconds."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class SpareWorkers:
    """Training processes started ahead of time, so that a run started from the app trains at once.

    A worker process spends about 3.5 s (2 cores) importing PyTorch, scikit-learn and torch._dynamo
    (which torch.optim loads at the first optimizer step) before its first training step. A spare
    (`python -m core.engine.worker --warm`) does that while it waits; `BackgroundRun` takes one for its
    run when there is one, else starts a process as before. An idle spare holds about 0.4 GB and exits
    when its stdin closes (`close`, or this process ending). Spares nobody asked for again (`fill`)
    within `idle_ttl_s` seconds are ended: a server left open with no visitor does not hold them.
    Thread-safe.
    """

    def __init__(self, idle_ttl_s: float = 300.0) -> None:
        self._idle: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()
        self.idle_ttl_s = idle_ttl_s
        self._asked = 0.0  # time.monotonic() of the last fill
        self._timer: threading.Timer | None = None

    def fill(self, count: int) -> None:
        """Have `count` idle spares (start the missing ones; never raises). They are ended if no
        further `fill` comes within `idle_ttl_s` seconds."""
        with self._lock:
            self._asked = time.monotonic()
            self._idle = [p for p in self._idle if p.poll() is None]
            while len(self._idle) < count:
                try:
                    self._idle.append(spawn_worker(warm=True))
                except OSError:
                    break
            if self._idle and self._timer is None:
                self._arm(self.idle_ttl_s)

    def _arm(self, delay: float) -> None:
        """Check for expired spares after `delay` seconds (holding the lock)."""
        self._timer = threading.Timer(delay, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self._timer = None
            left = self.idle_ttl_s - (time.monotonic() - self._asked)
            if left > 0 and self._idle:  # asked for again meanwhile: check again when that expires
                self._arm(left)
                return
        self.close()

    def take(self) -> subprocess.Popen[str] | None:
        """An idle spare that is still alive, now owned by the caller; None if there is none."""
        with self._lock:
            while self._idle:
                p = self._idle.pop(0)
                if p.poll() is None:
                    return p
        return None

    def idle(self) -> int:
        """Number of idle spares alive."""
        with self._lock:
            return sum(p.poll() is None for p in self._idle)

    def close(self, keep: int = 0) -> None:
        """End the idle spares beyond the first `keep`: their stdin is closed (a spare then exits
        quietly, after its imports if it is still importing) and they are reaped on a background
        thread, so that the caller (the app's Start button) does not wait for them."""
        with self._lock:
            idle, self._idle = self._idle[keep:], self._idle[:keep]
        for p in idle:
            close_pipes(p.stdin, p.stdout, p.stderr)
            threading.Thread(target=reap, args=(p, SPARE_EXIT_S), name="hypermask-reap", daemon=True).start()


SPARES = SpareWorkers()
