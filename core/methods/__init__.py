"""Registry of continual-learning methods run by the one training loop."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.config import RunConfig
from core.methods.base import Method
from core.methods.finetune import FineTune
from core.methods.hnet import HNet
from core.methods.hypermask import HyperMask
from core.models.hypernet import check_size
from core.models.target import all_shapes, build_target, maskable_shapes

REGISTRY: dict[str, type[Method]] = {"hypermask": HyperMask, "finetune": FineTune, "hnet": HNet}


def build_method(cfg: RunConfig, target: nn.Module, n_tasks: int) -> Method:
    """Instantiate `cfg.train.method` over `target` for `n_tasks` tasks."""
    return REGISTRY[cfg.train.method](cfg, target, n_tasks)


def check_model_size(cfg: RunConfig, input_shape: tuple[int, int, int], n_classes: int, n_tasks: int) -> None:
    """Refuse, before anything is allocated or written, a configuration whose hypernetwork would be
    too large to build (`core.models.hypernet.check_size`): the target network is built on PyTorch's
    "meta" device (shapes only, no memory) to count what the hypernetwork must emit.

    Raises:
        ValueError: naming the sizes, for HyperMask (masks of the maskable tensors) and HNET (all
            target tensors); fine-tuning has no hypernetwork.
    """
    if cfg.train.method == "finetune":
        return
    with torch.device("meta"):
        target = build_target(cfg.target, input_shape, n_classes)
    shapes = maskable_shapes(target) if cfg.train.method == "hypermask" else all_shapes(target)
    check_size(sum(math.prod(s) for s in shapes.values()), n_tasks, cfg.hyper)


__all__ = ["Method", "HyperMask", "FineTune", "HNet", "REGISTRY", "build_method", "check_model_size"]
