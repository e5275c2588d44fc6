"""Semi-binary masks (hypermask.md §2–3): pure functions of hypernetwork outputs.

A mask never lives on a module: `semi_binary_mask` turns one tensor of raw hypernetwork outputs into
a mask, `apply_masks` multiplies target weights by masks, and the result enters the target network's
forward call through `torch.func.functional_call`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}


def percentile(values: Tensor, p: float | Tensor) -> Tensor:
    """p-th percentile of all entries with linear interpolation (numpy's default method).

    On the CPU with a number `p`: one O(n) selection (`numpy.partition` at the lower order statistic;
    the upper one is the minimum of what lies above it — a second kth in the same call costs ~7× more).
    Elsewhere, or when `p` is a tensor: a sort on the tensor's own device and an interpolation
    computed there, so the threshold never makes a round trip to the host and a step using it can be
    captured in a CUDA graph with `p` changing between replays. Unlike `torch.quantile` neither limits
    the size (pytorch/pytorch#64947).

    Args:
        values: any shape, floating point; read without gradient.
        p: percent in [0, 100], a number or a 0-d tensor on `values`' device (not range-checked, as
            that would need its value on the host).
    Returns:
        0-d tensor, same dtype and device as `values`.
    Raises:
        ValueError: if a number `p` is outside [0, 100] or `values` is empty.
    """
    flat = values.detach().reshape(-1)
    n = flat.numel()
    if n == 0:
        raise ValueError("percentile of an empty tensor")
    if flat.device.type == "cpu":
        return torch.tensor(_cpu_percentile(flat, float(p)), dtype=flat.dtype)
    if not isinstance(p, Tensor):
        _order_statistics(n, p)  # range check
        p = torch.full((), p, dtype=torch.float64, device=flat.device)  # a fill kernel: no host copy
    ordered = torch.sort(flat).values
    pos = p.to(torch.float64) * ((n - 1) / 100.0)
    lo = pos.floor().clamp(0, n - 1)
    frac = (pos - lo).to(flat.dtype)
    lo_i = lo.long().reshape(1)
    # index_select, not ordered[lo_i]: a 0-d index tensor is read back to the host as an int
    v_lo = ordered.index_select(0, lo_i)[0]
    v_hi = ordered.index_select(0, (lo_i + 1).clamp(max=n - 1))[0]
    return v_lo + (v_hi - v_lo) * frac


def _order_statistics(n: int, p: float) -> tuple[int, int, float]:
    """(lower index, upper index, weight of the upper) of the p-th percentile of n sorted values."""
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile p={p} must lie in [0, 100]")
    pos = (n - 1) * p / 100.0
    lo = int(math.floor(pos))
    return lo, min(lo + 1, n - 1), pos - lo


def _cpu_percentile(flat: Tensor, p: float) -> float:
    """`percentile` of a flat CPU tensor as a Python number, by one O(n) `numpy.partition` at the
    lower order statistic; the upper one is the minimum of what lies above it (a second kth in the
    same call costs ~7× more)."""
    lo, hi, frac = _order_statistics(flat.numel(), p)
    part = np.partition(flat.numpy(), lo)
    v_lo = float(part[lo])
    v_hi = float(part[lo + 1:].min()) if hi != lo else v_lo
    return v_lo + (v_hi - v_lo) * frac


def semi_binary_mask(logits: Tensor, sparsity: float | Tensor) -> Tensor:
    """Semi-binary mask M = r ⊙ [r ≥ τ] with r = |tanh(o)| and τ the p-th percentile of r (§2).

    Kept entries keep their continuous value in [0, 1); gradients flow through them
    (dr/do = sign(o)·(1 − tanh²(o))), while the threshold τ is a constant. `sparsity` = 0 gives the
    dense continuous mask |tanh(o)| (also as a tensor: τ is then the minimum, so every entry is kept).

    Args:
        logits: raw hypernetwork outputs o_l for one target tensor, any shape.
        sparsity: p in percent, [0, 100): a number, or a 0-d tensor on `logits`' device (used by a
            captured training step while p ramps during task 0; its range is the caller's duty).
    Returns:
        Tensor of the same shape and device as `logits`, values in [0, 1).
    Raises:
        ValueError: if a number `sparsity` is outside [0, 100).
    """
    if not isinstance(sparsity, Tensor) and not 0.0 <= sparsity < 100.0:
        raise ValueError(f"sparsity p={sparsity} must lie in [0, 100)")
    r = torch.tanh(logits).abs()
    if not isinstance(sparsity, Tensor) and sparsity == 0.0:
        return r
    if r.device.type == "cpu" and not isinstance(sparsity, Tensor) and r.dtype in _NUMPY_DTYPES:
        # r ≥ τ ⟺ r > the next representable number below τ: `threshold` (keep x > t) is one
        # vectorised pass each way, where a comparison and a multiply (or `where`) take 10–20× longer.
        tau = np.array(_cpu_percentile(r.detach().reshape(-1), sparsity), dtype=_NUMPY_DTYPES[r.dtype])
        return F.threshold(r, float(np.nextafter(tau, -np.inf)), 0.0)
    tau_t = percentile(r, sparsity)
    return r * (r >= tau_t).to(r.dtype)


def masks_from_logits(logits: dict[str, Tensor], sparsity: float | Tensor) -> dict[str, Tensor]:
    """Apply `semi_binary_mask` to every tensor, each with its own threshold (per-tensor τ_l)."""
    return {name: semi_binary_mask(o, sparsity) for name, o in logits.items()}


def ramped_sparsity(sparsity: float, task: int, step: int, n_steps: int, adaptive: bool) -> float:
    """Sparsity in effect at `step` (0-based) of `task`: p·(step+1)/n_steps during task 0 when
    `adaptive`, else p (hypermask.md §2, adaptive sparsity)."""
    if adaptive and task == 0:
        return sparsity * min(step + 1, n_steps) / n_steps
    return sparsity


def apply_masks(params: dict[str, Tensor], masks: dict[str, Tensor]) -> dict[str, Tensor]:
    """Ŵ_l = W_l ⊙ M_l for every masked tensor; tensors without a mask (output bias) pass as they are
    (§3)."""
    return {name: (w * masks[name] if name in masks else w) for name, w in params.items()}


def mask_stats(masks: dict[str, Tensor]) -> list[dict[str, float | str]]:
    """Per-layer statistics: fraction of zero entries ('sparsity', in [0, 1]) and mean mask value."""
    out: list[dict[str, float | str]] = []
    for name, m in masks.items():
        m = m.detach()
        out.append({"layer": name, "sparsity": float((m == 0).float().mean()), "mean": float(m.mean())})
    return out


__all__ = ["percentile", "semi_binary_mask", "masks_from_logits", "ramped_sparsity", "apply_masks",
           "mask_stats"]
