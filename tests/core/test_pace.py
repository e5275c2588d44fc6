"""Slow motion: the pace command of `RunControl` (core/engine/control.py) and a paced training process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core import events as ev
from core.engine.control import RunControl
from core.engine.runner import BackgroundRun
from core.runs import claim_run_dir
from tests.conftest import tiny_config


def _rate(control: RunControl, n: int) -> float:
    """Steps a second over `n` calls of should_stop (the loop calls it before every step)."""
    t0 = time.monotonic()
    for _ in range(n):
        assert control.should_stop() is False
    return n / (time.monotonic() - t0)


def test_pace_holds_the_loop_to_the_rate_and_zero_is_full_speed() -> None:
    control = RunControl()
    assert _rate(control, 200) > 1000  # no pace: no wait
    control.apply("pace 20")
    assert control.rate == 20 and control.commands() == ["pace 20"]
    control.should_stop()  # the first paced step starts the clock
    assert _rate(control, 10) < 20 * 1.05  # never faster than asked (sleeping only overshoots)
    control.apply("pace 0")
    assert _rate(control, 200) > 1000


def test_stop_releases_a_slow_paced_wait() -> None:
    control = RunControl()
    control.pace(0.01)  # one step every 100 s
    control.should_stop()
    t0 = time.monotonic()
    threading_stop = __import__("threading").Timer(0.3, control.stop)
    threading_stop.start()
    assert control.should_stop() is True
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("command", ["pace", "pace fast", "pace -1", "pace nan", "pace 1e9", "stop now"])
def test_bad_pace_commands_are_refused_naming_the_value(command: str) -> None:
    with pytest.raises(ValueError, match="pace|stop"):
        RunControl().apply(command)


def test_a_training_process_follows_a_pace_set_before_and_during_the_run(tmp_path: Path) -> None:
    cfg = tiny_config(iters=400)
    run_dir = tmp_path / "paced"
    claim_run_dir(run_dir)
    run = BackgroundRun(cfg, run_dir, threads=1)
    run.pace(10)  # before the process exists: replayed when it starts
    run.start()
    try:
        def step() -> int:
            return max([e.global_step for e in run.events() if isinstance(e, ev.StepLogged)], default=0)

        end = time.time() + 60
        while step() < 5 and time.time() < end:
            time.sleep(0.2)
        s0, t0 = step(), time.time()
        time.sleep(3.0)
        slow = (step() - s0) / (time.time() - t0)
        assert slow < 10 * 1.6, slow  # logged every few steps: a generous margin
        run.pace(0)
        s1, t1 = step(), time.time()
        time.sleep(3.0)
        fast = (step() - s1) / (time.time() - t1)
        # full speed is far above 10 it/s on an idle machine; 2x leaves room for a machine busy with
        # other work (28 it/s was seen with a browser, a server and a test suite on the same 2 cores)
        assert fast > 2 * max(slow, 1.0), (slow, fast)
    finally:
        run.stop()
        assert run.join(30)
