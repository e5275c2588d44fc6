"""The "task id given / task id inferred" switch of the Overview and Compare pages, and the view it
opens: each method's final accuracy per task with the task id given (task-incremental, the last row of
R) beside the same with the task id inferred by entropy (class-incremental, hypermask.md §6), and the
task-id confusion matrices. Reads only the runs' final metrics (`core.run_state.scenarios`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from app.components import ui
from app.components.charts.tickets import labelled_heatmap, scenario_bars
from core import events as ev, run_state

GIVEN, INFERRED = "given", "inferred"
LABELS = {GIVEN: "Task id given (task-incremental)", INFERRED: "Task id inferred (class-incremental)"}
INFERRED_SCENARIO = (
    "**Scenario: task id inferred (class-incremental evaluation).** At test time nobody says which task a sample "
    "comes from: it is run through every learned task's subnetwork, the most confident one (lowest softmax "
    "entropy) is taken as its task, and the answer counts only if it is the right class. Below, both "
    "scenarios after the last task (the forgetting curves assume the task id is given).")


def scenario_switch(prefix: str) -> str:
    """The scenario switch (key `<prefix>_scenario`): GIVEN (the default) or INFERRED."""
    st.session_state.setdefault(f"{prefix}_scenario", GIVEN)
    choice = st.segmented_control(
        "Scenario", (GIVEN, INFERRED), key=f"{prefix}_scenario", format_func=LABELS.__getitem__,
        help="Task id given: the test sample's task is known, so its own mask is used (the forgetting curves). "
             "Task id inferred: nobody says which task a sample is from; every task's subnetwork is tried and "
             "the one with the lowest softmax entropy answers.")
    return INFERRED if choice == INFERRED else GIVEN  # deselecting the active option leaves None


def _normalised_rows(confusion: Sequence[Sequence[int]]) -> list[list[float | None]]:
    """Counts → the fraction of each true task's samples given to each task (rows sum to 1)."""
    out = []
    for row in confusion:
        n = sum(row)
        out.append([c / n if n else None for c in row])
    return out


def _summary_line(label: str, sc: dict | None) -> str:
    if sc is None:
        return f"**{label}** — not finished yet: the scenarios are compared on a finished run."
    text = f"**{label}** — task id given: ACC **{ui.pct(sc['given_acc'])}**"
    if sc["cil_accuracy"] is not None:
        text += f"; task id inferred: class-incremental accuracy **{ui.pct(sc['cil_accuracy'])}**"
    if sc["task_accuracy"] is not None:
        text += f", task identified correctly for **{ui.pct(sc['task_accuracy'])}** of test samples"
    reasons = [r for r in (sc["reason"], sc["cil_reason"]) if r]
    return text + (f". *No task inference: {'; '.join(reasons)}.*" if reasons else ".")


def draw_scenarios(runs: Mapping[str, Sequence[ev.Event]], prefix: str) -> None:
    """Both scenarios for each run (label → typed events). Keys: `<prefix>_scenario_bars`,
    `<prefix>_confusion_<k>`."""
    st.markdown(INFERRED_SCENARIO)
    results = {label: run_state.scenarios(recs) for label, recs in runs.items()}
    for label, sc in results.items():
        st.markdown(_summary_line(label, sc))
    done = {label: sc for label, sc in results.items() if sc is not None and sc["given"]}
    if not done:
        return
    fig = scenario_bars({label: sc["given"] for label, sc in done.items()},
                        {label: sc["inferred"] for label, sc in done.items()}, uirevision=f"{prefix}-scenarios")
    ui.chart(fig, f"{prefix}_scenario_bars",
             "Each task's test accuracy after the last task: with its task id given (its own mask), and with the "
             "task id inferred by the lowest-entropy subnetwork (a wrong guess is usually a wrong class).",
             in_place=True)
    confusions = [(label, sc["confusion"]) for label, sc in done.items() if sc["confusion"]]
    if not confusions:
        return
    cols = ui.wrapping_row(f"{prefix}_confusion_row", [(str(k), 1, 20) for k in range(len(confusions))], per_line=2)
    for k, (col, (label, confusion)) in enumerate(zip(cols, confusions)):
        with col:
            n = len(confusion)
            fig = labelled_heatmap(_normalised_rows(confusion), title=f"{label}: which task is inferred",
                                   x_title="inferred task", y_title="true task",
                                   x_labels=[f"task {j}" for j in range(n)], y_labels=[f"task {i}" for i in range(n)],
                                   uirevision=f"{prefix}-confusion-{k}")
            ui.chart(fig, f"{prefix}_confusion_{k}",
                     f"{label}: share of each task's test samples (row) whose lowest-entropy subnetwork was task j "
                     "(column); a bright diagonal means the task id is recovered.", in_place=True)
