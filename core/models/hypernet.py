"""Hypernetwork H(e; Θ) (hypermask.md §1): ELU MLP from a task embedding to one output tensor per
target tensor, optionally chunked as in HNET (von Oswald et al., 2020).

The task embeddings e_0 … e_{T−1} ∈ R^d live here as one (T, d) parameter, N(0, 1) initialised and
all created up front. Unchunked: the last layer emits all N_out numbers at once. Chunked: a learned
chunk embedding c_k is appended to e and the network emits `chunk_size` numbers per chunk; the
chunks are concatenated and cut to N_out.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.config import HyperConfig


#: Largest hypernetwork this tool builds, in parameters. The paper's Permuted MNIST configuration (hidden
#: 100,100, unchunked, over a 1000-1000 target network) has 206 M; with its gradient and Adam's two
#: moments a parameter takes 16 bytes, so the cap is about 8 GB of memory.
MAX_PARAMETERS = 500_000_000


def parameter_count(n_out: int, n_tasks: int, cfg: HyperConfig) -> int:
    """Parameters of a `HyperNetwork` that emits `n_out` numbers for `n_tasks` tasks, counted
    without building it: task embeddings, chunk embeddings (chunked mode) and the MLP's weights and
    biases."""
    in_dim, out_dim, extra = cfg.embedding_dim, n_out, n_tasks * cfg.embedding_dim
    if cfg.chunk_size is not None:
        in_dim += cfg.chunk_emb_dim
        out_dim = cfg.chunk_size
        extra += math.ceil(n_out / cfg.chunk_size) * cfg.chunk_emb_dim
    sizes = (in_dim, *cfg.hidden, out_dim)
    return extra + sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def check_size(n_out: int, n_tasks: int, cfg: HyperConfig) -> None:
    """Raise ValueError, naming the sizes, if the hypernetwork would exceed `MAX_PARAMETERS`."""
    n = parameter_count(n_out, n_tasks, cfg)
    if n > MAX_PARAMETERS:
        chunking = "chunking (a chunk size)" if cfg.chunk_size is None else "a smaller chunk size"
        raise ValueError(f"the hypernetwork would have {n:,} parameters: it generates {n_out:,} numbers (one per "
                         f"target network weight it serves) through its own hidden layers {cfg.hidden}; that is more than "
                         f"the {MAX_PARAMETERS:,} this tool builds (about {16 * n / 1e9:.0f} GB with gradients and "
                         f"Adam). Use smaller target hidden sizes, fewer hypernetwork hidden units, or {chunking}")


#: Output width from which `WideOutputLinear` splits the input-gradient product into chunks.
WIDE_OUTPUT = 65_536
_CHUNKS = 8


class WideOutputLinear(torch.autograd.Function):
    """y = x Wᵀ + b, the hypernetwork's output layer (x: (B, d_in), W: (N_out, d_in), b: (N_out,)
    → y: (B, N_out)), with a backward that is fast on the CPU when N_out is large.

    The input gradient ∂L/∂x = g W reduces over N_out (hundreds of thousands, for B of 1 + t task
    embeddings): one BLAS call for that runs on one core, bound by its memory bandwidth. Split into
    `_CHUNKS` slices of N_out, summed after one batched product, it runs on every core
    (benchmarks/train_speed.py). Weight and bias
    gradients are as autograd computes them for `F.linear`. Same values as `nn.Linear` up to float
    summation order.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight)
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        x, weight = ctx.saved_tensors
        g = g.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            n_out, k = weight.shape[0], _CHUNKS
            if n_out < WIDE_OUTPUT:
                gx = g @ weight
            else:
                n = n_out // k
                head = torch.bmm(g.as_strided((k, g.shape[0], n), (n, g.stride(0), 1)),
                                 weight[: k * n].view(k, n, weight.shape[1])).sum(0)
                gx = head + g[:, k * n:] @ weight[k * n:]
        if ctx.needs_input_grad[1]:
            gw = g.t().mm(x)
        if ctx.needs_input_grad[2]:
            gb = g.sum(0)
        return gx, gw, gb


