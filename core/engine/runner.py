"""Background training runs: `run_training` in a worker with start / pause / resume / step / stop,
and a process-wide registry so that a page refresh or a second viewer re-attaches instead of starting
twice.

Two workers behind one interface (`BackgroundRun`):

* thread (`process=False`, the default): `run_training` on a daemon thread of this process. PyTorch
  kernels release the GIL, but the Python between them competes with the caller (e.g. the Streamlit
  server), which makes training in the app about 2x slower than the CLI.
* process (`process=True`): a child `python -m core.engine.worker` (see core/engine/worker.py). The
  config goes to the child as one JSON line on its stdin, control commands follow as further lines
  (`pause`, `resume`, `step`, `stop`), and the events come back as one JSON line each on its stdout
  (`events.to_json` / `events.from_json`; JSON only, never pickle). Closing the child's stdin (also
  when this process dies) stops the run, saved as stopped. A child that dies without a terminal event
  (crash, kill -9, out of memory) gets a synthesized `RunFailed` naming its exit code.

The pause / step / stop state machine is `RunControl` (core/engine/control.py); starting, reaping and
keeping spare training processes is core/engine/spares.py.

No Streamlit here. Events are appended to a list guarded by a lock; any number of viewers read
`events_since(i)` from their own cursor. Nothing here imports torch (the worker does), so listing
runs stays light.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import IO, TYPE_CHECKING

from core import events as ev
from core.config import RunConfig
from core.engine.control import RunControl
from core.engine.spares import SPARES, close_pipes, spawn_worker

if TYPE_CHECKING:  # the loop (and torch) are imported by the worker, so listing runs stays light
    from core.engine.loop import RunResult

#: How many of the child's last stderr lines are kept (for the synthesized RunFailed).
STDERR_TAIL = 50


def _exit_text(code: int) -> str:
    """'exit code 1' / 'exit code -9 (SIGKILL)' for a child's return code."""
    if code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exit code {code}"


