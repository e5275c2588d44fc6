"""Sweep execution speed and resume, on this machine, as a user runs it (`python -m core sweep`, each
measurement a fresh command, so process start-up and imports count):

1. one trial of the Split MNIST demo alone (one worker): its command's wall time, and the trial's own
   training time (the sum of its per-task times, from metrics.json);
2. N trials (seeds 1..N) on the local pool with W workers: wall time against N × single / W
   (goal ≤ 1.2×; both forms of "single" are printed);
3. the same N trials as Ray tasks on a local Ray with W CPUs (ray.init included): overhead over the
   pool (goal ≤ 15 %);
4. kill -9 of the sweep command mid-way, then the same command again: which trials were finished,
   running (and how many of their tasks were saved), how many completed tasks the restart trained
   again (goal: none; at most the running task of each running trial is lost), and whether the
   resumed trials' accuracy matrices equal those of the uninterrupted sweep.
Timings 1–3 are repeated, interleaved, and their medians compared.

    python benchmarks/sweep_speed.py [--trials 8] [--workers 2] [--repeat 2] [--no-ray] [--no-kill] [--keep DIR]

Prints the machine's load average before and after: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = """name = "bench"
[base]
preset = "demo"
benchmark = "split-mnist"
data = "bundled"
[axes]
seed = "{seeds}"
"""


def _sweep(spec: Path, out: Path, workers: int, ray: bool = False) -> float:
    """Run `python -m core sweep` to its end; its wall time in seconds."""
    cmd = [sys.executable, "-m", "core", "sweep", str(spec), "--out", str(out), "--workers", str(workers), "--quiet"]
    cmd += ["--ray"] if ray else []
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return wall


def _metrics(trial: Path) -> dict | None:
    try:
        return json.loads((trial / "metrics.json").read_text())
    except (OSError, ValueError):
        return None


def _spec(tmp: Path, seeds: str) -> Path:
    path = tmp / f"spec-{seeds}.toml"
    path.write_text(SPEC.format(seeds=seeds))
    return path


def _finished_tasks(events: bytes) -> dict[int, list[dict]]:
    """task → its TaskFinished events (as dicts) in an events.jsonl's bytes (torn lines skipped)."""
    out: dict[int, list[dict]] = {}
    for line in events.decode("utf-8", "replace").splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and d.get("kind") == "task_finished":
            out.setdefault(int(d["task"]), []).append(d)
    return out


def kill_and_resume(tmp: Path, spec: Path, workers: int, reference: Path | None = None) -> None:
    """kill -9 the sweep once two trials have finished and the running ones have saved a task; re-run it;
    compare with `reference`, the same sweep run without a kill."""
    out = tmp / "killed"
    cmd = [sys.executable, "-m", "core", "sweep", str(spec), "--out", str(out), "--workers", str(workers), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 1800
    while time.time() < deadline:
        states = {t.name: _metrics(t) for t in out.iterdir() if t.is_dir() and not t.name.startswith(".")} \
            if out.is_dir() else {}
        done = [n for n, m in states.items() if m and m["status"] == "finished"]
        running = [n for n, m in states.items() if m and m["status"] == "running"]
        if len(done) >= 2 and running and all(states[n]["tasks_done"] >= 1 for n in running):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # the trial processes see their sweep gone and stop within one step
    before = {n: (m["status"], m["tasks_done"], (out / n / "metrics.json").stat().st_mtime_ns,
                  (out / n / "events.jsonl").read_bytes())
              for n, m in ((t.name, _metrics(t)) for t in out.iterdir() if t.is_dir() and not t.name.startswith("."))
              if m is not None}
    print(f"kill -9 after {len(done)} finished trials; at the kill: " +
          ", ".join(f"{n} {s} with {k} task(s) saved" for n, (s, k, _, _) in before.items()))
    t0 = time.perf_counter()
    _sweep(spec, out, workers)
    print(f"re-run to the end: {time.perf_counter() - t0:.1f} s")
    recomputed = 0
    for n, (status, k, mtime, events) in before.items():
        if status == "finished":
            same = (out / n / "metrics.json").stat().st_mtime_ns == mtime
            print(f"  {n}: finished before the kill, {'skipped (untouched)' if same else 'RECOMPUTED'}")
            recomputed += 0 if same else 5
            continue
        # a completed task whose TaskFinished event is not the one saved before the kill was trained again
        then, now = _finished_tasks(events), _finished_tasks((out / n / "events.jsonl").read_bytes())
        redone = [t for t in range(k) if now.get(t) != (then.get(t) or [])[-1:]]
        recomputed += len(redone)
        line = f"  {n}: {k} task(s) saved at the kill; completed tasks trained again: {len(redone)}"
        if reference is not None:
            same = _metrics(out / n)["acc_matrix"] == _metrics(reference / n)["acc_matrix"]
            line += f"; accuracy matrix {'identical to' if same else 'DIFFERENT from'} the uninterrupted sweep's"
        print(line)
    print(f"completed tasks trained again after kill -9: {recomputed} (goal 0: at most each running trial's "
          "unfinished task is lost)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--no-kill", action="store_true")
    p.add_argument("--repeat", type=int, default=2, help="interleaved repetitions of the timings (medians)")
    p.add_argument("--keep", help="keep the sweep folders here")
    a = p.parse_args()
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="sweep-speed-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} CPU cores (a shared machine)")
    spec = _spec(tmp, f"1-{a.trials}")
    ones, trains, pools, rays = [], [], [], []
    for r in range(a.repeat):  # interleaved, so that a change of the machine's load hits each alike
        shutil.rmtree(tmp / "single", ignore_errors=True)
        ones.append(_sweep(_spec(tmp, "1"), tmp / "single", 1))
        trains.append(sum(_metrics(tmp / "single" / "seed=1")["task_seconds"]))
        print(f"[{r + 1}] single trial alone: command {ones[-1]:.1f} s, the trial's own training {trains[-1]:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")
        shutil.rmtree(tmp / "pool", ignore_errors=True)
        pools.append(_sweep(spec, tmp / "pool", a.workers))
        print(f"[{r + 1}] local pool, {a.trials} trials on {a.workers} workers: {pools[-1]:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")
        if not a.no_ray:
            shutil.rmtree(tmp / "ray", ignore_errors=True)
            rays.append(_sweep(spec, tmp / "ray", a.workers, ray=True))
            print(f"[{r + 1}] Ray (local, {a.workers} CPUs, ray.init included), {a.trials} trials: {rays[-1]:.1f} s "
                  f"(load {os.getloadavg()[0]:.1f})")
    one, train, pool = statistics.median(ones), statistics.median(trains), statistics.median(pools)
    print(f"medians of {a.repeat}: pool {pool:.1f} s = {pool / (a.trials * one / a.workers):.2f} × "
          f"({a.trials} × {one:.1f} s / {a.workers}) [goal ≤ 1.2]; against the trial's own training time: "
          f"{pool / (a.trials * train / a.workers):.2f} ×")
    if rays:
        ray = statistics.median(rays)
        print(f"medians of {a.repeat}: Ray {ray:.1f} s = {100 * (ray / pool - 1):+.1f} % over the local pool "
              "[goal ≤ 15 %]")
    if not a.no_kill:
        kill_and_resume(tmp, spec, a.workers, reference=tmp / "pool")
    print(f"load average after: {os.getloadavg()}")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
