"""Task streams for task-incremental learning (hypermask.md §7): Split MNIST, Permuted MNIST and
Split Digits, built by one factory, `make_benchmark`, from a registry of builders.

Images are kept once as float32 (N, 1, H, W) in [0, 1]; `Benchmark.prepare` turns a batch into
network inputs (augment → pad → normalise → permute). Permutations are drawn once, from the seed,
when the stream is built — never inside a data loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from core.config import DataConfig
from core.data.sources import MNIST_SIDE, DataError, RawSplit, load_digits, load_mnist

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CROP_PAD = 4  # pixels of zero padding of the random crop (hypermask.md §7, Split MNIST)


@dataclass
class Task:
    """One task: images (N, 1, H, W) in [0, 1] and task-local labels 0 … C−1 (int64)."""

    index: int
    classes: tuple[int, ...]  # global class ids, in local-label order
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    perm: Tensor | None = None  # pixel permutation of the (padded) flattened image, or None


@dataclass
class Benchmark:
    """A task stream and the recipe that turns raw images into inputs.

    `input_shape` is the (C, H, W) shape after padding; `n_classes` the width of the shared head.
    """

    name: str
    tasks: list[Task]
    input_shape: tuple[int, int, int]
    n_classes: int
    source: str
    sha256: str
    normalize: bool = True
    augment: bool = False
    pad_to: int | None = None
    _test_cache: dict[int, Tensor] = field(default_factory=dict, repr=False)

    def prepare(self, x: Tensor, task: int, crop_offsets: Tensor | None = None) -> Tensor:
        """Raw images (B, 1, h, w) in [0, 1] → network inputs (B, *input_shape), on x's device.

        `crop_offsets` (2, B), from `BatchStream.next` on a training batch, applies the random crop of
        `augment` (hypermask.md §7, Split MNIST); None (test inputs) applies none.
        """
        if crop_offsets is not None:
            x = random_crop(x, CROP_PAD, crop_offsets)
        if self.pad_to is not None and x.shape[-1] < self.pad_to:
            total = self.pad_to - x.shape[-1]
            x = F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))
        if self.normalize:
            x = (x - MNIST_MEAN) / MNIST_STD
        perm = self.tasks[task].perm
        if perm is not None:
            x = x.flatten(1)[:, perm].view(x.shape)
        return x

    def to(self, device: torch.device) -> "Benchmark":
        """Move every task's tensors to `device` once (a tensor shared by several tasks, as Permuted
        MNIST's images, is moved once and stays shared). Returns self."""
        moved: dict[int, Tensor] = {}

        def move(t: Tensor | None) -> Tensor | None:
            if t is None:
                return None
            if id(t) not in moved:
                moved[id(t)] = t.to(device)
            return moved[id(t)]

        for task in self.tasks:
            for name in ("x_train", "y_train", "x_test", "y_test", "perm"):
                setattr(task, name, move(getattr(task, name)))
        self._test_cache.clear()
        return self

    def batches(self, task: int, batch_size: int, generator: torch.Generator) -> "BatchStream":
        """The training batches of `task` on the device its images are on, with random-crop offsets
        when the stream augments (hypermask.md §7)."""
        t = self.tasks[task]
        return BatchStream(t.y_train.numel(), batch_size, generator, t.x_train.device,
                           CROP_PAD if self.augment else None)

    def test_inputs(self, task: int) -> tuple[Tensor, Tensor]:
        """Prepared test inputs (cached) and labels of `task`."""
        if task not in self._test_cache:
            self._test_cache[task] = self.prepare(self.tasks[task].x_test, task)
        return self._test_cache[task], self.tasks[task].y_test

    def info(self) -> dict[str, object]:
        """Plain description for events and run files."""
        return {"benchmark": self.name, "source": self.source, "sha256": self.sha256,
                "n_tasks": len(self.tasks), "input_shape": list(self.input_shape),
                "n_classes": self.n_classes,
                "train_sizes": [int(t.y_train.numel()) for t in self.tasks],
                "test_sizes": [int(t.y_test.numel()) for t in self.tasks]}


