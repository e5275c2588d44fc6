"""Typed events read from a run folder (`core.runs.EventLog`: incrementally, complete lines only, bad
lines skipped, bounded) and the run state rebuilt from them: the same accuracy matrix as metrics.json,
the forgetting curves of every task, and only the last run of a log holding several."""

import json

import pytest

from core import events as ev, run_state
from core.engine.loop import run_training
from core.runs import EventLog, read_events
from core.runs import event_log
from tests.conftest import tiny_config


def test_state_from_the_run_folder_equals_what_the_loop_saved(tmp_path) -> None:
    res = run_training(tiny_config(n_tasks=3, iters=20), run_dir=tmp_path / "r")
    records = read_events(tmp_path / "r")
    assert records == res.events  # the folder is the one channel: the same typed events
    assert run_state.accuracy_matrix(records) == res.metrics["acc_matrix"]
    assert run_state.run_info(records) == (3, 20)
    assert run_state.last_step(records) == 60 and isinstance(run_state.terminal(records), ev.RunFinished)
    assert [t for t, _ in run_state.task_switches(records)] == [0, 1, 2]
    curves = run_state.eval_curves(records)
    assert sorted(curves) == [0, 1, 2]
    assert len(curves[0]["x"]) == 3 * len(curves[2]["x"])  # task 0 is evaluated from the start on
    assert curves[2]["train_task"] == [2] * len(curves[2]["x"])


def test_a_run_in_progress_and_a_log_of_two_runs() -> None:
    first = run_training(tiny_config(n_tasks=2, iters=10)).events
    partial = [e for e in first if not isinstance(e, ev.RunFinished)]
    partial = partial[: max(i for i, e in enumerate(partial) if isinstance(e, ev.TaskFinished))]  # task 1 unfinished
    assert run_state.terminal(partial) is None
    m = run_state.accuracy_matrix(partial)
    assert len(m) == 2 and m[0][1] is None and m[1] == [None, None]
    second = run_training(tiny_config(n_tasks=2, iters=10, seed=2)).events
    assert run_state.current_run(first + second) == second
    assert run_state.padded_matrix([[0.5], [0.25, 0.75]], 3) == [[0.5, None, None], [0.25, 0.75, None],
                                                                [None, None, None]]


def test_scenarios_put_task_id_given_beside_task_id_inferred() -> None:
    events = run_training(tiny_config(n_tasks=2, iters=10)).events
    sc = run_state.scenarios(events)
    final = run_state.final_metrics(events)
    assert sc["given"] == final["acc_matrix"][-1] and sc["given_acc"] == pytest.approx(final["avg_acc"])
    assert sc["inferred"] == final["task_inference"]["cil_per_task"] and sc["reason"] is None
    assert sum(map(sum, sc["confusion"])) == final["task_inference"]["n_samples"]
    assert run_state.scenarios(events[:-1]) is None  # not finished: nothing to compare yet
    old = ev.RunFinished({**final, "task_inference": None}, False)  # a run saved before it was recorded
    sc_old = run_state.scenarios([*events[:-1], old])
    assert sc_old["inferred"] is None and "saved before task inference" in sc_old["reason"]


def test_event_log_reads_complete_lines_as_they_arrive(tmp_path) -> None:
    """A reader following a run: nothing before the file exists, a line being written is read once
    complete, lines that are not valid events are skipped and counted, never raised."""
    log = EventLog(tmp_path)
    assert log.read_new() == []
    started = ev.RunStarted(config={}, run_dir=str(tmp_path), n_tasks=2, iters_per_task=5)
    step = ev.StepLogged(task=0, step=0, global_step=0, losses={"ce": 1.0})
    f = open(tmp_path / "events.jsonl", "ab", buffering=0)
    f.write((ev.to_json(started) + "\n" + ev.to_json(step)[:20]).encode())
    assert log.read_new() == [started]
    assert log.read_new() == []  # the torn line waits
    f.write((ev.to_json(step)[20:] + "\n").encode())
    assert log.read_new() == [step]
    bad = ['not json', '[1]', '{"kind": "explode"}', '{"kind": "task_started", "task": "0", "global_step": 0}',
           '{"kind": "evaluated", "task": 0, "step": 1, "global_step": 1, "accuracies": ["x"]}',
           "[" * 100000, '\udcff']
    f.write(("\n".join(bad) + "\n").encode("utf-8", "surrogateescape") + b"\xff\xfe\n")
    assert log.read_new() == [] and log.skipped == len(bad) + 1
    f.write((ev.to_json(step) + "\n").encode())
    assert log.read_new() == [step]
    f.close()
    assert read_events(tmp_path) == [started, step, step]


def test_event_log_is_bounded(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An absurdly long line (or an endless file) is never read into memory at once: it is skipped
    chunk by chunk; a file that shrank (replaced) is read again from its start."""
    monkeypatch.setattr(event_log, "READ_CHUNK", 1000)
    step = ev.StepLogged(task=0, step=0, global_step=0, losses={"ce": 1.0})
    (tmp_path / "events.jsonl").write_text("x" * 5000 + "\n" + ev.to_json(step) + "\n")
    log = EventLog(tmp_path)
    assert log.read_all() == [step] and log.offset == (tmp_path / "events.jsonl").stat().st_size
    (tmp_path / "events.jsonl").write_text(ev.to_json(step) + "\n")
    assert log.read_new() == [step]


def test_events_round_trip_and_wrong_types_are_one_line_errors() -> None:
    e = ev.TaskFinished(task=1, global_step=9, acc_row=[0.5, None], mask_stats=[{"layer": "fc1"}], seconds=0.5)
    assert ev.from_json(ev.to_json(e)) == e
    for line, match in [('{"kind": "task_finished"}', "lacks 'task'"),
                        ('{"kind": "run_failed", "message": 3, "traceback": ""}', "message"),
                        ('{"kind": "task_started", "task": true, "global_step": 0}', "task"),
                        (json.dumps({"kind": "x" * 1000}), "unknown event kind")]:
        with pytest.raises(ValueError, match=match) as err:
            ev.from_json(line)
        assert len(str(err.value)) < 120
