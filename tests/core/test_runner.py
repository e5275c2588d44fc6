"""Training runs in processes of their own (`core.engine.runner.BackgroundRun`, forked from the
forkserver of `core.engine.processes`, running `core.engine.worker.train`): the same events and results
as training in this process, everything read back through the run folder, pause / step / stop over
the command pipe, crashes and bad requests."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import types
from pathlib import Path
from typing import Callable

import pytest

from core import events as ev
from core.engine import processes
from core.engine.control import RunControl
from core.engine.loop import run_training
from core.engine.runner import BackgroundRun, RunRegistry
from core.engine.worker import parse_request, read_commands
from core.runs import EventLog, claim_run_dir
from tests.conftest import tiny_config

# Long enough to pause / step / stop mid-task (~1.5 ms a step), short enough to finish quickly.
LONG = dict(iters=600, n_tasks=2)
# Generous: the first run of a test session waits for the forkserver's imports (about 13 s on a
# loaded 2-core machine).
START_S = 120.0


def _wait_for(pred: Callable[[], bool], timeout: float = START_S) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def _wait_quiet(run: BackgroundRun, quiet: float = 0.5, timeout: float = 20.0) -> int:
    """Wait until no event arrived for `quiet` seconds; returns n_events."""
    end = time.monotonic() + timeout
    n, since = run.n_events, time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.02)
        if run.n_events != n:
            n, since = run.n_events, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return n
    raise AssertionError("the run kept emitting events")


def _folder(tmp_path: Path, name: str = "run") -> Path:
    """A run folder claimed as the app claims one."""
    d = tmp_path / name
    claim_run_dir(d)
    return d


def _started_run(tmp_path: Path, **cfg_kw: int) -> BackgroundRun:
    """A run that has logged its first step."""
    run = BackgroundRun(tiny_config(**cfg_kw), _folder(tmp_path), threads=1).start()
    assert _wait_for(lambda: any(isinstance(e, ev.StepLogged) for e in run.events()))
    return run


def _metrics_status(run_dir: Path) -> str:
    return json.loads((run_dir / "metrics.json").read_text())["status"]


def test_run_control_state_machine() -> None:
    c = RunControl()
    assert not c.paused and not c.stopped and c.commands() == [] and c.should_stop() is False
    c.pause()
    assert c.paused and c.commands() == ["pause"]
    released = threading.Event()
    t = threading.Thread(target=lambda: (c.should_stop(), released.set()), daemon=True)
    t.start()
    assert not released.wait(0.3)  # should_stop blocks while paused
    c.step()
    assert released.wait(2) and not c.paused and c.commands() == ["step"]
    c.on_event(ev.StepLogged(0, 1, 1, {}))
    assert not c.paused
    c.on_event(ev.Evaluated(0, 10, 10, [0.5]))
    assert c.paused  # a step ends at the next evaluation
    c.resume()
    c.on_event(ev.Evaluated(0, 20, 20, [0.5]))
    assert not c.paused  # no step pending: evaluations do not pause
    c.pause()
    c.apply("stop")
    assert c.stopped and not c.paused and c.should_stop() is True and c.commands() == ["stop"]
    with pytest.raises(ValueError, match="unknown command"):
        c.apply("explode")


def test_process_run_matches_a_run_in_this_process(tmp_path: Path) -> None:
    """The run folder carries everything: the events read back from it equal those of the same run
    trained here, and a second reader of the folder sees exactly what the runner saw."""
    cfg = tiny_config()
    t0 = time.perf_counter()
    run = BackgroundRun(cfg, _folder(tmp_path), threads=1).start()
    assert _wait_for(lambda: run.n_events > 0)
    started = time.perf_counter() - t0
    here = run_training(cfg).events
    assert run.join(START_S)
    print(f"\ntraining process: RunStarted {started:.2f} s after start()")
    got = run.events()
    assert [e.kind for e in got] == [e.kind for e in here]
    assert isinstance(got[-1], ev.RunFinished) and not got[-1].stopped
    assert got[-1].result["acc_matrix"] == here[-1].result["acc_matrix"]
    assert [e.losses for e in got if isinstance(e, ev.StepLogged)] == \
        [e.losses for e in here if isinstance(e, ev.StepLogged)]
    assert EventLog(run.run_dir).read_all() == got
    assert run.status() == "finished" and not run.alive and run.pid not in (None, os.getpid())
    assert _metrics_status(run.run_dir) == "finished"


def test_process_pause_then_resume_finishes(tmp_path: Path) -> None:
    run = _started_run(tmp_path, **LONG)
    run.pause()
    assert run.paused and run.status() == "paused"
    n = _wait_quiet(run)  # the step in flight lands, then nothing
    time.sleep(1.0)
    assert run.n_events == n and run.status() == "paused" and run.alive
    run.resume()
    assert run.join(60)
    events = run.events()
    assert isinstance(events[-1], ev.RunFinished) and not events[-1].stopped
    assert run.status() == "finished"


def test_process_step_runs_to_the_next_evaluation(tmp_path: Path) -> None:
    run = _started_run(tmp_path, **LONG)
    run.pause()
    n = _wait_quiet(run)
    last_step = max(e.global_step for e in run.events() if isinstance(e, ev.StepLogged))
    run.step()
    assert _wait_for(lambda: any(isinstance(e, ev.Evaluated) for e in run.events()[n:]))
    assert _wait_quiet(run) and run.paused and run.status() == "paused"
    new = run.events()[n:]
    evals = [e for e in new if isinstance(e, ev.Evaluated)]
    assert len(evals) == 1 and new[-1] is evals[0]  # exactly the next evaluation, then paused
    assert evals[0].global_step > last_step and evals[0].step % 10 == 0
    assert evals[0].global_step - last_step <= 10  # eval_every = 10
    run.stop()
    assert run.join(30) and run.status() == "stopped"


def test_process_stop_saves_a_stopped_run(tmp_path: Path) -> None:
    registry = RunRegistry()
    folder = _folder(tmp_path)
    run = registry.start(tiny_config(**LONG), folder, threads=1)
    assert registry.active() == {str(folder.resolve()): run}
    assert _wait_for(lambda: any(isinstance(e, ev.StepLogged) for e in run.events()))
    run.stop()
    assert run.status() == "stopping" or not run.alive
    assert run.join(30)
    events = run.events()
    assert sum(ev.is_terminal(e) for e in events) == 1
    assert isinstance(events[-1], ev.RunFinished) and events[-1].stopped
    assert run.status() == "stopped" and _metrics_status(folder) == "stopped"
    assert not registry.active()


def test_process_killed_by_sigkill_ends_in_one_run_failed(tmp_path: Path) -> None:
    """A killed training process: one RunFailed naming the signal, and the run is "interrupted" (it
    can be resumed, tests/core/test_resume.py), here and in its folder."""
    run = _started_run(tmp_path, **LONG)
    assert run.pid is not None
    os.kill(run.pid, signal.SIGKILL)
    assert run.join(30)
    events = run.events()
    failed = [e for e in events if ev.is_terminal(e)]
    assert len(failed) == 1 and events[-1] is failed[0] and isinstance(failed[0], ev.RunFailed)
    assert "exit code -9" in failed[0].message and "SIGKILL" in failed[0].message
    assert run.status() == "interrupted" and not run.alive
    run.pause(), run.step(), run.resume(), run.stop()  # an ended process's pipe never raises
    assert run.status() == "interrupted" and run.n_events == len(events)
    # the folder records the interruption too, once
    assert _metrics_status(run.run_dir) == "interrupted"
    assert EventLog(run.run_dir).read_all() == events


def test_process_sigterm_saves_a_stopped_run(tmp_path: Path) -> None:
    """SIGTERM (e.g. sent to the server's whole process group) ends the run like Ctrl-C: saved as stopped."""
    run = _started_run(tmp_path, **LONG)
    os.kill(run.pid, signal.SIGTERM)  # type: ignore[arg-type]
    assert run.join(30)
    assert isinstance(run.events()[-1], ev.RunFinished) and run.events()[-1].stopped
    assert run.status() == "stopped" and _metrics_status(run.run_dir) == "stopped"


def test_end_of_the_command_pipe_is_a_stop() -> None:
    """The parent closing its end of the pipe (or dying) stops the run; unknown commands are ignored."""
    receive, send = processes.context().Pipe(duplex=False)
    control = RunControl()
    reader = threading.Thread(target=read_commands, args=(receive, control), daemon=True)
    reader.start()
    send.send_bytes(b"explode")
    send.send_bytes(b"pause")
    assert _wait_for(lambda: control.paused, 10)
    send.close()
    reader.join(10)
    assert not reader.is_alive() and control.stopped


@pytest.mark.parametrize("request_, match", [
    ([1, 2], "expected a mapping"), ({"cfg": {}}, "unknown key"), ({"run_dir": "x"}, "missing key 'config'"),
    ({"config": {}, "run_dir": ""}, "run_dir must be"), ({"config": {}, "run_dir": None}, "run_dir must be"),
    ({"config": {}, "run_dir": "X", "threads": 0}, "threads"),
    ({"config": {}, "run_dir": "X", "threads": 100000}, "threads"),
    ({"config": {"bogus": {}}, "run_dir": "X"}, "bad config"), ("FILE", "run_dir"), ("RUN", "run_dir")])
def test_bad_requests_are_refused(request_: object, match: str, tmp_path: Path) -> None:
    """A file, or a folder that already holds a run, is never written over; every refusal is one line."""
    target = tmp_path / "x"
    if request_ in ("FILE", "RUN"):
        if request_ == "FILE":
            target.write_text("not a folder")
        else:
            target.mkdir()
            (target / "config.json").write_text("{}")
        request_ = {"config": {}, "run_dir": str(target)}
    elif isinstance(request_, dict) and request_.get("run_dir") == "X":
        request_ = {**request_, "run_dir": str(_folder(tmp_path, "x"))}
    with pytest.raises(ValueError, match=match) as e:
        parse_request(request_, claimed=True)  # type: ignore[arg-type]
    assert "\n" not in str(e.value)


def test_a_folder_not_claimed_for_the_run_is_refused(tmp_path: Path) -> None:
    """A run folder that holds another run: refused before any process starts (the training process
    checks it again), the run ends failed, and nothing is written into that folder."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    run = BackgroundRun(tiny_config(), other, threads=1).start()
    assert run.join(10) and run.status() == "failed" and run.pid is None
    (failed,) = run.events()
    assert isinstance(failed, ev.RunFailed) and "run_dir" in failed.message
    assert [p.name for p in other.iterdir()] == ["config.json"]


def test_process_that_cannot_start_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoProcesses:
        Pipe = staticmethod(processes.context().Pipe)

        def Process(self, **_: object) -> object:  # noqa: N802 - multiprocessing's name
            raise OSError("no more processes")

    monkeypatch.setattr(processes, "context", NoProcesses)
    run = BackgroundRun(tiny_config(), _folder(tmp_path)).start()
    assert run.join(10) and not run.alive and run.status() == "failed"
    (failed,) = run.events()
    assert isinstance(failed, ev.RunFailed) and "cannot start the training process" in failed.message
    assert EventLog(run.run_dir).read_all() == [failed]  # the folder says why
    run.stop()  # no process: nothing to write to, nothing raised


def test_the_main_script_imports_are_preloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """multiprocessing re-runs a main script given by path in every child; what it imports at its
    top level is preloaded (for `streamlit run`: streamlit.web.cli), and a `python -m` main is not
    re-run at all."""
    script = tmp_path / "streamlit"
    script.write_text("import re, sys\nfrom streamlit.web.cli import main\nfrom . import nothing\n"
                      "def f():\n    import json\nif __name__ == '__main__':\n    sys.exit(main())\n")
    main = types.ModuleType("__main__")
    main.__spec__, main.__file__ = None, str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert processes._main_script_imports() == ["re", "streamlit.web.cli", "sys"]
    main.__spec__ = types.SimpleNamespace(name="pytest.__main__")
    assert processes._main_script_imports() == []


@pytest.mark.parametrize("value, added", [("7", 7), ("not a number", 0), ("99", 19)])
def test_training_processes_are_reniced_below_the_server(value: str, added: int) -> None:
    import subprocess
    import sys

    code = ("import os; from core.engine.worker import lower_priority; before = os.nice(0); "
            "lower_priority(); lower_priority(); print(os.nice(0) - before)")  # once, however often called
    env = {**os.environ, "HYPERMASK_TRAIN_NICE": value}
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    base = os.nice(0)
    assert int(out) == min(added, 19 - base)  # the kernel caps niceness at 19


@pytest.mark.skipif("forkserver" not in __import__("multiprocessing").get_all_start_methods(),
                    reason="no forkserver on this platform")
def test_the_forkserver_and_its_training_processes_are_reniced_once() -> None:
    """The forkserver lowers its own priority before its imports (`core.engine.preload`); a process
    forked from it keeps that priority instead of lowering it again."""
    import subprocess
    import sys

    code = ("import os, time; from core.engine import processes; "
            "p = processes.context().Process(target=time.sleep, args=(5,)); p.start(); "
            "forked = os.getpriority(os.PRIO_PROCESS, p.pid); p.terminate(); p.join(); "
            "print(forked - os.nice(0), processes.context().get_start_method())")
    env = {**os.environ, "HYPERMASK_TRAIN_NICE": "3"}
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                         capture_output=True, text=True, check=True, timeout=300).stdout.split()
    assert out == [str(min(3, 19 - os.nice(0))), "forkserver"]  # +3, not +6 (the kernel caps at 19)


def test_once_the_forkserver_is_ready_a_run_starts_before_start_returns(tmp_path: Path) -> None:
    processes.warm_up()
    assert _wait_for(processes.ready), "the forkserver never started a process"
    run = BackgroundRun(tiny_config(), _folder(tmp_path), threads=1)
    run.start()
    assert run.pid is not None  # the process was started on this thread, not later by the watcher
    assert run.join(START_S) and run.status() == "finished"
