"""Curves drawn from a run's typed events (core/events.py): forgetting curves (one run, or several methods overlaid)
and the loss terms, with task-switch markers."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from app.components.charts.style import DASHES, finish, log_y_axis, task_color
from core.run_state import current_run, eval_curves, loss_steps, task_switches

_LOSS_TERMS: tuple[tuple[str, str], ...] = (
    ("ce", "cross-entropy"),
    ("r_hnet", "β·R_hnet"),
    ("r_target", "λ·R_target"),
    ("total", "total"),
)


def _add_task_switches(fig: go.Figure, switches: Sequence[tuple[int, int]]) -> None:
    """Vertical dashed line (a layout shape) at each task switch, annotated "task k"."""
    for task, step in switches:
        fig.add_shape(type="line", xref="x", yref="paper", x0=step, x1=step, y0=0, y1=1,
                      line=dict(color="rgba(90,90,90,0.6)", width=1, dash="dash"), layer="below")
        # above the plot area (not on the 100 % line, where it would cover the curves)
        fig.add_annotation(x=step, y=1.0, xref="x", yref="paper", text=f"task {task}",
                           showarrow=False, xanchor="left", yanchor="bottom", xshift=1, yshift=1,
                           font=dict(size=9, color="rgba(70,70,70,0.9)"))


def _fix_x_range(fig: go.Figure, total_steps: int | None) -> None:
    if total_steps is not None and total_steps > 0:
        fig.update_xaxes(range=[0, total_steps], autorange=False)


def _has_points(fig: go.Figure) -> bool:
    return any(t.x is not None and len(t.x) for t in fig.data)


def _empty_axes(fig: go.Figure, waiting_for: str, total_steps: int | None, log_y: bool = False) -> None:
    """Before the first point: sensible fixed axes (Plotly's autorange of no data is −1 … 6 on a
    linear axis and 10 … 10k on a log one) and a note saying what the chart waits for."""
    if _has_points(fig):
        return
    fig.update_xaxes(range=[0, total_steps or 1], autorange=False, showticklabels=bool(total_steps))
    if log_y:
        fig.update_yaxes(range=[-2, 1], autorange=False)  # 0.01 … 10: where the loss terms start
    fig.add_annotation(text=f"waiting for {waiting_for}…", x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font=dict(color="rgba(90,90,90,0.9)"))


def _curve_trace(task: int, c: dict[str, list], *, name: str, dash: str = "solid",
                 method: str | None = None, highlight: int | None = None, **kw: Any) -> go.Scatter:
    head = f"{method}<br>" if method else ""
    faded = highlight is not None and task != highlight  # the others stay as faint context
    return go.Scatter(
        x=c["x"], y=c["y"], mode="lines+markers", name=name, opacity=0.18 if faded else 1.0,
        line=dict(color=task_color(task), dash=dash, width=4 if task == highlight else 2),
        marker=dict(size=4),
        customdata=np.column_stack([c["train_task"], c["step"]]) if c["x"] else None,
        hovertemplate=(f"{head}task {task}<br>global step %{{x}}"
                       "<br>(training task %{customdata[0]}, step %{customdata[1]})"
                       "<br>accuracy %{y:.1%}<extra></extra>"),
        **kw,
    )


def _downsample(x: list, y: list, max_points: int | None) -> tuple[list, list]:
    """Keep every k-th point (and the last) so a trace has at most ~max_points points."""
    n = len(x)
    if not max_points or n <= max_points:
        return x, y
    k = math.ceil(n / max_points)
    idx = list(range(0, n, k))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return [x[i] for i in idx], [y[i] for i in idx]


def forgetting_curves(events: Sequence[Mapping[str, Any]], *, title: str = "Forgetting curves",
                      uirevision: str = "fc", total_steps: int | None = None,
                      height: int | None = None, highlight: int | None = None) -> go.Figure:
    """Accuracy of every task against training iterations: how it falls (forgetting) as later
    tasks are trained.

    One line per task j, made of the "evaluated" events' `accuracies[j]`, starting where task j
    first appears. A dashed vertical line (layout shape) marks each task switch ("task_started"
    global step), annotated "task k". Only the last run in `events` is drawn (see `current_run`).

    Args:
        events: event dicts of one run.
        title: figure title.
        uirevision: fixed string so live refreshes keep zoom state.
        total_steps: when given, fix the x axis to [0, total_steps] so it does not jump while
            the run is live (n_tasks · iters_per_task).
        height: optional figure height in px.
        highlight: a task drawn bold, the others faded (None: all alike).
    Returns:
        Figure with one Scatter per task seen so far; y in [0, 1.02] as "accuracy".
    """
    events = current_run(events)
    fig = go.Figure()
    for task, c in eval_curves(events).items():
        fig.add_trace(_curve_trace(task, c, name=f"task {task}", legendgroup=f"task {task}", highlight=highlight))
    _add_task_switches(fig, task_switches(events))
    finish(fig, title=title, x_title="training iterations", y_title="accuracy", automargin=False,
            uirevision=uirevision, height=height, legend_title_text="evaluated on")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    _empty_axes(fig, "the first evaluation", total_steps)
    _fix_x_range(fig, total_steps)
    return fig


def compare_forgetting(runs: Mapping[str, Sequence[Mapping[str, Any]]], *,
                       title: str = "Forgetting curves: comparison", uirevision: str = "fc-compare",
                       total_steps: int | None = None, height: int | None = None,
                       show: Collection[str] | None = None, highlight: int | None = None) -> go.Figure:
    """Overlay the forgetting curves of several runs, e.g. {"HyperMask": ev, "Fine-tuning": ev}.

    Task j has the same colour in every run; each method has its own line dash (solid, dash,
    dot, …) and legend group (titled by the method). Task switch markers are drawn once per
    distinct global step over all runs.

    Args:
        runs: method name → event dicts of its run (only the last run in each list is used).
        title, uirevision, total_steps, height, highlight: as in `forgetting_curves`.
        show: the methods drawn (None: all); a hidden method keeps its place, so the others keep
            their line styles.
    Returns:
        Figure with one Scatter per (shown method, task).
    """
    fig = go.Figure()
    switches: dict[int, int] = {}
    for m, (method, events) in enumerate(runs.items()):
        events = current_run(events)
        dash = DASHES[m % len(DASHES)]
        if show is not None and method not in show:
            continue
        for task, c in eval_curves(events).items():
            fig.add_trace(_curve_trace(task, c, name=f"task {task}", dash=dash, method=method, highlight=highlight,
                                       legendgroup=method, legendgrouptitle_text=method))
        for task, step in task_switches(events):
            switches.setdefault(step, task)
    _add_task_switches(fig, sorted(((t, s) for s, t in switches.items()), key=lambda p: p[1]))
    finish(fig, title=title, x_title="training iterations", y_title="accuracy", automargin=False,
            uirevision=uirevision, height=height, legend=dict(groupclick="toggleitem"))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    _empty_axes(fig, "the first evaluation", total_steps)
    _fix_x_range(fig, total_steps)
    return fig


def loss_curves(events: Sequence[Mapping[str, Any]], *, log_y: bool = True,
                title: str = "Loss terms", uirevision: str = "loss",
                total_steps: int | None = None, max_points: int | None = 4000,
                height: int | None = None) -> go.Figure:
    """Loss terms of the "step_logged" events against global step, with task switch markers.

    Four lines, always present (possibly empty): cross-entropy, β·R_hnet (hypernetwork output
    regulariser, already β-weighted), λ·R_target (target network regulariser, λ-weighted) and the
    total. Non-finite points, and on a log y axis non-positive ones (a loss of exactly 0), are gaps
    in their line (not joined across); R terms are zero during task 0, so their lines start at
    task 1.

    Args:
        events: typed events of one run (only the last run is drawn).
        log_y: logarithmic y axis.
        title, uirevision, total_steps, height: as in `forgetting_curves`.
        max_points: at most about this many points per line (every k-th step plus the last);
            None keeps all.
    Returns:
        Figure with 4 Scatter traces.
    """
    events = current_run(events)
    steps = loss_steps(events)
    fig = go.Figure()
    for key, label in _LOSS_TERMS:
        xs: list[int] = []
        ys: list[float | None] = []
        for e in steps:
            v = e.losses.get(key)
            if not isinstance(v, (int, float)):
                continue
            v = float(v)
            xs.append(e.global_step)
            ys.append(None if not math.isfinite(v) or (log_y and v <= 0) else v)
        first = next((i for i, y in enumerate(ys) if y is not None), len(ys))
        xs, ys = xs[first:], ys[first:]  # a line starts at its first drawable point
        xs, ys = _downsample(xs, ys, max_points)
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=label,
            line=dict(width=2 if key == "total" else 1.5, dash="dot" if key == "total" else "solid"),
            hovertemplate=f"{label}<br>global step %{{x}}<br>%{{y:.4g}}<extra></extra>",
        ))
    _add_task_switches(fig, task_switches(events))
    finish(fig, title=title, x_title="training iterations",
            y_title="loss (log scale)" if log_y else "loss", uirevision=uirevision, height=height)
    if log_y:
        log_y_axis(fig)
    _empty_axes(fig, "the first logged step", total_steps, log_y=log_y)
    _fix_x_range(fig, total_steps)
    return fig
