"""The one training loop for every method (hypermask.md §5), emitting events (core/events.py).

For each task: snapshot the regularisers' targets, make a fresh Adam, then step over shuffled
mini-batches — masks → R_target → Ŵ → CE → R_hnet → backward → step — checking `should_stop()`
before every step. Every `eval_every` steps all seen tasks are evaluated on a fixed test subsample;
after each task, on the full test sets (a row of the accuracy matrix), and the run folder is saved,
with a resume checkpoint (core/engine/checkpoint.py) from which `core.engine.resume` continues an
interrupted run exactly as it would have gone on.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from core import devices
from core.runs import RunFiles
from core.config import RunConfig
from core.data.benchmarks import REGISTRY as BENCHMARK_REGISTRY
from core.data.benchmarks import Benchmark, make_benchmark, stream_shape
from core.data.sources import check_source
from core import events as ev
from core.engine import checkpoint
from core.engine.step import TaskStep
from core.masks import mask_stats, ramped_sparsity
from core.methods import Method, build_method, check_model_size
from core.methods.base import accuracy
from core.metrics import summarize
from core.run_state import padded_matrix
from core.tickets.inference import task_inference
from core.tickets.subnetworks import Subnetworks, trained_sparsity
from core.models.target import build_target
from core.utils import seed_everything, tune_allocator


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite; the message names the task, iteration and the
    settings that usually cause it (learning rate, β, λ)."""


def check_run(cfg: RunConfig) -> None:
    """Everything that can refuse a run before its folder is made, without building the task stream:
    a data file given as a path (read and checked, `core.data.sources.check_source`), and the
    hypernetwork's size for the stream's shapes (`stream_shape`, `core.methods.check_model_size`).
    The app calls it before it creates a run folder; quick for the bundled data (nothing is loaded).

    Raises:
        core.data.sources.DataError: missing or malformed data (one line naming the file).
        ValueError: settings that do not fit the data, or a hypernetwork too large to build.
        core.devices.DeviceError: device 'cuda' on a machine without one.
    """
    devices.resolve_device(cfg.train.device)
    if BENCHMARK_REGISTRY[cfg.data.benchmark][0] == "mnist":
        check_source(cfg.data.source)
    input_shape, n_classes, n_tasks = stream_shape(cfg.data)
    check_model_size(cfg, input_shape, n_classes, n_tasks)


@dataclass
class RunResult:
    """What `run_training` returns: the metrics dict (as in metrics.json), whether a stop request
    ended it, the error message if it failed, and the live objects for further inspection."""

    metrics: dict[str, Any]
    stopped: bool = False
    error: str | None = None
    run_dir: Path | None = None
    method: Method | None = None
    benchmark: Benchmark | None = None
    events: list[ev.Event] = field(default_factory=list)


def _accuracy(method: Method, bench: Benchmark, eval_task: int, weight_task: int, sparsity: float,
              limit: int | None = None) -> float:
    x, y = bench.test_inputs(eval_task)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return accuracy(method.predict(x, weight_task, sparsity), y)


class _State:
    """Accumulates what metrics.json holds while the loop runs."""

    def __init__(self, cfg: RunConfig, bench: Benchmark, device: str) -> None:
        self.n_tasks = len(bench.tasks)
        self.device = device
        self.acc_matrix: list[list[float | None]] = []
        self.next_task_acc: list[float] = []
        self.random_init_acc: list[float] = []
        self.mask_stats: list[list[dict[str, Any]]] = []
        self.task_inference: dict[str, Any] | None = None  # core.tickets.inference, once training ends
        self.task_seconds: list[float] = []
        self.train_seconds = 0.0
        self.steps = 0
        self.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.data = bench.info()
        self.status = "running"
        self.error: str | None = None

    def snapshot(self) -> dict[str, Any]:
        """The bookkeeping a resume checkpoint keeps (`checkpoint.STATE_FIELDS`)."""
        return {k: getattr(self, k) for k in checkpoint.STATE_FIELDS}

    def restore(self, snap: dict[str, Any]) -> None:
        """Continue from a checkpoint's `snapshot()` (already checked by `checkpoint.decode`)."""
        for k in checkpoint.STATE_FIELDS:
            v = snap[k]
            setattr(self, k, [list(r) if isinstance(r, list) else r for r in v] if isinstance(v, list) else v)

    def metrics(self) -> dict[str, Any]:
        k = len(self.acc_matrix)
        out: dict[str, Any] = {
            "status": self.status, "tasks_done": k,
            "acc_matrix": padded_matrix(self.acc_matrix, self.n_tasks),
            **summarize(self.acc_matrix, self.next_task_acc, self.random_init_acc),
            "next_task_acc": self.next_task_acc, "random_init_acc": self.random_init_acc,
            "mask_stats": self.mask_stats, "task_inference": self.task_inference, "task_seconds": self.task_seconds,
            "ms_per_iter": 1000 * self.train_seconds / self.steps if self.steps else None,
            "steps": self.steps, "device": self.device, "data": self.data, "created": self.created,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"), "error": self.error,
        }
        return out


