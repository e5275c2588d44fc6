"""Interrupted runs: a run whose process died shows as "interrupted" (its lock is free), and
`resume_training` / `python -m core train --resume RUN` continues it from its last completed task with
results identical to a run that was never interrupted (same seed, same thread count)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core import events as ev
from core.cli import main
from core.engine.loop import run_training
from core.engine.resume import check_resumable, resume_training
from core.presets import make_config
from core.runs import LOCK_FILE, RunError, lock_held, read_events, summarize_run
from tests.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]


def _metrics(d: Path) -> dict:
    return json.loads((d / "metrics.json").read_text())


def _weights_equal(a: Path, b: Path) -> bool:
    wa, wb = load_file(str(a / "weights.safetensors")), load_file(str(b / "weights.safetensors"))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _stop_after(steps: int):
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > steps

    return should_stop


def _as_killed(d: Path) -> None:
    """Make a stopped run's folder look like one whose process was killed: status still "running"."""
    m = _metrics(d)
    m["status"] = "running"
    (d / "metrics.json").write_text(json.dumps(m))


def _one_run_in_events(d: Path, n_tasks: int) -> list[ev.Event]:
    events = read_events(d)
    assert sum(isinstance(e, ev.RunStarted) for e in events) == 1 and isinstance(events[0], ev.RunStarted)
    assert [e.task for e in events if isinstance(e, ev.TaskStarted)] == list(range(n_tasks))
    assert [e.task for e in events if isinstance(e, ev.TaskFinished)] == list(range(n_tasks))
    assert sum(ev.is_terminal(e) for e in events) == 1 and ev.is_terminal(events[-1])
    return events


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted 3-task run, per method."""
    return tmp_path_factory.mktemp("ref")


def _reference(root: Path, method: str) -> Path:
    d = root / method
    if not d.exists():
        run_training(tiny_config(method, iters=20, n_tasks=3), run_dir=d)
    return d


@pytest.mark.parametrize("method", ["hypermask", "finetune", "hnet"])
def test_resume_after_an_interruption_in_task_1_is_identical(reference, tmp_path, method: str) -> None:
    ref = _reference(reference, method)
    d = tmp_path / "run"
    run_training(tiny_config(method, iters=20, n_tasks=3), should_stop=_stop_after(27), run_dir=d)
    _as_killed(d)
    s = summarize_run(d)
    assert s.status == "interrupted" and s.tasks_done == 1 and _metrics(d)["status"] == "interrupted"
    res = resume_training(d)
    assert res.error is None and not res.stopped and res.metrics["status"] == "finished"
    m, r = _metrics(d), _metrics(ref)
    for key in ("acc_matrix", "next_task_acc", "random_init_acc", "mask_stats", "task_inference", "steps", "avg_acc"):
        assert m[key] == r[key], key
    assert _weights_equal(d, ref)
    if method == "hypermask":  # the own-task mask snapshots of every task, the one before the resume included
        assert load_file(str(d / "task_masks.safetensors")).keys() == load_file(str(ref / "task_masks.safetensors")).keys()
    _one_run_in_events(d, 3)


def test_a_run_with_no_completed_task_restarts_from_task_0(reference, tmp_path) -> None:
    ref = _reference(reference, "hypermask")
    d = tmp_path / "run"
    run_training(tiny_config(iters=20, n_tasks=3), should_stop=_stop_after(5), run_dir=d)
    assert _metrics(d)["tasks_done"] == 0
    assert resume_training(d).metrics["acc_matrix"] == _metrics(ref)["acc_matrix"]
    assert _weights_equal(d, ref)
    _one_run_in_events(d, 3)


def test_an_interruption_between_the_weights_and_metrics_json_loses_nothing(reference, tmp_path) -> None:
    """The checkpoint is in weights.safetensors, written first at a task's end: a kill before
    metrics.json, task_masks.safetensors and the TaskFinished event followed still resumes after
    that task, and every reader then sees its row."""
    ref = _reference(reference, "hypermask")
    d = tmp_path / "run"
    run_training(tiny_config(iters=20, n_tasks=3), should_stop=_stop_after(47), run_dir=d)  # in task 2
    m = _metrics(d)
    assert m["tasks_done"] == 2
    m.update(status="running", tasks_done=1)  # metrics.json as written after task 0
    m["acc_matrix"][1] = [None] * 3
    (d / "metrics.json").write_text(json.dumps(m))
    lines = (d / "events.jsonl").read_text().splitlines()
    finished_1 = next(i for i, line in enumerate(lines) if '"task_finished"' in line and '"task":1' in line)
    (d / "events.jsonl").write_text("\n".join(lines[:finished_1]) + "\n" + '{"kind": "step_lo')  # and a torn line
    from safetensors.torch import save_file
    masks = load_file(str(d / "task_masks.safetensors"))
    save_file({k: v for k, v in masks.items() if not k.startswith("task1/")}, str(d / "task_masks.safetensors"))
    assert check_resumable(d).tasks_done == 2
    resume_training(d)
    assert _metrics(d)["acc_matrix"] == _metrics(ref)["acc_matrix"] and _weights_equal(d, ref)
    own, own_ref = load_file(str(d / "task_masks.safetensors")), load_file(str(ref / "task_masks.safetensors"))
    assert own.keys() == own_ref.keys() and all(torch.equal(own[k], own_ref[k]) for k in own)
    _one_run_in_events(d, 3)


def test_what_cannot_be_resumed_is_one_line(reference, tmp_path) -> None:
    ref = _reference(reference, "hypermask")
    with pytest.raises(RunError, match=r"^hypermask has finished all its tasks; there is nothing to resume$"):
        resume_training(ref)
    d = tmp_path / "run"
    run_training(tiny_config(iters=20, n_tasks=3), should_stop=_stop_after(27), run_dir=d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["config"]["train"]["iters_per_task"] = 30
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunError, match=r"^config.json does not match the run's checkpoint \(train.iters_per_task: 30 "
                                       r"in config.json, 20 in the checkpoint\)"):
        resume_training(d)
    cfg["config"]["train"]["iters_per_task"] = 20
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "weights.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(RunError, match=r"^weights.safetensors is not a valid safetensors file"):
        resume_training(d)
    (d / "weights.safetensors").unlink()
    with pytest.raises(RunError, match=r"^weights.safetensors is missing$"):
        resume_training(d)
    with pytest.raises(RunError, match="is not a run folder"):
        resume_training(tmp_path / "nowhere")
    with pytest.raises(RunError, match="threads 0"):
        resume_training(d, threads=0)


def _hold_lock(folder: Path) -> subprocess.Popen:
    """Another process that holds the run's lock, as a live training process does."""
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); "
            "print('locked', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code, str(folder / LOCK_FILE)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "locked"
    return p