def random_crop(x: Tensor, pad: int, offsets: Tensor) -> Tensor:
    """Crop back to (h, w) from the image zero-padded by `pad` pixels on each side, at per-sample
    offsets.

    Args:
        x: (B, C, h, w) images.
        pad: padding in pixels.
        offsets: (2, B) int64 on x's device, row then column offsets in [0, 2·pad].
    Returns:
        (B, C, h, w) on x's device.
    """
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (offsets[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, h, 1)
    cols = (offsets[1][:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, w)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[bi, ci, rows, cols]


def _images(x: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None]


def _split_tasks(raw: RawSplit, n_tasks: int) -> list[Task]:
    """Tasks {0,1}, {2,3}, … with task-local labels."""
    tasks = []
    for t in range(n_tasks):
        classes = (2 * t, 2 * t + 1)
        tr = np.isin(raw.y_train, classes)
        te = np.isin(raw.y_test, classes)
        tasks.append(Task(t, classes,
                          _images(raw.x_train[tr]), torch.from_numpy(raw.y_train[tr] - 2 * t),
                          _images(raw.x_test[te]), torch.from_numpy(raw.y_test[te] - 2 * t)))
    return tasks


def _build_split(cfg: DataConfig, raw: RawSplit, seed: int) -> tuple[list[Task], int]:
    return _split_tasks(raw, cfg.tasks), 2


def permutations(cfg: DataConfig, seed: int, side: int = 28) -> list[Tensor]:
    """The pixel permutations of Permuted MNIST, one (P²,) index tensor per task, P = pad_to or
    `side`; drawn once from `seed` (task 0 permuted too). Needs no data, so the app can fold masks
    back to the image grid for any saved run."""
    p = cfg.pad_to or side
    gen = torch.Generator().manual_seed(seed)
    return [torch.randperm(p * p, generator=gen) for _ in range(cfg.tasks)]


def _build_permuted(cfg: DataConfig, raw: RawSplit, seed: int) -> tuple[list[Task], int]:
    xtr, ytr = _images(raw.x_train), torch.from_numpy(raw.y_train)
    xte, yte = _images(raw.x_test), torch.from_numpy(raw.y_test)
    perms = permutations(cfg, seed, raw.x_train.shape[-1])
    return [Task(t, tuple(range(10)), xtr, ytr, xte, yte, perm=perms[t]) for t in range(cfg.tasks)], 10


Builder = Callable[[DataConfig, RawSplit, int], tuple[list[Task], int]]
#: benchmark name → (raw loader, task builder, normalise with MNIST statistics)
REGISTRY: dict[str, tuple[str, Builder, bool]] = {
    "split-mnist": ("mnist", _build_split, True),
    "permuted-mnist": ("mnist", _build_permuted, True),
    "split-digits": ("digits", _build_split, False),
}


DIGITS_SIDE = 8  # scikit-learn's digits are 8×8


def stream_shape(cfg: DataConfig) -> tuple[tuple[int, int, int], int, int]:
    """(input shape (C, H, W), classes per task head, number of tasks) of the stream `make_benchmark`
    builds from `cfg`, worked out without loading any data (MNIST images are 28×28, digits 8×8;
    `pad_to` enlarges them; split tasks have 2 classes, permuted ones 10).

    Raises:
        ValueError: `pad_to` smaller than the images.
    """
    kind, builder, _ = REGISTRY[cfg.benchmark]
    side = MNIST_SIDE if kind == "mnist" else DIGITS_SIDE
    if cfg.pad_to is not None and cfg.pad_to < side:
        raise ValueError(f"pad_to={cfg.pad_to} is smaller than the {side}×{side} images")
    n_classes = 10 if builder is _build_permuted else 2
    out = cfg.pad_to or side
    return (1, out, out), n_classes, cfg.tasks


def make_benchmark(cfg: DataConfig, seed: int) -> Benchmark:
    """Build the task stream described by `cfg` with everything random drawn from `seed`.

    Raises:
        core.data.sources.DataError: missing or malformed data files (one-line message).
        ValueError: settings that do not fit the data (e.g. pad_to smaller than the images).
    """
    kind, builder, normalize = REGISTRY[cfg.benchmark]
    input_shape, _, _ = stream_shape(cfg)  # refuses a pad_to smaller than the images before reading data
    if kind == "mnist":
        raw = load_mnist(cfg.source, seed=seed, test_fraction=cfg.test_fraction)
    else:
        raw = load_digits(seed=seed, test_fraction=cfg.test_fraction)
    tasks, n_classes = builder(cfg, raw, seed)
    for t in tasks:
        if t.y_train.numel() == 0 or t.y_test.numel() == 0:
            raise DataError(f"{raw.source}: task {t.index} (classes {list(t.classes)}) has "
                            f"{t.y_train.numel()} training and {t.y_test.numel()} test images; expected some of each")
    return Benchmark(cfg.benchmark, tasks, input_shape, n_classes, raw.source, raw.sha256,
                     normalize=normalize and cfg.normalize, augment=cfg.augment, pad_to=cfg.pad_to)


class BatchStream:
    """Endless shuffled mini-batches of indices in [0, n): one seeded permutation per epoch.

    Everything random is drawn on the CPU from `generator` (so a run draws the same batches on every
    device) once per epoch, then moved to `device` in one copy: a step only slices device tensors.
    With `crop_pad`, every batch also gets per-sample random-crop offsets (hypermask.md §7).

    Args:
        n: training samples of the task.
        batch_size: samples per batch (at most n).
        generator: CPU generator, shared by the run's tasks.
        device: where the indices and offsets live.
        crop_pad: random-crop padding in pixels, or None for no crop.
    Raises:
        ValueError: if n < 1.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator,
                 device: torch.device | str = "cpu", crop_pad: int | None = None) -> None:
        if n < 1:
            raise ValueError("a task has no training samples")
        self.n, self.batch_size, self.gen = n, min(batch_size, n), generator
        self.device, self.crop_pad = torch.device(device), crop_pad
        self._new_epoch()

    def _new_epoch(self) -> None:
        self._perm = torch.randperm(self.n, generator=self.gen).to(self.device)
        self._offsets: Tensor | None = None
        if self.crop_pad is not None:
            batches = self.n // self.batch_size
            self._offsets = torch.randint(0, 2 * self.crop_pad + 1, (batches, 2, self.batch_size),
                                          generator=self.gen).to(self.device)
        self._pos = 0

    def next(self) -> tuple[Tensor, Tensor | None]:
        """Indices (batch_size,) of the next batch and its crop offsets (2, batch_size), or None
        without a crop; both on `device`."""
        if self._pos + self.batch_size > self.n:
            self._new_epoch()
        k = self._pos // self.batch_size
        idx = self._perm[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx, (self._offsets[k] if self._offsets is not None else None)
