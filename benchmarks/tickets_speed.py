"""Speed of the winning-ticket lab (`core.tickets.analyze_run`): a shipped demo run, and a paper run.

1. The shipped pretrained Split MNIST HyperMask demo run (copied to a temporary folder, so nothing is
   written into pretrained/): the first analysis in a process that has imported torch (it also
   imports scikit-learn and reads the data), a recomputation with everything loaded, the cached
   second load, and `python -m core analyze` from a fresh process; then its learned-vs-control
   accuracies.
2. The Tickets page itself (Streamlit's AppTest: the page's server-side run, no browser) on a copy
   of that run without its cached file: the first opening (the analyses computed, tickets.json
   written) and the second opening in a new session (read from tickets.json).
3. With --data PATH (full MNIST): a paper-preset Split MNIST HyperMask run is trained with the CLI in
   a temporary folder (or in --paper-run DIR, kept; a run already there is reused), then analysed and
   loaded from the cache.

    python benchmarks/tickets_speed.py [--data PATH] [--iters N] [--paper-run DIR] [--threads N]

Goals (issue 10): demo run ≤ 5 s, paper Split MNIST run ≤ 60 s, second opening of the page ≤ 1 s,
on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import core  # noqa: E402, F401  (first: core sets the OpenMP environment torch reads)
import torch  # noqa: E402, I001
from core.cli import analysis_threads, format_tickets  # noqa: E402
from core.runs import load_run  # noqa: E402
from core.tickets import analyze_run, from_run, task_inference  # noqa: E402

DEMO = ROOT / "pretrained" / "split-mnist-hypermask"


def timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - start


def measure(run: Path, threads: int | None, data: str | None = None) -> dict:
    """First analysis, a recomputation and the cached load of run folder `run` (seconds)."""
    torch.set_num_threads(threads if threads is not None else analysis_threads(str(run)))
    first, t_first = timed(analyze_run, run, data=data, refresh=True)
    _, t_again = timed(analyze_run, run, data=data, refresh=True)
    cached, t_cached = timed(analyze_run, run, data=data)
    assert cached["cache"] == "reused", cached["cache"]
    sub = from_run(load_run(run), data)
    _, t_loop = timed(task_inference, sub)  # what the training loop adds at its end
    return {"result": first, "first": t_first, "again": t_again, "cached": t_cached, "loop": t_loop,
            "threads": torch.get_num_threads()}


def report(name: str, m: dict, goal: float) -> None:
    r = m["result"]
    print(f"\n== {name} ({m['threads']} torch thread(s))")
    print(f"first analysis in this process {m['first']:.2f} s (goal ≤ {goal:g} s): rebuilding the task stream "
          f"{r['data_seconds']:.2f} s (data, and scikit-learn's first import), analyses {r['seconds']:.2f} s, "
          f"the rest loading the run; recomputed {m['again']:.2f} s; cached second load {1000 * m['cached']:.1f} ms "
          f"(goal ≤ 1 s); the class-incremental evaluation the training loop now ends with: {m['loop']:.2f} s")
    print(format_tickets(r))


def cli_wall(run: Path, threads: int | None) -> float:
    """Wall time of `python -m core analyze RUN --refresh` from a fresh process (torch import included)."""
    cmd = [sys.executable, "-m", "core", "analyze", str(run), "--refresh"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    _, t = timed(subprocess.run, cmd, cwd=ROOT, check=True, capture_output=True)
    return t


def train_paper(data: str, out: Path, iters: int | None, threads: int | None) -> float:
    cmd = [sys.executable, "-m", "core", "train", "--benchmark", "split-mnist", "--method", "hypermask",
           "--preset", "paper", "--data", data, "--seed", "1", "--out", str(out), "--quiet"]
    cmd += ["--iters", str(iters)] if iters else []
    cmd += ["--threads", str(threads)] if threads else []
    _, t = timed(subprocess.run, cmd, cwd=ROOT, check=True)
    return t


def page_openings(run: Path, root: Path) -> tuple[float, float, float]:
    """Seconds of the Tickets page's run for `run` in a new session: first (nothing cached), second
    (the server has the figures), and again after the server's caches are cleared (a restarted server:
    tickets.json read, figures built)."""
    import json
    import os

    from streamlit.testing.v1 import AppTest

    pre = root / "pretrained"
    shutil.copytree(run, pre / run.name)
    (pre / run.name / "tickets.json").unlink(missing_ok=True)
    (pre / "manifest.json").write_text(json.dumps({"runs": [{"path": run.name, "title": run.name,
                                                             "description": "benchmark copy"}]}))
    os.environ.update(HYPERMASK_PRETRAINED_DIR=str(pre), HYPERMASK_RUNS_DIR=str(root / "runs"))
    import streamlit as st

    times = []
    for k in range(3):
        if k == 2:
            st.cache_data.clear()
            st.cache_resource.clear()
        at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=300).run()  # the Overview
        at.switch_page("views/tickets.py")
        start = time.perf_counter()
        at.run()  # the page opens on the only run there is
        times.append(time.perf_counter() - start)
        assert at.selectbox(key="tickets_run").value == str((pre / run.name).resolve())
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
        assert (pre / run.name / "tickets.json").exists(), "the first opening did not cache its analyses"
    return times[0], times[1], times[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="full MNIST (mnist.npz or IDX folder) for the paper-preset run")
    ap.add_argument("--iters", type=int, help="iterations per task of the paper run (default: the preset's 2000)")
    ap.add_argument("--paper-run", help="folder of the paper-preset run: reused if it holds one, else trained "
                    "there and kept (default: a temporary folder)")
    ap.add_argument("--threads", type=int, help="torch threads (default: as `python -m core analyze`)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first, second, restarted = page_openings(DEMO, Path(tmp) / "page")  # first: nothing loaded yet
        print(f"the Tickets page on {DEMO.relative_to(ROOT)}: first opening {first:.2f} s (analyses computed, "
              f"data read), second opening {second:.2f} s (goal ≤ 1 s: {'yes' if second <= 1 else 'NO'}), "
              f"after a server restart {restarted:.2f} s (tickets.json read, figures built)")
        demo = Path(tmp) / "demo"
        shutil.copytree(DEMO, demo)
        m = measure(demo, a.threads)
        report(f"shipped demo run {DEMO.relative_to(ROOT)}", m, 5)
        print(f"`python -m core analyze` of it from a fresh process: {cli_wall(demo, a.threads):.2f} s wall")
        if a.paper_run or a.data:
            paper = Path(a.paper_run) if a.paper_run else Path(tmp) / "paper"
            if not (paper / "metrics.json").exists():
                if not a.data:
                    ap.error(f"{paper} holds no run; give --data to train one there")
                print(f"\ntraining the paper-preset Split MNIST run ({a.iters or 2000} iterations per task) …", flush=True)
                print(f"trained in {train_paper(a.data, paper, a.iters, a.threads):.0f} s")
            report(f"paper-preset Split MNIST run{' ' + a.paper_run if a.paper_run else ''}",
                   measure(paper, a.threads, a.data), 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
