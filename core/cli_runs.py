"""The CLI's commands on existing run folders (core/cli.py parses the arguments): `watch RUN` (follow
a run while it trains), `train --resume RUN` (continue an interrupted run, `core.engine.resume`) and
`list [FOLDER]` (saved runs with their status: "interrupted" where the process died). Each bad input
ends with one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import events as ev
from core.config import check_threads
from core.runs import LOCK_FILE, EventLog, RunError, list_runs, lock_held, read_metrics

Show = Callable[[Any, ev.Event], None]
PrintResult = Callable[[dict[str, Any]], None]
#: `train` flags that --resume accepts; every other one would change the run and is refused.
RESUME_FLAGS = ("resume", "threads", "quiet", "command")


#: Seconds a folder with no readable metrics.json and no training process is given to start one.
START_GRACE_S = 30.0


def _no_result_coming(folder: Path) -> str | None:
    """Why a run whose events.jsonl (read to its end) has no terminal event will not get one, or None
    while it may: "interrupted" (metrics.json says running or interrupted, and no process holds the
    run's lock: its process died), "unreadable" (no process, and no readable metrics.json), or the
    status metrics.json gives ("finished", "stopped", "failed": the run ended, its log lost its end)."""
    if lock_held(folder) is not False:
        return None
    try:
        status = str(read_metrics(folder).get("status"))
    except RunError:
        return "unreadable"
    return "interrupted" if status in ("running", "interrupted") else status  # the lock is free: it died


def watch(a: argparse.Namespace, show: Show, print_result: PrintResult, poll_s: float = 0.2) -> int:
    """Run `python -m core watch RUN`: follow the run folder's events.jsonl (`core.runs.EventLog`, the
    channel every reader follows) until its terminal event; returns 0 (finished or stopped), 1 (failed,
    or interrupted: its process died), 2 (not a run folder, or no process trains it and its log has
    no result: damaged or cut short), 130 (Ctrl-C: only the watching ends)."""
    from tqdm import tqdm

    from core import run_state

    folder = Path(a.run)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    events = folder / "events.jsonl"
    if not events.is_file() and not (folder / LOCK_FILE).exists():
        problem = "events.jsonl is not a regular file" if events.exists() else "no events.jsonl"
        print(f"error: {folder} holds no run ({problem}, and no run has claimed it)", file=sys.stderr)
        return 2
    log, seen = EventLog(folder), []
    bar = tqdm(total=0, unit="it", disable=a.quiet)
    quiet_since = time.monotonic()
    try:
        while run_state.terminal(seen) is None:
            new = log.read_new()
            for e in new:
                show(bar, e)
            seen += new
            if new:
                quiet_since = time.monotonic()
                continue
            why = _no_result_coming(folder)
            if why == "unreadable" and time.monotonic() - quiet_since < START_GRACE_S:
                why = None  # a run being started: its process has not claimed the folder yet
            if why is not None:
                seen += log.read_all()
                if run_state.terminal(seen) is not None:
                    break
                bar.close()
                if why == "interrupted":
                    print(f"error: the run in {folder} was interrupted (its process ended without a result); "
                          f"continue it with: python -m core train --resume {folder}", file=sys.stderr)
                    return 1
                said = "metrics.json cannot be read" if why == "unreadable" else f"metrics.json says {why!r}"
                print(f"error: no process trains the run in {folder} and its events.jsonl has no result event "
                      f"({said}): the log is damaged or cut short", file=sys.stderr)
                return 2
            time.sleep(poll_s)
    except KeyboardInterrupt:
        bar.close()
        print("stopped watching; the run goes on", file=sys.stderr)
        return 130
    bar.close()
    end = run_state.terminal(seen)
    if isinstance(end, ev.RunFailed):
        print(f"error: training failed: {end.message}", file=sys.stderr)
        return 1
    print_result(end.result)  # type: ignore[union-attr]
    print(f"run {'stopped' if end.stopped else 'finished'}: {folder}")  # type: ignore[union-attr]
    return 0


def _changed_flags(a: argparse.Namespace) -> list[str]:
    """The `train` flags given besides --resume, --threads and --quiet (they would change the run)."""
    from core.cli import build_parser

    defaults = vars(build_parser().parse_args(["train", "--resume", "RUN"]))
    return [f"--{k.replace('_', '-')}" for k, v in vars(a).items()
            if k not in RESUME_FLAGS and defaults.get(k) != v]


def resume(a: argparse.Namespace, show: Show, print_result: PrintResult) -> int:
    """Run `python -m core train --resume RUN`; returns the exit status (2: cannot be resumed, with
    one line saying why; 1: training failed; 130: interrupted again, completed tasks saved)."""
    from tqdm import tqdm

    from core.engine.resume import check_resumable, resume_training

    changed = _changed_flags(a)
    try:
        if changed:
            raise ValueError(f"--resume continues a run with its own settings; {', '.join(changed)} cannot "
                             "be given with it (only --threads and --quiet)")
        if a.threads is not None:
            check_threads(a.threads, "--threads")
        plan = check_resumable(a.resume)
    except ValueError as e:  # RunError included
        print(f"error: cannot resume {a.resume}: {e}", file=sys.stderr)
        return 2
    cfg, k = plan.cfg, plan.tasks_done
    iters = cfg.train.iters_per_task
    if not a.quiet:
        print(f"resuming {plan.run_dir} ({plan.status}) after {k} of {cfg.data.tasks} tasks; task {k} "
              "starts from its beginning", file=sys.stderr)
    bar = tqdm(total=cfg.data.tasks * iters, initial=k * iters, unit="it", disable=a.quiet,
               desc=f"{cfg.train.method} {cfg.data.benchmark}")
    try:
        return train_and_report(lambda: resume_training(plan.run_dir, emit=functools.partial(show, bar),
                                                        threads=a.threads), bar, plan.run_dir, print_result)
    except RunError as e:
        print(f"error: cannot resume {a.resume}: {e}", file=sys.stderr)
        return 2


def train_and_report(train: Callable[[], Any], bar: Any, out: Path, print_result: PrintResult) -> int:
    """Run `train()` (returning a `TrainingResult`) while `bar` (tqdm) shows its progress, close the
    bar however it ends, and report as `python -m core train` does; returns the exit status: 0 (the
    result printed and the run folder `out` named), 1 (training failed) or 130 (Ctrl-C; completed
    tasks stay saved in `out`). Other exceptions propagate."""
    try:
        result = train()
    except KeyboardInterrupt:
        print(f"interrupted; completed tasks are saved in {out}", file=sys.stderr)
        return 130
    finally:
        bar.close()
    if result.error:
        print(f"error: training failed: {result.error} (completed tasks are saved in {out})", file=sys.stderr)
        return 1
    print_result(result.metrics)
    print(f"saved run: {out}")
    return 0


def list_command(a: argparse.Namespace) -> int:
    """Run `python -m core list [FOLDER]`: one line per run folder (newest first) with its status,
    tasks done, method, benchmark and ACC; an unreadable folder says why."""
    root = Path(a.folder or "runs")
    if a.folder is None and not root.exists():
        print(f"no runs yet: {root} does not exist", file=sys.stderr)
        return 0
    if not root.is_dir():
        print(f"error: {root} is not a folder of runs", file=sys.stderr)
        return 2
    rows = list_runs(root)
    width = max([len(r.name) for r in rows] + [3])
    print(f"{'run':<{width}}  {'status':<11}  {'tasks':>5}  {'method':<9}  {'benchmark':<14}  {'ACC':>6}")
    for r in rows:
        if r.error:
            print(f"{r.name:<{width}}  unreadable: {r.error}")
            continue
        acc = f"{100 * r.avg_acc:5.1f}%" if isinstance(r.avg_acc, (int, float)) else "—"
        print(f"{r.name:<{width}}  {r.status:<11}  {f'{r.tasks_done}/{r.n_tasks}':>5}  {r.method:<9}  "
              f"{r.benchmark:<14}  {acc:>6}")
    if any(r.status == "interrupted" for r in rows):
        print(f"interrupted runs continue with: python -m core train --resume {root}/RUN", file=sys.stderr)
    return 0
