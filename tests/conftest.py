"""Shared fixtures: tiny configurations that train in about a second."""

import os

import pytest
import torch

# Training processes started by tests keep the test runner's priority: the app renices them
# (core.engine.worker.TRAIN_NICE) below the web server, and a niced process on a machine loaded by
# other programs gets too little CPU for the tests that time a run (pace, pause/resume) to mean
# anything. tests/core/test_runner.py checks the renicing itself.
os.environ.setdefault("HYPERMASK_TRAIN_NICE", "0")

from core.config import DataConfig, HyperConfig, MaskConfig, RunConfig, TargetConfig, TrainConfig


# The test models are tiny: one thread beats two, and avoids thrashing when the browser test's app
# server (or anything else) shares the 2 cores.
torch.set_num_threads(1)


#: Devices present here: the device tests run on each (CUDA only where `torch.cuda.is_available()`).
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def tiny_config(method: str = "hypermask", iters: int = 30, n_tasks: int = 2, seed: int = 1,
                device: str = "cpu") -> RunConfig:
    """Split Digits, `n_tasks` tasks, a 32-unit MLP, a few iterations per task, on `device` (the CPU
    unless a test asks: tests that compare exact values rely on the CPU's determinism)."""
    return RunConfig(
        data=DataConfig(benchmark="split-digits", n_tasks=n_tasks, eval_subsample=50),
        target=TargetConfig(hidden=(32,)),
        hyper=HyperConfig(hidden=(16,), embedding_dim=8),
        mask=MaskConfig(sparsity=30.0, beta=0.01, lam=0.001),
        train=TrainConfig(method=method, iters_per_task=iters, batch_size=32, seed=seed, log_every=5,
                          eval_every=10, device=device),
    )


@pytest.fixture
def tiny() -> RunConfig:
    return tiny_config()
