"""Read-only analyses of a trained method for the visual pages (hypermask.md §10)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call
from torch.nn import functional as F

from core.methods import Method


@torch.no_grad()
def hidden_activations(method: Method, x: Tensor, task: int, sparsity: float) -> list[np.ndarray]:
    """Post-ReLU activations of every hidden linear layer of the target network for inputs x
    (N, C, H, W) under task `task`'s effective weights (its mask, for HyperMask).

    Returns:
        One float32 array (N, width_k) per hidden layer `hidden.<k>`.
    """
    captured: list[Tensor] = []
    hooks = [layer.register_forward_hook(lambda _m, _i, out: captured.append(F.relu(out)))
             for layer in getattr(method.target, "hidden", [])]
    try:
        functional_call(method.target, method.weights(task, sparsity), (x,))
    finally:
        for h in hooks:
            h.remove()
    return [c.numpy().astype(np.float32) for c in captured]


def task_embeddings(method: Method) -> np.ndarray | None:
    """The learned task embeddings e_0 … e_{T−1} as (T, d), or None for methods without them."""
    if method.hypernet is None:
        return None
    return method.hypernet.embeddings.detach().numpy().copy()
