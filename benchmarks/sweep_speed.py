"""Sweep execution speed and resume, on this machine, as a user runs it (`python -m core sweep`, each
measurement a fresh command, so process start-up and imports count):

1. one trial of the Split MNIST demo alone (one worker): its command's wall time, and the trial's own
   training time (the sum of its per-task times, from metrics.json);
2. N trials (seeds 1..N) on the local pool with W workers: wall time against N × single / W
   (goal ≤ 1.2×; both forms of "single" are printed);
3. the same N trials as Ray tasks on a local Ray with W CPUs (ray.init included): overhead over the
   pool (goal ≤ 15 %);
4. kill -9 of the sweep command mid-way, then the same command again: which trials were finished,
   running (and how many of their tasks were saved), and how many completed tasks the restart computed
   again (goal: none; at most the running task of each running trial is lost).

    python benchmarks/sweep_speed.py [--trials 8] [--workers 2] [--no-ray] [--no-kill] [--keep DIR]

Prints the machine's load average before and after: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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


def _finished_tasks(events: bytes) -> list[int]:
    """Task indices of the TaskFinished events of an events.jsonl's bytes, in order (torn lines skipped)."""
    out = []
    for line in events.decode("utf-8", "replace").splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and d.get("kind") == "task_finished":
            out.append(int(d["task"]))
    return out


def kill_and_resume(tmp: Path, spec: Path, workers: int) -> None:
    """kill -9 the sweep once two trials have finished and the running ones have saved a task; re-run it."""
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
        now = (out / n / "events.jsonl").read_bytes()
        appended = now.startswith(events)  # resumed in the same log, else started again in a new one
        tasks = _finished_tasks(now)
        redone = [t for t in (tasks[len(_finished_tasks(events)):] if appended else tasks) if t < k]
        recomputed += len(redone)
        print(f"  {n}: {k} task(s) saved at the kill, {'resumed' if appended else 'restarted from its first task'}; "
              f"completed tasks computed again: {len(redone)}")
    print(f"completed tasks computed again after kill -9: {recomputed} (goal 0: at most each running trial's "
          "unfinished task is lost)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--no-kill", action="store_true")
    p.add_argument("--keep", help="keep the sweep folders here")
    a = p.parse_args()
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="sweep-speed-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} CPU cores (a shared machine)")
    one = _sweep(_spec(tmp, "1"), tmp / "single", 1)
    train = sum(_metrics(tmp / "single" / "seed=1")["task_seconds"])
    print(f"single trial alone: command {one:.1f} s, the trial's own training {train:.1f} s")
    spec = _spec(tmp, f"1-{a.trials}")
    pool = _sweep(spec, tmp / "pool", a.workers)
    ideal = a.trials * one / a.workers
    print(f"local pool, {a.trials} trials on {a.workers} workers: {pool:.1f} s = {pool / ideal:.2f} × "
          f"({a.trials} × {one:.1f} s / {a.workers}) [goal ≤ 1.2]; against the trial's own time: "
          f"{pool / (a.trials * train / a.workers):.2f} ×")
    if not a.no_ray:
        ray = _sweep(spec, tmp / "ray", a.workers, ray=True)
        print(f"Ray (local, {a.workers} CPUs, ray.init included), {a.trials} trials: {ray:.1f} s = "
              f"{100 * (ray / pool - 1):+.1f} % over the local pool [goal ≤ 15 %]")
    if not a.no_kill:
        kill_and_resume(tmp, spec, a.workers)
    print(f"load average after: {os.getloadavg()}")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
