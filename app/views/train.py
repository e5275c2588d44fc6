"""Train (live): configure a run, start it in a background worker, and watch forgetting happen.

The worker (core.engine.runner.BackgroundRun, started through core.engine.launcher) never calls Streamlit; this
page polls its events in a fragment. A refresh or a second tab re-attaches to the run named in the URL
(`?run=<folder>`), else to the newest live run.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app import paths, roles, state
from app.components import charts, live, queue_view, ui
from app.components.compare_view import partial_metrics
from app.components.forgetting_toggles import forgetting_toggles
from app.components.config_form import BENCHMARK_LABELS, METHOD_LABELS, train_config_ui
from core import events as ev, run_state
from core.config import RunConfig
from core.engine import launcher

LOSS_REFRESH_S = 1.0  # the loss curves (a new point every few steps) redraw at most once a second
# Pace (slow motion), in iterations a second; 0 = full speed. The default demo, Split MNIST · demo
# (5 tasks × 300 iterations), lasts about a minute at 25 a second: time to talk over it.
PACES = (2, 5, 10, 25, 50, 100, 0)
DEFAULT_PACE = 25


def _default_pace() -> float:
    """The slider's starting pace: HYPERMASK_TRAIN_PACE (it/s, 0 = full speed; a value not on the
    slider is ignored) or `DEFAULT_PACE`."""
    try:
        value = float(os.environ.get("HYPERMASK_TRAIN_PACE", DEFAULT_PACE))
    except ValueError:
        return DEFAULT_PACE
    return next((p for p in PACES if p == value), DEFAULT_PACE)


def _pace_label(rate: float) -> str:
    return "full speed" if not rate else f"{rate:g} it/s"


def _pace_ui(current: str | None) -> float:
    """The pace slider (key `train_pace`): changing it re-paces the run shown, while it trains."""
    state.init_default("train_pace", _default_pace())
    return st.select_slider("Pace (slow motion)", PACES, key="train_pace", format_func=_pace_label,
                            disabled=current is not None and not roles.may_steer([current]),
                            on_change=lambda: launcher.pace([current] if current else [], state.get("train_pace")),
                            help="at most this many training iterations a second, so there is time to talk "
                                 "over the curves; change it while the run trains")


def _start(cfg: RunConfig) -> None:
    """Start button callback: the run starts now (or waits in the server's queue), then attach."""
    dirs = queue_view.submit([cfg], "train")
    if dirs:
        _attach_started(dirs)


def _attach_started(dirs: list[str]) -> None:
    launcher.pace(dirs, state.get("train_pace", _default_pace()))
    state.set_train_run(dirs[0])
    state.put("train_config", False)  # fold the form away: the live charts take the page


def _attach_ui() -> str | None:
    """Which run this page shows: the session's run, else the one named in the URL (`?run=`, kept
    across a refresh, so a refresh after the run ended still shows it), else the newest live one
    (re-attach). A new visitor with no `?run=` is not shown someone else's finished run: the form
    opens instead. A `?run=` that names no run of this server is reported and dropped."""
    active = list(launcher.active())
    current = state.train_run()
    if current is None:
        # ?run=<folder name> re-attaches to the run this tab showed (not just the newest, which may be
        # a Compare run started since)
        by_name = {Path(d).name: d for d in launcher.all_runs()}
        current = state.from_url("run", by_name.get, "No run named `{named}` was trained by this server since "
                                 "it started, so there is nothing live to show for it. Saved runs open on the "
                                 "**Runs** page.") or (active[-1] if active else None)
        if current is not None:
            state.set_train_run(current)
    state.keep_in_url("run", Path(current).name if current is not None else None)
    options = list(dict.fromkeys(([current] if current else []) + active[::-1]))
    if options:  # shown from the start, not only once the run ends: nothing below moves then
        labels = {d: f"{Path(d).name} ({live.status(d)})" for d in options}
        state.put("train_attach", current)
        st.selectbox("Showing run", options, key="train_attach", format_func=labels.get,
                     on_change=lambda: state.set_train_run(state.get("train_attach")),
                     help="live runs on this machine (from any tab) and the run you started last")
    return current


def _live_body(run_dir: str) -> None:
    view = state.live_view(run_dir)
    recs = live.events(run_dir)
    status = live.status(run_dir)
    run = launcher.get(run_dir)
    label = run.cfg.label if run is not None else Path(run_dir).name
    ui.status_line(status, f"{label} · `{Path(run_dir).name}`")
    live.controls([run_dir], "train")
    frac, text = live.progress(recs, view.samples, status)
    st.progress(frac, text=text)
    end = run_state.terminal(recs)
    if isinstance(end, ev.RunFailed):
        st.error(f"Training failed: {end.message}")
        with st.expander("Traceback", key="train_traceback"):
            st.code(end.traceback, language="text")
    n_tasks, iters = run_state.run_info(recs)
    total = n_tasks * iters or None
    # The forgetting curves take the full width (the chart the page is for, readable on a small
    # screen too); the loss terms and the accuracy matrix share the row below (one under the other
    # in a narrow window). Figures are rebuilt only when their events change (the fragment reruns
    # every 0.4 s).
    shown = forgetting_toggles({label: recs}, "train_fc")
    fig = state.memo_figure("live_forgetting", (live.signature(recs, live.FC_KINDS), total, shown.highlight),
                            lambda: charts.forgetting_curves(recs, total_steps=total, uirevision="live-fc",
                                                             title="Live forgetting curves", highlight=shown.highlight))
    ui.chart(fig, "live_forgetting", "Accuracy of each seen task (periodic evaluation on a test subsample) "
             "against training iterations; dashed lines mark task switches.", in_place=True)
    left, right = ui.wrapping_row("train_row", [("losses", 3, 26), ("matrix", 2, 20)])
    with left:
        loss_sig = live.signature(recs, live.LOSS_KINDS)
        fig = state.memo_figure("live_losses", (loss_sig, total),
                                lambda: ui.robust_log_range(charts.loss_curves(recs, total_steps=total,
                                                                               uirevision="live-loss")),
                                min_interval_s=0.0 if loss_sig[-1] else LOSS_REFRESH_S)
        ui.chart(fig, "live_losses", "Loss terms as added to the loss: cross-entropy, β·R_hnet (hypernetwork "
                 "output regulariser) and λ·R_target (target weight regulariser); log scale.", in_place=True)
    with right:
        fig = state.memo_figure("live_acc_matrix", (live.signature(recs, live.ACC_KINDS), n_tasks),
                                lambda: charts.accuracy_matrix_heatmap(run_state.accuracy_matrix(recs), uirevision="live-acc",
                                                                       title="Accuracy matrix R[i, j]"))
        ui.chart(fig, "live_acc_matrix", "Row i: accuracy on every task j after training task i (full test "
                 "sets); a row appears when a task finishes.", in_place=True)
        m = partial_metrics(recs)
        if m:
            st.metric("Average accuracy (ACC)", ui.pct(m.get("avg_acc")))
            st.metric("Backward transfer (BWT)", ui.pct(m.get("bwt"), signed=True))
        ui.formulas("train_formulas")


def main() -> None:
    st.title("Train (live)")
    ui.scenario()
    for level, text in state.pop_flashes():
        getattr(st, level)(text)
    problem = paths.runs_dir_problem() or paths.settings_problem()
    if problem:
        st.warning(problem, icon=":material/folder_off:")
    # Always a container here, even when empty: whatever the run picker shows in it, nothing below
    # moves (a chart that moves is mounted afresh and loses the user's zoom).
    with st.container():
        current = _attach_ui()
    queued = queue_view.waiting("train", _attach_started)
    queue_view.presenter_panel("train")
    rate = _pace_ui(current)
    config = None
    form = st.expander("Configure a new run", expanded=current is None, key="train_config", on_change="rerun")
    if form.open:  # drawn only while open: a folded form costs the page (and the browser) nothing
        with form:
            config = train_config_ui("train").config
            if config is not None:
                m = METHOD_LABELS.get(config.train.method, config.train.method)
                st.caption(f"{m} on {config.data.benchmark}: {config.data.tasks} tasks × "
                           f"{config.train.iters_per_task:,} iterations, saved under `{roles.shown_path(paths.runs_dir())}`.")
            st.button("Start training", key="train_start", type="primary", icon=":material/rocket_launch:",
                      disabled=config is None or bool(problem) or queued,
                      on_click=_start, args=(config,))
    if not problem:
        launcher.prewarm()  # the next Start trains at once
    if current is None and not queued:
        chosen = ""
        if config is not None:  # what the form holds now, not a fixed benchmark's figure
            c = config
            steps = c.data.tasks * c.train.iters_per_task
            at_pace = (f", about {steps / rate / 60:.1f} min at {_pace_label(rate)}" if rate else
                       ", at full speed")
            chosen = (f" The run set up above is {BENCHMARK_LABELS.get(c.data.benchmark, c.data.benchmark)}: "
                      f"{c.data.tasks} tasks × {c.train.iters_per_task:,} iterations{at_pace}.")
        st.info("No live run. Configure one above and press **Start training**." + chosen + " Saved runs are on "
                "the **Runs** page, the pretrained comparison on the **Overview** page.")
        return
    if current is not None:
        live.live_fragment([current], lambda: _live_body(current))


main()
