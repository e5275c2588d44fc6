"""Where a run computes: the `device` setting ("auto" | "cpu" | "cuda") turned into a torch device.

Run files never depend on it: tensors are written to safetensors from the CPU and a saved run is always
loaded onto the CPU, so a run trained on a GPU opens on a machine without one.
"""

from __future__ import annotations

import os
import time

import torch

from core.config import CUDA_INDEX


class DeviceError(ValueError):
    """A run asked for a device this machine does not have; the message says what to use instead."""


def resolve_device(name: str) -> torch.device:
    """The torch device for the setting `name`: "auto" gives CUDA when `torch.cuda.is_available()`,
    else the CPU; "cpu" the CPU; "cuda" the current CUDA device; "cuda:N" the N-th.

    Raises:
        DeviceError: "cuda" or "cuda:N" on a machine without a usable CUDA GPU (or without GPU N),
            or an unknown name (each names the value and the alternatives). Raised before a run folder is made (`core.engine.loop.check_run`).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or CUDA_INDEX.fullmatch(name):
        if not torch.cuda.is_available():
            build = "a CPU-only build of PyTorch" if torch.version.cuda is None else "no CUDA GPU visible"
            raise DeviceError(f"device {name!r} was asked for, but this machine has {build}; "
                              "use device 'cpu' or 'auto'")
        index = torch.cuda.current_device() if name == "cuda" else int(name[5:])
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                              f"numbered from 0")
        return torch.device("cuda", index)
    raise DeviceError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N")


def describe(device: torch.device) -> str:
    """A short human description, e.g. 'cuda (NVIDIA H200)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    n = torch.get_num_threads()
    return f"{device.type} ({n} thread{'s' if n != 1 else ''})"


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on `device` (a no-op on the CPU, where every op has already run);
    used only where a time is read, so that asynchronous GPU work is counted where it belongs."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_times() -> dict[int, tuple[int, int]]:
    """{cpu: (busy, total)} jiffies since boot, from /proc/stat (Linux)."""
    out: dict[int, tuple[int, int]] = {}
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                v = [int(x) for x in fields[:8]]
                idle = v[3] + v[4]  # idle + iowait
                out[int(name[3:])] = (sum(v) - idle, sum(v))
    return out


def idle_cores(window: float = 0.2) -> int:
    """How many of the cores this process may run on were idle over the last `window` seconds
    (at least 1); all of them where /proc/stat cannot be read (not Linux)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    try:
        a = _cpu_times()
        time.sleep(window)
        b = _cpu_times()
    except (OSError, ValueError):
        return len(cores)
    busy = sum((b[c][0] - a[c][0]) / max(1, b[c][1] - a[c][1]) for c in cores if c in a and c in b)
    return max(1, len(cores) - round(busy))


#: Trained parameters below which a step is too small to share out: one thread is as fast as two
#: (benchmarks/train_speed.py, Split MNIST demo on 2 cores) and its results do not depend
#: on how busy the machine was at the start.
SMALL_STEP = 4_000_000


def default_threads(n_params: int | None = None) -> int:
    """torch CPU threads for a run when the user names none: 1 for a step of fewer than
    `SMALL_STEP` parameters, else the cores idle right now (at least 1).

    A float sum's order, and so a run's last digits, depends on the thread count: a run is
    reproducible for a given `--threads`, which metrics.json records ("device": "cpu (2 threads)").
    With one thread per core and another program busy on one of them, PyTorch's OpenMP threads wait
    for each other at every parallel region, and two threads are slower than one (benchmarks/
    train_speed.py, 2 cores with one taken; figures in the README).
    """
    if n_params is not None and n_params < SMALL_STEP:
        return 1
    return idle_cores()
