"""Registry of continual-learning methods run by the one training loop."""

from __future__ import annotations

from torch import nn

from core.config import RunConfig
from core.methods.base import Method
from core.methods.finetune import FineTune
from core.methods.hnet import HNet
from core.methods.hypermask import HyperMask

REGISTRY: dict[str, type[Method]] = {"hypermask": HyperMask, "finetune": FineTune, "hnet": HNet}


def build_method(cfg: RunConfig, target: nn.Module, n_tasks: int) -> Method:
    """Instantiate `cfg.train.method` over `target` for `n_tasks` tasks."""
    return REGISTRY[cfg.train.method](cfg, target, n_tasks)


__all__ = ["Method", "HyperMask", "FineTune", "HNet", "REGISTRY", "build_method"]
