"""Each learned task's subnetwork, evaluated the way the training loop fills the accuracy matrix.

`Subnetworks` is the shared ground of every analysis in `core.tickets`: the task-incremental
evaluation of hypermask.md §6 (task j's embedding → semi-binary mask at the final sparsity p →
Ŵ = W ⊙ M_j → the shared C-way head, task-local labels), with each task's hypernetwork output and
each (task, p) mask computed once. It evaluates through `Method.logits` and `accuracy`, the path of
the loop's R[i, j], so an analysis at the trained setting reproduces R[T−1, j] to the last bit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from core.config import RunConfig
from core.data.benchmarks import Benchmark, make_benchmark
from core.masks import apply_masks, masks_from_logits, ramped_sparsity
from core.methods import Method, accuracy
from core.runs import Run, RunError

#: How a method's tasks differ: "masks" (HyperMask: one W, a mask per task), "weights" (HNET: the
#: hypernetwork generates all of W per task) or "shared" (fine-tuning: one W for every task).
Kind = Literal["masks", "weights", "shared"]
KINDS: dict[str, Kind] = {"hypermask": "masks", "hnet": "weights", "finetune": "shared"}
#: Why the mask analyses (sweep, controls, drift) do not apply, per kind without masks.
NO_MASK: dict[str, str] = {"weights": "HNET uses no mask: its hypernetwork generates the target weights themselves",
                           "shared": "fine-tuning uses no mask: one shared weight set serves every task"}


def trained_sparsity(cfg: RunConfig, last_task: int) -> float:
    """The mask sparsity p (percent) in force at the end of task `last_task`, as the training loop
    used it for that task's row of the accuracy matrix: `cfg.mask.sparsity`, except after a
    one-task run with the adaptive ramp, where it is the ramp's last value p·n/n (hypermask.md §2)."""
    n = cfg.train.iters_per_task
    return ramped_sparsity(cfg.mask.sparsity, last_task, n - 1, n, cfg.mask.adaptive)


@dataclass
class Subnetworks:
    """The learned tasks 0 … `n_tasks`−1 of a trained method and the test sets they are judged on.

    Args:
        method: the trained method (its modules on any device; the test sets on the same one).
        bench: the run's task stream (test inputs are prepared and cached by `Benchmark`).
        n_tasks: learned tasks, the run's `tasks_done` (≥ 1).
        sparsity: the trained mask sparsity p in percent (`trained_sparsity`).
    """

    method: Method
    bench: Benchmark
    n_tasks: int
    sparsity: float
    _raw: dict[int, dict[str, Tensor]] = field(default_factory=dict, repr=False)
    _masks: dict[int, dict[str, Tensor]] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> Kind:
        """"masks", "weights" or "shared" (see `KINDS`)."""
        return KINDS[self.method.name]

    def test(self, task: int) -> tuple[Tensor, Tensor]:
        """Prepared test inputs (N, C, H, W) and task-local labels (N,) of `task`."""
        return self.bench.test_inputs(task)

    def classes(self) -> list[tuple[int, ...]]:
        """Global class ids of each learned task, in local-label order (Split MNIST task t:
        (2t, 2t+1); Permuted MNIST: the ten digits for every task)."""
        return [self.bench.tasks[t].classes for t in range(self.n_tasks)]

    @torch.inference_mode()
    def raw(self, task: int) -> dict[str, Tensor]:
        """Raw (pre-tanh) hypernetwork outputs {param: o_l} for `task`'s embedding, computed once.

        Raises:
            ValueError: for a method without a hypernetwork (fine-tuning).
        """
        hn = self.method.hypernet
        if hn is None:
            raise ValueError(f"{self.method.name} has no hypernetwork")
        if task not in self._raw:
            self._raw[task] = hn.split(hn(task)[0])
        return self._raw[task]

    @torch.inference_mode()
    def masks(self, task: int, sparsity: float | None = None) -> dict[str, Tensor]:
        """Semi-binary masks {param: M_l in [0, 1)} of `task` at `sparsity` (default: the trained p),
        each tensor cut at its own percentile (hypermask.md §2). Those at the trained p, which most
        analyses share, are computed once and kept; other levels are made anew (a sweep would
        otherwise hold every level's masks at once). HyperMask only."""
        p = self.sparsity if sparsity is None else float(sparsity)
        if p != self.sparsity:
            return masks_from_logits(self.raw(task), p)
        if task not in self._masks:
            self._masks[task] = masks_from_logits(self.raw(task), p)
        return self._masks[task]

    def target_weights(self) -> dict[str, Tensor]:
        """The shared target weights W {param: tensor} (detached; the output bias included)."""
        return {n: w.detach() for n, w in self.method.target.named_parameters()}

    @torch.inference_mode()
    def weights(self, task: int, masks: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Effective target parameters of `task`'s subnetwork: W ⊙ `masks` (default: the task's
        learned masks at the trained p) for HyperMask, the generated weights for HNET, the one
        shared W for fine-tuning."""
        if self.kind == "masks":
            return apply_masks(self.target_weights(), self.masks(task) if masks is None else masks)
        return self.method.weights(task, self.sparsity)

    @torch.inference_mode()
    def logits(self, weights: dict[str, Tensor], task: int) -> Tensor:
        """Logits (N, C) of `task`'s test set through the network with parameters `weights`."""
        return self.method.logits(weights, self.test(task)[0])

    def accuracy(self, weights: dict[str, Tensor], task: int) -> float:
        """Task-incremental accuracy (fraction) on `task`'s test set through `weights`."""
        return accuracy(self.logits(weights, task), self.test(task)[1])


def from_run(run: Run, data: str | None = None) -> Subnetworks:
    """`Subnetworks` of a loaded run (`core.runs.load_run`), on the CPU, with its task stream
    rebuilt from the run's config and seed.

    Args:
        run: the loaded run.
        data: MNIST data to rebuild the stream from instead of the path stored in the run's config
            (for a run trained elsewhere); ignored by Split Digits (scikit-learn's digits).
    Raises:
        RunError: the run has no completed task, or `data` is not the data it was trained on (its
            sha256 differs from metrics.json's) or gives other test-set sizes.
        core.data.sources.DataError: missing or malformed data (one line naming the file).
    """
    if run.tasks_done < 1:
        raise RunError(f"{run.path.name} has no completed task to analyse")
    cfg = run.config
    data_cfg = cfg.data if data is None else dataclasses.replace(cfg.data, source=str(data))
    bench = make_benchmark(data_cfg, cfg.train.seed)
    stored = run.metrics.get("data", {})
    if stored.get("sha256") not in (None, bench.sha256):
        raise RunError(f"data {bench.source} is not the data this run was trained on (sha256 "
                       f"{bench.sha256[:12]}…, the run's {str(stored['sha256'])[:12]}…); pass that data")
    sizes = [int(t.y_test.numel()) for t in bench.tasks]
    if stored.get("test_sizes") not in (None, sizes):
        raise RunError(f"the rebuilt task stream has test sets of {sizes} samples, the run's {stored['test_sizes']}")
    return Subnetworks(run.method, bench, run.tasks_done, trained_sparsity(cfg, run.tasks_done - 1))


__all__ = ["KINDS", "NO_MASK", "Kind", "Subnetworks", "from_run", "trained_sparsity"]
