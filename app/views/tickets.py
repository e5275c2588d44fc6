"""Tickets: what each task's subnetwork does — the winning-ticket analyses of `core.tickets`
(cross-mask matrix, sparsity sweep, controls of equal sparsity, mask drift, task-identity inference),
computed once per run and cached in its folder (tickets.json)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.components import ui
from app.components.charts.tickets import ticket_figures
from app.components.run_picker import run_picker
from core.data.sources import DataError
from core.runs import RunError


@st.cache_data(max_entries=32, show_spinner=False)
def _analysis(path: str, stamp: float) -> dict:
    from core.tickets.lab import analyze_run

    return analyze_run(path)


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(path: str, stamp: float) -> dict[str, go.Figure]:
    """The page's figures for one run, built once per server and shared by every session (read only)."""
    return ticket_figures(_analysis(path, stamp))


def _stamp(path: str) -> float:
    from pathlib import Path

    p = Path(path) / "weights.safetensors"
    return p.stat().st_mtime if p.exists() else 0.0


st.title("Winning tickets")
st.caption("One network, many subnetworks: does each task's mask pick out a subnetwork that works for its own "
           "task, how sparse can it get, is it better than a random mask of the same size — and can the network "
           "tell which task it is looking at?")
choice = run_picker("tickets_run", prefer_method="hypermask")
if choice is not None:
    try:
        with st.spinner("Analysing the run's subnetworks (once; the result is saved in its folder)…"):
            res = _analysis(choice.path, _stamp(choice.path))
            figs = _figures(choice.path, _stamp(choice.path))
    except (RunError, DataError, ValueError) as e:
        st.error(f"Cannot analyse this run: {e}")
        res = None
    if res is not None:
        cm, sw, ctl, dr, inf = (res["cross_mask"], res["sweep"], res["controls"], res["drift"], res["inference"])
        st.subheader("Cross-mask matrix")
        if cm.get("reason"):
            st.info(cm["reason"])
        else:
            ui.chart(figs["cross"], "tickets_cross", "Look for a bright diagonal: each subnetwork works for its own "
                     f"task; off the diagonal accuracy falls towards chance ({cm['chance']:.0%}).")
        st.subheader("Sparsity sweep")
        if sw.get("reason"):
            st.info(sw["reason"])
        else:
            ui.chart(figs["sweep"], "tickets_sweep", "Each line is one task's mask re-cut at sparsity p: how many weights a "
                     "subnetwork can drop before its task breaks.")
        st.subheader("Is the learned mask a winning ticket?")
        if ctl.get("reason"):
            st.info(ctl["reason"])
        else:
            if ctl.get("note"):
                st.caption(ctl["note"])
            ui.chart(figs["controls"], "tickets_controls", "The learned mask against masks keeping exactly as many weights per "
                     f"layer: random (mean ± std over {ctl['seeds']} seeds), largest |W·mask|, and its own support "
                     "with values set to 1. A learned bar far above the random one is a winning ticket.")
        st.subheader("Mask drift")
        if dr.get("reason"):
            st.info(dr["reason"])
        else:
            ui.chart(figs["drift"], "tickets_drift",
                     "100 % means the mask did not move while later tasks trained (the hypernetwork regulariser at work).")
        st.subheader("Task id inferred (class-incremental)")
        if inf.get("reason"):
            st.info(inf["reason"])
        else:
            c1, c2 = st.columns(2)
            c1.metric("Task-identity accuracy", ui.pct(inf["task_accuracy"]))
            c2.metric("Class-incremental accuracy", ui.pct(inf.get("cil_accuracy")))
            if inf.get("cil_reason"):
                st.caption(inf["cil_reason"])
            ui.chart(figs["confusion"], "tickets_confusion", "Counts of test samples: a strong diagonal means the task id can be "
                     "inferred from the subnetworks' confidence (hypermask.md §6).")
        st.caption(f"Computed in {res.get('seconds', 0):.1f} s · cache: {res.get('cache', '')} · "
                   "`python -m core analyze RUN` prints the same figures.")
