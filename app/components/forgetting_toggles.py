"""Method and task toggles for a forgetting chart: show or hide each method, highlight one task.

Drawn above every forgetting chart (Overview, Compare, Train, Lessons); the chart functions take the
choice (`charts.compare_forgetting(show=…, highlight=…)`), so a method keeps its line style and a task
its colour whatever else is hidden.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import streamlit as st

from core import events as ev, run_state


@dataclass(frozen=True)
class Shown:
    """What a forgetting chart shows: the labels of the visible methods, and the highlighted task (None:
    all tasks alike)."""

    methods: tuple[str, ...]
    highlight: int | None


def forgetting_toggles(runs: Mapping[str, Sequence[ev.Event]], key: str) -> Shown:
    """Draw the toggles for the runs (label → typed events) of one forgetting chart: a method
    multi-toggle (key `<key>_methods`, only with two or more methods) and a task highlight
    (key `<key>_highlight`). Returns the choice; hiding every method shows them all again (an empty
    chart explains nothing)."""
    labels = list(runs)
    n_tasks = max((run_state.run_info(r)[0] for r in runs.values()), default=0)
    row = st.container(horizontal=True, gap="medium")
    methods: tuple[str, ...] = tuple(labels)
    if len(labels) > 1:
        st.session_state.setdefault(f"{key}_methods", labels)
        picked = row.pills("Methods shown", labels, selection_mode="multi", key=f"{key}_methods",
                           help="hide a method to read the others; its line style stays the same")
        methods = tuple(m for m in labels if m in (picked or [])) or tuple(labels)
    highlight = None
    if n_tasks > 1:
        options = ["all tasks", *(f"task {t}" for t in range(n_tasks))]
        st.session_state.setdefault(f"{key}_highlight", "all tasks")
        if st.session_state[f"{key}_highlight"] not in options:  # a run with fewer tasks than the last one
            st.session_state[f"{key}_highlight"] = "all tasks"
        choice = row.selectbox("Highlight", options, key=f"{key}_highlight", width=160,
                               help="draw one task's lines bold and fade the others")
        highlight = None if choice == "all tasks" else int(choice.split()[1])
    return Shown(methods, highlight)
