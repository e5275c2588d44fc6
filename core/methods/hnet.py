"""HNET baseline (von Oswald et al., ICLR 2020; hypermask.md §9): the hypernetwork generates all
target weights from the task embedding; loss CE + β·R_hnet; only the hypernetwork is optimised."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F

from core.config import RunConfig
from core.methods.base import Method, output_regulariser, regulariser_weight
from core.models.hypernet import HyperNetwork
from core.models.target import all_shapes


class HNet(Method):
    """The target module is only a shape template: its own weights are never used or trained.

    At construction the hypernetwork's last layer is rescaled so that each generated tensor starts
    with the spread of PyTorch's default initialisation of that tensor (per tensor when unchunked,
    one common scale when chunked) — otherwise a 784-input layer starts ~10× too large.
    """

    name = "hnet"

    def __init__(self, cfg: RunConfig, target: nn.Module, n_tasks: int) -> None:
        super().__init__(cfg, target, n_tasks)
        self.hypernet = HyperNetwork(all_shapes(target), n_tasks, cfg.hyper)
        self._rescale_output_layer()
        self._h_star: Tensor | None = None

    @torch.no_grad()
    def _rescale_output_layer(self) -> None:
        hn = self.hypernet
        assert hn is not None
        last = hn.layers[-1]
        out = hn(list(range(hn.n_tasks)))  # (T, N_out)
        # Root-mean-square spread, defined for every size (a 1-entry bias included).
        want = {n: p.detach().pow(2).mean().sqrt().item() for n, p in self.target.named_parameters()}
        if hn.chunk_embeddings is None:
            for name, seg in hn.split(torch.arange(hn.n_out)).items():
                idx = seg.flatten()
                scale = want[name] / max(out[:, idx].pow(2).mean().sqrt().item(), 1e-8)
                last.weight[idx] *= scale
                last.bias[idx] *= scale
        else:
            scale = float(torch.tensor(list(want.values())).median()) / max(out.pow(2).mean().sqrt().item(), 1e-8)
            last.weight.mul_(scale)
            last.bias.mul_(scale)

    def parameters(self) -> list[nn.Parameter]:
        assert self.hypernet is not None
        return list(self.hypernet.parameters())

    def begin_task(self, task: int) -> None:
        assert self.hypernet is not None
        with torch.no_grad():
            self._h_star = self.hypernet(list(range(task))).detach() if task > 0 else None

    def losses(self, x: Tensor, y: Tensor, task: int, sparsity: float | Tensor) -> dict[str, Tensor]:
        assert self.hypernet is not None
        beta = self.cfg.mask.beta
        use_rh = task > 0 and beta > 0 and self._h_star is not None
        out = self.hypernet([task, *range(task)] if use_rh else [task])
        current, earlier = out.split([1, out.shape[0] - 1])  # cheaper backward than out[0], out[1:]
        ce = F.cross_entropy(functional_call(self.target, self.hypernet.split(current.reshape(-1)), (x,)), y)
        r_hnet = output_regulariser(earlier, self._h_star) if use_rh else ce.new_zeros(())
        r_hnet = regulariser_weight(beta, task, self.cfg.mask.beta_norm) * r_hnet
        return {"total": ce + r_hnet, "ce": ce, "r_hnet": r_hnet, "r_target": ce.new_zeros(())}

    @torch.no_grad()
    def weights(self, task: int, sparsity: float) -> dict[str, Tensor]:
        assert self.hypernet is not None
        return self.hypernet.split(self.hypernet(task)[0])
