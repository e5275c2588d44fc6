"""Sparsity sweep: each task's accuracy when its mask is cut again at other sparsities.

The hypernetwork's output for task j is fixed; only the threshold moves: at each level p the mask of
every tensor is |tanh(o_l)| kept where it reaches the tensor's own p-th percentile (hypermask.md §2,
`core.masks.masks_from_logits`, exactly as in training), and task j is evaluated through
W ⊙ M_j(p) on its own test set (task-incremental, §6). At the trained p this is the loop's own
evaluation, so the sweep reproduces R[T−1, j] exactly. HyperMask only: HNET and fine-tuning have no
mask to cut.
"""

from __future__ import annotations

from typing import Any, Sequence

from core.tickets.settings import SWEEP_LEVELS
from core.tickets.subnetworks import NO_MASK, Subnetworks


def sweep_levels(trained: float, levels: Sequence[float] = SWEEP_LEVELS) -> list[float]:
    """`levels` and the trained sparsity, sorted, each once (percent, floats)."""
    return sorted({float(p) for p in levels} | {float(trained)})


def zero_fraction(masks: dict[str, Any]) -> float:
    """Fraction of zero entries over all tensors of one task's masks ({param: tensor})."""
    zeros = sum(int((m == 0).sum()) for m in masks.values())
    return zeros / sum(m.numel() for m in masks.values())


def sparsity_sweep(sub: Subnetworks, levels: Sequence[float] = SWEEP_LEVELS) -> dict[str, Any]:
    """Accuracy of every learned task at every sparsity level.

    Args:
        sub: the run's subnetworks.
        levels: sparsities in percent, each in [0, 100) (the trained p is added).
    Returns:
        {"levels": L sparsities (percent, ascending), "trained_p": the trained p,
         "accuracy": T lists of L fractions (task j, level k), "zero_fraction": T lists of L measured
         fractions of zero mask entries (ties at the threshold can keep a little more than p),
         "reason": None} — or every field None but "reason" for a method without masks.
    Raises:
        ValueError: a level outside [0, 100).
    """
    if sub.kind != "masks":
        return {"levels": None, "trained_p": None, "accuracy": None, "zero_fraction": None,
                "reason": NO_MASK[sub.kind]}
    ps = sweep_levels(sub.sparsity, levels)
    acc, zeros = [], []
    for j in range(sub.n_tasks):
        acc.append([])
        zeros.append([])
        for p in ps:
            masks = sub.masks(j, p)
            acc[-1].append(sub.accuracy(sub.weights(j, masks), j))
            zeros[-1].append(zero_fraction(masks))
    return {"levels": ps, "trained_p": sub.sparsity, "accuracy": acc, "zero_fraction": zeros, "reason": None}


__all__ = ["sparsity_sweep", "sweep_levels", "zero_fraction"]
