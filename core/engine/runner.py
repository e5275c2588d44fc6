"""Background training runs: each run trains in a process of its own (`core.engine.worker.train`,
forked from the forkserver of `core.engine.processes`) with start / pause / resume / step / stop, and
a process-wide registry so that a page refresh or a second viewer re-attaches instead of starting twice.

A process, not a thread: the web server's own Python work would otherwise hold the GIL against the
training loop (about 2x slower). Commands go to the process as bytes on a one-way pipe; closing it
(also when this process dies) stops the run, saved as stopped. Everything the run produces arrives
through its run folder: a watcher thread follows `events.jsonl` (`core.runs.EventLog`) for the state
shown here, as every other reader does. A process that dies without a terminal event (crash, kill -9,
out of memory) gets a `RunFailed` naming its exit code, written to the folder, and the run is
"interrupted": it can be resumed from its last completed task (`core.engine.resume`).

The pause / step / stop state machine is `RunControl` (core/engine/control.py); this side keeps a
mirror of it, fed with the same commands and events. No Streamlit here, and no torch import.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from pathlib import Path

from core import events as ev
from core.config import RunConfig
from core.engine import processes
from core.engine.control import RunControl
from core.engine.worker import parse_request, train
from core.runs import EventLog, record_failure

#: How often the watcher reads new events from the run folder while the process lives (seconds).
POLL_S = 0.1


def _exit_text(code: int | None) -> str:
    """'exit code 1' / 'exit code -9 (SIGKILL)' for a process's exit code."""
    if code is not None and code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exit code {code}"


