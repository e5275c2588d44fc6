"""Small process-level helpers: seeding and the allocator setting that keeps big gradients fast."""

from __future__ import annotations

import ctypes
import random
import sys

import numpy as np
import torch

_TUNED = False


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU) from `seed`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def tune_allocator() -> None:
    """Keep freed large blocks in the process (glibc `mallopt`) instead of returning them to the OS.

    Without it, every step's large hypernetwork gradient (tens of MB) is a fresh `mmap` whose page
    faults cost time on every step (benchmarks/train_speed.py). Linux/glibc only; a no-op elsewhere
    and on repeated calls.
    """
    global _TUNED
    if _TUNED or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 2**30)  # M_MMAP_THRESHOLD: serve blocks up to 1 GiB from the heap
        libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD: do not give the heap top back
    except (OSError, AttributeError):
        pass
    _TUNED = True
