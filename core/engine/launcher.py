"""Starting and steering the app's training runs, with no UI: the live-run limit, new run folders,
compare groups, getting training processes ready, and pause / resume / step / stop. Pages call this module, never the
registry of `core/engine/runner.py` directly; it is tested without a browser (tests/core/test_launcher.py).

State is process-wide, like the registry, so that every browser session of one server (a refresh, a
second tab, a room of students) sees the same runs and comparisons.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core import run_state
from core.config import RunConfig
from core.engine.runner import REGISTRY, BackgroundRun
from core.engine import processes
from core.engine.run_queue import QueueEntry, RunQueue
from core.runs import new_run_dir

MAX_LIVE_RUNS = 4  # refuse to start more concurrent runs than this (small CPUs)

# Compare groups (lists of run folders started together), newest last.
_GROUPS: list[list[str]] = []
_GROUPS_LOCK = threading.Lock()


def get(run_dir: str | Path) -> BackgroundRun | None:
    """The run this server trains (or trained) into `run_dir`; None for a run it never started."""
    return REGISTRY.get(run_dir)


def active() -> dict[str, BackgroundRun]:
    """Runs whose training process is alive, by resolved folder, oldest first."""
    return REGISTRY.active()


def all_runs() -> dict[str, BackgroundRun]:
    """Every run this server started (live and ended), by resolved folder, oldest first."""
    return REGISTRY.all()


def start_runs(configs: Sequence[RunConfig], root: str | Path, threads: int | None = None,
               group: bool = False) -> list[str]:
    """Start one run per config (a compare group shares a seed), each in a new folder under `root`
    (`core.runs.new_run_dir`) and in its own training process; returns the run folders.

    A child process, not a thread: the web server's own Python work would otherwise hold the GIL
    against the training loop. Everything that can refuse the start (settings, the live-run limit,
    the data, the model size, the device: `core.engine.loop.check_run`) is checked before any folder
    is made, and folders made before a failure are removed again if still empty.

    Args:
        configs: one RunConfig per run.
        root: the runs folder.
        threads: torch CPU threads of each training process (None: the worker's default).
        group: remember the runs as a compare group (`newest_group`, `group_named`).
    Raises:
        ValueError: a bad setting, more than MAX_LIVE_RUNS live runs, or a model too large to build;
        DataError (a ValueError): data that cannot be read; RunError / OSError: the runs folder
        cannot take a new run.
    """
    if len(REGISTRY.active()) + len(configs) > MAX_LIVE_RUNS:
        raise ValueError(f"at most {MAX_LIVE_RUNS} runs may train at once on this machine and "
                         f"{len(REGISTRY.active())} are running; stop some first")
    from core.engine.loop import check_run  # torch: imported here, not on the way to a first page

    for cfg in configs:  # a data path that exists may still not be MNIST; the model size; the device
        check_run(cfg)
    dirs: list[str] = []
    try:
        for cfg in configs:
            dirs.append(str(new_run_dir(root, cfg).resolve()))
            REGISTRY.start(cfg, dirs[-1], threads=threads)
    except Exception:
        control(dirs, "stop")
        for d in dirs:
            if REGISTRY.get(d) is None:
                for leftover in Path(d).glob(".*"):  # the folder's claim, nothing else
                    with contextlib.suppress(OSError):
                        leftover.unlink()
                with contextlib.suppress(OSError):
                    os.rmdir(d)  # only an empty folder goes
        raise
    if group:
        with _GROUPS_LOCK:
            _GROUPS.append(list(dirs))
    return dirs


def _progress() -> dict[str, tuple[int, int, float]]:
    """Training runs → (steps done, steps in all, seconds since start), for the queue."""
    now = time.time()
    out = {}
    for d, run in REGISTRY.active().items():
        total = run.cfg.data.tasks * run.cfg.train.iters_per_task
        out[d] = (run_state.last_step(run.events()), total, now - run.started_at)
    return out


#: The server's queue of Starts (`core.engine.run_queue`): capacity one run per core.
QUEUE = RunQueue(lambda configs, root, threads, group: start_runs(configs, root, threads, group), _progress)


def submit(configs: Sequence[RunConfig], root: str | Path, owner: str, threads: int | None = None,
           group: bool = False, unlimited: bool = False) -> QueueEntry:
    """Queue a Start for `owner` (a browser session, or "presenter"); it starts at once when training
    slots are free (`RunQueue.submit`). Everything `start_runs` checks is checked first, so a bad
    setting is refused at once rather than when the entry's turn comes.

    Raises:
        ValueError, DataError, RunError, OSError: as `start_runs` and `RunQueue.submit`.
    """
    from core.engine.loop import check_run

    for cfg in configs:
        check_run(cfg)
    return QUEUE.submit(configs, root, owner, threads=threads, group=group, unlimited=unlimited)


def resume_run(run_dir: str | Path, threads: int | None = None) -> str:
    """Continue the interrupted (or stopped) run in `run_dir` from its last completed task, in a
    training process of its own like any run this server starts (`core.engine.resume`); returns its
    resolved folder. `threads`: None trains with the threads the run recorded (identical results).

    Raises:
        ValueError: the live-run limit; RunError (a ValueError): the folder cannot be resumed (a live
        or finished run, missing or damaged files), with a one-line message.
    """
    if len(REGISTRY.active()) + 1 > MAX_LIVE_RUNS:
        raise ValueError(f"at most {MAX_LIVE_RUNS} runs may train at once on this machine and "
                         f"{len(REGISTRY.active())} are running; stop some first")
    from core.engine.resume import check_resumable  # torch: imported here, not on the way to a first page

    plan = check_resumable(run_dir)  # and events.jsonl ends at the last completed task before anyone follows it
    path = str(plan.run_dir.resolve())
    REGISTRY.start(plan.cfg, path, threads=threads, resume=True)
    return path


def prewarm() -> None:
    """Get ready for a Start while the user fills in a form: start the forkserver training processes
    are forked from (`core.engine.processes`; it imports PyTorch and the loop once, seconds on a
    small machine, so a run trains at once), and import the training loop here too (PyTorch), which
    `start_runs` checks each run with. Both in the background; cheap once done."""
    _import_training_loop_once()
    processes.warm_up()


@functools.cache
def prewarm_soon(delay_s: float = 1.0) -> None:
    """`prewarm` on a background timer `delay_s` seconds from now, once per process: later calls do
    nothing (the app calls it after every page; its page scripts are re-run, so a guard there would
    not last)."""
    timer = threading.Timer(delay_s, prewarm)
    timer.daemon = True
    timer.start()


@functools.cache
def _import_training_loop_once() -> None:
    """Import core.engine.loop on a background thread, once per process (it imports no pandas)."""
    threading.Thread(target=importlib.import_module, args=("core.engine.loop",), name="hypermask-import",
                     daemon=True).start()


def control(run_dirs: Sequence[str], action: str) -> None:
    """'pause', 'resume', 'step' or 'stop' every live run of `run_dirs` (others are skipped).

    Raises:
        ValueError: an unknown action.
    """
    if action not in ("pause", "resume", "step", "stop"):
        raise ValueError(f"unknown action {action!r}")
    for d in run_dirs:
        run = REGISTRY.get(d)
        if run is not None and run.alive:
            getattr(run, action)()


def pace(run_dirs: Sequence[str], rate: float) -> None:
    """Set the pace of every live run of `run_dirs`: at most `rate` iterations a second (0: full speed).

    Raises:
        ValueError: `rate` is not a number in [0, core.engine.control.MAX_PACE].
    """
    for d in run_dirs:
        run = REGISTRY.get(d)
        if run is not None and run.alive:
            run.pace(rate)


def group_url(group: Sequence[str]) -> str:
    """The name of a compare group (its run folder names, joined by commas; the Compare page's
    `?runs=` URL parameter)."""
    return ",".join(Path(d).name for d in group)


def group_named(names: str) -> list[str] | None:
    """The newest compare group of this server named `names` (see `group_url`), or None."""
    with _GROUPS_LOCK:
        groups = list(reversed(_GROUPS))
    return next((list(g) for g in groups if group_url(g) == names), None)


def newest_group(live: Callable[[str], bool]) -> list[str]:
    """The newest compare group with a run for which `live(run_dir)` holds, or [] (a new tab
    re-attaches to a comparison that is training, not to one that ended)."""
    with _GROUPS_LOCK:
        groups = list(reversed(_GROUPS))
    return next((list(g) for g in groups if any(live(d) for d in g)), [])
