"""The process worker (`BackgroundRun(process=True)`, `python -m core.engine.worker`): same events and
results as the thread worker, pause / step / stop over the stdin protocol, crashes, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from core import events as ev
from core.engine.control import RunControl
from core.engine.runner import BackgroundRun, RunRegistry
from core.engine.spares import REPO_ROOT
from tests.conftest import tiny_config

# Long enough to pause / step / stop mid-task (~1.5 ms a step), short enough to finish quickly.
LONG = dict(iters=600, n_tasks=2)


def _wait_for(pred: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def _wait_quiet(run: BackgroundRun, quiet: float = 0.3, timeout: float = 10.0) -> int:
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


def _started_process_run(tmp_path: Path, **cfg_kw: int) -> BackgroundRun:
    """A process run that has logged its first step."""
    run = BackgroundRun(tiny_config(**cfg_kw), tmp_path / "run", threads=1, process=True).start()
    assert _wait_for(lambda: any(isinstance(e, ev.StepLogged) for e in run.events_since(0)[0]))
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


def test_process_run_matches_thread_run(tmp_path: Path) -> None:
    cfg = tiny_config()
    t0 = time.perf_counter()
    proc_run = BackgroundRun(cfg, tmp_path / "proc", threads=1, process=True).start()
    assert _wait_for(lambda: proc_run.n_events > 0)
    started = time.perf_counter() - t0  # Popen → RunStarted, printed with -s
    thread_run = BackgroundRun(cfg, tmp_path / "thread", threads=1).start()
    assert thread_run.join(60) and proc_run.join(60)
    print(f"\nprocess worker: RunStarted {started:.2f} s after start()")
    a, b = thread_run.events_since(0)[0], proc_run.events_since(0)[0]
    assert [e.kind for e in b] == [e.kind for e in a]
    assert isinstance(b[-1], ev.RunFinished) and not b[-1].stopped
    assert b[-1].result["acc_matrix"] == a[-1].result["acc_matrix"]
    assert [e.losses for e in b if isinstance(e, ev.StepLogged)] == \
        [e.losses for e in a if isinstance(e, ev.StepLogged)]
    assert proc_run.status() == thread_run.status() == "finished"
    assert proc_run.result is None and not proc_run.alive and proc_run.pid is not None
    assert _metrics_status(tmp_path / "proc") == "finished"


def test_process_pause_then_resume_finishes(tmp_path: Path) -> None:
    run = _started_process_run(tmp_path, **LONG)
    run.pause()
    assert run.paused and run.status() == "paused"
    n = _wait_quiet(run)  # the step in flight lands, then nothing
    time.sleep(1.0)
    assert run.n_events == n and run.status() == "paused" and run.alive
    run.resume()
    assert run.join(60)
    events = run.events_since(0)[0]
    assert isinstance(events[-1], ev.RunFinished) and not events[-1].stopped
    assert run.status() == "finished"


def test_process_step_runs_to_the_next_evaluation(tmp_path: Path) -> None:
    run = _started_process_run(tmp_path, **LONG)
    run.pause()
    n = _wait_quiet(run)
    last_step = max(e.global_step for e in run.events_since(0)[0] if isinstance(e, ev.StepLogged))
    run.step()
    assert _wait_for(lambda: any(isinstance(e, ev.Evaluated) for e in run.events_since(n)[0]))
    assert _wait_quiet(run) and run.paused and run.status() == "paused"
    new = run.events_since(n)[0]
    evals = [e for e in new if isinstance(e, ev.Evaluated)]
    assert len(evals) == 1 and new[-1] is evals[0]  # exactly the next evaluation, then paused
    assert evals[0].global_step > last_step and evals[0].step % 10 == 0
    assert evals[0].global_step - last_step <= 10  # eval_every = 10
    run.stop()
    assert run.join(30) and run.status() == "stopped"


def test_process_stop_saves_a_stopped_run(tmp_path: Path) -> None:
    registry = RunRegistry()
    run = registry.start(tiny_config(**LONG), tmp_path / "run", threads=1, process=True)
    assert run.process and registry.active() == {str((tmp_path / "run").resolve()): run}
    assert _wait_for(lambda: any(isinstance(e, ev.StepLogged) for e in run.events_since(0)[0]))
    run.stop()
    assert run.stopping or not run.alive
    assert run.join(30)
    events = run.events_since(0)[0]
    assert sum(ev.is_terminal(e) for e in events) == 1
    assert isinstance(events[-1], ev.RunFinished) and events[-1].stopped
    assert run.status() == "stopped" and _metrics_status(tmp_path / "run") == "stopped"
    assert not registry.active()


def test_process_killed_by_sigkill_ends_in_one_run_failed(tmp_path: Path) -> None:
    run = _started_process_run(tmp_path, **LONG)
    assert run.pid is not None
    os.kill(run.pid, signal.SIGKILL)
    assert run.join(30)
    events = run.events_since(0)[0]
    failed = [e for e in events if ev.is_terminal(e)]
    assert len(failed) == 1 and events[-1] is failed[0] and isinstance(failed[0], ev.RunFailed)
    assert "exit code -9" in failed[0].message and "SIGKILL" in failed[0].message
    assert run.status() == "failed" and not run.alive
    run.pause(), run.step(), run.resume(), run.stop()  # a dead child's stdin never raises
    assert run.status() == "failed" and run.n_events == len(events)
    # the folder records the failure too
    assert _metrics_status(tmp_path / "run") == "failed"
    last = (tmp_path / "run" / "events.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["kind"] == "run_failed"


def _worker() -> subprocess.Popen[str]:
    """`python -m core.engine.worker` with text pipes, as BackgroundRun starts it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "core.engine.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env)


