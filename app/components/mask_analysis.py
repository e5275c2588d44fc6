"""Pure numeric helpers for the masks page (numpy only; no plotly, streamlit or torch).

Implements the mask analyses of hypermask.md §10:

* Mask overlap between tasks i, j per layer: Jaccard of supports |S_i ∩ S_j| / |S_i ∪ S_j|
  (S = entries with M > 0, or with M above a user-chosen level when p = 0), a soft overlap
  Σ min(M_i, M_j) / Σ max(M_i, M_j), and the cosine similarity of the continuous masks.
* Sparsity heatmaps: per task × layer fraction of zero (or near-zero) entries.
* Per-neuron usage: mean mask value of each output neuron (row of the weight matrix).
* First-layer masks folded back to the image grid.

Masks are the semi-binary masks M = r ⊙ [r ≥ τ], r = |tanh(o)| (§2), so every entry lies in
[0, 1); the functions below assume non-negative masks. All masks of one layer share one shape
across tasks; they are passed as numpy arrays (convert tensors with `.detach().cpu().numpy()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "support",
    "jaccard_matrix",
    "soft_overlap_matrix",
    "cosine_matrix",
    "sparsity_matrix",
    "neuron_usage",
    "fold_input_mask",
    "threshold_of",
    "input_grid",
]


def _stack_flat(masks: Sequence[np.ndarray]) -> np.ndarray:
    """(T, n) float64 array of the flattened masks; raises ValueError on shape mismatch."""
    if len(masks) == 0:
        return np.zeros((0, 0), dtype=np.float64)
    shapes = {np.shape(m) for m in masks}
    if len(shapes) != 1:
        raise ValueError(f"all masks must share one shape, got {sorted(shapes)}")
    return np.stack([np.asarray(m, dtype=np.float64).reshape(-1) for m in masks])


def support(mask: np.ndarray, level: float = 0.0) -> np.ndarray:
    """Support S of a mask: the entries with M > `level`.

    Args:
        mask: any shape, non-negative mask values.
        level: threshold; 0.0 gives the entries kept by the semi-binary mask. With sparsity p = 0
            every entry is positive, so pick a level > 0 to get a meaningful support.
    Returns:
        bool array of the same shape as `mask`.
    """
    return np.asarray(mask) > level


def jaccard_matrix(masks: Sequence[np.ndarray], level: float = 0.0) -> np.ndarray:
    """Jaccard overlap of mask supports, J[i, j] = |S_i ∩ S_j| / |S_i ∪ S_j| (§10).

    Convention: when both supports are empty (|S_i ∪ S_j| = 0) the supports are identical, so
    J[i, j] = 1.0; in particular the diagonal is always 1.0.

    Args:
        masks: T masks of one layer (one per task), all of the same shape.
        level: support threshold, see `support`.
    Returns:
        (T, T) float64 symmetric matrix with values in [0, 1].
    """
    flat = _stack_flat(masks)
    s = (flat > level).astype(np.float64)          # (T, n)
    inter = s @ s.T                                 # |S_i ∩ S_j|
    sizes = s.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter  # |S_i ∪ S_j|
    with np.errstate(invalid="ignore", divide="ignore"):
        j = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    np.fill_diagonal(j, 1.0)
    return j


def soft_overlap_matrix(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Soft (weighted) Jaccard of continuous masks, O[i, j] = Σ min(M_i, M_j) / Σ max(M_i, M_j).

    Equals the Jaccard of supports for binary masks. Convention: 0/0 (both masks all zero) = 1.0.

    Args:
        masks: T non-negative masks of one layer, all of the same shape.
    Returns:
        (T, T) float64 symmetric matrix with values in [0, 1], 1.0 on the diagonal.
    """
    flat = _stack_flat(masks)
    t = flat.shape[0]
    out = np.ones((t, t), dtype=np.float64)
    for i in range(t):
        for j in range(i + 1, t):
            den = np.maximum(flat[i], flat[j]).sum()
            num = np.minimum(flat[i], flat[j]).sum()
            out[i, j] = out[j, i] = num / den if den > 0 else 1.0
    return out


