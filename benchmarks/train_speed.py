"""Training-step speed of a paper preset (hypermask.md §7) on every device present, against the
machine's own floor measured in the same run.

For each device: ms/iteration of the engine's own step (`core.engine.step.TaskStep`, as the training
loop runs it) for task 0 and for the last task (whose hypernetwork regulariser covers every earlier
task), peak memory, and, for scale, what the machine does at best on the same sizes: dense fp32 matmul
throughput, copy bandwidth, and one fused-Adam step over tensors shaped like the method's parameters.
On CUDA the step is timed captured as a CUDA graph and eagerly, side by side.

    python benchmarks/train_speed.py [--benchmark split-mnist] [--data PATH|bundled] [--iters 200]
                                     [--devices cpu,cuda] [--threads N] [--method hypermask]

Goals (issue #13): Split MNIST ≤ 30 ms/iteration on 2 CPU cores with peak RSS ≤ 1 GiB; on one
H200-class GPU, Split MNIST ≤ 2 ms and Permuted MNIST ≤ 5 ms per iteration. Permuted MNIST's
206 M-parameter hypernetwork is a GPU workload: on a CPU it needs about 6 GB and 0.3–0.6 s an iteration.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core import devices  # noqa: E402  (first: core sets the OpenMP environment torch reads)
import torch  # noqa: E402, I001
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from core.config import check_threads  # noqa: E402
from core.data.benchmarks import make_benchmark  # noqa: E402
from core.data.sources import DataError  # noqa: E402
from core.engine.step import TaskStep  # noqa: E402
from core.methods import Method, build_method, parameter_total  # noqa: E402
from core.models.target import build_target  # noqa: E402
from core.presets import make_config  # noqa: E402
from core.utils import tune_allocator  # noqa: E402


def _timed(fn, device: torch.device, reps: int) -> float:
    """Seconds per call of `fn`, after one warm-up call, waiting for the device at both ends."""
    fn()
    devices.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    devices.synchronize(device)
    return (time.perf_counter() - t0) / reps


def floors(method: Method, device: torch.device) -> dict[str, float]:
    """What the device does at best: fp32 matmul GFLOP/s, copy GB/s (read + write) and the time of
    one fused-Adam step over tensors shaped like `method.parameters()`."""
    n = 4096 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    reps = 50 if device.type == "cuda" else 5
    gflops = 2 * n**3 / _timed(lambda: a @ b, device, reps) / 1e9
    x = torch.empty(64 * 2**20 if device.type == "cpu" else 512 * 2**20, dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    gbs = 2 * x.numel() / _timed(lambda: y.copy_(x), device, reps) / 1e9
    del a, b, x, y
    params = [torch.zeros_like(p, requires_grad=True) for p in method.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)
    adam_ms = 1000 * _timed(opt.step, device, reps)
    return {"matmul_gflops": gflops, "copy_gbs": gbs, "adam_ms": adam_ms}


def measure_task(cfg, bench, method: Method, task: int, iters: int, capture: bool) -> dict[str, float]:
    """ms/iteration of `task`'s step (regulariser targets snapshotted as at the task's start) and
    the FLOPs of one forward + backward."""
    device = method.device
    method.begin_task(task)
    step = TaskStep(method, bench, task, cfg.train.lr, capture=capture)
    stream = bench.batches(task, cfg.train.batch_size, torch.Generator().manual_seed(1))
    p = cfg.mask.sparsity
    for _ in range(10):  # warm-up, and the capture on CUDA
        step(*stream.next(), p)
    devices.synchronize(device)
    times = []
    t_all = time.perf_counter()
    for _ in range(iters):
        s = time.perf_counter()
        step(*stream.next(), p)
        if device.type == "cpu":
            times.append(time.perf_counter() - s)
    devices.synchronize(device)
    mean_ms = 1000 * (time.perf_counter() - t_all) / iters
    with FlopCounterMode(display=False) as counter:
        idx, off = stream.next()
        x = bench.prepare(bench.tasks[task].x_train[idx], task, off)
        method.losses(x, bench.tasks[task].y_train[idx], task, p)["total"].backward()
    for prm in method.parameters():
        prm.grad = None
    out = {"ms": mean_ms, "gflop": counter.get_total_flops() / 1e9}
    if times:
        out["median_ms"] = 1000 * statistics.median(times)
    return out


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default="split-mnist", choices=("split-mnist", "permuted-mnist"))
    ap.add_argument("--data", default="bundled", help="'bundled' or a path to full MNIST (mnist.npz or IDX folder)")
    ap.add_argument("--method", default="hypermask", choices=("hypermask", "hnet", "finetune"))
    ap.add_argument("--iters", type=_positive, default=200, help="timed iterations per task and device")
    ap.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu",
                    help="comma-separated: cpu, cuda, cuda:N (default: every device present)")
    ap.add_argument("--threads", type=_positive,
                    help="torch CPU threads (default: as the CLI, the cores idle at the start)")
    a = ap.parse_args()
    try:  # every argument is checked before anything is measured
        if a.threads is not None:
            check_threads(a.threads, "--threads")
        targets = [devices.resolve_device(name.strip()) for name in a.devices.split(",")]
        cfg = make_config(a.benchmark, a.method, "paper", a.data, seed=1)
        stream = make_benchmark(cfg.data, 1)
    except (ValueError, DataError) as e:
        ap.error(str(e))
    tune_allocator()
    n_params = parameter_total(cfg, stream.input_shape, stream.n_classes, len(stream.tasks))
    torch.set_num_threads(a.threads or devices.default_threads(n_params))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}; {os.cpu_count()} CPU cores, load average {load:.2f}; "
          f"{a.benchmark} paper preset, {a.method}, data {a.data}")
    pending = [stream]  # one copy of the data at a time: the checked stream first, then one per device
    del stream
    for device in targets:
        bench = (pending.pop() if pending else make_benchmark(cfg.data, 1)).to(device)
        torch.manual_seed(1)
        method = build_method(cfg, build_target(cfg.target, bench.input_shape, bench.n_classes),
                              len(bench.tasks)).to(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        print(f"\n== {devices.describe(device)}; parameters {method.param_counts()}")
        last = len(bench.tasks) - 1
        modes = (True, False) if device.type == "cuda" else (False,)
        for task in (0, last):
            for capture in modes:
                r = measure_task(cfg, bench, method, task, a.iters, capture)
                how = ("CUDA graph" if capture else "eager") if device.type == "cuda" else f"{torch.get_num_threads()} threads"
                med = f" (median {r['median_ms']:.2f})" if "median_ms" in r else ""
                print(f"task {task} ({how}): {r['ms']:.2f} ms/iteration{med}; forward + backward "
                      f"{r['gflop']:.3f} GFLOP, {r['gflop'] / r['ms'] * 1000:.0f} GFLOP/s achieved")
        if device.type == "cuda":
            print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB")
        else:
            print(f"peak resident memory (process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        f = floors(method, device)
        n_params = sum(p.numel() for p in method.parameters())
        print(f"floor on this device: fp32 matmul {f['matmul_gflops']:.0f} GFLOP/s; copy {f['copy_gbs']:.1f} GB/s; "
              f"one fused-Adam step over the same {n_params / 1e6:.1f} M parameters {f['adam_ms']:.2f} ms")
        del method, bench
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
