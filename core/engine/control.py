"""The pause / step / stop state machine between a training loop and whoever controls it: the thread
or child process that trains (core/engine/worker.py) and, as a mirror fed with the same commands and
events, the parent that started it (core/engine/runner.py)."""

from __future__ import annotations

import math
import threading
import time

from core import events as ev

#: Control commands, as method names of `RunControl` and as messages on a worker process's command pipe;
#: `pace` takes a number: "pace 25" (at most 25 iterations a second), "pace 0" (full speed).
COMMANDS = ("pause", "resume", "step", "stop", "pace")
MAX_PACE = 10_000.0  # iterations a second: above this a pace is no slow motion
_PACE_SLICE_S = 0.1  # a paced wait re-reads the pace (and pause / stop) this often


class RunControl:
    """The pause / step / stop state machine between a training loop and its controller.

    The loop passes `should_stop` to `run_training` and feeds every event it emits to `on_event`;
    any other thread calls `pause`, `resume`, `step`, `stop` (all thread-safe, non-blocking):

    * `pause()`: the loop blocks before its next step (the step in progress completes).
    * `resume()`: the loop continues.
    * `step()` (while paused): the loop runs until the next `Evaluated` event, then pauses.
    * `stop()`: final; `should_stop()` returns True from now on (also releases a paused loop), so
      the run ends within one step.
    * `pace(rate)`: slow motion, at most `rate` iterations a second (0: full speed); may change at any
      time, and a new pace applies within 0.1 s.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._go = threading.Event()  # set = running, clear = paused
        self._go.set()
        self._step_until_eval = False
        self._rate = 0.0  # iterations a second; 0 = full speed
        self._last_step = 0.0  # time.monotonic() when the loop last went on to a step

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

    def pace(self, rate: float) -> None:
        """At most `rate` iterations a second from now on (0: full speed).

        Raises:
            ValueError: `rate` is not a number in [0, MAX_PACE].
        """
        rate = float(rate)
        if not (math.isfinite(rate) and 0.0 <= rate <= MAX_PACE):
            raise ValueError(f"pace={rate!r} must be a number of iterations a second in [0, {MAX_PACE:g}]"
                             " (0 = full speed)")
        self._rate = rate

    @property
    def rate(self) -> float:
        """The pace: at most this many iterations a second; 0 = full speed."""
        return self._rate

    def apply(self, command: str) -> None:
        """Run the command `command`: one of `COMMANDS`, "pace" followed by its rate ("pace 12.5").

        Raises:
            ValueError: an unknown command, or a pace without a valid rate (the message names it).
        """
        name, _, arg = command.strip().partition(" ")
        if name not in COMMANDS:
            raise ValueError(f"unknown command {command!r} (expected one of {', '.join(COMMANDS)})")
        if name == "pace":
            try:
                self.pace(float(arg))
            except ValueError as e:
                raise ValueError(f"bad command {command!r}: {e}") from None
        elif arg:
            raise ValueError(f"command {name!r} takes no argument (got {command!r})")
        else:
            getattr(self, name)()

    def commands(self) -> list[str]:
        """The commands that bring a fresh RunControl into this one's state (replayed to a child
        process that is started after `pause()` / `step()` / `stop()` / `pace()` were called)."""
        if self.stopped:
            return ["stop"]
        out = [f"pace {self._rate:g}"] if self._rate else []
        if not self._go.is_set():
            return [*out, "pause"]
        return [*out, "step"] if self._step_until_eval else out

    def should_stop(self) -> bool:
        """For `run_training`, before every step: block while paused, and in slow motion until
        1/rate seconds have passed since the last step; then True iff a stop was requested."""
        while True:
            while not self._go.is_set() and not self._stop.is_set():
                self._go.wait(0.1)
            if self._stop.is_set() or self._rate <= 0:
                break
            left = self._last_step + 1.0 / self._rate - time.monotonic()
            if left <= 0:
                break
            self._stop.wait(min(left, _PACE_SLICE_S))  # short slices: a new pace or a pause applies soon
        self._last_step = time.monotonic()
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