class HyperNetwork(nn.Module):
    """Maps task ids to flat output vectors, split into named tensors by `split`.

    Args:
        shapes: name → shape of each generated tensor (order kept).
        n_tasks: number of task embeddings T.
        cfg: hidden widths, embedding size d, chunking.
    Raises:
        ValueError: if it would have more than `MAX_PARAMETERS` parameters (`check_size`).
    """

    def __init__(self, shapes: dict[str, torch.Size], n_tasks: int, cfg: HyperConfig) -> None:
        super().__init__()
        self.shapes = {k: torch.Size(v) for k, v in shapes.items()}
        self.numels = [math.prod(s) for s in self.shapes.values()]
        self.n_out = sum(self.numels)
        check_size(self.n_out, n_tasks, cfg)
        self.chunk_size = cfg.chunk_size
        self.embeddings = nn.Parameter(torch.randn(n_tasks, cfg.embedding_dim))
        in_dim = cfg.embedding_dim
        if cfg.chunk_size is None:
            out_dim = self.n_out
            self.chunk_embeddings = None
        else:
            out_dim = cfg.chunk_size
            n_chunks = math.ceil(self.n_out / cfg.chunk_size)
            self.chunk_embeddings = nn.Parameter(torch.randn(n_chunks, cfg.chunk_emb_dim))
            in_dim += cfg.chunk_emb_dim
        sizes = (in_dim, *cfg.hidden, out_dim)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self._ids: dict[tuple[int, ...], Tensor] = {}

    @property
    def n_tasks(self) -> int:
        return self.embeddings.shape[0]

    def _mlp(self, h: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            h = F.elu(layer(h))
        last = self.layers[-1]
        if h.dim() == 2 and h.device.type == "cpu":
            return WideOutputLinear.apply(h, last.weight, last.bias)
        return last(h)

    def forward_embeddings(self, emb: Tensor) -> Tensor:
        """Raw outputs for embeddings `emb` (B, d) → (B, N_out)."""
        if self.chunk_embeddings is None:
            return self._mlp(emb)
        b, k = emb.shape[0], self.chunk_embeddings.shape[0]
        inp = torch.cat([emb[:, None, :].expand(b, k, emb.shape[1]),
                         self.chunk_embeddings[None].expand(b, k, -1)], dim=2)
        return self._mlp(inp).reshape(b, -1)[:, : self.n_out]

    def task_ids(self, tasks: list[int]) -> Tensor:
        """Task ids as an int64 tensor on the embeddings' device, made once per distinct list and
        kept: a training step reuses it, so no host-to-device copy happens inside a step (which a
        captured CUDA graph would not allow).

        Raises:
            ValueError: an id outside [0, n_tasks).
        """
        key = tuple(tasks)
        cached = self._ids.get(key)
        if cached is None or cached.device != self.embeddings.device:
            bad = [t for t in key if not 0 <= t < self.n_tasks]
            if bad:
                raise ValueError(f"task id(s) {bad} outside [0, {self.n_tasks})")
            cached = self._ids[key] = torch.tensor(key, dtype=torch.long, device=self.embeddings.device)
        return cached

    def forward(self, tasks: list[int] | int) -> Tensor:
        """Raw (pre-tanh) outputs H(e_t; Θ) for task ids `tasks` → (B, N_out) (B = 1 for an int).

        Raises:
            ValueError: an id outside [0, n_tasks).
        """
        return self.forward_embeddings(self.embeddings[self.task_ids([tasks] if isinstance(tasks, int) else tasks)])

    def split(self, flat: Tensor) -> dict[str, Tensor]:
        """One flat output (N_out,) → {name: tensor of its shape} (views, no copy)."""
        parts = torch.split(flat, self.numels)
        return {name: part.view(shape) for (name, shape), part in zip(self.shapes.items(), parts)}

    def theta(self) -> list[nn.Parameter]:
        """Θ: every parameter except the task embeddings (chunk embeddings included)."""
        return [p for n, p in self.named_parameters() if n != "embeddings"]
