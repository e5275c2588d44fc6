"""The run queue (`core.engine.run_queue`): order, capacity, per-visitor limit, cancel, reorder, start
estimates, a failing start, and real training runs started through the launcher's queue in order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.engine import launcher
from core.engine.run_queue import DEFAULT_STEP_S, RunQueue
from tests.conftest import tiny_config


class FakeRuns:
    """Stands in for the launcher: started runs train until `end` is called."""

    def __init__(self) -> None:
        self.live: dict[str, tuple[int, int, float]] = {}
        self.started: list[str] = []
        self.fail_next = False

    def start(self, configs, root, threads, group) -> list[str]:
        if self.fail_next:
            self.fail_next = False
            raise ValueError("the data file vanished")
        dirs = [f"{root}/run{len(self.started) + k}" for k in range(len(configs))]
        for d, c in zip(dirs, configs):
            self.live[d] = (0, c.data.tasks * c.train.iters_per_task, 0.0)
        self.started += dirs
        return dirs

    def end(self, d: str) -> None:
        del self.live[d]


def _queue(capacity: int = 2, per_owner: int | None = 1) -> tuple[RunQueue, FakeRuns]:
    runs = FakeRuns()
    return RunQueue(runs.start, lambda: dict(runs.live), capacity=capacity, per_owner=per_owner), runs


def test_entries_start_in_order_as_slots_free() -> None:
    q, runs = _queue(capacity=2)
    cfg = tiny_config(n_tasks=2, iters=100)
    a, b, c, d = (q.submit([cfg], "/r", owner=o) for o in "abcd")
    assert [a.state, b.state, c.state, d.state] == ["started", "started", "queued", "queued"]
    assert q.position(c.id) == 1 and q.position(d.id) == 2 and q.position(a.id) is None
    runs.end(a.run_dirs[0])
    assert q.advance() == [c] and c.state == "started" and q.position(d.id) == 1
    assert runs.started == ["/r/run0", "/r/run1", "/r/run2"]


def test_one_entry_per_visitor_unless_lifted_and_groups_need_their_slots() -> None:
    q, runs = _queue(capacity=2)
    cfg = tiny_config(n_tasks=1, iters=10)
    q.submit([cfg], "/r", owner="ann")
    with pytest.raises(ValueError, match="at most 1 per visitor"):
        q.submit([cfg], "/r", owner="ann")
    q.submit([cfg], "/r", owner="presenter", unlimited=True)
    pair = q.submit([cfg, cfg], "/r", owner="presenter", unlimited=True)  # a compare group: 2 slots at once
    assert pair.state == "queued"
    runs.end(runs.started[0])
    assert q.advance() == [] and pair.state == "queued"  # one slot free is not enough
    runs.end(runs.started[1])
    assert q.advance() == [pair] and len(pair.run_dirs) == 2
    with pytest.raises(ValueError, match="need 3 training slots and this machine has 2"):
        q.submit([cfg] * 3, "/r", owner="bob")


def test_cancel_reorder_and_a_failing_start() -> None:
    q, runs = _queue(capacity=1, per_owner=None)
    cfg = tiny_config(n_tasks=1, iters=10)
    first, a, b, c = (q.submit([cfg], "/r", owner="x") for _ in range(4))
    q.move(c.id, 1)
    assert [e.id for e in q.queued()] == [c.id, a.id, b.id]
    assert q.cancel(a.id) and not q.cancel(a.id) and not q.cancel(first.id)  # only a waiting entry
    with pytest.raises(ValueError, match="no queued run"):
        q.move(a.id, 1)
    runs.fail_next = True
    runs.end(first.run_dirs[0])
    q.advance()
    assert c.state == "failed" and c.error == "the data file vanished" and b.state == "started"


def test_start_estimates_follow_the_runs_pace() -> None:
    q, runs = _queue(capacity=1, per_owner=None)
    cfg = tiny_config(n_tasks=2, iters=100)  # 200 steps
    first = q.submit([cfg], "/r", owner="x")
    second, third = q.submit([cfg], "/r", owner="x"), q.submit([cfg], "/r", owner="x")
    assert q.expected_start_s(second.id) == pytest.approx(200 * DEFAULT_STEP_S)  # no pace seen yet
    runs.live[first.run_dirs[0]] = (50, 200, 5.0)  # 0.1 s a step, 150 steps left
    assert q.expected_start_s(second.id) == pytest.approx(15.0)
    assert q.expected_start_s(third.id) == pytest.approx(15.0 + 200 * 0.1)
    assert q.expected_start_s(first.id) is None


def test_real_runs_queue_and_all_finish_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher.QUEUE, "capacity", 1)
    entries = [launcher.submit([tiny_config(n_tasks=1, iters=30, seed=s)], tmp_path, owner=f"v{s}") for s in (1, 2, 3)]
    assert [e.state for e in entries] == ["started", "queued", "queued"]
    deadline = time.time() + 300  # a loaded 2-core machine: generous
    while any(e.state == "queued" for e in entries) and time.time() < deadline:
        time.sleep(0.2)
    runs = [launcher.get(e.run_dirs[0]) for e in entries]
    for run in runs:
        assert run.join(300) and run.status() == "finished"
    started = [r.started_at for r in runs]
    assert started == sorted(started)  # in the order submitted
    ends = [r.events()[-1] for r in runs]
    assert all(e.result["tasks_done"] == 1 for e in ends)
