"""A sweep's progress on the terminal: one tqdm bar for the sweep (trials done / total, time left) and a
line with the live state of each running trial, read from its folder's events.jsonl
(`core.runs.EventLog`, the channel every reader of a run follows) — for pool processes and Ray tasks alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core import events as ev
from core.runs import EventLog

#: Running trials named on the status line at most (a cluster may run hundreds at once).
SHOWN = 4


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class TrialWatch:
    """The live state of one submitted trial: only events written after it was submitted count (its
    folder may hold an interrupted run's events until the trial starts again).

    Args:
        run_dir: the trial's run folder.
    """

    def __init__(self, run_dir: Path) -> None:
        self.file = Path(run_dir) / "events.jsonl"
        self._before = _signature(self.file)
        self._log: EventLog | None = None
        self.n_tasks = self.iters = self.step = self.task = 0
        self.accuracy: float | None = None  # mean accuracy over seen tasks at the last evaluation
        self.ended = False

    @property
    def started(self) -> bool:
        return self._log is not None

    @property
    def fraction(self) -> float:
        """Share of the trial's iterations done, in [0, 1]."""
        total = self.n_tasks * self.iters
        if self.ended:
            return 1.0
        return min(1.0, self.step / total) if total else 0.0

    def poll(self) -> None:
        """Read the events written since the last call."""
        if self._log is None:
            now = _signature(self.file)
            if now is None or now == self._before:
                return
            self._log = EventLog(self.file.parent)
            if self._before is not None and now[0] == self._before[0] and now[1] >= self._before[1]:
                self._log.offset = self._before[1]  # the same file, appended to (a resumed run)
        for e in self._log.read_new():
            if isinstance(e, ev.RunStarted):
                self.n_tasks, self.iters = e.n_tasks, e.iters_per_task
            elif isinstance(e, (ev.StepLogged, ev.Evaluated, ev.TaskStarted, ev.TaskFinished)):
                self.step, self.task = e.global_step, e.task
                if isinstance(e, ev.Evaluated) and e.accuracies:
                    self.accuracy = sum(e.accuracies) / len(e.accuracies)
            elif ev.is_terminal(e):
                self.ended = True

    def describe(self) -> str:
        """e.g. "task 2/5 41 % acc 97.1 %"."""
        if not self.n_tasks:
            return "starting"
        acc = f" acc {100 * self.accuracy:.1f} %" if self.accuracy is not None else ""
        return f"task {self.task + 1}/{self.n_tasks} {100 * self.fraction:.0f} %{acc}"


class SweepProgress:
    """The sweep's bar and its running trials' line (both off with `disable`).

    Args:
        name: the sweep's name (the bar's label).
        total: trials in the sweep.
        done: trials finished before this run of the sweep (resumed).
        disable: no output at all.
    """

    def __init__(self, name: str, total: int, done: int, disable: bool = False) -> None:
        from tqdm import tqdm

        self.total, self.done, self.failed = total, done, 0
        self.watches: dict[str, TrialWatch] = {}
        self.name = name
        fmt = "{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"
        self.bar = tqdm(total=total, initial=done, desc=name, bar_format=fmt, disable=disable, dynamic_ncols=True)
        self.line = tqdm(total=0, position=1, bar_format="{desc}", disable=disable, leave=False)
        self._show()

    def submitted(self, name: str, run_dir: Path) -> None:
        """Trial `name` has been handed to a process or task."""
        self.watches[name] = TrialWatch(run_dir)

    def running(self) -> dict[str, TrialWatch]:
        return {n: w for n, w in self.watches.items() if w.started and not w.ended}

    def poll(self) -> None:
        """Read every submitted trial's new events and redraw."""
        for w in self.watches.values():
            w.poll()
        self._show()

    def finished(self, name: str, outcome: dict[str, Any]) -> None:
        """Trial `name` ended with `outcome` (`core.sweeps.trial.run_trial`'s); a failure is printed."""
        self.watches.pop(name, None)
        self.done += outcome.get("status") == "finished"
        if outcome.get("status") == "failed":
            self.failed += 1
            self.bar.write(f"trial {name} failed: {outcome.get('error')}")
        self._show()

    def _show(self) -> None:
        running = self.running()
        # the bar counts the shares of trials under way too, so the time left moves between trials
        self.bar.n = self.done + self.failed + sum(w.fraction for w in self.watches.values())
        failed = f", {self.failed} failed" if self.failed else ""
        self.bar.set_description_str(
            f"{self.name}: {self.done}/{self.total} trials done{failed}, {len(running)} running", refresh=False)
        self.bar.refresh()
        shown = [f"{n}: {w.describe()}" for n, w in list(running.items())[:SHOWN]]
        more = f" (+{len(running) - SHOWN} more)" if len(running) > SHOWN else ""
        self.line.set_description_str("  " + " | ".join(shown) + more if shown else "  waiting for trials to start")

    def close(self) -> None:
        self.line.close()
        self.bar.close()
