"""Mask drift: how far each task's mask moved between the end of its own task and the end of training.

HyperMask keeps old masks in place through the hypernetwork-output regulariser R_hnet
(hypermask.md §4); drift measures how well. For task j and every masked tensor l it compares the
snapshot taken when task j finished (task_masks.safetensors, written by the training loop since
this file was added) with task j's final mask (masks.safetensors):
  Jaccard of supports |S ∩ S'| / |S ∪ S'|, S = {M > 0} (§10; 1 when both are empty), and
  mean |ΔM| = mean over the tensor's entries of |M_final − M_own| (mask values lie in [0, 1)).
Both files hold float16 masks written the same way, so an unchanged mask gives exactly 1 and 0.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from core.runs import TASK_MASKS_FILE, Run, RunError, read_masks
from core.tickets.settings import HEADER_SLACK
from core.tickets.subnetworks import KINDS, NO_MASK

PREDATES = "this run predates per-task mask snapshots (task_masks.safetensors); train it again to see drift"


def read_task_masks(path: str | Path, shapes: dict[str, tuple[int, ...]], n_tasks: int) -> dict[int, dict[str, Tensor]]:
    """Read a run's own-task mask snapshots, checked and bounded: a JSON header and raw tensors
    (safetensors never executes code); a file larger than the run's masks can fill is refused
    before a byte of it is parsed.

    Args:
        path: the run folder.
        shapes: {param: shape} of the masked target tensors.
        n_tasks: the run's number of tasks.
    Returns:
        {task: {param: float32 mask}}; {} if the file does not exist.
    Raises:
        RunError: one line naming task_masks.safetensors — larger than `n_tasks` float16 masks,
            not a safetensors file, or a tensor that names no masked tensor, no task of the run, or
            has the wrong shape.
    """
    f = Path(path) / TASK_MASKS_FILE
    if not f.exists():
        return {}
    limit = 2 * n_tasks * sum(math.prod(s) for s in shapes.values()) + HEADER_SLACK
    size = f.stat().st_size
    if size > limit:
        raise RunError(f"{TASK_MASKS_FILE} is {size:,} bytes, more than the {limit:,} this run's masks can take; not read")
    return read_masks(f, shapes, n_tasks)


def jaccard(a: Tensor, b: Tensor) -> float:
    """|{a > 0} ∩ {b > 0}| / |{a > 0} ∪ {b > 0}| for two masks of one shape (1.0 if both are empty)."""
    sa, sb = a > 0, b > 0
    union = int((sa | sb).sum())
    return int((sa & sb).sum()) / union if union else 1.0


def mean_abs_change(a: Tensor, b: Tensor) -> float:
    """Mean over entries of |b − a| (two masks of one shape)."""
    return float((b.float() - a.float()).abs().mean())


def mask_drift(run: Run) -> dict[str, Any]:
    """Per learned task and masked tensor, Jaccard of supports and mean |ΔM| between the task's mask
    at the end of its own task and at the end of training.

    Args:
        run: a loaded run (`core.runs.load_run`); its final masks are `run.masks`.
    Returns:
        {"layers": L tensor names, "jaccard": T lists of L, "mean_abs_change": T lists of L,
         "reason": None} — or those None and "reason": HNET / fine-tuning, or a run without
        snapshots (`PREDATES`).
    Raises:
        RunError: a damaged task_masks.safetensors (`read_task_masks`), or a HyperMask run whose
            masks files lack a learned task's mask.
    """
    empty = {"layers": None, "jaccard": None, "mean_abs_change": None}
    kind = KINDS[run.config.train.method]
    if kind != "masks":
        return {**empty, "reason": NO_MASK[kind]}
    hn = run.method.hypernet
    shapes = {n: tuple(s) for n, s in hn.shapes.items()}
    own = read_task_masks(run.path, shapes, len(run.metrics["acc_matrix"]))
    if not own:
        return {**empty, "reason": PREDATES}
    tasks = range(run.tasks_done)
    for where, masks in ((TASK_MASKS_FILE, own), ("masks.safetensors", run.masks)):
        missing = [f"task{j}/{n}" for j in tasks for n in shapes if n not in masks.get(j, {})]
        if missing:
            raise RunError(f"{where} lacks {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    layers = list(shapes)
    with torch.inference_mode():
        jac = [[jaccard(own[j][n], run.masks[j][n]) for n in layers] for j in tasks]
        delta = [[mean_abs_change(own[j][n], run.masks[j][n]) for n in layers] for j in tasks]
    return {"layers": layers, "jaccard": jac, "mean_abs_change": delta, "reason": None}


__all__ = ["PREDATES", "jaccard", "mask_drift", "mean_abs_change", "read_task_masks"]
