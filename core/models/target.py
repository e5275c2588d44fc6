"""Target networks f(x; W) (hypermask.md §1): plain modules that know nothing about masks.

Masked weights enter through `torch.func.functional_call(net, params, (x,))`. Parameter names are
stable: hidden layers `hidden.<k>.weight|bias`, conv blocks `convs.<k>.weight|bias`, output layer
`head.weight|bias`. The output bias `head.bias` is the one tensor that is never masked.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.config import TargetConfig

#: Name of the output-layer bias, used raw and shared by all tasks (hypermask.md §2).
OUTPUT_BIAS = "head.bias"


class MLP(nn.Module):
    """ReLU MLP: flatten → hidden layers → linear head of `n_classes` logits.

    Input (B, C, H, W) or (B, D); output (B, n_classes).
    """

    def __init__(self, in_features: int, hidden: tuple[int, ...], n_classes: int) -> None:
        super().__init__()
        sizes = (in_features, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], n_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.head(x)


class SmallCNN(nn.Module):
    """Small conv net: [3×3 conv → ReLU → 2×2 max-pool] per channel count, flatten, ReLU linear
    layers, linear head. Input (B, C, H, W); output (B, n_classes)."""

    def __init__(self, input_shape: tuple[int, int, int], channels: tuple[int, ...],
                 hidden: tuple[int, ...], n_classes: int) -> None:
        super().__init__()
        c, h, w = input_shape
        convs = []
        for out_c in channels:
            convs.append(nn.Conv2d(c, out_c, kernel_size=3, padding=1))
            c, h, w = out_c, h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(f"input {input_shape} is too small for {len(channels)} conv blocks")
        self.convs = nn.ModuleList(convs)
        sizes = (c * h * w, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], n_classes)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        x = x.flatten(1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.head(x)


def build_target(cfg: TargetConfig, input_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
    """Target network for `cfg` on inputs of shape (C, H, W) with a shared `n_classes`-way head.

    Raises:
        ValueError: if the input is too small for the CNN's pooling.
    """
    if cfg.arch == "mlp":
        return MLP(math.prod(input_shape), cfg.hidden, n_classes)
    return SmallCNN(input_shape, cfg.channels, cfg.hidden, n_classes)


def maskable_shapes(net: nn.Module) -> dict[str, torch.Size]:
    """Shapes of the tensors the hypernetwork masks: every parameter except the output bias."""
    return {n: p.shape for n, p in net.named_parameters() if n != OUTPUT_BIAS}


def all_shapes(net: nn.Module) -> dict[str, torch.Size]:
    """Shapes of every parameter (what the HNET baseline generates)."""
    return {n: p.shape for n, p in net.named_parameters()}
