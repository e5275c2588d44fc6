"""One optimisation step of one task (hypermask.md §5): batch → inputs → losses → backward → Adam.

`TaskStep` owns the task's fresh Adam and runs the step eagerly, or — on a CUDA device — records it
once as a CUDA graph and replays it, because there the step is bound by kernel launches, not by
arithmetic (a few hundred small kernels for well under a GFLOP). The graph reads its batch from fixed
device buffers that each call refills, so nothing in a step waits for the host or copies from it.
A step that cannot be captured falls back to the eager step, with a warning, and trains on.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from core.data.benchmarks import Benchmark, Task
from core.methods import Method

#: Eager steps before a capture (on a side stream, as PyTorch's CUDA-graph notes ask): they let
#: lazily made state (Adam's moments, cached task-id tensors, cuBLAS workspaces) exist first.
WARMUP_STEPS = 2


class TaskStep:
    """The step of task `task` of `bench` for `method`, with a fresh Adam (default betas, `lr`).

    Call it with the batch's indices (B,) and crop offsets (2, B) or None (both on the method's
    device, from `core.data.benchmarks.BatchStream`) and the sparsity p in percent; it returns the
    loss terms as 0-d tensors on the device ('total', 'ce', 'r_hnet', 'r_target'), valid until the
    next call. It never reads a value back to the host: the caller does that on logging steps.

    Args:
        method: the method, already on its device.
        bench: the task stream, already on the same device.
        task: 0-based task index.
        lr: Adam learning rate.
        capture: record and replay the step as a CUDA graph when the device is CUDA (ignored
            elsewhere).
        ramp: p changes from call to call (adaptive sparsity in task 0): a captured step then reads
            p from a device buffer; otherwise p must stay the same for the whole task.
    """

    def __init__(self, method: Method, bench: Benchmark, task: int, lr: float, capture: bool = True,
                 ramp: bool = False) -> None:
        self.method, self.bench, self.task_index = method, bench, task
        self.task: Task = bench.tasks[task]
        self.device = method.device
        self.graphed = capture and self.device.type == "cuda"
        self.ramp = ramp
        # capturable: Adam keeps its step count on the device, so a replayed step advances it.
        self.opt = torch.optim.Adam(method.parameters(), lr=lr, fused=True,
                                    **({"capturable": True} if self.graphed else {}))
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self._p: float | None = None
        self._bufs: dict[str, Tensor] = {}
        self._out: dict[str, Tensor] = {}

    def _compute(self, idx: Tensor, offsets: Tensor | None, p: float | Tensor) -> dict[str, Tensor]:
        self.opt.zero_grad(set_to_none=True)
        x = self.bench.prepare(self.task.x_train[idx], self.task_index, offsets)
        losses = self.method.losses(x, self.task.y_train[idx], self.task_index, p)
        losses["total"].backward()
        self.opt.step()
        return {k: v.detach() for k, v in losses.items()}

    def __call__(self, idx: Tensor, offsets: Tensor | None, p: float) -> dict[str, Tensor]:
        self.calls += 1
        if not self.graphed:
            return self._compute(idx, offsets, p)
        if self._p is None:
            self._p = p
        elif not self.ramp and p != self._p:
            raise ValueError(f"sparsity changed from {self._p} to {p} within task {self.task_index}, "
                             "but the step was made with ramp=False")
        return self._graphed(idx, offsets, p)

    def _fill(self, idx: Tensor, offsets: Tensor | None, p: float) -> tuple[Tensor, Tensor | None, float | Tensor]:
        if not self._bufs:
            self._bufs["idx"] = torch.empty_like(idx)
            if offsets is not None:
                self._bufs["offsets"] = torch.empty_like(offsets)
            self._bufs["p"] = torch.zeros((), device=self.device)
        self._bufs["idx"].copy_(idx)
        if offsets is not None:
            self._bufs["offsets"].copy_(offsets)
        if self.ramp:
            self._bufs["p"].fill_(p)
        return self._bufs["idx"], self._bufs.get("offsets"), (self._bufs["p"] if self.ramp else p)

    def _graphed(self, idx: Tensor, offsets: Tensor | None, p: float) -> dict[str, Tensor]:
        args = self._fill(idx, offsets, p)
        if self.graph is not None:
            self.graph.replay()
            return self._out
        current = torch.cuda.current_stream(self.device)
        if self.calls <= WARMUP_STEPS:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(current)
            with torch.cuda.stream(side):
                out = self._compute(*args)
            current.wait_stream(side)
            return out
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self._out = self._compute(*args)
        except Exception as e:  # noqa: BLE001 - any op that cannot be captured: train on eagerly
            cause = e.__context__ or e  # the op that broke the capture, not the capture's own end
            warnings.warn(f"the training step could not be captured as a CUDA graph ({type(cause).__name__}: "
                          f"{(str(cause).splitlines() or [''])[0]}); it runs eagerly", RuntimeWarning, stacklevel=2)
            self.graphed = False
            torch.cuda.synchronize(self.device)
            return self._compute(idx, offsets, p)
        self.graph = graph
        graph.replay()  # capturing recorded the step without running it
        return self._out
