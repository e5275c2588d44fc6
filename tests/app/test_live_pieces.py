"""The pieces that keep live views cheap and in place: figure signatures and memo, the in-place chart
component's folder, and the app's training threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import paths
from app.components import live, plotly_frame

FC = live.FC_KINDS


def _events() -> list[dict]:
    return [
        {"kind": "run_started", "config": {}, "run_dir": "/runs/a", "n_tasks": 2, "iters_per_task": 10, "info": {}},
        {"kind": "task_started", "task": 0, "global_step": 0},
        {"kind": "step_logged", "task": 0, "step": 0, "global_step": 0, "losses": {"ce": 1.0}},
        {"kind": "evaluated", "task": 0, "step": 4, "global_step": 5, "accuracies": [0.5]},
    ]


def test_signature_follows_only_the_events_a_chart_is_drawn_from() -> None:
    ev = _events()
    sig = live.signature(ev, FC)
    assert sig == ("/runs/a", 1, 1, False)
    assert live.signature(ev + [{"kind": "step_logged", "task": 0, "step": 5, "global_step": 5,
                                 "losses": {"ce": 0.9}}], FC) == sig  # a loss step: same figure
    more = ev + [{"kind": "evaluated", "task": 0, "step": 9, "global_step": 10, "accuracies": [0.7]}]
    assert live.signature(more, FC) == ("/runs/a", 1, 2, False)
    ended = ev + [{"kind": "run_finished", "result": {}, "stopped": True}]
    assert live.signature(ended, FC)[-1] is True
    other = [dict(ev[0], run_dir="/runs/b"), *ev[1:]]
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


def test_component_folder_holds_our_page_and_the_installed_plotly(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from plotly.offline import get_plotlyjs

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("HYPERMASK_CACHE_DIR", str(blocked))  # unwritable: the next root is used
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    plotly_frame.component_dir.cache_clear()
    try:
        d = plotly_frame.component_dir()
    finally:
        plotly_frame.component_dir.cache_clear()
    assert d is not None and d.parent == tmp_path / "xdg" / "hypermask-explorer"
    assert (d / "index.html").read_bytes() == (plotly_frame.SOURCE_DIR / "index.html").read_bytes()
    assert (d / "plotly.min.js").stat().st_size == len(get_plotlyjs().encode("utf-8"))
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".")]  # no half-built folder left


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
    recs = [{"kind": "run_started", "n_tasks": 2, "iters_per_task": 500},
            {"kind": "step_logged", "task": 1, "step": 0, "global_step": 500, "losses": {}}]
    # 2.4 s of process start at step 0, then 200 iterations a second
    samples = [(0.0, 0), (1.2, 0), (2.4, 0), (3.0, 100), (4.0, 300), (5.0, 500)]
    frac, text = live.progress(recs, samples, "running")
    assert frac == 0.5 and "task 2 of 2" in text and "about 2 s left" in text
    _, text = live.progress(recs, samples[:4], "running")  # one sample after the start: no guess yet
    assert "estimating time left" in text
