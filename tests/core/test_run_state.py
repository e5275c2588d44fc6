"""Run state rebuilt from event records: the same accuracy matrix as metrics.json, the forgetting
curves of every task, and only the last run of a log holding several."""

import dataclasses

from core import run_state
from core.engine.loop import run_training
from core.runs import read_events
from tests.conftest import tiny_config


def test_state_from_the_run_folder_equals_what_the_loop_saved(tmp_path) -> None:
    res = run_training(tiny_config(n_tasks=3, iters=20), run_dir=tmp_path / "r")
    records = read_events(tmp_path / "r")
    assert records == [dataclasses.asdict(e) for e in res.events]  # the folder is the one channel
    assert run_state.accuracy_matrix(records) == res.metrics["acc_matrix"]
    assert run_state.run_info(records) == (3, 20)
    assert run_state.last_step(records) == 60 and run_state.terminal(records)["kind"] == "run_finished"
    assert [t for t, _ in run_state.task_switches(records)] == [0, 1, 2]
    curves = run_state.eval_curves(records)
    assert sorted(curves) == [0, 1, 2]
    assert len(curves[0]["x"]) == 3 * len(curves[2]["x"])  # task 0 is evaluated from the start on
    assert curves[2]["train_task"] == [2] * len(curves[2]["x"])


def test_a_run_in_progress_and_a_log_of_two_runs() -> None:
    first = [dataclasses.asdict(e) for e in run_training(tiny_config(n_tasks=2, iters=10)).events]
    partial = [r for r in first if r["kind"] != "run_finished"]
    partial = partial[: max(i for i, r in enumerate(partial) if r["kind"] == "task_finished")]  # task 1 unfinished
    assert run_state.terminal(partial) is None
    m = run_state.accuracy_matrix(partial)
    assert len(m) == 2 and m[0][1] is None and m[1] == [None, None]
    second = [dataclasses.asdict(e) for e in run_training(tiny_config(n_tasks=2, iters=10, seed=2)).events]
    assert run_state.current_run(first + second) == second
    assert run_state.padded_matrix([[0.5], [0.25, 0.75]], 3) == [[0.5, None, None], [0.25, 0.75, None],
                                                                [None, None, None]]
