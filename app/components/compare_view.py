"""The comparison view shared by the Overview and Compare pages: overlaid forgetting curves, ACC /
BWT / forgetting with deltas against fine-tuning, and the accuracy matrices side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from app import cached, state
from app.components import charts, live, ui
from app.components.forgetting_toggles import forgetting_toggles
from app.components.scenario_view import INFERRED, draw_scenarios, scenario_switch
from core import events as ev, run_state
from core.metrics import summarize

BASELINE = "Fine-tuning"


def partial_metrics(events: Sequence[ev.Event]) -> dict[str, Any]:
    """ACC, BWT, forgetting over the tasks finished so far (final metrics once the run is over)."""
    final = run_state.final_metrics(events)
    if final is not None and final.get("avg_acc") is not None:
        return dict(final)
    rows = run_state.finished_rows(events)
    return summarize(rows) if rows else {}


def _metrics_section(runs: Mapping[str, Sequence[ev.Event]], prefix: str,
                     figure: Callable[[str, tuple[str, ...], Callable[[], Any]], Any]) -> None:
    """ACC / BWT / forgetting / FWT of each run (deltas against fine-tuning once all runs have finished
    the same number of tasks) and their bar chart (key `<prefix>_metrics`)."""
    metrics = {label: partial_metrics(recs) for label, recs in runs.items()}
    done = {label: len(run_state.finished_rows(recs)) for label, recs in runs.items()}
    base = metrics.get(BASELINE) if len(set(done.values())) == 1 else None
    with st.container(key=f"{prefix}_metrics_rows"):  # rows come and go; the bar chart below stays put
        if len(set(done.values())) > 1:
            st.caption("Metrics use the tasks each run has finished so far ("
                       + ", ".join(f"{k}: {v}" for k, v in done.items())
                       + "); differences appear once all runs have finished the same number of tasks.")
        st.markdown(ui.metrics_table(metrics, BASELINE if base else None))
        if base and len(metrics) > 1:
            st.caption(f"In brackets: the difference from {BASELINE}, in percentage points. Forgetting: "
                       "lower is better; the others: higher is better.")
    if any(metrics.values()):
        fig = figure(f"{prefix}_metrics", live.ACC_KINDS, lambda: charts.metric_bars(
            metrics, uirevision=f"{prefix}-bars"))  # every method: its colour does not move
        ui.chart(fig, f"{prefix}_metrics",
                 "Average accuracy (ACC), backward transfer (BWT) and forgetting per method, in %.", in_place=True)


def draw_comparison(runs: Mapping[str, Sequence[ev.Event]], prefix: str,
                    statuses: Mapping[str, str] | None = None,
                    samples: Mapping[str, Sequence[tuple[float, int]]] | None = None,
                    matrices_folded: bool = False) -> None:
    """Draw the comparison of `runs` (label → typed events of one run each).

    Element keys: `<prefix>_scenario` (the task id given / inferred switch; inferred shows
    `scenario_view.draw_scenarios` instead of the rest), `<prefix>_fc_methods` and `<prefix>_fc_highlight`
    (the forgetting chart's method and task toggles), `<prefix>_forgetting`, `<prefix>_metrics`,
    `<prefix>_acc_<k>` (k = 0, 1, …).
    With `statuses` (live comparisons), a progress bar per run is shown and each figure is rebuilt only
    when the events it is drawn from change. Every chart goes through the in-place component (it
    updates without a blink, and its lighter plotly.js draws the Overview's first chart sooner).
    `matrices_folded`: the accuracy matrices go into a collapsed expander (key `<prefix>_matrices`)
    and are built only once it is opened.
    """
    live_view = statuses is not None  # a live comparison: progress bars, figures memoised per event change
    if not runs:
        st.info("Nothing to compare yet.")
        return
    if not live_view:
        for label, recs in runs.items():
            if not recs:
                st.warning(f"{label}: no training events could be read from its events.jsonl (missing, empty "
                           "or not JSON lines), so it has no curves or metrics here.", icon=":material/warning:")
            elif not any(isinstance(e, ev.Evaluated) for e in recs):
                st.caption(f"{label} has no evaluation to draw: it ended before its first.")
    totals = [run_state.run_info(r) for r in runs.values()]
    total = max((n * i for n, i in totals), default=0) or None
    # Sections whose content comes and goes (a failure message, the metrics once a task is done) sit
    # in containers of their own: the charts after them keep their place in the page, since a chart
    # that moves is mounted afresh (a blink, and the user's zoom is lost).
    if live_view:
        with st.container(key=f"{prefix}_progress"):
            for label, recs in runs.items():
                st_ = statuses.get(label, "")
                frac, text = live.progress(recs, (samples or {}).get(label, []), st_)
                st.progress(frac, text=f"**{label}** ({ui.STATUS_ICONS.get(st_, '')} {st_}) · {text}")
                message = run_state.failure(recs)
                if message is not None:
                    st.error(f"{label} failed: {message}")
    n_tasks = max((n for n, _ in totals), default=0)
    if scenario_switch(prefix) == INFERRED:
        draw_scenarios(runs, prefix)
        return

    def figure(key: str, kinds: tuple[str, ...], build: Callable[[], Any], extra: Any = None) -> Any:
        """Live: rebuilt only when the events it is drawn from (or `extra`) change (the fragment reruns often).
        Saved runs: built once per server and shared by every session showing the same runs (and `extra`)."""
        if not live_view:
            # The events object (one per file version, `cached.events`) and its length (a run this
            # server trained appends to its list): no need to look at the events themselves.
            drawn_from = tuple((label, cached.Same(recs), len(recs)) for label, recs in runs.items())
            return cached.shared_figure((key, drawn_from, total, repr(extra)), build)
        sig = tuple((label, live.signature(recs, kinds)) for label, recs in runs.items())
        return state.memo_figure(key, (sig, total, extra), build)

    shown = forgetting_toggles(runs, f"{prefix}_fc")
    fig = figure(f"{prefix}_forgetting", live.FC_KINDS, lambda: charts.compare_forgetting(
        runs, total_steps=total, title="Forgetting curves: accuracy of every seen task", uirevision=f"{prefix}-fc",
        height=560 if n_tasks * len(runs) > 10 else None, show=shown.methods, highlight=shown.highlight), shown)
    ui.chart(fig, f"{prefix}_forgetting",
             "Accuracy of each task (colour) while later tasks are trained; line style = method; dashed "
             "verticals mark task switches. Falling lines are forgetting.", in_place=True)
    if BASELINE in runs:  # the number a fresh reader stumbles on: fine-tuning below a coin toss
        st.caption("How to read this: fine-tuning can end **below chance** on an old task (under 50 % on a "
                   "2-class task). Its one shared output head is re-tuned for each new task's label pair, so an "
                   "old task's images are answered with the newest task's decision rule: systematically "
                   "wrong, not just random.")
    with st.container(key=f"{prefix}_metrics_box"):
        _metrics_section(runs, prefix, figure)
    ui.formulas(f"{prefix}_formulas")
    if matrices_folded:
        box = st.expander("Accuracy matrices R[i, j]", expanded=False, key=f"{prefix}_matrices", on_change="rerun",
                          icon=":material/grid_on:")
        if not box.open:  # lazy: drawn only when the reader opens it (keeps the first page light)
            return
    else:
        box = st.container()
    with box:
        # Two matrices a line at most: three side by side leave cells too narrow for their labels.
        cols = ui.wrapping_row(f"{prefix}_matrix_row", [(str(k), 1, 20) for k in range(len(runs))], per_line=2)
        for k, (col, (label, recs)) in enumerate(zip(cols, runs.items())):
            with col:
                fig = figure(f"{prefix}_acc_{k}", live.ACC_KINDS, lambda recs=recs, label=label, k=k:
                             charts.accuracy_matrix_heatmap(run_state.accuracy_matrix(recs), title=f"{label}: R[i, j]",
                                                            uirevision=f"{prefix}-acc-{k}"))
                ui.chart(fig, f"{prefix}_acc_{k}",
                         f"{label}: row i = after training task i, column j = task evaluated; a row fills in "
                         "as each task finishes.", in_place=True)
