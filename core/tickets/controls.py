"""Control masks at equal per-layer sparsity: is the learned mask a winning ticket, or would any
mask of its size do?

For task j and every masked tensor l, with M_l the learned semi-binary mask at the trained p
(hypermask.md §2) and k_l = |{M_l > 0}| its support size, three controls keep k_l exactly:
  random     k_l positions drawn uniformly at random, holding the learned kept values in shuffled
             order: the same support size and value histogram, only the placement is random;
  magnitude  the k_l entries of largest |W_l ⊙ R_l|, R_l = |tanh(o_l)| the task's dense mask (p = 0),
             holding their R_l values: the semi-binary rule with the ranking by effective weight
             magnitude instead of by mask value (ranked by |W_l ⊙ M_l| it would pick M_l's own support);
  binarised  the learned support with every kept value set to 1 (M > 0 → 1): what the continuous
             values of the semi-binary mask add over a hard mask of the same support.
Each is evaluated like the learned mask (Ŵ = W ⊙ mask, the output bias raw, task j's own test set,
task-local labels). HyperMask only. A run trained at p = 0 keeps every entry, so its controls say
little about the support (`DENSE_NOTE`); the random one still tests where the values sit.
"""

from __future__ import annotations

import statistics
from typing import Any

import torch
from torch import Tensor

from core.tickets.settings import RANDOM_SEEDS
from core.tickets.subnetworks import NO_MASK, Subnetworks


DENSE_NOTE = ("every mask keeps every entry (a dense mask, as p = 0 gives): the magnitude control is the learned "
              "mask itself, the binarised one all ones, and the random one only moves the learned values")


def support_sizes(masks: dict[str, Tensor]) -> dict[str, int]:
    """k_l = number of entries with M_l > 0, per tensor."""
    return {name: int((m > 0).sum()) for name, m in masks.items()}


def random_support_mask(mask: Tensor, generator: torch.Generator) -> Tensor:
    """A mask of `mask`'s shape with exactly k = |{mask > 0}| nonzero entries at uniformly random
    positions, holding `mask`'s nonzero values in a random order (both drawn from the CPU
    `generator`); same device and dtype as `mask`."""
    flat = mask.reshape(-1)
    values = flat[flat > 0]
    k = values.numel()
    where = torch.randperm(flat.numel(), generator=generator)[:k].to(flat.device)
    order = torch.randperm(k, generator=generator).to(flat.device)
    out = torch.zeros_like(flat)
    out[where] = values[order]
    return out.view_as(mask)


def magnitude_mask(mask: Tensor, dense: Tensor, weight: Tensor) -> Tensor:
    """The k = |{mask > 0}| entries of largest |weight ⊙ dense|, holding their `dense` values, zero
    elsewhere (all three tensors of one shape)."""
    k = int((mask > 0).sum())
    score = (weight * dense).abs().reshape(-1)
    top = torch.topk(score, k, sorted=False).indices
    out = torch.zeros_like(dense.reshape(-1))
    out[top] = dense.reshape(-1)[top]
    return out.view_as(dense)


def binarised_mask(mask: Tensor) -> Tensor:
    """1 where mask > 0, else 0 (same shape and dtype)."""
    return (mask > 0).to(mask.dtype)


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def mask_controls(sub: Subnetworks, seeds: int = RANDOM_SEEDS) -> dict[str, Any]:
    """Accuracy of every learned task through its learned mask and through the three controls.

    Args:
        sub: the run's subnetworks.
        seeds: random-support draws per task (≥ 1); draw s of task j uses seed 10000·s + j.
    Returns:
        {"learned": T accuracies (= R[T−1, j]), "random_mean", "random_std" (sample std over the
         seeds, 0 for one seed): T each, "random": T lists of `seeds`, "magnitude", "binarised": T
         each (fractions); "seeds"; "layers": the masked tensors; "support_fraction": T lists of the
         kept fraction k_l / n_l per tensor; "note": `DENSE_NOTE` when every support is full, else
         None; "reason": None} — or every field None but "reason" for a method without masks.
    Raises:
        ValueError: seeds < 1.
    """
    if seeds < 1:
        raise ValueError(f"seeds={seeds} must be at least 1")
    keys = ("learned", "random_mean", "random_std", "random", "magnitude", "binarised", "seeds", "layers",
            "support_fraction", "note")
    if sub.kind != "masks":
        return {**dict.fromkeys(keys), "reason": NO_MASK[sub.kind]}
    w = sub.target_weights()
    out: dict[str, Any] = {k: [] for k in keys}
    for j in range(sub.n_tasks):
        learned = sub.masks(j)
        out["learned"].append(sub.accuracy(sub.weights(j), j))
        draws = []
        for s in range(seeds):
            gen = torch.Generator().manual_seed(10000 * s + j)
            draws.append(sub.accuracy(sub.weights(j, {n: random_support_mask(m, gen) for n, m in learned.items()}), j))
        out["random"].append(draws)
        out["random_mean"].append(statistics.fmean(draws))
        out["random_std"].append(_std(draws))
        dense = sub.masks(j, 0.0)
        mag = {n: magnitude_mask(m, dense[n], w[n]) for n, m in learned.items()}
        out["magnitude"].append(sub.accuracy(sub.weights(j, mag), j))
        out["binarised"].append(sub.accuracy(sub.weights(j, {n: binarised_mask(m) for n, m in learned.items()}), j))
        sizes = support_sizes(learned)
        out["support_fraction"].append([sizes[n] / learned[n].numel() for n in learned])
    full = all(f == 1.0 for row in out["support_fraction"] for f in row)
    out.update(seeds=seeds, layers=list(sub.masks(0)), reason=None, note=DENSE_NOTE if full else None)
    return out


__all__ = ["binarised_mask", "magnitude_mask", "mask_controls", "random_support_mask",
           "support_sizes"]