def cosine_matrix(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Cosine similarity of the continuous masks, C[i, j] = ⟨M_i, M_j⟩ / (‖M_i‖ ‖M_j‖) (§10).

    Conventions: two all-zero masks have similarity 1.0; an all-zero mask against a non-zero one
    has similarity 0.0. For non-negative masks all values lie in [0, 1].

    Args:
        masks: T masks of one layer, all of the same shape.
    Returns:
        (T, T) float64 symmetric matrix, 1.0 on the diagonal.
    """
    flat = _stack_flat(masks)
    norms = np.linalg.norm(flat, axis=1)
    dots = flat @ flat.T
    denom = norms[:, None] * norms[None, :]
    zero = norms == 0
    both_zero = zero[:, None] & zero[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(denom > 0, dots / np.where(denom > 0, denom, 1.0), np.where(both_zero, 1.0, 0.0))
    c = np.clip(c, -1.0, 1.0)
    np.fill_diagonal(c, 1.0)
    return c


def sparsity_matrix(masks_by_task: Sequence[dict[str, np.ndarray]], layers: Sequence[str],
                    level: float = 0.0) -> np.ndarray:
    """Mask sparsity per task × layer: the fraction of entries with M ≤ `level` (§10).

    With `level` = 0 this is the fraction of exact zeros, as in `core.masks.mask_stats`.

    Args:
        masks_by_task: T dicts layer name → mask array (one dict per task).
        layers: the L layer names, in column order.
        level: entries at or below it count as (near-)zero.
    Returns:
        (T, L) float64 array of fractions in [0, 1]; NaN where a task has no mask for a layer
        (or the mask is empty).
    """
    out = np.full((len(masks_by_task), len(layers)), np.nan, dtype=np.float64)
    for t, masks in enumerate(masks_by_task):
        for l, name in enumerate(layers):
            m = masks.get(name)
            if m is None:
                continue
            m = np.asarray(m)
            if m.size:
                out[t, l] = float(np.mean(m <= level))
    return out


def neuron_usage(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Per-neuron usage: mean mask value of each output neuron, one row per task (§10).

    A linear weight mask (out, in) gives the mean of each row; a conv weight mask
    (out, in, kh, kw) the mean over each output channel; a 1-D (bias) mask is returned as is.

    Args:
        masks: T masks of one layer, all of the same shape, first axis = output neurons.
    Returns:
        (T, out) float64 array.
    """
    if len(masks) == 0:
        return np.zeros((0, 0), dtype=np.float64)
    rows = []
    for m in masks:
        m = np.asarray(m, dtype=np.float64)
        if m.ndim == 0:
            raise ValueError("neuron_usage needs masks with at least one axis")
        rows.append(m.reshape(m.shape[0], -1).mean(axis=1) if m.ndim > 1 else m)
    shapes = {r.shape for r in rows}
    if len(shapes) != 1:
        raise ValueError(f"all masks must share one number of output neurons, got {sorted(shapes)}")
    return np.stack(rows)


def fold_input_mask(weight_mask: np.ndarray, image_shape: tuple[int, int] = (28, 28),
                    permutation: np.ndarray | None = None) -> np.ndarray:
    """Fold a first-layer mask back onto the image grid (§10): mean over output neurons.

    Args:
        weight_mask: (out, in_features) mask of the first linear layer.
        image_shape: (H, W) of the network input grid. When the input was zero-padded to P×P give
            (P, P): in_features must equal H·W (or C·H·W for C channels stored channel-major, in
            which case the channels are averaged too).
        permutation: optional (in_features,) integer array for permuted inputs: pixel i of the
            permuted input vector came from original pixel `permutation[i]`
            (x_perm = x_orig[permutation]). The fold is un-permuted so the image shows original
            pixel positions.
    Returns:
        (H, W) float64 array: the mean mask value of the weights reading each input pixel.
    Raises:
        ValueError: on a non-2-D mask or sizes that do not match.
    """
    w = np.asarray(weight_mask, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weight_mask must be 2-D (out, in_features), got shape {w.shape}")
    per_input = w.mean(axis=0)  # (in_features,)
    n_in = per_input.shape[0]
    if permutation is not None:
        perm = np.asarray(permutation).astype(np.int64).reshape(-1)
        if perm.shape[0] != n_in or not np.array_equal(np.sort(perm), np.arange(n_in)):
            raise ValueError(f"permutation must be a permutation of range({n_in})")
        original = np.empty_like(per_input)
        original[perm] = per_input
        per_input = original
    h, wd = int(image_shape[0]), int(image_shape[1])
    if h * wd == 0 or n_in % (h * wd) != 0:
        raise ValueError(f"in_features={n_in} does not fit the image grid {h}×{wd}")
    return per_input.reshape(n_in // (h * wd), h, wd).mean(axis=0)


def threshold_of(mask_values: np.ndarray) -> float:
    """Effective threshold τ of a semi-binary mask: its smallest non-zero value.

    M = r ⊙ [r ≥ τ] keeps values ≥ τ and zeroes the rest, so the smallest kept value is τ (up to
    ties). A dense mask (no exact zeros, sparsity p = 0) or an all-zero mask gives 0.0.

    Args:
        mask_values: any shape, non-negative mask values.
    Returns:
        τ as a Python float.
    """
    v = np.asarray(mask_values, dtype=np.float64).reshape(-1)
    nz = v[v != 0]
    if nz.size == 0 or nz.size == v.size:
        return 0.0
    return float(np.abs(nz).min())


def input_grid(run: Any, masks: dict[int, dict[str, np.ndarray]]) -> tuple[np.ndarray, str] | None:
    """Every task's first-layer mask folded onto the input image (`fold_input_mask`): an array of shape
    (T, H, W) in task order and a note for the caption (" (un-permuted …)" for Permuted MNIST, whose
    pixels are put back in their original places), or None when the first layer is not a linear layer
    over the pixels (a CNN). `run` is a loaded `core.runs.Run` (its config and metrics' input shape)."""
    first = masks[min(masks)].get("hidden.0.weight")
    shape = run.metrics.get("data", {}).get("input_shape", [1, 28, 28])
    side_h, side_w = int(shape[-2]), int(shape[-1])
    if first is None or first.ndim != 2 or first.shape[1] != side_h * side_w * int(shape[0]):
        return None
    perms = None
    if run.config.data.benchmark == "permuted-mnist":
        from core.data.benchmarks import permutations

        perms = [p.numpy() for p in permutations(run.config.data, run.config.train.seed)]
    imgs = np.stack([fold_input_mask(masks[t]["hidden.0.weight"], (side_h, side_w),
                                     perms[t] if perms is not None and t < len(perms) else None)
                     for t in sorted(masks)])
    return imgs, " (un-permuted to original pixel positions)" if perms is not None else ""
