"""Cross-mask accuracy: every task's test set through every task's subnetwork.

C[i, j] is the task-incremental accuracy on task i's test set (task-local labels, the shared C-way
head) through task j's subnetwork: for HyperMask Ŵ = W ⊙ M_j with M_j from task j's embedding at the
trained sparsity p (hypermask.md §3, §6); for HNET the weights the hypernetwork generates from task
j's embedding. The diagonal C[i, i] is evaluated exactly as the loop evaluated the final row of the
accuracy matrix, so it equals R[T−1, i] to the last bit; off the diagonal it shows how much a task's
winning ticket carries to another task (chance, 1/C, for unrelated subnetworks).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from core.methods import accuracy
from core.tickets.subnetworks import Subnetworks

NOT_DEFINED_SHARED = ("fine-tuning trains one shared weight set, so every task is evaluated through the "
                      "same network: there is no task subnetwork to cross (its task-incremental "
                      "accuracies are the final row of R)")


@torch.inference_mode()
def cross_logits(sub: Subnetworks) -> list[Tensor]:
    """Logits of every learned task's test set through every learned task's subnetwork.

    Returns:
        One tensor per test task i, shape (S, N_i, C): S = `sub.n_tasks` subnetworks (S = 1 for
        fine-tuning's one shared network), N_i test samples, C head outputs. Each subnetwork's
        weights are built once.
    """
    n_sub = 1 if sub.kind == "shared" else sub.n_tasks
    per_sub = []
    for j in range(n_sub):
        w = sub.weights(j)
        per_sub.append([sub.logits(w, i) for i in range(sub.n_tasks)])
    return [torch.stack([per_sub[j][i] for j in range(n_sub)]) for i in range(sub.n_tasks)]


def cross_mask_matrix(sub: Subnetworks, final_row: Sequence[float | None] | None = None,
                      logits: list[Tensor] | None = None) -> dict[str, Any]:
    """Cross-mask matrix C (T×T, fractions) of the learned tasks.

    Args:
        sub: the run's subnetworks.
        final_row: R[T−1, :] from metrics.json, to check the diagonal against (optional).
        logits: `cross_logits(sub)` if already computed (reused, not recomputed).
    Returns:
        {"matrix": C as T lists of T floats (row i: test task i, column j: subnetwork j) or None,
         "chance": 1/C, "diagonal_matches_r": whether C[i, i] == R[T−1, i] for every i (None
         without `final_row`), "reason": None, or why C is not defined (fine-tuning)}.
    """
    n_classes = sub.bench.n_classes
    if sub.kind == "shared":
        return {"matrix": None, "chance": 1 / n_classes, "diagonal_matches_r": None, "reason": NOT_DEFINED_SHARED}
    logits = cross_logits(sub) if logits is None else logits
    matrix = [[accuracy(logits[i][j], sub.test(i)[1]) for j in range(sub.n_tasks)] for i in range(sub.n_tasks)]
    match = None
    if final_row is not None:
        match = all(matrix[i][i] == final_row[i] for i in range(sub.n_tasks))
    return {"matrix": matrix, "chance": 1 / n_classes, "diagonal_matches_r": match, "reason": None}


__all__ = ["cross_logits", "cross_mask_matrix"]
