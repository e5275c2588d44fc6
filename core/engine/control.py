"""The pause / step / stop state machine between a training loop and whoever controls it: the thread
or child process that trains (core/engine/worker.py) and, as a mirror fed with the same commands and
events, the parent that started it (core/engine/runner.py)."""

from __future__ import annotations

import threading

from core import events as ev

#: Control commands, as method names of `RunControl` and as lines on a worker process's stdin.
COMMANDS = ("pause", "resume", "step", "stop")


class RunControl:
    """The pause / step / stop state machine between a training loop and its controller.

    The loop passes `should_stop` to `run_training` and feeds every event it emits to `on_event`;
    any other thread calls `pause`, `resume`, `step`, `stop` (all thread-safe, non-blocking):

    * `pause()`: the loop blocks before its next step (the step in progress completes).
    * `resume()`: the loop continues.
    * `step()` (while paused): the loop runs until the next `Evaluated` event, then pauses.
    * `stop()`: final; `should_stop()` returns True from now on (also releases a paused loop), so
      the run ends within one step.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._go = threading.Event()  # set = running, clear = paused
        self._go.set()
        self._step_until_eval = False

    def pause(self) -> None:
        """Block the loop before its next step (cancels a pending `step`)."""
        self._step_until_eval = False
        self._go.clear()

    def resume(self) -> None:
        """Let the loop continue (cancels a pending `step`)."""
        self._step_until_eval = False
        self._go.set()

    def step(self) -> None:
        """Let the loop run until the next `Evaluated` event, then pause again."""
        self._step_until_eval = True
        self._go.set()

    def stop(self) -> None:
        """Request the end of the run (irreversible); releases a paused loop."""
        self._stop.set()
        self._go.set()

    def apply(self, command: str) -> None:
        """Run the command named `command` (one of `COMMANDS`); raises `ValueError` otherwise."""
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r} (expected one of {', '.join(COMMANDS)})")
        getattr(self, command)()

    def commands(self) -> list[str]:
        """The commands that bring a fresh RunControl into this one's state (replayed to a child
        process that is started after `pause()` / `step()` / `stop()` were called)."""
        if self.stopped:
            return ["stop"]
        if not self._go.is_set():
            return ["pause"]
        return ["step"] if self._step_until_eval else []

    def should_stop(self) -> bool:
        """For `run_training`: block while paused; then True iff a stop was requested."""
        while not self._go.is_set() and not self._stop.is_set():
            self._go.wait(0.1)
        return self._stop.is_set()

    def on_event(self, event: ev.Event) -> None:
        """For the loop's event sink: pause at the `Evaluated` event that ends a `step()`."""
        if isinstance(event, ev.Evaluated) and self._step_until_eval:
            self._step_until_eval = False
            self._go.clear()

    @property
    def paused(self) -> bool:
        """True while the loop is (or will be, before its next step) held, and no stop is pending."""
        return not self._go.is_set() and not self._stop.is_set()

    @property
    def stopped(self) -> bool:
        """True once `stop()` was called."""
        return self._stop.is_set()
