"""The pieces that keep live views cheap and in place: figure signatures and memo, the in-place chart
component's bundle, the lock between figures and the pandas import, and the app's training threads."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from app import paths
from app.components import charts, live, plotly_frame
from core import events as E, run_state

ROOT = Path(__file__).resolve().parents[2]

FC = live.FC_KINDS


def _events() -> list[E.Event]:
    return [
        E.RunStarted(config={}, run_dir="/runs/a", n_tasks=2, iters_per_task=10),
        E.TaskStarted(task=0, global_step=0),
        E.StepLogged(task=0, step=0, global_step=0, losses={"ce": 1.0}),
        E.Evaluated(task=0, step=4, global_step=5, accuracies=[0.5]),
    ]


def test_signature_follows_only_the_events_a_chart_is_drawn_from() -> None:
    ev = _events()
    sig = live.signature(ev, FC)
    assert sig == ("/runs/a", 1, 1, False)
    assert live.signature(ev + [E.StepLogged(task=0, step=5, global_step=5, losses={"ce": 0.9})],
                          FC) == sig  # a loss step: same figure
    more = ev + [E.Evaluated(task=0, step=9, global_step=10, accuracies=[0.7])]
    assert live.signature(more, FC) == ("/runs/a", 1, 2, False)
    ended = ev + [E.RunFinished(result={}, stopped=True)]
    assert live.signature(ended, FC)[-1] is True
    other = [dataclasses.replace(ev[0], run_dir="/runs/b"), *ev[1:]]
    assert live.signature(other, FC) != sig  # same counts, another run: not the same figure


def _memo_script() -> None:
    import streamlit as st

    from app import state

    st.session_state.setdefault("builds", 0)

    def build() -> str:
        st.session_state["builds"] += 1
        return f"figure {st.session_state['builds']}"

    st.write(state.memo_figure("k", st.session_state.get("sig", 0), build,
                               min_interval_s=st.session_state.get("interval", 0.0)))


def test_memo_figure_rebuilds_only_when_the_signature_changes() -> None:
    at = AppTest.from_function(_memo_script).run()
    at.run()
    at.run()
    assert at.session_state["builds"] == 1 and at.markdown[0].value == "figure 1"
    at.session_state["sig"] = 1
    at.run()
    assert at.session_state["builds"] == 2 and at.markdown[0].value == "figure 2"
    at.session_state["interval"] = 3600.0  # a new signature within the interval: the old figure
    at.session_state["sig"] = 2
    at.run()
    assert at.session_state["builds"] == 2 and at.markdown[0].value == "figure 2"


def test_vendored_bundle_draws_every_chart_of_the_default_and_live_pages() -> None:
    import re
    import tomllib

    import plotly

    loader = plotly_frame.LOADER.read_text()
    assert f'const BUNDLE = "app/static/{plotly_frame.BUNDLE.name}";' in loader
    assert plotly_frame.BUNDLE.parent == plotly_frame.STATIC_DIR == ROOT / "app" / "static"
    config = tomllib.loads((ROOT / "app" / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True  # serves app/static/ at app/static/
    bundle = plotly_frame.BUNDLE.read_text()
    version = re.match(r"/\*\* plotly\.js v(\d+)\.(\d+)\.(\d+) \(core \+ bar \+ heatmap", bundle)
    assert version, bundle[:200]
    # the same major version as the plotly.js that plotly for Python writes its figures for
    assert version.group(1) == plotly.offline.get_plotlyjs_version().split(".")[0]
    assert set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle)) == plotly_frame.TRACE_TYPES
    assert (plotly_frame.STATIC_DIR / "PLOTLY_LICENSE.txt").read_text().count("MIT License") == 1
    ev = _events() + [E.TaskFinished(task=0, global_step=10, acc_row=[0.9], mask_stats=[], seconds=1.0)]
    for fig in (charts.compare_forgetting({"HyperMask": ev, "Fine-tuning": ev}), charts.forgetting_curves(ev),
                charts.loss_curves(ev), charts.accuracy_matrix_heatmap([[0.9]]),
                charts.metric_bars({"HyperMask": {"avg_acc": 0.9, "bwt": 0.0, "forgetting": 0.0}})):
        assert len(fig.data) and plotly_frame.can_draw(fig)
    assert not plotly_frame.can_draw(go.Figure(go.Scatter3d(x=[1], y=[1], z=[1])))
    assert not plotly_frame.can_draw(go.Figure(go.Scattergl(x=[1], y=[1])))
    assert not plotly_frame.can_draw(go.Figure(go.Box(y=[1])))  # not in this bundle: st.plotly_chart draws it


def test_a_chart_with_nothing_to_plot_yet_is_flagged_empty_for_the_renderer() -> None:
    """The live charts of a run that has not evaluated yet plot nothing (the renderer then draws their
    empty axes only later, `plotly_live.js`); one point, or one finite heatmap cell, is something."""
    started = _events()[:2]  # RunStarted, TaskStarted
    assert [type(e).__name__ for e in started] == ["RunStarted", "TaskStarted"]
    empty = (charts.forgetting_curves(started, total_steps=100), charts.loss_curves(started, total_steps=100),
             charts.accuracy_matrix_heatmap(run_state.accuracy_matrix(started)))
    full = (charts.forgetting_curves(_events(), total_steps=100), charts.accuracy_matrix_heatmap([[0.9, None]]),
            go.Figure(go.Bar(x=["a"], y=[1.0])))
    for fig in empty:
        assert plotly_frame.plots_nothing(fig)
        assert plotly_frame.payload(fig, {}, 300).startswith(b'{"empty":true,')
    for fig in full:
        assert not plotly_frame.plots_nothing(fig)
        data = json.loads(plotly_frame.payload(plotly_frame.seal(fig), {}, 300))
        assert data["empty"] is False and data["height"] == 300
    js = plotly_frame.RENDERER.read_text()
    assert "const EMPTY_PREFIX = '{\"empty\":true';" in js and "placeholder(div, raw)" in js


def test_pandas_is_imported_before_any_page_and_torch_is_not() -> None:
    """A fresh server process: pandas is imported before the first page builds a figure (plotly reads
    a half-imported pandas from another thread without the import lock), and the Overview draws
    without torch (a first visit does not wait for it)."""
    script = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(ROOT / "app" / "main.py")!r}, default_timeout=60).run()
        assert not at.exception, at.exception
        assert at.title[0].value == "HyperMask Explorer"
        print("overview", "pandas" in sys.modules, "torch" in sys.modules)
        at.switch_page("views/train.py").run()
        assert not at.exception, at.exception
        print("train", "pandas" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["overview", "True", "False", "train", "True"]


def test_train_threads_default_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERMASK_TRAIN_THREADS", raising=False)
    assert paths.train_threads() == max(1, (os.cpu_count() or 2) // 2)
    monkeypatch.setenv("HYPERMASK_TRAIN_THREADS", " 3 ")
    assert paths.train_threads() == 3
    assert paths.settings_problem() is None
    for bad in ("0", "-2", "abc", "1.5", "100000"):
        monkeypatch.setenv("HYPERMASK_TRAIN_THREADS", bad)
        with pytest.raises(ValueError, match=f"HYPERMASK_TRAIN_THREADS '?{bad}'?"):
            paths.train_threads()
        assert "HYPERMASK_TRAIN_THREADS" in paths.settings_problem()


def test_time_left_ignores_the_seconds_before_the_first_step() -> None:
    recs = [E.RunStarted(config={}, run_dir=None, n_tasks=2, iters_per_task=500),
            E.StepLogged(task=1, step=0, global_step=500, losses={})]
    # 2.4 s of process start at step 0, then 200 iterations a second
    samples = [(0.0, 0), (1.2, 0), (2.4, 0), (3.0, 100), (4.0, 300), (5.0, 500)]
    frac, text = live.progress(recs, samples, "running")
    assert frac == 0.5 and "task 1 (2 of 2)" in text and "about 2 s left" in text
    _, text = live.progress(recs, samples[:4], "running")  # one sample after the start: no guess yet
    assert "estimating time left" in text
