"""The Lessons page (URL state, every lesson's first step with its visual), presenter mode, the
forgetting charts' method and task toggles, the Train page's pace control on a live run, and lesson 3's
live ablation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.lessons.content import LESSONS
from core import events as ev
from core.engine.runner import REGISTRY
from tests.app.test_pages import _app, _chart_keys, _live_figures, _poll, _tiny_form, env, pretrained  # noqa: F401


def _lesson(lesson: str, step: str, **more: str) -> AppTest:
    return _app("views/lessons.py", lesson=lesson, step=step, **more)


@pytest.mark.parametrize("lesson", [l.slug for l in LESSONS])
def test_each_lessons_first_step_renders_its_visual(env: Path, lesson: str) -> None:  # noqa: F811
    at = _lesson(lesson, "1")
    assert not at.exception, at.exception
    assert not at.warning, [w.value for w in at.warning]
    assert f"Step 1 of" in at.subheader[0].value
    assert not [i.value for i in at.info if "Not shown" in i.value]
    assert [k for k in _chart_keys(at) if k.startswith("lesson_")], (lesson, _chart_keys(at))


def test_lesson_and_step_live_in_the_url(env: Path) -> None:  # noqa: F811
    at = _lesson("3", "2")  # a number names a lesson too
    assert at.query_params["lesson"] == "regularisers" and at.query_params["step"] == "2"
    assert at.subheader[0].value.startswith("Step 2 of 3")
    at.button(key="lesson_next").click().run()
    assert at.query_params["step"] == "3"
    at.button(key="lesson_next").click().run()  # past the last step: the next lesson
    assert at.query_params["lesson"] == "tickets" and at.query_params["step"] == "1"
    at.button(key="lesson_prev").click().run()
    assert at.query_params["lesson"] == "regularisers" and at.query_params["step"] == "3"


@pytest.mark.parametrize("lesson, step, message", [("nope", "2", "No lesson named `nope`"),
                                                   ("masks", "9", "`step=9` is not a step"),
                                                   ("masks", "-1", "`step=-1` is not a step"),
                                                   ("9" * 5000, "2", f"No lesson named `{'9' * 40}…`"),
                                                   ("masks", "7" * 5000, f"`step={'7' * 40}…` is not a step")])
def test_a_bad_lesson_or_step_in_the_url_is_said_and_starts_over(env: Path, lesson: str, step: str,  # noqa: F811
                                                                 message: str) -> None:
    at = _lesson(lesson, step)
    assert not at.exception
    assert any(message in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.query_params["step"] == "1" and at.subheader[0].value.startswith("Step 1 of")


def test_presenter_flag_restyles_charts_for_a_projector(env: Path) -> None:  # noqa: F811
    at = _app("views/overview.py", present="1")
    assert at.toggle(key="presenter").value is True
    fig = _live_figures(at)["overview_forgetting"]
    assert fig["layout"]["font"]["size"] >= 20 and fig["layout"]["height"] >= 600
    colours = {t["line"]["color"] for t in fig["data"] if t.get("line", {}).get("color")}
    assert colours and colours <= {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
                                   "#000000"}
    css = " ".join(h.proto.body for h in at.get("html"))
    assert ".stMainBlockContainer td" in css and "stMetricValue" in css  # tables and metrics as large as the text
    at.toggle(key="presenter").set_value(False).run()
    assert "present" not in at.query_params
    assert ".stMainBlockContainer td" not in " ".join(h.proto.body for h in at.get("html"))
    assert _live_figures(at)["overview_forgetting"]["layout"].get("font", {}).get("size") is None


def test_method_and_task_toggles_on_the_forgetting_chart(env: Path) -> None:  # noqa: F811
    at = _app("views/overview.py")
    names = lambda a: {t.get("legendgroup") for t in _live_figures(a)["overview_forgetting"]["data"]}  # noqa: E731
    assert len(names(at)) == 2  # the tiny shipped HyperMask and fine-tuning runs
    at.session_state["overview_fc_methods"] = ["Fine-tuning"]
    at.run()
    assert names(at) == {"Fine-tuning"}
    at.selectbox(key="overview_fc_highlight").set_value("task 1").run()
    traces = _live_figures(at)["overview_forgetting"]["data"]
    bold = [t for t in traces if t["line"]["width"] == 4]
    assert bold and all(t["name"] == "task 1" for t in bold)
    assert all(t["opacity"] < 0.5 for t in traces if t["name"] != "task 1")


def _steps_per_second(seconds: float) -> float:
    def step() -> int:
        return max([e.global_step for r in REGISTRY.all().values() for e in r.events()
                    if isinstance(e, ev.StepLogged)], default=0)
    s0, t0 = step(), time.time()
    time.sleep(seconds)
    return (step() - s0) / (time.time() - t0)


def test_pace_control_changes_a_live_runs_speed(env: Path) -> None:  # noqa: F811
    at = _app("views/train.py")
    _tiny_form(at, iters=3000, pace=5)
    at.button(key="train_start").click().run()
    _poll(at, lambda a: any(isinstance(e, ev.StepLogged) for r in REGISTRY.all().values() for e in r.events()))
    slow = _steps_per_second(4.0)
    assert slow < 5 * 1.6, slow  # steps are logged every 5: a generous margin
    at.select_slider(key="train_pace").set_value(0).run()  # full speed, while it trains
    fast = _steps_per_second(4.0)
    assert fast > 2 * max(slow, 1.0), (slow, fast)  # full speed: far more on an idle machine; training is niced
    at.select_slider(key="train_pace").set_value(2).run()
    time.sleep(1.0)
    assert _steps_per_second(4.0) < 2 * 2.5


def test_lesson_3_live_ablation_trains_three_runs_to_real_accuracies(env: Path) -> None:  # noqa: F811
    """Lesson 3's live ablation, started on its step as a reader would: three Split Digits runs (the full
    method, β = 0, λ = 0) start together, finish, and the page shows each run's final ACC."""
    at = _lesson("regularisers", "3")
    assert "Live ablation" in at.subheader[0].value
    at.button(key="lesson_ablation_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    runs = REGISTRY.all()
    assert len(runs) == 3
    masks = [(r.cfg.mask.beta, r.cfg.mask.lam) for r in runs.values()]
    full = masks[0]
    assert full[0] > 0 and full[1] > 0 and masks[1:] == [(0.0, full[1]), (full[0], 0.0)]
    assert all(r.cfg.data.benchmark == "split-digits" and r.cfg.train.seed == 1 for r in runs.values())
    _poll(at, lambda a: all(any(isinstance(e, ev.RunFinished) for e in r.events()) for r in runs.values()),
          timeout=300)  # seconds each on an idle machine; the three share a loaded 2-core box
    at.run()  # the page once more, after the last run's end was read
    assert not at.exception and not at.error
    labels = ("HyperMask (full)", "β = 0", "λ = 0")
    # the comparison's metric table (ui.metrics_table): one row per run, ACC in its first value column
    rows = {line.split("|")[1].strip(" *"): line.split("|")[2].strip()
            for m in at.markdown if m.value.startswith("| Method |") for line in m.value.splitlines()[2:]}
    shown = list(rows.values())
    for label, (run_dir, run) in zip(labels, runs.items()):
        end = run.events()[-1]
        assert not end.stopped
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
        assert metrics["status"] == "finished" and metrics["tasks_done"] == 5
        acc = metrics["avg_acc"]
        assert 0.5 < acc <= 1.0  # 2-class tasks: above chance
        assert rows[label].startswith(f"{100 * acc:.1f}%"), (label, acc, rows)
        assert any(label in m.value for m in at.markdown), label
    assert len(shown) == 3
