"""One trial of a sweep, as a pool process or a Ray task runs it: a plain function of plain values
(picklable, nothing to unpickle but strings and dicts) that trains the trial into its run folder
on one CPU thread and returns a short outcome. It raises no Exception: a failing trial is recorded in its
folder (RunFailed, metrics.json "failed") and in the outcome, and the other trials go on.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from core.config import RunConfig

if TYPE_CHECKING:  # the training loop (and torch) is imported in the trial's process only
    from core.engine.loop import RunResult

#: Set in a pool process once the sweep that started it has died (`watch_sweep`).
_SWEEP_GONE = threading.Event()
#: Held while this process trains a trial.
_BUSY = threading.Lock()
#: How often a pool process looks whether its sweep is still alive (seconds).
WATCH_S = 0.5


def continue_trial(run_dir: Path, cfg: RunConfig, should_stop: Callable[[], bool]) -> RunResult:
    """Train trial `cfg` in `run_dir` to its end and return the `RunResult`; the one place that
    decides how a trial starts or starts again.

    A new trial trains from its first task. An interrupted, stopped or failed one continues from its
    last completed task (`core.engine.resume.resume_training`, on one thread like every trial: the
    numbers are those of an uninterrupted run), losing at most the task that was running. A folder
    that cannot be resumed — nothing saved yet, or files an older version wrote — is cleared (run
    files only, under the run's lock) and the trial trains from its first task.

    Raises:
        core.sweeps.folder.SweepError: the folder holds files that are not a run's (nothing deleted).
        core.runs.RunError: another process trains into the folder, or it cannot be created.
    """
    from core.engine.loop import run_training
    from core.engine.resume import resume_training
    from core.runs import RunError, claim_run_dir, liveness
    from core.sweeps.folder import clear_trial

    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        claim_run_dir(run_dir, "trial folder")
        return run_training(cfg, should_stop=should_stop, run_dir=run_dir)
    if (run_dir / "config.json").is_file():
        try:
            return resume_training(run_dir, should_stop=should_stop, threads=1)
        except RunError:
            if liveness.lock_held(run_dir):
                raise  # a live run: never cleared
    liveness.acquire(run_dir, wait_s=0.5)  # raises RunError while another process trains into it
    try:
        clear_trial(run_dir, keep_lock=True)
        return run_training(cfg, should_stop=should_stop, run_dir=run_dir)
    finally:
        liveness.release(run_dir)


def _alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (Linux /proc; elsewhere: it can be signalled)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read(512).rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            pass
        return True


def watch_sweep(pid: int) -> None:
    """Pool-process initializer: follow the sweep process `pid` (the pool's processes come from a
    forkserver, so their parent is not the sweep). Once it is gone (kill -9), a running trial stops
    within one step — its completed tasks are saved — and the process exits, instead of training the
    rest of the queue unseen and then waiting for work forever."""
    def watch() -> None:
        while _alive(pid):
            time.sleep(WATCH_S)
        _SWEEP_GONE.set()
        while _BUSY.locked():  # let the trial save what it has
            time.sleep(0.05)
        os._exit(0)

    threading.Thread(target=watch, name="watch-sweep", daemon=True).start()



def run_trial(sweep_dir: str, name: str, config: dict[str, Any], threads: int = 1) -> dict[str, Any]:
    """Train trial `name` of sweep folder `sweep_dir` with `config` (RunConfig.to_dict()).

    Args:
        sweep_dir: the sweep folder (the trial's run folder is `sweep_dir/name`).
        name: the trial's folder name.
        config: its configuration.
        threads: torch CPU threads (one per trial: the pool runs one trial per core).
    Returns:
        {"name", "status": "finished" | "stopped" | "failed", "error": str | None, "seconds": wall time}.
    """
    started = time.perf_counter()
    try:
        import torch

        from core.sweeps.folder import trial_lock

        torch.set_num_threads(threads)
        cfg = RunConfig.from_dict(config)
        with _BUSY:
            if _SWEEP_GONE.is_set():  # a trial queued before the sweep died: leave its folder alone
                return {"name": name, "status": "stopped", "error": None, "seconds": 0.0}
            with trial_lock(sweep_dir, name):
                result = continue_trial(Path(sweep_dir) / name, cfg, _SWEEP_GONE.is_set)
        status = "failed" if result.error else "stopped" if result.stopped else "finished"
        error = result.error
    except Exception as e:  # noqa: BLE001 - reported in the outcome; the other trials go on
        status, error = "failed", f"{type(e).__name__}: {e}".splitlines()[0]
        traceback.print_exc()
    return {"name": name, "status": status, "error": error, "seconds": time.perf_counter() - started}