def run_training(cfg: RunConfig, emit: ev.Emit | None = None,
                 should_stop: Callable[[], bool] = lambda: False,
                 run_dir: str | Path | None = None, benchmark: Benchmark | None = None,
                 resume: checkpoint.ResumePoint | None = None) -> RunResult:
    """Train `cfg.train.method` on the task stream of `cfg.data`, task after task.

    Args:
        cfg: the full run configuration.
        emit: event sink (called on this thread); None collects events in `RunResult.events` only.
        should_stop: polled before every step; True ends the run after the last completed task
            (RunFinished with stopped=True).
        run_dir: folder to save the run into after every task (None: nothing is written).
        benchmark: a prebuilt task stream (else built from cfg.data and the seed).
        resume: continue after the checkpoint's completed tasks, in `run_dir`, with the method and
            state it holds (made and checked by `core.engine.resume.resume_training`, which is the
            way to resume a run); no RunStarted is sent again.
    Returns:
        RunResult. Exactly one terminal event (RunFinished or RunFailed) is emitted last; errors do
        not propagate — they end in RunFailed and `RunResult.error`.
    """
    collected: list[ev.Event] = []
    files = RunFiles(Path(run_dir)) if run_dir is not None else None

    def send(e: ev.Event) -> None:
        collected.append(e)
        if files is not None:
            files.log_event(e)
        if emit is not None:
            emit(e)

    result = RunResult(metrics={}, run_dir=Path(run_dir) if run_dir is not None else None, events=collected)
    state: _State | None = None
    try:
        tune_allocator()
        device = devices.resolve_device(cfg.train.device)
        seed = cfg.train.seed
        seed_everything(seed)
        bench = (benchmark if benchmark is not None else make_benchmark(cfg.data, seed)).to(device)
        torch.manual_seed(seed)
        # Built on the CPU, then moved: the same seed gives the same initial weights on every device.
        method = (resume.method if resume is not None else
                  build_method(cfg, build_target(cfg.target, bench.input_shape, bench.n_classes),
                               len(bench.tasks))).to(device)
        result.method, result.benchmark = method, bench
        state = _State(cfg, bench, devices.describe(device))
        if resume is not None:
            state.restore(resume.checkpoint.state)
            torch.set_rng_state(resume.checkpoint.torch_rng)
        if files is not None:
            if resume is None:
                files.write_config(cfg)
            else:
                files.keep_task_masks(resume.task_masks)
            files.write_metrics(state.metrics())  # readable status from the first second on
        if resume is None:
            send(ev.RunStarted(cfg.to_dict(), str(run_dir) if run_dir is not None else None, len(bench.tasks),
                               cfg.train.iters_per_task, {**bench.info(), "params": method.param_counts()}))
            p_final = cfg.mask.sparsity
            state.random_init_acc = [_accuracy(method, bench, j, j, p_final) for j in range(len(bench.tasks))]
        stopped = _train_tasks(cfg, method, bench, state, send, should_stop, files,
                               resume.checkpoint if resume is not None else None)
        if state.acc_matrix:  # class-incremental evaluation of the learned tasks (hypermask.md §6)
            k = len(state.acc_matrix)
            state.task_inference = task_inference(Subnetworks(method, bench, k, trained_sparsity(cfg, k - 1)))
        state.status = "stopped" if stopped else "finished"
        result.stopped = stopped
        result.metrics = state.metrics()
        if files is not None:
            files.write_metrics(result.metrics)
        send(ev.RunFinished(result.metrics, stopped))
    except KeyboardInterrupt:  # Ctrl-C / SIGTERM in the CLI: a stop, completed tasks stay saved
        if state is not None:
            state.status = "stopped"
            result.stopped, result.metrics = True, state.metrics()
            if files is not None:
                files.write_metrics(result.metrics)
        send(ev.RunFinished(result.metrics, True))
        if files is not None:
            files.close()
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes the terminal RunFailed event
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        result.error = msg
        if state is not None:
            state.status, state.error = "failed", msg
            result.metrics = state.metrics()
            if files is not None:
                try:
                    files.write_metrics(result.metrics)
                except Exception:  # noqa: BLE001
                    pass
        send(ev.RunFailed(msg, traceback.format_exc()))
    finally:
        if files is not None:
            files.close()
    return result


