"""The resume checkpoint: what determines training after a task boundary, saved at the end of every
task in the header of `weights.safetensors`, beside the weights it belongs to (one atomic write, so
the two always agree however a run is interrupted).

What crosses a task boundary in the loop (core/engine/loop.py), and where it is kept:
* the method's parameters and buffers (target network, hypernetwork, task embeddings): the file's
  tensors;
* the regularisers' targets (H*_j = H(e_j; Θ) and W* = W at a task's start): recomputed from those
  by `Method.begin_task`, as in an uninterrupted run;
* optimizer state: none, every task makes a fresh Adam (core/engine/step.py);
* the batch order (and random crops) of the remaining tasks: drawn from one CPU generator shared
  by all tasks, whose state is saved; the global torch generator's state too (nothing in training
  draws from it today, so it stays correct if something does);
* the loop's bookkeeping metrics.json is made from (accuracy rows, mask statistics, times, steps);
* the torch CPU thread count, which decides a run's last digits.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from core.config import RunConfig
from core.runs import RunError
from core.runs.reader import check_tensor_file

#: The header entry of weights.safetensors that holds the checkpoint (JSON).
KEY = "hypermask_resume"
VERSION = 1
#: The loop's bookkeeping saved with a checkpoint (`core.engine.loop._State` attributes).
STATE_FIELDS = ("acc_matrix", "next_task_acc", "random_init_acc", "mask_stats", "task_seconds",
                "train_seconds", "steps", "created", "data")


@dataclass
class Checkpoint:
    """A decoded checkpoint: `tasks_done` tasks completed; `state` the loop's bookkeeping
    (STATE_FIELDS); the generators' states; the run's configuration (as `RunConfig.to_dict()`);
    the torch CPU threads it trained with."""

    tasks_done: int
    config: dict[str, Any]
    state: dict[str, Any]
    batch_rng: Tensor
    torch_rng: Tensor
    threads: int | None = None


@dataclass
class ResumePoint:
    """What `core.engine.loop.run_training` continues from: the checkpoint, the method rebuilt with its
    saved weights (on the CPU), and the own-task mask snapshots of the completed tasks (float16,
    "task<j>/<param>", for task_masks.safetensors)."""

    checkpoint: Checkpoint
    method: Any  # core.methods.Method
    task_masks: dict[str, Tensor] = field(default_factory=dict)


def _b64(t: Tensor) -> str:
    return base64.b64encode(t.numpy().tobytes()).decode("ascii")


def encode(cfg: RunConfig, state: dict[str, Any], batch_rng: torch.Generator) -> dict[str, str]:
    """The safetensors metadata of a checkpoint after `len(state['acc_matrix'])` completed tasks."""
    payload = {"version": VERSION, "tasks_done": len(state["acc_matrix"]), "config": cfg.to_dict(),
               "state": {k: state[k] for k in STATE_FIELDS}, "batch_rng": _b64(batch_rng.get_state()),
               "torch_rng": _b64(torch.get_rng_state()), "threads": torch.get_num_threads()}
    return {KEY: json.dumps(payload, allow_nan=False)}


def _rng(text: Any, name: str) -> Tensor:
    try:
        raw = base64.b64decode(str(text), validate=True)
        state = torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone()
        torch.Generator().set_state(state)  # checks its size and content
        return state
    except (ValueError, RuntimeError, TypeError) as e:
        raise ValueError(f"{name} is not a generator state ({str(e).splitlines()[0][:60]})") from None


def _numbers(v: Any, n: int, name: str) -> None:
    if not isinstance(v, list) or len(v) != n or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise ValueError(f"{name} is not a list of {n} numbers")


def _check_state(s: Any, k: int) -> None:
    """Raise ValueError unless `s` is the bookkeeping of `k` completed tasks."""
    if not isinstance(s, dict) or set(STATE_FIELDS) - set(s):
        raise ValueError("state lacks fields")
    rows = s["acc_matrix"]
    if not isinstance(rows, list) or len(rows) != k:
        raise ValueError(f"acc_matrix does not hold {k} rows")
    for i, row in enumerate(rows):
        _numbers(row, i + 1, f"acc_matrix row {i}")
    if not isinstance(s["data"], dict) or not isinstance(s["data"].get("n_tasks"), int):
        raise ValueError("data is not an object with n_tasks")
    n = s["data"]["n_tasks"]
    _numbers(s["random_init_acc"], n, "random_init_acc")
    _numbers(s["next_task_acc"], min(k, n - 1), "next_task_acc")
    _numbers(s["task_seconds"], k, "task_seconds")
    if not isinstance(s["mask_stats"], list) or len(s["mask_stats"]) != k:
        raise ValueError(f"mask_stats does not hold {k} entries")
    if not isinstance(s["steps"], int) or not isinstance(s["train_seconds"], (int, float)):
        raise ValueError("steps or train_seconds is not a number")
    if not isinstance(s["created"], str):
        raise ValueError("created is not a string")


def decode(metadata: dict[str, str] | None) -> Checkpoint | None:
    """The checkpoint in a weights file's safetensors metadata; None when it has none (a run saved
    before checkpoints existed, or one with no completed task).

    Raises:
        ValueError: a checkpoint that is not well formed (the message says what).
    """
    text = (metadata or {}).get(KEY)
    if text is None:
        return None
    try:
        p = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("its checkpoint is not valid JSON") from None
    if not isinstance(p, dict) or p.get("version") != VERSION:
        raise ValueError(f"its checkpoint has version {str(p.get('version') if isinstance(p, dict) else None)[:20]}, "
                         f"expected {VERSION}")
    k, threads = p.get("tasks_done"), p.get("threads")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"its checkpoint's tasks_done={str(k)[:20]} is not a positive whole number")
    if not isinstance(p.get("config"), dict):
        raise ValueError("its checkpoint holds no configuration")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        threads = None
    _check_state(p.get("state"), k)
    return Checkpoint(k, p["config"], p["state"], _rng(p.get("batch_rng"), "batch_rng"),
                      _rng(p.get("torch_rng"), "torch_rng"), threads)


def read_checkpoint(weights: Path) -> Checkpoint | None:
    """The checkpoint of `weights` (weights.safetensors) from its header alone (no tensor is read);
    None when the file holds none.

    Raises:
        RunError: one line naming the file — missing, not a regular file, not safetensors, or a
            damaged checkpoint.
    """
    from safetensors import SafetensorError, safe_open

    check_tensor_file(weights)
    try:
        with safe_open(str(weights), framework="pt") as f:
            metadata = f.metadata()
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise RunError(f"{weights.name} is not a valid safetensors file ({str(e).splitlines()[0][:80]})") from None
    try:
        return decode(metadata)
    except ValueError as e:
        raise RunError(f"{weights.name}: {e}") from None
