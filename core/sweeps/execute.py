"""Running a sweep: check it whole, open its folder, skip its finished trials and run the others —
in a local process pool (`concurrent.futures.ProcessPoolExecutor`, one trial per core, each on one
thread) or as Ray tasks (`ray.init()` starts a local Ray; an address joins a cluster) — then write
its summary. No scheduler of our own: the pool or Ray hands out the trials.

A trial that fails is recorded (its folder and the summary) and the others go on. A killed sweep
(kill -9, a crash) is resumed by running it again: finished trials are skipped, interrupted and
failed ones continue from their last completed task (`core.sweeps.trial.continue_trial`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import events as ev
from core.runs import record_failure
from core.sweeps.folder import SweepError, open_sweep, trial_state
from core.sweeps.progress import SweepProgress
from core.sweeps.spec import SweepSpec, Trial
from core.sweeps.summary import SettingRow, TrialRow, write_summary
from core.sweeps.trial import run_trial, watch_sweep

#: Seconds between looks at the running trials (progress line, finished futures).
POLL_S = 0.5
#: `ray` argument meaning "start a local Ray" (`--ray` without an address).
LOCAL_RAY = "local"


@dataclass
class SweepReport:
    """What `run_sweep` did: the sweep folder, how many trials it had, skipped (finished before),
    finished now, and the failures (trial → error); the summary rows it wrote."""

    path: Path
    total: int
    skipped: int
    finished: int
    failed: dict[str, str] = field(default_factory=dict)
    rows: list[TrialRow] = field(default_factory=list)
    settings: list[SettingRow] = field(default_factory=list)


def default_workers() -> int:
    """Trials run at once by the local pool: one per CPU core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def check_runnable(spec: SweepSpec) -> None:
    """What `core.engine.loop.check_run` refuses before a run folder is made (a data file, the
    hypernetwork's size, the device), for every distinct configuration of the sweep (seeds aside).

    Raises:
        ValueError: (and its subclasses DataError, DeviceError) one line naming the problem.
    """
    from core.engine.loop import check_run

    seen = set()
    for t in spec.trials:
        d = t.config.to_dict()
        d["train"]["seed"] = 0
        key = json.dumps(d, sort_keys=True)
        if key not in seen:
            seen.add(key)
            check_run(t.config)


def run_sweep(spec: SweepSpec, *, ray: str | None = None, workers: int | None = None,
              progress: bool = True) -> SweepReport:
    """Run every unfinished trial of `spec` and write the sweep's summary.

    Args:
        spec: a checked sweep (`core.sweeps.spec.load_spec`).
        ray: None: the local process pool; LOCAL_RAY: Ray tasks on a local Ray started here; else the
            address of a Ray cluster to join (its nodes must see the sweep folder, e.g. on NFS).
        workers: trials at once (local pool: default one per core; local Ray: its CPUs; a cluster: ignored).
        progress: show the tqdm bar and the running trials' line on stderr.
    Raises:
        ValueError: a configuration `check_runnable` refuses, or a sweep folder that cannot be used
            (core.sweeps.folder.SweepError) — before any trial runs.
    """
    check_runnable(spec)
    with contextlib.ExitStack() as stack:
        if ray is not None and any(trial_state(Path(spec.out).expanduser() / t.name)[0] != "finished"
                                   for t in spec.trials):
            stack.enter_context(ray_session(ray, workers))  # before the folder is touched: a bad address writes nothing
        out = stack.enter_context(open_sweep(spec))
        states = {t.name: trial_state(out / t.name)[0] for t in spec.trials}
        todo = [t for t in spec.trials if states[t.name] != "finished"]
        report = SweepReport(out, len(spec.trials), len(spec.trials) - len(todo), 0)
        bar = SweepProgress(spec.name, len(spec.trials), report.skipped, disable=not progress)
        try:
            if todo:
                if ray is not None:  # started above unless the folder changed since (then: now)
                    stack.enter_context(ray_session(ray, workers))
                outcomes = (_run_local(out, todo, workers, bar) if ray is None else _run_ray(out, todo, bar))
                report.finished = sum(o["status"] == "finished" for o in outcomes.values())
                report.failed = {n: str(o["error"]) for n, o in outcomes.items() if o["status"] == "failed"}
        finally:
            bar.close()
        report.rows, report.settings = write_summary(out, report.failed)
    return report


