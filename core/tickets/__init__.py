"""Winning-ticket lab and task-identity inference: read-only analyses of a trained run.

One module a concept, each a set of pure functions over a loaded run (`core.runs.load_run`):
  subnetworks  each learned task's subnetwork, evaluated as the loop fills R[i, j] (the shared ground)
  crossmask    C[i, j]: task i's test set through task j's subnetwork (diagonal = R[T−1, i])
  sweep        each task's accuracy with its mask re-thresholded at other sparsities p
  controls     random, magnitude and binarised masks of the learned per-layer support size
  drift        each task's mask at the end of its own task against the end of training
  inference    task identity by lowest softmax entropy: class-incremental accuracy (hypermask.md §6)
  settings     the defaults (sweep levels, random seeds) and the settings record of a cache
  cache        tickets.json in the run folder
  lab          `analyze` (all of them) and `analyze_run` (through the cache)

Importing this package is cheap: the torch-based modules load on first use of their names, so a
cache hit (`analyze_run` of an analysed run) does not import PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.tickets.cache import CACHE_FILE, CACHE_VERSION, read_cache
from core.tickets.lab import analyze, analyze_run
from core.tickets.settings import RANDOM_SEEDS, SWEEP_LEVELS, settings

_LAZY = {
    "Subnetworks": "subnetworks", "from_run": "subnetworks", "trained_sparsity": "subnetworks",
    "cross_logits": "crossmask", "cross_mask_matrix": "crossmask",
    "sparsity_sweep": "sweep",
    "mask_controls": "controls", "random_support_mask": "controls",
    "magnitude_mask": "controls", "binarised_mask": "controls",
    "mask_drift": "drift", "read_task_masks": "drift",
    "class_incremental": "inference", "infer_tasks": "inference", "softmax_entropy": "inference",
    "task_inference": "inference",
}


def __getattr__(name: str) -> Any:
    """PEP 562: import the module that defines `name` when it is first used."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"core.tickets.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'core.tickets' has no attribute {name!r}")


__all__ = ["CACHE_FILE", "CACHE_VERSION", "RANDOM_SEEDS", "SWEEP_LEVELS", "analyze", "analyze_run", "read_cache",
           "settings", *_LAZY]
