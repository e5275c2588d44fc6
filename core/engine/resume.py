"""Continuing a run from its last completed task: `resume_training` (the CLI's `train --resume RUN`,
the app's Resume button, a sweep restarting its interrupted trials).

A run folder holds, after every task, a checkpoint of everything that determines training after
that task boundary (core/engine/checkpoint.py, in weights.safetensors' header). Resuming rebuilds
the method from it, restores the batch generator and the loop's bookkeeping, and trains the
remaining tasks with the same code as an uninterrupted run: with the same torch thread count (by
default the one the run recorded), the accuracy matrix is identical to the last digit. A task that
was being trained when the run was interrupted is trained again from its start; its partial events
are dropped from events.jsonl, so every reader sees one run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core import events as ev
from core.config import RunConfig, check_threads
from core.engine.checkpoint import Checkpoint, ResumePoint, read_checkpoint
from core.runs import RunError, read_config, read_events, read_metrics
from core.runs import liveness
from core.runs.layout import TASK_MASKS_FILE

if TYPE_CHECKING:
    from core.engine.loop import RunResult


@dataclass(frozen=True)
class ResumePlan:
    """What a resume of `run_dir` continues: its configuration, its checkpoint (None: no task was
    completed, training restarts from task 0), its status, and the torch threads it trained with."""

    run_dir: Path
    cfg: RunConfig
    checkpoint: Checkpoint | None
    status: str
    threads: int | None

    @property
    def tasks_done(self) -> int:
        return self.checkpoint.tasks_done if self.checkpoint is not None else 0


def _diff(a: dict, b: dict, prefix: str = "") -> str:
    """The first differing entry of two nested config dicts, 'train.iters_per_task: 150 / 300'."""
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            inner = _diff(x, y, f"{prefix}{key}.")
            if inner:
                return inner
        elif x != y:
            return f"{prefix}{key}: {str(x)[:30]} in config.json, {str(y)[:30]} in the checkpoint"
    return ""


def _plan(p: Path) -> ResumePlan:
    """Check run folder `p` for a resume (its lock is not checked here). Raises RunError."""
    if not p.is_dir():
        raise RunError(f"{p} is not a run folder")
    cfg = read_config(p)
    metrics = read_metrics(p) if (p / "metrics.json").exists() else {}
    status = str(metrics.get("status", "interrupted"))
    if status == "finished":
        raise RunError(f"{p.name} has finished all its tasks; there is nothing to resume")
    done = int(metrics.get("tasks_done", 0))
    weights = p / "weights.safetensors"
    ckpt = read_checkpoint(weights) if weights.exists() or done > 0 else None
    if ckpt is None and done > 0:
        raise RunError(f"{weights.name} holds no resume checkpoint (the run was saved by an older version); "
                       f"{p.name} cannot be resumed")
    if ckpt is not None:
        if ckpt.tasks_done < done:
            raise RunError(f"metrics.json says {done} tasks are done, but the checkpoint in {weights.name} "
                           f"holds {ckpt.tasks_done}; the folder is damaged")
        if ckpt.tasks_done > cfg.data.tasks or ckpt.state["data"]["n_tasks"] != cfg.data.tasks:
            raise RunError(f"the checkpoint in {weights.name} does not fit the run's {cfg.data.tasks} tasks")
        mismatch = _diff(cfg.to_dict(), ckpt.config)
        if mismatch:
            raise RunError(f"config.json does not match the run's checkpoint ({mismatch}); resuming would "
                           "not continue the same run")
    recorded = re.fullmatch(r"cpu \((\d+) threads?\)", str(metrics.get("device", "")))
    threads = ckpt.threads if ckpt is not None and ckpt.threads else (int(recorded.group(1)) if recorded else None)
    return ResumePlan(p, cfg, ckpt, status, threads)


def _kept_events(plan: ResumePlan) -> list[ev.Event]:
    """events.jsonl as it stands after `plan.tasks_done` tasks: the run's first RunStarted and every
    event of a completed task, nothing of an interrupted task, no terminal event; a TaskFinished the
    interruption kept from being written is made from the checkpoint. [] to restart from task 0."""
    k, cfg = plan.tasks_done, plan.cfg
    if k == 0 or plan.checkpoint is None:
        return []
    state = plan.checkpoint.state
    kept: list[ev.Event] = []
    for e in read_events(plan.run_dir):
        if isinstance(e, ev.RunStarted):
            if not any(isinstance(x, ev.RunStarted) for x in kept):
                kept.append(e)
        elif not ev.is_terminal(e) and getattr(e, "task", k) < k:
            kept.append(e)
    if not any(isinstance(x, ev.RunStarted) for x in kept):
        kept.insert(0, ev.RunStarted(cfg.to_dict(), str(plan.run_dir), cfg.data.tasks, cfg.train.iters_per_task,
                                     dict(state["data"])))
    finished = {e.task for e in kept if isinstance(e, ev.TaskFinished)}
    for j in range(k):
        if j not in finished:
            kept.append(ev.TaskFinished(j, (j + 1) * cfg.train.iters_per_task, list(state["acc_matrix"][j]),
                                        list(state["mask_stats"][j]), float(state["task_seconds"][j])))
    return kept


def _rewrite_events(plan: ResumePlan) -> None:
    """Replace events.jsonl by `_kept_events` (atomically; untouched when nothing changes)."""
    path = plan.run_dir / "events.jsonl"
    text = "".join(ev.to_json(e) + "\n" for e in _kept_events(plan)).encode("utf-8")
    try:
        if path.is_file() and path.stat().st_size == len(text) and path.read_bytes() == text:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(text)
        os.replace(tmp, path)
    except OSError as e:
        raise RunError(f"cannot rewrite {path.name}: {e.strerror}") from None


def check_resumable(run_dir: str | Path) -> ResumePlan:
    """Check that `run_dir` can be resumed and make its events.jsonl end at its last completed task
    (what the app does before it starts the training process, so that every reader of the folder
    follows one run from the start).

    Raises:
        RunError: one line — a live run, a finished one, missing or damaged files, a config.json
            that no longer matches the checkpoint.
    """
    p = Path(run_dir)
    if not p.is_dir():
        raise RunError(f"{p} is not a run folder")
    liveness.acquire(p, wait_s=0.5)
    try:
        plan = _plan(p)
        _rewrite_events(plan)
        return plan
    finally:
        liveness.release(p)


def _resume_point(plan: ResumePlan, bench: object) -> ResumePoint:
    """The method rebuilt with the checkpoint's weights and the completed tasks' own-task masks."""
    import torch

    from core.masks import ramped_sparsity
    from core.methods import build_method
    from core.models.target import build_target
    from core.runs.reader import read_tensors
    from core.runs.writer import flat_masks

    assert plan.checkpoint is not None
    cfg, k, p = plan.cfg, plan.tasks_done, plan.run_dir
    tensors = read_tensors(p / "weights.safetensors")
    torch.manual_seed(cfg.train.seed)
    method = build_method(cfg, build_target(cfg.target, bench.input_shape, bench.n_classes), cfg.data.tasks)  # type: ignore[attr-defined]
    try:
        method.load_state_tensors(tensors)
    except (ValueError, RuntimeError) as e:
        raise RunError(f"weights.safetensors does not fit the configured networks: {str(e).splitlines()[0][:160]}") from None
    own: dict[str, torch.Tensor] = {}
    if (p / TASK_MASKS_FILE).exists():
        own = {n: t.to(torch.float16) for n, t in read_tensors(p / TASK_MASKS_FILE).items()
               if re.fullmatch(r"task(\d+)/.+", n) and int(n[4:n.index("/")]) < k}
    if cfg.train.method == "hypermask" and not any(n.startswith(f"task{k - 1}/") for n in own):
        # written after the weights: an interruption between the two loses only this snapshot,
        # which the weights give back (the mask at the end of task k-1 is the mask now)
        n_iter, mc = cfg.train.iters_per_task, cfg.mask
        p_end = ramped_sparsity(mc.sparsity, k - 1, n_iter - 1, n_iter, mc.adaptive)
        own.update(flat_masks({k - 1: method.masks(k - 1, p_end)}))
    return ResumePoint(plan.checkpoint, method, own)


def resume_training(run_dir: str | Path, emit: ev.Emit | None = None,
                    should_stop: Callable[[], bool] = lambda: False, threads: int | None = None) -> RunResult:
    """Continue the run in folder `run_dir` from its last completed task (from task 0 if it completed
    none), in that folder, with the same contract as `core.engine.loop.run_training` (events to
    `emit` and events.jsonl, `should_stop` polled before every step, exactly one terminal event).

    Args:
        run_dir: an interrupted, stopped or failed run folder (not a finished or live one).
        emit, should_stop: as for `run_training`.
        threads: torch CPU threads; None: those the run trained with (recorded in its checkpoint or
            metrics.json), which gives results identical to an uninterrupted run.
    Returns:
        core.engine.loop.RunResult.
    Raises:
        RunError: one line, before anything is trained — the folder cannot be resumed (a live run,
            a finished one, missing or damaged files, a config or data that changed since).
    """
    import torch

    from core.data.benchmarks import make_benchmark
    from core.devices import resolve_device
    from core.engine.loop import run_training

    if threads is not None:
        try:
            check_threads(threads, "threads")
        except ValueError as e:
            raise RunError(str(e)) from None
    p = Path(run_dir)
    if not p.is_dir():
        raise RunError(f"{p} is not a run folder")
    liveness.acquire(p, wait_s=0.5)  # held until the loop's own writer takes over (re-entrant)
    try:
        plan = _plan(p)
        _rewrite_events(plan)
        cfg = plan.cfg
        try:
            resolve_device(cfg.train.device)
            bench = make_benchmark(cfg.data, cfg.train.seed)
        except ValueError as e:  # DeviceError and DataError included
            raise RunError(f"cannot resume {p.name}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        if plan.checkpoint is not None:
            then, now = plan.checkpoint.state["data"], bench.info()
            changed = [k for k in ("sha256", "n_tasks", "input_shape", "train_sizes") if then.get(k) != now.get(k)]
            if changed:
                raise RunError(f"the data of {p.name} changed since it was trained ({', '.join(changed)} differ: "
                               f"{then.get('source')}); resuming would not continue the same run")
        if threads or plan.threads:
            torch.set_num_threads(threads or plan.threads)  # type: ignore[arg-type]
        point = _resume_point(plan, bench) if plan.checkpoint is not None else None
        return run_training(cfg, emit, should_stop, run_dir=p, benchmark=bench, resume=point)
    finally:
        liveness.release(p)


__all__ = ["ResumePlan", "check_resumable", "resume_training"]