def _training_worker(run_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """A worker training a long tiny run into `run_dir`, read up to its first StepLogged event;
    returns it and the kinds of the events read."""
    p = _worker()
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(json.dumps({"config": tiny_config(**LONG).to_dict(), "run_dir": str(run_dir), "threads": 1})
                  + "\n")
    p.stdin.flush()
    kinds = []
    for line in p.stdout:
        kinds.append(ev.from_json(line).kind)
        if kinds[-1] == "step_logged":
            break
    return p, kinds


def test_worker_stops_on_stdin_eof(tmp_path: Path) -> None:
    """The parent closing the pipe (or dying) stops the run, saved as stopped; stdout is events only."""
    p, kinds = _training_worker(tmp_path)
    p.stdin.close()  # type: ignore[union-attr]
    rest = [ev.from_json(line) for line in p.stdout]  # type: ignore[union-attr] # every stdout line is an event
    assert p.wait(30) == 0
    assert isinstance(rest[-1], ev.RunFinished) and rest[-1].stopped
    assert kinds[0] == "run_started" and _metrics_status(tmp_path) == "stopped"


def test_worker_sigterm_saves_a_stopped_run(tmp_path: Path) -> None:
    """SIGTERM (e.g. sent to the server's whole process group) ends the run like Ctrl-C: saved as stopped."""
    p, _ = _training_worker(tmp_path)
    p.send_signal(signal.SIGTERM)
    rest = [ev.from_json(line) for line in p.stdout]  # type: ignore[union-attr]
    p.wait(30)
    assert isinstance(rest[-1], ev.RunFinished) and rest[-1].stopped
    assert _metrics_status(tmp_path) == "stopped"


@pytest.mark.parametrize("first_line", ["garbage\n", "[1, 2]\n", "", '{"config": {"bogus": {}}}\n',
                                        '{"config": {}, "threads": 0}\n', '{"cfg": {}}\n',
                                        '{"config": {}, "threads": 100000}\n', '{"config": {}, "run_dir": ""}\n',
                                        "[" * 100000 + "\n", "FILE", "RUN"])
def test_worker_rejects_a_bad_first_line(first_line: str, tmp_path: Path) -> None:
    if first_line in ("FILE", "RUN"):  # a file, or a folder that already holds a run: never written over
        target = tmp_path / "x"
        if first_line == "FILE":
            target.write_text("not a folder")
        else:
            target.mkdir()
            (target / "config.json").write_text("{}")
        first_line = json.dumps({"config": {}, "run_dir": str(target)}) + "\n"
    p = _worker()
    out, err = p.communicate(first_line, timeout=30)
    assert p.returncode == 2 and out == ""
    assert "bad first line" in err and len(err.strip().splitlines()) == 1


def test_process_that_cannot_start_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    run = BackgroundRun(tiny_config(), process=True).start()
    assert run.join(1) and not run.alive and run.status() == "failed"
    events = run.events_since(0)[0]
    assert len(events) == 1 and isinstance(events[0], ev.RunFailed)
    assert "cannot start the training process" in events[0].message
    run.stop()  # no child: nothing to write to, nothing raised


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc to see which process trains")
def test_a_spare_worker_trains_the_next_run(tmp_path: Path) -> None:
    """SPARES.fill starts `python -m core.engine.worker --warm`; the next process run is given to it."""
    from core.engine.spares import SPARES

    SPARES.close()
    SPARES.fill(1)
    assert SPARES.idle() == 1
    run = BackgroundRun(tiny_config(), tmp_path / "run", threads=1, process=True).start()
    assert SPARES.idle() == 0
    assert "--warm" in Path(f"/proc/{run.pid}/cmdline").read_bytes().decode().split("\0")
    assert run.join(240) and run.status() == "finished"  # generous: the spare may still be importing
    assert _metrics_status(tmp_path / "run") == "finished"


def test_an_unneeded_spare_exits_quietly() -> None:
    """End of input before any line: a spare that was never used exits 0 without an error line."""
    p = subprocess.Popen([sys.executable, "-m", "core.engine.worker", "--warm"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT, text=True)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and out == "" and "bad first line" not in err


def test_spares_can_be_trimmed() -> None:
    from core.engine.spares import SPARES

    SPARES.close()
    SPARES.fill(2)
    assert SPARES.idle() == 2
    SPARES.close(keep=1)
    assert SPARES.idle() == 1
    SPARES.close()
    assert SPARES.idle() == 0


def test_spares_nobody_asks_for_again_are_ended() -> None:
    """A spare is ended once no `fill` has asked for spares within `idle_ttl_s`; a later `fill`
    keeps it alive that much longer."""
    from core.engine.spares import SpareWorkers

    spares = SpareWorkers(idle_ttl_s=1.5)
    try:
        spares.fill(1)
        proc = spares._idle[0]
        time.sleep(1.0)
        spares.fill(1)  # asked for again: the same spare, kept
        time.sleep(1.0)
        assert spares.idle() == 1 and spares._idle[0] is proc  # 2 s after the first fill, 1 s after the last
        end = time.monotonic() + 10
        while spares.idle() and time.monotonic() < end:
            time.sleep(0.1)
        assert spares.idle() == 0
        assert proc.wait(timeout=180) == 0  # its stdin closed: it exits quietly, after its imports
    finally:
        spares.close()
