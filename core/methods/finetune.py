"""Fine-tuning baseline (hypermask.md §9): the target network alone, CE only, one shared head —
the catastrophic-forgetting lower bound."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.methods.base import Method


class FineTune(Method):
    """Same target, data, optimiser and iterations as HyperMask; no mask, no regulariser."""

    name = "finetune"

    def parameters(self) -> list[nn.Parameter]:
        return list(self.target.parameters())

    def losses(self, x: Tensor, y: Tensor, task: int, sparsity: float | Tensor) -> dict[str, Tensor]:
        ce = F.cross_entropy(self.target(x), y)
        zero = ce.new_zeros(())
        return {"total": ce, "ce": ce, "r_hnet": zero, "r_target": zero}

    @torch.no_grad()
    def weights(self, task: int, sparsity: float) -> dict[str, Tensor]:
        return {n: p.detach() for n, p in self.target.named_parameters()}