class BackgroundRun:
    """One training run in a process of its own, writing run folder `run_dir`.

    Args:
        cfg: the run configuration.
        run_dir: the run's folder, claimed for it (`core.runs.new_run_dir` / `claim_run_dir`).
        threads: torch intra-op threads of the training process; None leaves its default.
        resume: continue the run saved in `run_dir` (`core.engine.resume.resume_training`) instead
            of starting one; `cfg` is that run's configuration.

    Control (thread-safe, never raising — also not on an ended run): `pause()` blocks the loop before
    its next step; `resume()` releases it; `step()` (while paused) runs until the next periodic
    evaluation, then pauses again; `stop()` ends the run within one step (completed tasks stay saved).
    `events()` ends with exactly one terminal event once the run has ended.
    """

    def __init__(self, cfg: RunConfig, run_dir: str | Path, threads: int | None = None,
                 resume: bool = False) -> None:
        self.cfg = cfg
        self.threads = threads
        self.resume_run = resume
        self._interrupted = False  # the process died without a terminal event
        self.run_dir = Path(os.path.abspath(run_dir))  # the process may run elsewhere
        self.started_at = time.time()
        self._log = EventLog(self.run_dir)
        self._events: list[ev.Event] = []
        self._terminal: ev.Event | None = None
        self._started = False
        self._lock = threading.Lock()
        self._control = RunControl()  # the mirror of the training process's own
        self._proc = None
        self._commands = None  # our (sending) end of the command pipe
        self._thread: threading.Thread | None = None  # the watcher, from start()

    # --- watcher thread ------------------------------------------------------------------------
    def _note(self, events: list[ev.Event]) -> None:
        """Record events read from the folder (or synthesized) and update the control mirror."""
        for e in events:
            with self._lock:
                if self._terminal is not None:
                    return  # nothing follows the terminal event
                self._events.append(e)
                if ev.is_terminal(e):
                    self._terminal = e
            self._control.on_event(e)

    def _fail(self, message: str, details: str) -> None:
        """End a run that ended without a terminal event: RunFailed here and in its folder."""
        if self._terminal is None:
            failed = ev.RunFailed(message, details)
            record_failure(self.run_dir, failed)
            self._log.read_all()  # not read back as a second event
            self._note([failed])

    def _launch(self) -> bool:
        """Start the training process and send it the commands given before; False (run failed) if
        it could not start."""
        request = {"config": self.cfg.to_dict(), "run_dir": str(self.run_dir), "threads": self.threads,
                   "resume": self.resume_run}
        try:  # checked here too: a folder this run has not claimed is not ours to write a failure into
            parse_request(request)
        except ValueError as e:
            self._note([ev.RunFailed(f"refused: {e}", "")])
            return False
        ctx = processes.context()
        try:
            receive, send = ctx.Pipe(duplex=False)

            proc = ctx.Process(target=train, args=(request, receive), name=f"hypermask-{self.run_dir.name}",
                               daemon=True)  # this process exiting normally stops it (SIGTERM: saved as stopped)
            proc.start()
            processes.mark_ready()
            receive.close()  # the child holds its own copy: EOF reaches it when we close `send`
        except (OSError, ValueError, RuntimeError) as e:
            self._fail(f"cannot start the training process: {e}", traceback.format_exc())
            return False
        with self._lock:
            self._proc, self._commands = proc, send
        self._send(*self._control.commands())  # a pause / step / stop given before the start
        return True

    def _watch(self, launched: bool | None = None) -> None:
        """Follow the run's events until its process ends (launching it first unless `launched`
        says it was: True started, False failed to start)."""
        if not (self._launch() if launched is None else launched):
            return
        proc = self._proc
        while proc.is_alive():
            self._note(self._log.read_new())
            proc.join(POLL_S)
        self._note(self._log.read_all())
        with self._lock:
            commands, self._commands = self._commands, None
        commands.close()
        if self._terminal is None:
            code = proc.exitcode
            self._interrupted = True
            self._fail(f"training process ended without a result: {_exit_text(code)}"
                       + ("; see the server log" if code not in (None, 0) else ""), "(see the server log)")

    def _send(self, *commands: str) -> None:
        """Send commands to the training process; one that has ended (or not started) is skipped."""
        with self._lock:
            conn = self._commands
            if conn is None:
                return
            for c in commands:
                try:
                    conn.send_bytes(c.encode())
                except (OSError, ValueError):  # BrokenPipeError: the process has ended
                    return

    # --- viewer side ---------------------------------------------------------------------------
    def start(self) -> "BackgroundRun":
        """Start the training process; later calls do nothing. Once the forkserver is ready
        (`processes.ready()`) the process starts here, on the caller's thread (tens of ms; a
        background thread would wait for the interpreter lock behind whatever the server draws
        meanwhile: 0.8 s after a Start in the app); before that, in the background, since the first
        start waits for the forkserver's imports. Never raises for a process that cannot start: the run
        then ends at once with a RunFailed event (status 'failed')."""
        with self._lock:
            if self._started:
                return self
            self._started = True
        launched = self._launch() if processes.ready() else None
        self._thread = threading.Thread(target=self._watch, args=(launched,), name=f"hypermask-run-{id(self)}",
                                        daemon=True)
        self._thread.start()
        return self

    def _command(self, name: str) -> None:
        self._control.apply(name)
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

    def pace(self, rate: float) -> None:
        """Slow motion: at most `rate` iterations a second from now on (0: full speed); applies while
        the run trains.

        Raises:
            ValueError: `rate` is not a number in [0, control.MAX_PACE].
        """
        self._command(f"pace {float(rate):g}")

    @property
    def rate(self) -> float:
        """The run's pace in iterations a second (0: full speed)."""
        return self._control.rate

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds (None: forever) for the run to end; True if it has (its
        process has exited and its events are all read)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        """True from `start()` until the process has exited and its last events are read."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def pid(self) -> int | None:
        """The training process's id once started."""
        proc = self._proc
        return proc.pid if proc is not None else None

    @property
    def paused(self) -> bool:
        """True while the live run is held by `pause()` (or at the end of a `step()`)."""
        return self.alive and self._control.paused

    def events(self) -> list[ev.Event]:
        """The events read from the run folder so far (thread-safe copy)."""
        with self._lock:
            return list(self._events)

    @property
    def n_events(self) -> int:
        """How many events have been read from the run folder so far."""
        with self._lock:
            return len(self._events)

    def status(self) -> str:
        """'starting' (not started), 'running', 'paused', 'stopping', or — from the terminal event —
        'finished', 'stopped' (RunFinished.stopped), 'failed' (RunFailed) or 'interrupted' (the
        process died without a terminal event; the RunFailed was written here)."""
        if self.alive:
            return "stopping" if self._control.stopped else ("paused" if self.paused else "running")
        last = self._terminal
        if last is None:
            return "starting"
        if isinstance(last, ev.RunFailed):
            return "interrupted" if self._interrupted else "failed"
        return "stopped" if isinstance(last, ev.RunFinished) and last.stopped else "finished"


class RunRegistry:
    """Process-wide table of background runs keyed by run folder, shared by every browser session."""

    def __init__(self) -> None:
        self._runs: dict[str, BackgroundRun] = {}
        self._lock = threading.Lock()

    def start(self, cfg: RunConfig, run_dir: str | Path, threads: int | None = None,
              resume: bool = False) -> BackgroundRun:
        """Start and register a run writing to `run_dir`; refuses (`ValueError`) a folder that already
        has a live run. `threads`, `resume`: see BackgroundRun."""
        key = str(Path(run_dir).resolve())
        with self._lock:
            old = self._runs.get(key)
            if old is not None and old.alive:
                raise ValueError(f"a run is already training into {run_dir}")
            run = BackgroundRun(cfg, run_dir, threads, resume)
            self._runs[key] = run
        return run.start()

    def get(self, run_dir: str | Path) -> BackgroundRun | None:
        """The run registered for `run_dir`, live or ended; None if none."""
        return self._runs.get(str(Path(run_dir).resolve()))

    def active(self) -> dict[str, BackgroundRun]:
        """Runs whose training process is still alive, oldest first."""
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
