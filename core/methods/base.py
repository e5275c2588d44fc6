"""What every continual-learning method offers the one training loop (core/engine/loop.py).

A method owns a target network (and maybe a hypernetwork), says which parameters a task's fresh Adam
optimises, computes the loss terms for a batch, and gives the effective target weights for any task
(used for evaluation and for the masks page). It never loops, logs or saves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.func import functional_call

from core.config import RunConfig
from core.models.hypernet import HyperNetwork


#: Test samples per forward pass when evaluating (a whole split-MNIST task's test set in one or two).
EVAL_BATCH = 2048


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of rows of `logits` (N, C) whose argmax equals the task-local label y (N,), as the
    accuracy matrix R[i, j] holds it (a float32 mean, then a Python float)."""
    return float((logits.argmax(1) == y).float().mean())


class Method(ABC):
    """Base class. Subclasses set `target` and optionally `hypernet`.

    Loss dicts hold 0-d tensors 'total', 'ce', 'r_hnet', 'r_target' — the regularisers already
    multiplied by their weights, exactly as added to the loss.
    """

    name: str = ""

    def __init__(self, cfg: RunConfig, target: nn.Module, n_tasks: int) -> None:
        self.cfg = cfg
        self.target = target
        self.n_tasks = n_tasks
        self.hypernet: HyperNetwork | None = None

    @abstractmethod
    def parameters(self) -> list[nn.Parameter]:
        """Parameters optimised by each task's fresh Adam (hypermask.md §5)."""

    def begin_task(self, task: int) -> None:
        """Snapshot whatever the regularisers compare against (called before a task's first step)."""

    @abstractmethod
    def losses(self, x: Tensor, y: Tensor, task: int, sparsity: float | Tensor) -> dict[str, Tensor]:
        """Loss terms for batch x (B, C, H, W), task-local labels y (B,) of task `task`, at mask
        sparsity p = `sparsity` (a number, or a 0-d tensor on the method's device while it ramps in a
        captured step). Must not read a value back to the host (the step may be a CUDA graph)."""

    @abstractmethod
    def weights(self, task: int, sparsity: float) -> dict[str, Tensor]:
        """Effective target parameters {name: tensor} used for `task` (no gradient)."""

    def masks(self, task: int, sparsity: float) -> dict[str, Tensor] | None:
        """Semi-binary masks of `task` ({name: tensor in [0, 1)}), or None for mask-free methods."""
        return None

    @torch.no_grad()
    def predict(self, x: Tensor, task: int, sparsity: float, batch: int = EVAL_BATCH) -> Tensor:
        """Logits (N, n_classes) for inputs x (N, C, H, W) with task `task`'s weights."""
        return self.logits(self.weights(task, sparsity), x, batch)

    @torch.no_grad()
    def logits(self, weights: dict[str, Tensor], x: Tensor, batch: int = EVAL_BATCH) -> Tensor:
        """Logits (N, n_classes) of the target network with effective parameters `weights`
        ({name: tensor}, e.g. from `weights` or a control mask) for inputs x (N, C, H, W), in batches
        of `batch`: the one evaluation path of the loop's accuracy matrix and of `core.tickets`."""
        return torch.cat([functional_call(self.target, weights, (x[i:i + batch],))
                          for i in range(0, x.shape[0], batch)])

    def to(self, device: torch.device) -> "Method":
        """Move every module (and so every parameter) to `device`; call before the first
        `begin_task`. Returns self."""
        for mod in self.modules().values():
            mod.to(device)
        return self

    @property
    def device(self) -> torch.device:
        """Device of the target network's parameters."""
        return next(self.target.parameters()).device

    def modules(self) -> dict[str, nn.Module]:
        """Named modules whose state is saved: 'target' and, if any, 'hypernet'."""
        out: dict[str, nn.Module] = {"target": self.target}
        if self.hypernet is not None:
            out["hypernet"] = self.hypernet
        return out

    def state_tensors(self) -> dict[str, Tensor]:
        """Flat {'target.<name>' / 'hypernet.<name>': CPU tensor} for safetensors (device-free files)."""
        return {f"{m}.{k}": v.detach().cpu().contiguous() for m, mod in self.modules().items()
                for k, v in mod.state_dict().items()}

    def load_state_tensors(self, tensors: dict[str, Tensor]) -> None:
        """Inverse of `state_tensors`; raises `ValueError` on missing or unexpected keys."""
        for m, mod in self.modules().items():
            sub = {k[len(m) + 1:]: v for k, v in tensors.items() if k.startswith(m + ".")}
            missing, unexpected = mod.load_state_dict(sub, strict=False)
            if missing or unexpected:
                raise ValueError(f"weights do not fit the {m} network: missing {missing[:3]}, "
                                 f"unexpected {unexpected[:3]}")

    def param_counts(self) -> dict[str, int]:
        """Number of parameters per module."""
        return {m: sum(p.numel() for p in mod.parameters()) for m, mod in self.modules().items()}


def regulariser_weight(beta: float, task: int, norm: str) -> float:
    """Weight of R_hnet for 0-based `task` (hypermask.md §4): 'reference' gives β / max(1, t) on top
    of R_hnet's own 1/t (effective β/t², the authors' code); 'hnet' gives β (effective β/t, HNET)."""
    return beta / max(1, task) if norm == "reference" else beta


def output_regulariser(outputs: Tensor, targets: Tensor) -> Tensor:
    """R_hnet = (1/t) Σ_{j<t} ‖H(e_j; Θ) − H*_j‖²₂ for outputs and targets of shape (t, N_out)
    (hypermask.md §4); a 0-d tensor. One fused kernel each way (`mse_loss`), where the spelled-out
    difference, square and sums take five passes over t·N_out numbers."""
    return F.mse_loss(outputs, targets, reduction="sum") / outputs.shape[0]