@contextlib.contextmanager
def ray_session(address: str, workers: int | None) -> Iterator[None]:
    """Ray for the block: a local Ray with `workers` CPUs (default: the cores) for LOCAL_RAY, else the
    cluster at `address` ("auto": the one running on this machine), with the engine's code shipped to
    its nodes. Shut down afterwards if started here; one already initialised in this process is used
    as it is.

    Raises:
        core.sweeps.folder.SweepError: Ray cannot start or join the cluster (one line).
    """
    import logging

    import ray

    if ray.is_initialized():
        yield
        return
    common: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        if address == LOCAL_RAY:
            ray.init(num_cpus=workers or default_workers(), **common)
        else:
            core_dir = str(Path(__file__).resolve().parents[1])
            ray.init(address=address, runtime_env={"py_modules": [core_dir]}, **common)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = "start a local Ray" if address == LOCAL_RAY else f"join the Ray cluster at {address}"
        raise SweepError(f"--ray: cannot {where}: {_first_line(e)}") from None
    try:
        yield
    finally:
        ray.shutdown()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _submit_all(out: Path, trials: list[Trial], bar: SweepProgress, submit: Any) -> dict[Any, Trial]:
    handles = {}
    for t in trials:
        handles[submit(str(out.resolve()), t.name, t.config.to_dict())] = t
        bar.submitted(t.name, out / t.name)
    return handles


def _died(out: Path, name: str, why: str) -> dict[str, Any]:
    """The outcome of a trial whose process died, recorded in its folder (RunFailed, status failed)."""
    record_failure(out / name, ev.RunFailed(why, ""))
    return {"name": name, "status": "failed", "error": why, "seconds": None}


def _run_local(out: Path, todo: list[Trial], workers: int | None, bar: SweepProgress) -> dict[str, dict[str, Any]]:
    """The trials on a ProcessPoolExecutor whose processes come from the engine's forkserver (PyTorch
    imported once). A process that dies (e.g. killed for memory) breaks the pool: the trials it was
    running are recorded as failed and the others run on a fresh pool."""
    from core.engine import processes

    outcomes: dict[str, dict[str, Any]] = {}
    remaining = list(todo)
    while remaining:
        n = max(1, min(workers or default_workers(), len(remaining)))
        pool = ProcessPoolExecutor(n, mp_context=processes.context(), initializer=watch_sweep,
                                   initargs=(os.getpid(),))
        broken: list[Trial] = []
        try:
            futures = _submit_all(out, remaining, bar, lambda *a: pool.submit(run_trial, *a))
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                bar.poll()
                for f in done:
                    t = futures[f]
                    try:
                        outcomes[t.name] = f.result()
                    except BrokenProcessPool:
                        broken.append(t)
                        continue
                    bar.finished(t.name, outcomes[t.name])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        started = [t for t in broken if bar.watches[t.name].started]
        for t in started or broken:  # never retried: a trial that kills its process would do it again
            outcomes[t.name] = _died(out, t.name, "the trial's process died (e.g. killed for lack of memory)")
            bar.finished(t.name, outcomes[t.name])
        remaining = [t for t in broken if t not in (started or broken)]
    return outcomes


def _run_ray(out: Path, todo: list[Trial], bar: SweepProgress) -> dict[str, dict[str, Any]]:
    """The trials as Ray tasks of one CPU each, on the Ray of `ray_session`."""
    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(run_trial)
    refs = _submit_all(out, todo, bar, task.remote)
    outcomes: dict[str, dict[str, Any]] = {}
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
        bar.poll()
        for r in ready:
            t = refs[r]
            try:
                outcomes[t.name] = ray.get(r)
            except ray.exceptions.RayError as e:  # the task's worker died, or Ray itself failed
                outcomes[t.name] = _died(out, t.name, f"Ray task failed: {type(e).__name__}: {_first_line(e)}"[:300])
            bar.finished(t.name, outcomes[t.name])
    return outcomes