def test_a_live_run_is_running_and_cannot_be_resumed_until_its_process_dies(tmp_path) -> None:
    d = tmp_path / "run"
    run_training(tiny_config(iters=20, n_tasks=3), should_stop=_stop_after(27), run_dir=d)
    _as_killed(d)
    holder = _hold_lock(d)
    try:
        assert lock_held(d) is True and summarize_run(d).status == "running"
        with pytest.raises(RunError, match="another process is training into this folder"):
            resume_training(d)
    finally:
        holder.kill()
        holder.wait()
    assert lock_held(d) is False and summarize_run(d).status == "interrupted"
    assert resume_training(d).metrics["status"] == "finished"


def test_a_live_run_records_its_process_in_the_lock(tmp_path) -> None:
    seen = []

    def emit(e: ev.Event) -> None:
        if isinstance(e, ev.TaskFinished):
            seen.append(((tmp_path / "r" / LOCK_FILE).read_text(), lock_held(tmp_path / "r"),
                         summarize_run(tmp_path / "r").status))

    run_training(tiny_config(iters=10), emit=emit, run_dir=tmp_path / "r")
    assert seen and all(text.startswith(f"pid {os.getpid()} on ") and held and status == "running"
                        for text, held, status in seen)
    assert (tmp_path / "r" / LOCK_FILE).read_text() == "" and lock_held(tmp_path / "r") is False


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_resume_after_kill_9_gives_the_accuracy_matrix_of_an_uninterrupted_run(tmp_path, capsys) -> None:
    """A CLI run on the Split Digits demo preset killed with SIGKILL during a task after its first: it is
    "interrupted" in `python -m core list`, `train --resume` trains only the task it was in and the
    ones after, and the result equals an uninterrupted run with the same seed and thread count."""
    ref = tmp_path / "reference"
    torch.set_num_threads(1)  # as the CLI runs below (--threads 1)
    run_training(make_config("split-digits", "hypermask", "demo", seed=3), run_dir=ref)
    d = tmp_path / "runs" / "killed"
    proc = _cli("train", "--benchmark", "split-digits", "--preset", "demo", "--seed", "3", "--threads", "1",
                "--quiet", "--out", str(d))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _metrics(d)["tasks_done"] >= 1:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    k = _metrics(d)["tasks_done"]
    assert 1 <= k < 5, "the run was not killed during a task after its first"
    rows = _metrics(d)["acc_matrix"][:k]
    assert main(["list", str(d.parent)]) == 0
    out, err = capsys.readouterr()
    assert f"killed  interrupted  {k:>3}/5  hypermask  split-digits" in out, out
    assert f"continue with: python -m core train --resume {d.parent}/RUN" in err
    assert (d / LOCK_FILE).read_text() == ""  # the dead process's record is cleared
    assert main(["watch", str(d), "--quiet"]) == 1  # watching a dead run ends at once, and says so
    assert f"was interrupted (its process ended without a result); continue it with: python -m core train " \
           f"--resume {d}" in capsys.readouterr().err
    resumed = _cli("train", "--resume", str(d))
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"after {k} of 5 tasks; task {k} starts from its beginning" in err
    m, r = _metrics(d), _metrics(ref)
    assert m["status"] == "finished" and m["acc_matrix"][:k] == rows  # the completed tasks were kept
    assert m["acc_matrix"] == r["acc_matrix"] and m["steps"] == r["steps"] == 750  # task k lost, and only it
    assert _weights_equal(d, ref)
    events = _one_run_in_events(d, 5)
    assert [e.global_step for e in events if isinstance(e, ev.TaskStarted)] == [150 * t for t in range(5)]