class BackgroundRun:
    """One training run in a background worker: a daemon thread of this process, or a child process.

    Args:
        cfg: the run configuration.
        run_dir: folder the run is saved into after every task (None: nothing is written).
        threads: torch intra-op threads for the worker (thread mode: set process-wide; process mode:
            set in the child only); None leaves the default.
        process: False trains on a daemon thread; True in a child `python -m core.engine.worker`.

    Control (both modes, thread-safe, never raising — also not on a dead worker): `pause()` blocks the
    loop before its next step; `resume()` releases it; `step()` (while paused) runs until the next
    periodic evaluation, then pauses again; `stop()` ends the run within one step (completed tasks
    stay saved). `events` always ends with exactly one terminal event once the worker has ended.
    `result` holds the `RunResult` in thread mode (model and data dropped); it stays None in process
    mode (the metrics are in the `RunFinished` event and in `run_dir`).
    """

    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, threads: int | None = None,
                 process: bool = False) -> None:
        self.cfg = cfg
        self.threads = threads
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.process = process
        self.started_at = time.time()
        self.result: RunResult | None = None
        self._events: list[ev.Event] = []
        self._terminal: ev.Event | None = None
        self._started = False
        self._lock = threading.Lock()
        self._control = RunControl()  # thread mode: the loop's own; process mode: the parent's mirror
        self._proc: subprocess.Popen[str] | None = None
        self._stdin_lock = threading.Lock()
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self._stderr_thread: threading.Thread | None = None
        # thread mode: the training itself; process mode: reads the child's events until it exits
        self._thread = threading.Thread(target=self._read_child if process else self._work,
                                        name=f"hypermask-run-{id(self)}", daemon=True)

    # --- worker side (both modes) --------------------------------------------------------------
    def _emit(self, e: ev.Event) -> None:
        """Record one event (from the loop, or parsed from the child) and update the control."""
        with self._lock:
            if self._terminal is not None:
                return  # nothing follows the terminal event
            self._events.append(e)
            if ev.is_terminal(e):
                self._terminal = e
        self._control.on_event(e)

    def _fail(self, message: str, details: str) -> None:
        """Append a synthesized RunFailed if the worker ended without a terminal event."""
        if self._terminal is None:
            self._emit(ev.RunFailed(message, details))

    # --- thread mode ---------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            from core.engine.loop import run_training

            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            result = run_training(self.cfg, emit=self._emit, should_stop=self._control.should_stop,
                                  run_dir=self.run_dir)
            # A finished run is read back from its folder; drop the model and data so a long-lived
            # server does not keep every past run in memory.
            result.method, result.benchmark = None, None
            self.result = result
        except BaseException as e:  # noqa: BLE001 - run_training only lets KeyboardInterrupt & co. out
            self._fail(f"{type(e).__name__}: {e}".splitlines()[0], traceback.format_exc())

    # --- process mode --------------------------------------------------------------------------
    def _start_process(self) -> bool:
        """Spawn the child (or take a spare, `SPARES`) and send it the run; False (with a RunFailed
        event) if that failed."""
        # The child runs in REPO_ROOT: a relative run_dir is made absolute against this process's cwd.
        run_dir = os.path.abspath(self.run_dir) if self.run_dir is not None else None
        request = {"config": self.cfg.to_dict(), "run_dir": run_dir, "threads": self.threads}
        try:
            self._proc = SPARES.take() or spawn_worker()
        except OSError as e:
            self._fail(f"cannot start the training process: {e}", traceback.format_exc())
            return False
        self._stderr_thread = threading.Thread(target=self._drain_stderr, args=(self._proc.stderr,),
                                               name=f"hypermask-stderr-{id(self)}", daemon=True)
        self._stderr_thread.start()
        # The request, then the control state set before start() (e.g. a pause), in one go.
        self._send(json.dumps(request, separators=(",", ":")), *self._control.commands())
        return True

    def _send(self, *lines: str) -> None:
        """Write lines to the child's stdin; a dead or closed child is ignored."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        with self._stdin_lock:
            try:
                proc.stdin.write("".join(line + "\n" for line in lines))
                proc.stdin.flush()
            except (OSError, ValueError):  # BrokenPipeError, or closed after the child ended
                pass

    def _drain_stderr(self, stream: IO[str]) -> None:
        """Keep the last STDERR_TAIL lines of the child's stderr (and never let the pipe fill)."""
        for line in stream:
            self._stderr_tail.append(line.rstrip("\n"))

    def _read_child(self) -> None:
        """Parse the child's event lines until EOF, wait for its exit, then close its pipes."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            for line in proc.stdout:
                line = line.strip()
                if not line:
                    continue
                try:
                    e = ev.from_json(line)
                except (ValueError, TypeError):
                    self._stderr_tail.append(f"[not an event on stdout] {line[:200]}")
                    continue
                self._emit(e)
        finally:
            code = proc.wait()
            if self._stderr_thread is not None:
                self._stderr_thread.join(5)
            draining = self._stderr_thread is not None and self._stderr_thread.is_alive()
            with self._stdin_lock:  # (stderr stays open if something still holds it: no close under a read)
                close_pipes(proc.stdin, proc.stdout, None if draining else proc.stderr)
            if self._terminal is None:
                tail = list(self._stderr_tail)
                last = next((s.strip() for s in reversed(tail) if s.strip()), "")
                msg = f"training process ended without a result: {_exit_text(code)}"
                self._fail(msg + (f"; last stderr line: {last}" if last else ""),
                           "\n".join(tail) or "(nothing on stderr)")
                self._save_failure()

    def _save_failure(self) -> None:
        """Record the synthesized RunFailed in run_dir, as the loop does for a failure it catches (the
        child is gone, so nobody else writes there)."""
        if self.run_dir is not None and isinstance(self._terminal, ev.RunFailed):
            from core.runs import record_failure

            record_failure(self.run_dir, self._terminal)

    # --- viewer side ---------------------------------------------------------------------------
    def start(self) -> "BackgroundRun":
        """Start the worker: the thread, or the child process and its reader thread; later calls do
        nothing. Never raises for a child that cannot start: the run then ends at once with a
        RunFailed event (status 'failed')."""
        with self._lock:
            if self._started:
                return self
            self._started = True
        if not self.process or self._start_process():
            self._thread.start()
        return self

    def _command(self, name: str) -> None:
        self._control.apply(name)
        if self.process:
            self._send(name)

    def pause(self) -> None:
        """Block the training before its next step."""
        self._command("pause")

    def resume(self) -> None:
        """Continue a paused run."""
        self._command("resume")

    def step(self) -> None:
        """While paused: train until the next periodic evaluation, then pause again."""
        self._command("step")

    def stop(self) -> None:
        """End the run within one step; it is saved as stopped (completed tasks stay saved)."""
        self._command("stop")

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds (None: forever) for the worker; True if it has ended (for a
        child: its events are all read and it has exited)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        """True from `start()` until the worker has ended (for a child: stdout at EOF and exited)."""
        return self._thread.is_alive()

    @property
    def pid(self) -> int | None:
        """The child's process id in process mode once started; None in thread mode."""
        return self._proc.pid if self._proc is not None else None

    @property
    def paused(self) -> bool:
        """True while the live run is held by `pause()` (or at the end of a `step()`)."""
        return self.alive and self._control.paused

    @property
    def stopping(self) -> bool:
        """True between `stop()` and the end of the worker."""
        return self._control.stopped and self.alive

    def events_since(self, cursor: int = 0) -> tuple[list[ev.Event], int]:
        """Events from index `cursor` on and the new cursor (thread-safe, non-destructive)."""
        with self._lock:
            new = self._events[cursor:]
            return new, cursor + len(new)

    @property
    def n_events(self) -> int:
        """How many events the run has emitted so far."""
        with self._lock:
            return len(self._events)

    def status(self) -> str:
        """'starting' (not started), 'running', 'paused', 'stopping', or — from the terminal event —
        'finished', 'stopped' (RunFinished.stopped) or 'failed' (RunFailed)."""
        if self.alive:
            return "stopping" if self._control.stopped else ("paused" if self.paused else "running")
        last = self._terminal
        if last is None:
            return "starting"
        if isinstance(last, ev.RunFailed):
            return "failed"
        return "stopped" if isinstance(last, ev.RunFinished) and last.stopped else "finished"


class RunRegistry:
    """Process-wide table of background runs keyed by run folder, shared by every browser session."""

    def __init__(self) -> None:
        self._runs: dict[str, BackgroundRun] = {}
        self._lock = threading.Lock()

    def start(self, cfg: RunConfig, run_dir: str | Path, threads: int | None = None,
              process: bool = False) -> BackgroundRun:
        """Start and register a run writing to `run_dir`; refuses (`ValueError`) a folder that already
        has a live run. `threads`, `process`: see BackgroundRun."""
        key = str(Path(run_dir).resolve())
        with self._lock:
            old = self._runs.get(key)
            if old is not None and old.alive:
                raise ValueError(f"a run is already training into {run_dir}")
            run = BackgroundRun(cfg, run_dir, threads, process=process)
            self._runs[key] = run
        return run.start()

    def get(self, run_dir: str | Path) -> BackgroundRun | None:
        """The run registered for `run_dir`, live or ended; None if none."""
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
        """Every registered run (live and ended), by resolved folder path."""
        with self._lock:
            return dict(self._runs)


#: The registry used by the app (one per Python process).
REGISTRY = RunRegistry()