def _losses_on_host(losses: dict[str, Tensor]) -> dict[str, float]:
    """The loss terms as numbers: one device-to-host copy (and so one wait) for all of them."""
    return dict(zip(losses, torch.stack(list(losses.values())).tolist()))


def _train_tasks(cfg: RunConfig, method: Method, bench: Benchmark, state: _State, send: ev.Emit,
                 should_stop: Callable[[], bool], files: RunFiles | None,
                 resume: checkpoint.Checkpoint | None = None) -> bool:
    """Train every task in order (after `resume`'s completed tasks, with its batch generator); returns
    True if a stop request ended training.

    The host reads values back from the device only on logging and evaluation steps and at the end
    of a task; that is also where a diverged (NaN or infinite) loss is caught, at most `log_every`
    steps after it happened. Time is counted after such a wait, so `ms_per_iter` is the device's
    time, not the time to queue the work.
    """
    tc, mc = cfg.train, cfg.mask
    n_iter, n_tasks = tc.iters_per_task, len(bench.tasks)
    gen = torch.Generator().manual_seed(tc.seed)
    if resume is not None:
        gen.set_state(resume.batch_rng)
    sub = cfg.data.eval_subsample
    for t in range(resume.tasks_done if resume is not None else 0, n_tasks):
        t_start = time.perf_counter()
        send(ev.TaskStarted(t, state.steps))
        method.begin_task(t)
        step_fn = TaskStep(method, bench, t, tc.lr, capture=True,
                           ramp=mc.adaptive and t == 0 and mc.sparsity > 0)
        stream = bench.batches(t, tc.batch_size, gen)
        p = mc.sparsity
        for step in range(n_iter):
            if should_stop():
                return True
            s0 = time.perf_counter()
            idx, offsets = stream.next()
            p = ramped_sparsity(mc.sparsity, t, step, n_iter, mc.adaptive)
            losses = step_fn(idx, offsets, p)
            logged = step == 0 or (step + 1) % tc.log_every == 0
            evaluated = (step + 1) % tc.eval_every == 0 or step + 1 == n_iter
            values = _losses_on_host(losses) if logged or evaluated else None
            state.train_seconds += time.perf_counter() - s0
            state.steps += 1
            if values is not None and not math.isfinite(values["total"]):
                raise TrainingDiverged(
                    f"the loss became {values['total']} at task {t}, by iteration {step + 1} (lr={tc.lr:g}, "
                    f"β={mc.beta:g}, λ={mc.lam:g}): training diverged; lower the learning rate or the "
                    "regulariser weights")
            if logged and values is not None:
                send(ev.StepLogged(t, step + 1, state.steps, {**values, "sparsity": p}))
            if evaluated:
                accs = [_accuracy(method, bench, j, j, p, sub) for j in range(t + 1)]
                send(ev.Evaluated(t, step + 1, state.steps, accs))
        del step_fn  # frees the task's Adam state (and graph) before the next task makes its own
        row = [_accuracy(method, bench, j, j, p) for j in range(t + 1)]
        state.acc_matrix.append(row)
        if t + 1 < n_tasks:
            state.next_task_acc.append(_accuracy(method, bench, t + 1, t, p))
        masks = {j: method.masks(j, p) for j in range(t + 1)}
        stats = mask_stats(masks[t]) if masks[t] is not None else []
        state.mask_stats.append(stats)
        state.task_seconds.append(time.perf_counter() - t_start)
        if files is not None:
            files.write_tensors(method.state_tensors(), {j: m for j, m in masks.items() if m is not None}, task=t,
                                checkpoint=checkpoint.encode(cfg, state.snapshot(), gen))
            files.write_metrics(state.metrics())
        send(ev.TaskFinished(t, state.steps, row, stats, state.task_seconds[-1]))
    return False
