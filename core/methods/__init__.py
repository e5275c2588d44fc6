"""Registry of continual-learning methods run by the one training loop."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.config import RunConfig
from core.methods.base import EVAL_BATCH, Method, accuracy
from core.methods.finetune import FineTune
from core.methods.hnet import HNet
from core.methods.hypermask import HyperMask
from core.models.hypernet import check_size, parameter_count
from core.models.target import all_shapes, build_target, maskable_shapes

REGISTRY: dict[str, type[Method]] = {"hypermask": HyperMask, "finetune": FineTune, "hnet": HNet}


def build_method(cfg: RunConfig, target: nn.Module, n_tasks: int) -> Method:
    """Instantiate `cfg.train.method` over `target` for `n_tasks` tasks."""
    return REGISTRY[cfg.train.method](cfg, target, n_tasks)


def _meta_target(cfg: RunConfig, input_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    with torch.device("meta"):  # shapes only, no memory
        return build_target(cfg.target, input_shape, n_classes)


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
    target = _meta_target(cfg, input_shape, n_classes)
    shapes = maskable_shapes(target) if cfg.train.method == "hypermask" else all_shapes(target)
    check_size(sum(math.prod(s) for s in shapes.values()), n_tasks, cfg.hyper)


def target_parameters(cfg: RunConfig, input_shape: tuple[int, int, int], n_classes: int) -> int:
    """Parameters of `cfg`'s target network, counted without building it (shapes only)."""
    return sum(p.numel() for p in _meta_target(cfg, input_shape, n_classes).parameters())


def parameter_total(cfg: RunConfig, input_shape: tuple[int, int, int], n_classes: int, n_tasks: int) -> int:
    """Trained parameters of `cfg`'s method (target network and hypernetwork), counted without
    building either: what each Adam step reads and writes, so a measure of a step's size."""
    target = _meta_target(cfg, input_shape, n_classes)
    n_target = sum(p.numel() for p in target.parameters())
    if cfg.train.method == "finetune":
        return n_target
    shapes = maskable_shapes(target) if cfg.train.method == "hypermask" else all_shapes(target)
    n_hyper = parameter_count(sum(math.prod(s) for s in shapes.values()), n_tasks, cfg.hyper)
    return n_hyper + (n_target if cfg.train.method == "hypermask" else 0)


__all__ = ["EVAL_BATCH", "Method", "accuracy", "HyperMask", "FineTune", "HNet", "REGISTRY", "build_method", "check_model_size", "parameter_total",
           "target_parameters"]
