"""HyperMask (Książek & Spurek, arXiv 2310.00113): a hypernetwork generates a semi-binary mask per
task over one shared target network (hypermask.md §2–5)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F

from core.config import RunConfig
from core.masks import apply_masks, masks_from_logits
from core.methods.base import Method, output_regulariser, regulariser_weight
from core.models.hypernet import HyperNetwork
from core.models.target import maskable_shapes


class HyperMask(Method):
    """Loss for task t (§4): CE(f(x; W ⊙ M_t), y) + (β/max(1,t))·R_hnet + λ·R_target.

    R_hnet compares the raw outputs for earlier embeddings with targets H*_j taken at the start of
    the task; R_target is the L1 drift of W from its snapshot, masked by the current (non-detached)
    mask M_t in the 'masked' variant. Θ, every embedding and W are trained.
    """

    name = "hypermask"

    def __init__(self, cfg: RunConfig, target: nn.Module, n_tasks: int) -> None:
        super().__init__(cfg, target, n_tasks)
        self.hypernet = HyperNetwork(maskable_shapes(target), n_tasks, cfg.hyper)
        self._h_star: Tensor | None = None
        self._w_prev: dict[str, Tensor] = {}

    def parameters(self) -> list[nn.Parameter]:
        assert self.hypernet is not None
        return [*self.target.parameters(), *self.hypernet.parameters()]

    def begin_task(self, task: int) -> None:
        assert self.hypernet is not None
        with torch.no_grad():
            self._h_star = self.hypernet(list(range(task))).detach() if task > 0 else None
            self._w_prev = {n: p.detach().clone() for n, p in self.target.named_parameters()}

    def losses(self, x: Tensor, y: Tensor, task: int, sparsity: float | Tensor) -> dict[str, Tensor]:
        assert self.hypernet is not None
        mc = self.cfg.mask
        use_rh = task > 0 and mc.beta > 0 and self._h_star is not None
        out = self.hypernet([task, *range(task)] if use_rh else [task])  # (1 [+ t], N_out)
        # split, not out[0] / out[1:]: their backward would build two zero-filled (1 + t, N_out) grads
        current, earlier = out.split([1, out.shape[0] - 1])
        masks = masks_from_logits(self.hypernet.split(current.reshape(-1)), sparsity)
        params = dict(self.target.named_parameters())
        ce = F.cross_entropy(functional_call(self.target, apply_masks(params, masks), (x,)), y)
        zero = ce.new_zeros(())
        r_hnet = output_regulariser(earlier, self._h_star) if use_rh else zero
        r_target = zero
        if task > 0 and mc.lam > 0:
            if mc.l1 == "masked":
                r_target = sum(((params[n] - self._w_prev[n]) * m).abs().sum() for n, m in masks.items())
            else:
                r_target = sum((p - self._w_prev[n]).abs().sum() for n, p in params.items())
        r_hnet = regulariser_weight(mc.beta, task, mc.beta_norm) * r_hnet
        r_target = mc.lam * r_target
        return {"total": ce + r_hnet + r_target, "ce": ce, "r_hnet": r_hnet, "r_target": r_target}

    @torch.no_grad()
    def masks(self, task: int, sparsity: float) -> dict[str, Tensor]:
        assert self.hypernet is not None
        return masks_from_logits(self.hypernet.split(self.hypernet(task)[0]), sparsity)

    @torch.no_grad()
    def weights(self, task: int, sparsity: float) -> dict[str, Tensor]:
        return apply_masks(dict(self.target.named_parameters()), self.masks(task, sparsity))
