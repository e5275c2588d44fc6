"""The one training loop: event order, terminal event, stop, determinism, each method end to end."""

import threading
import time

import pytest
import torch

from core import events as ev
from core.engine.loop import run_training
from core.engine.control import RunControl
from tests.conftest import tiny_config


def test_event_order_and_exactly_one_terminal_event(tiny) -> None:
    res = run_training(tiny)
    kinds = [e.kind for e in res.events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert sum(k in ("run_finished", "run_failed") for k in kinds) == 1
    assert kinds.count("task_started") == 2 and kinds.count("task_finished") == 2
    assert kinds.index("task_finished") < len(kinds) - 1 - kinds[::-1].index("task_started")
    steps = [e for e in res.events if isinstance(e, ev.StepLogged)]
    assert {"total", "ce", "r_hnet", "r_target", "sparsity"} <= set(steps[0].losses)
    evals = [e for e in res.events if isinstance(e, ev.Evaluated)]
    assert [len(e.accuracies) for e in evals] == [1, 1, 1, 2, 2, 2]
    fin = [e for e in res.events if isinstance(e, ev.TaskFinished)]
    assert len(fin[1].acc_row) == 2 and {s["layer"] for s in fin[0].mask_stats} >= {"hidden.0.weight"}
    for e in res.events:  # plain data only: every event survives JSON
        assert ev.from_json(ev.to_json(e)) == e


def test_metrics_shape_and_values(tiny) -> None:
    m = run_training(tiny).metrics
    assert m["status"] == "finished" and m["tasks_done"] == 2
    assert m["acc_matrix"][0][1] is None and all(0 <= v <= 1 for v in m["acc_matrix"][1])
    assert m["avg_acc"] == pytest.approx(sum(m["acc_matrix"][1]) / 2)
    assert m["bwt"] == pytest.approx(m["acc_matrix"][1][0] - m["acc_matrix"][0][0])


def test_stop_within_one_step(tiny) -> None:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 7

    res = run_training(tiny, should_stop=should_stop)
    assert res.stopped and isinstance(res.events[-1], ev.RunFinished) and res.events[-1].stopped
    assert res.metrics["steps"] == 7 and res.metrics["status"] == "stopped"


def test_failure_becomes_run_failed(tiny, monkeypatch) -> None:
    from core.methods.hypermask import HyperMask

    def boom(*a, **k):
        raise RuntimeError("boom at step")

    monkeypatch.setattr(HyperMask, "losses", boom)
    res = run_training(tiny)
    assert isinstance(res.events[-1], ev.RunFailed) and "boom at step" in res.events[-1].message
    assert res.error and sum(ev.is_terminal(e) for e in res.events) == 1


def test_same_seed_same_result() -> None:
    a = run_training(tiny_config(seed=3))
    b = run_training(tiny_config(seed=3))
    c = run_training(tiny_config(seed=4))
    assert a.metrics["acc_matrix"] == b.metrics["acc_matrix"]
    la = [e.losses["total"] for e in a.events if isinstance(e, ev.StepLogged)]
    lb = [e.losses["total"] for e in b.events if isinstance(e, ev.StepLogged)]
    lc = [e.losses["total"] for e in c.events if isinstance(e, ev.StepLogged)]
    assert la == lb and la != lc
    for (n, p), q in zip(a.method.target.named_parameters(), b.method.target.parameters()):
        assert torch.equal(p, q), n


@pytest.mark.parametrize("method", ["hypermask", "finetune", "hnet"])
def test_each_method_learns_end_to_end(method: str) -> None:
    res = run_training(tiny_config(method=method, iters=60))
    assert res.error is None
    assert res.metrics["acc_matrix"][0][0] > 0.9  # 2-class 8×8 digits: well above chance (0.5)


def test_loop_pauses_steps_and_stops_under_a_run_control() -> None:
    """The contract a training process keeps with `RunControl`: `should_stop` holds the loop while
    paused, a `step()` runs to the next evaluation, a stop ends the run saved as stopped."""
    control = RunControl()
    events: list[ev.Event] = []
    lock = threading.Lock()

    def emit(e: ev.Event) -> None:
        with lock:
            events.append(e)
        control.on_event(e)

    def seen() -> list[ev.Event]:
        with lock:
            return list(events)

    def wait(pred, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while not pred() and time.monotonic() < end:
            time.sleep(0.01)
        assert pred()

    control.pause()
    worker = threading.Thread(target=run_training, args=(tiny_config(iters=400),),
                              kwargs=dict(emit=emit, should_stop=control.should_stop), daemon=True)
    worker.start()
    wait(lambda: any(isinstance(e, ev.TaskStarted) for e in seen()))
    time.sleep(0.5)
    assert not any(isinstance(e, ev.StepLogged) for e in seen())  # held before its first step
    control.step()
    wait(lambda: control.paused and any(isinstance(e, ev.Evaluated) for e in seen()))
    n = len(seen())
    time.sleep(0.5)
    assert len(seen()) == n and isinstance([e for e in seen() if not isinstance(e, ev.StepLogged)][-1], ev.Evaluated)
    control.stop()
    worker.join(30)
    assert not worker.is_alive()
    assert isinstance(seen()[-1], ev.RunFinished) and seen()[-1].stopped


@pytest.mark.parametrize("name,pad_to", [("split-digits", None), ("split-mnist", None), ("permuted-mnist", 32)])
def test_stream_shape_matches_the_built_stream(name: str, pad_to: int | None) -> None:
    """`check_run` sizes the networks from `stream_shape` without loading data: it must agree with
    what `make_benchmark` builds."""
    import dataclasses

    from core.data.benchmarks import make_benchmark, stream_shape
    from core.presets import make_config

    data = dataclasses.replace(make_config(name, "hypermask", "demo", "bundled", 1).data, pad_to=pad_to)
    bench = make_benchmark(data, 1)
    assert stream_shape(data) == (bench.input_shape, bench.n_classes, len(bench.tasks))


def test_check_run_refuses_bad_data_and_oversized_networks(tmp_path) -> None:
    import dataclasses

    from core.data.sources import DataError
    from core.engine.loop import check_run
    from core.presets import make_config

    cfg = make_config("split-mnist", "hypermask", "demo", "bundled", 1)
    check_run(cfg)  # the bundled data: nothing to load, a small network
    bogus = tmp_path / "mnist.npz"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="mnist.npz"):
        check_run(cfg.replace(data=dataclasses.replace(cfg.data, source=str(bogus))))
    huge = cfg.replace(target=dataclasses.replace(cfg.target, hidden=(15_000, 5_000)))
    with pytest.raises(ValueError, match="Use smaller target hidden sizes"):
        check_run(huge)
