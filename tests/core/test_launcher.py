"""Starting and steering runs without a UI (core.engine.launcher): the limit and every refusal before
a folder is made, a compare group that trains to the end in child processes, and stop."""

import os
import threading
import time

import pytest
import torch

from core.engine import launcher
from tests.conftest import tiny_config

#: Generous: a training process imports torch first (about 13 s on a loaded 2-core machine).
WAIT_S = 240


def test_refusals_come_before_any_folder(tmp_path) -> None:
    root = tmp_path / "runs"
    with pytest.raises(ValueError, match=f"at most {launcher.MAX_LIVE_RUNS} runs may train at once"):
        launcher.start_runs([tiny_config()] * (launcher.MAX_LIVE_RUNS + 1), root)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' was asked for"):
            launcher.start_runs([tiny_config(), tiny_config(device="cuda")], root)
    assert not root.exists() or not any(root.iterdir())
    with pytest.raises(ValueError, match="unknown action 'jump'"):
        launcher.control([], "jump")


def test_a_group_trains_in_child_processes_and_is_found_again(tmp_path) -> None:
    configs = [tiny_config(method="hypermask", iters=20), tiny_config(method="finetune", iters=20)]
    dirs = launcher.start_runs(configs, tmp_path / "runs", threads=1, group=True)
    assert len(dirs) == 2 and all(launcher.get(d) is not None for d in dirs)
    name = launcher.group_url(dirs)
    assert launcher.group_named(name) == dirs and launcher.group_named("nope") is None
    assert launcher.newest_group(lambda d: d in dirs) == dirs
    assert all(launcher.get(d).join(WAIT_S) for d in dirs)
    assert [launcher.get(d).status() for d in dirs] == ["finished", "finished"]
    assert all(launcher.get(d).pid not in (None, os.getpid()) for d in dirs)  # each trained in its own process
    assert launcher.newest_group(lambda d: d in dirs and launcher.get(d).alive) == []  # none live any more
    assert set(dirs) <= set(launcher.all_runs()) and not set(dirs) & set(launcher.active())


def test_stop_ends_a_run_saved_as_stopped(tmp_path) -> None:
    [d] = launcher.start_runs([tiny_config(iters=100_000)], tmp_path / "runs", threads=1)
    run = launcher.get(d)
    for _ in range(WAIT_S * 10):  # until it trains (its first events have arrived)
        if run.n_events > 2 or not run.alive:
            break
        run.join(0.1)
    launcher.control([d], "stop")
    assert run.join(WAIT_S) and run.status() == "stopped"


def test_prewarm_soon_starts_one_timer_however_often_it_is_called(monkeypatch) -> None:
    calls: list[float] = []
    done = threading.Event()
    monkeypatch.setattr(launcher, "prewarm", lambda: (calls.append(time.monotonic()), done.set()))
    launcher.prewarm_soon.cache_clear()
    try:
        for _ in range(5):  # as every page of the app calls it
            launcher.prewarm_soon(0.05)
        assert done.wait(30)
        time.sleep(0.3)
        assert len(calls) == 1
    finally:
        launcher.prewarm_soon.cache_clear()
