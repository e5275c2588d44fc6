"""Training speed of the Split MNIST paper configuration (hypermask.md §7) on this machine.

Prints ms/iteration (task 0, and task 1 where both regularisers are active), peak resident memory,
achieved GFLOP/s (FLOPs counted by torch.utils.flop_counter for forward + backward, plus ~12 FLOPs
per parameter for the Adam update) and, for scale, the GFLOP/s of a dense matmul measured in the same
run. Goal (issue #2): ≤ 30 ms/iteration on 2 cores.

    python benchmarks/train_speed.py [--data PATH|bundled] [--iters 200] [--method hypermask]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from core.data.benchmarks import BatchStream, make_benchmark
from core.methods import build_method
from core.models.target import build_target
from core.presets import make_config
from core.utils import tune_allocator


def matmul_gflops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="bundled")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--method", default="hypermask")
    ap.add_argument("--no-tune", action="store_true", help="skip the allocator setting (to see its effect)")
    a = ap.parse_args()
    if not a.no_tune:
        tune_allocator()
    cfg = make_config("split-mnist", a.method, "paper", a.data, seed=1)
    bench = make_benchmark(cfg.data, 1)
    torch.manual_seed(1)
    method = build_method(cfg, build_target(cfg.target, bench.input_shape, bench.n_classes), len(bench.tasks))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, params {method.param_counts()}")
    gen = torch.Generator().manual_seed(1)
    for task in (0, 1):
        method.begin_task(task)
        opt = torch.optim.Adam(method.parameters(), lr=cfg.train.lr, fused=True)
        t = bench.tasks[task]
        stream = BatchStream(t.y_train.numel(), cfg.train.batch_size, gen)
        times = []
        flops = 0
        for i in range(a.iters + 10):
            s = time.perf_counter()
            idx = stream.next()
            x = bench.prepare(t.x_train[idx], task, train=True, generator=gen)
            counter = FlopCounterMode(display=False) if i == 5 else None
            if counter is not None:
                counter.__enter__()
            loss = method.losses(x, t.y_train[idx], task, cfg.mask.sparsity)["total"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if counter is not None:
                counter.__exit__(None, None, None)
                flops = counter.get_total_flops()
            opt.step()
            if i >= 10 and i != 5:
                times.append(time.perf_counter() - s)
        ms = 1000 * statistics.median(times)
        n_params = sum(p.numel() for p in method.parameters())
        total = flops + 12 * n_params
        print(f"task {task}: {ms:.1f} ms/iteration (median of {len(times)}; mean {1000 * statistics.mean(times):.1f}), "
              f"{total / 1e9:.3f} GFLOP/iteration, {total / (ms / 1000) / 1e9:.1f} GFLOP/s achieved")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MiB")
    print(f"reference dense matmul 2048×2048: {matmul_gflops():.1f} GFLOP/s")


if __name__ == "__main__":
    main()
