"""Pure chart functions for HyperMask Explorer (plotly + numpy only; no streamlit, no torch).

Every function takes plain data (lists, dicts of event records, numpy arrays) and returns a
`plotly.graph_objects.Figure` with a title, axis titles, compact margins, `template="plotly_white"`
and a fixed `layout.uirevision`, so a live refresh of the same chart keeps the user's zoom and
legend state (no flicker). The app shows them with `app.components.ui.chart`. Every figure function
holds `FIGURE_LOCK` while it builds (see there: the first pandas import must not overlap it).

Vocabulary: task-incremental learning, task embedding, target network, hypernetwork,
mask sparsity, accuracy matrix R[i, j] (accuracy on task j after training task i; fractions in
[0, 1], None above the diagonal), average accuracy (ACC), backward transfer (BWT), forgetting,
forward transfer.

Event records are plain dicts (``dataclasses.asdict`` of ``core.events``) with a "kind":
run_started, task_started, step_logged, evaluated, task_finished, run_finished, run_failed.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from core.run_state import current_run, eval_curves, task_switches

__all__ = [
    "FIGURE_LOCK",
    "PLOTLY_CONFIG",
    "plotly_config",
    "task_color",
    "forgetting_curves",
    "compare_forgetting",
    "loss_curves",
    "accuracy_matrix_heatmap",
    "mask_overlap_heatmap",
    "sparsity_heatmap",
    "neuron_usage",
    "input_masks_grid",
    "mask_histogram",
    "projection_scatter",
    "metric_bars",
]

#: `st.plotly_chart(fig, config=PLOTLY_CONFIG)`: modebar with PNG download (2× scale), no logo, and no
#: "Share chart" button (plotly.js 4 offers to upload the figure to Plotly's cloud; the app is offline).
PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "displayModeBar": True,
    "showSendToCloud": False,
    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "hypermask_chart"},
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "sendChartToCloud"],
}

MARGIN = dict(l=55, r=20, t=55, b=50)
TEMPLATE = "plotly_white"
_PALETTE: list[str] = list(qualitative.Plotly) + list(qualitative.Dark24)
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
_ACC_SCALE = "Viridis"
_MASK_SCALE = "Blues"
_INPUT_MASK_SCALE = "Viridis"  # first-layer masks on the image grid: high (used) = bright yellow

_LOSS_TERMS: tuple[tuple[str, str], ...] = (
    ("ce", "cross-entropy"),
    ("r_hnet", "β·R_hnet"),
    ("r_target", "λ·R_target"),
    ("total", "total"),
)

_METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "acc": ("acc", "avg_acc", "average_accuracy", "average accuracy"),
    "bwt": ("bwt", "backward_transfer", "backward transfer"),
    "forgetting": ("forgetting", "avg_forgetting", "fgt"),
    "fwt": ("fwt", "forward_transfer", "forward transfer"),
}


#: Held while a figure is built (every figure function here) or serialised (`app.components.ui.chart`),
#: and while pandas is imported for the first time (`import_pandas`). Plotly reads
#: `sys.modules["pandas"]` without taking the import lock whenever it validates or serialises a value,
#: so a figure built in one browser session while another session's thread is importing pandas would
#: meet a half-initialised module (AttributeError). The app never imports pandas for its default page,
#: which keeps the first chart 0.3 s sooner; `app/main.py` imports it holding this lock before any
#: other page.
FIGURE_LOCK = threading.RLock()

_F = TypeVar("_F", bound=Callable[..., Any])


def _holding_figure_lock(fn: _F) -> _F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with FIGURE_LOCK:
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------------------------
def plotly_config(filename: str = "hypermask_chart") -> dict[str, Any]:
    """A copy of `PLOTLY_CONFIG` whose PNG download is named `filename` (without extension)."""
    cfg = dict(PLOTLY_CONFIG)
    cfg["toImageButtonOptions"] = {**PLOTLY_CONFIG["toImageButtonOptions"], "filename": filename}
    return cfg


def task_color(task: int) -> str:
    """Fixed colour of task `task` (the same in every chart)."""
    return _PALETTE[int(task) % len(_PALETTE)]


def _finish(fig: go.Figure, *, title: str, x_title: str, y_title: str, uirevision: str,
            height: int | None = None, **layout: Any) -> go.Figure:
    """Apply the common layout: title, axis titles, margins, template, uirevision."""
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left"),
        template=TEMPLATE,
        margin=MARGIN,
        uirevision=uirevision,
        **layout,
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    if height is not None:
        fig.update_layout(height=height)
    return fig


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


def _curve_trace(task: int, c: dict[str, list], *, name: str, dash: str = "solid",
                 method: str | None = None, **kw: Any) -> go.Scatter:
    head = f"{method}<br>" if method else ""
    return go.Scatter(
        x=c["x"], y=c["y"], mode="lines+markers", name=name,
        line=dict(color=task_color(task), dash=dash, width=2), marker=dict(size=4),
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


def _fmt(v: float, spec: str) -> str:
    return "" if v is None or not np.isfinite(v) else format(v, spec)


def _text_grid(z: np.ndarray, spec: str, suffix: str = "") -> list[list[str]]:
    return [[(_fmt(v, spec) + suffix) if np.isfinite(v) else "" for v in row] for row in z]


def _as_float_matrix(matrix: Any) -> np.ndarray:
    """Ragged list of rows (None allowed) or array → square-or-rectangular float array, NaN for None."""
    if isinstance(matrix, np.ndarray):
        return np.asarray(matrix, dtype=np.float64)
    rows = [list(r) if r is not None else [] for r in matrix]
    n_cols = max([len(r) for r in rows] + [len(rows)]) if rows else 0
    out = np.full((len(rows), n_cols), np.nan, dtype=np.float64)
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if v is not None:
                out[i, j] = float(v)
    return out


# ----------------------------------------------------------------------------------------------
# 1–3: curves from events
# ----------------------------------------------------------------------------------------------
@_holding_figure_lock
def forgetting_curves(events: Sequence[Mapping[str, Any]], *, title: str = "Forgetting curves",
                      uirevision: str = "fc", total_steps: int | None = None,
                      height: int | None = None) -> go.Figure:
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
    Returns:
        Figure with one Scatter per task seen so far; y in [0, 1.02] as "accuracy".
    """
    events = current_run(events)
    fig = go.Figure()
    for task, c in eval_curves(events).items():
        fig.add_trace(_curve_trace(task, c, name=f"task {task}", legendgroup=f"task {task}"))
    _add_task_switches(fig, task_switches(events))
    _finish(fig, title=title, x_title="training iterations", y_title="accuracy",
            uirevision=uirevision, height=height, legend_title_text="evaluated on")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    _fix_x_range(fig, total_steps)
    return fig


@_holding_figure_lock
def compare_forgetting(runs: Mapping[str, Sequence[Mapping[str, Any]]], *,
                       title: str = "Forgetting curves: comparison", uirevision: str = "fc-compare",
                       total_steps: int | None = None, height: int | None = None) -> go.Figure:
    """Overlay the forgetting curves of several runs, e.g. {"HyperMask": ev, "Fine-tuning": ev}.

    Task j has the same colour in every run; each method has its own line dash (solid, dash,
    dot, …) and legend group (titled by the method). Task switch markers are drawn once per
    distinct global step over all runs.

    Args:
        runs: method name → event dicts of its run (only the last run in each list is used).
        title, uirevision, total_steps, height: as in `forgetting_curves`.
    Returns:
        Figure with one Scatter per (method, task).
    """
    fig = go.Figure()
    switches: dict[int, int] = {}
    for m, (method, events) in enumerate(runs.items()):
        events = current_run(events)
        dash = _DASHES[m % len(_DASHES)]
        for task, c in eval_curves(events).items():
            fig.add_trace(_curve_trace(task, c, name=f"task {task}", dash=dash, method=method,
                                       legendgroup=method, legendgrouptitle_text=method))
        for task, step in task_switches(events):
            switches.setdefault(step, task)
    _add_task_switches(fig, sorted(((t, s) for s, t in switches.items()), key=lambda p: p[1]))
    _finish(fig, title=title, x_title="training iterations", y_title="accuracy",
            uirevision=uirevision, height=height, legend=dict(groupclick="toggleitem"))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    _fix_x_range(fig, total_steps)
    return fig


@_holding_figure_lock
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
        events: event dicts of one run (only the last run is drawn).
        log_y: logarithmic y axis.
        title, uirevision, total_steps, height: as in `forgetting_curves`.
        max_points: at most about this many points per line (every k-th step plus the last);
            None keeps all.
    Returns:
        Figure with 4 Scatter traces.
    """
    events = current_run(events)
    steps = [e for e in events if e.get("kind") == "step_logged"]
    fig = go.Figure()
    for key, label in _LOSS_TERMS:
        xs: list[int] = []
        ys: list[float | None] = []
        for e in steps:
            v = (e.get("losses") or {}).get(key)
            if v is None:
                continue
            v = float(v)
            xs.append(int(e["global_step"]))
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
    _finish(fig, title=title, x_title="training iterations",
            y_title="loss (log scale)" if log_y else "loss", uirevision=uirevision, height=height)
    if log_y:
        fig.update_yaxes(type="log")
    _fix_x_range(fig, total_steps)
    return fig


# ----------------------------------------------------------------------------------------------
# 4–7: heatmaps
# ----------------------------------------------------------------------------------------------
@_holding_figure_lock
def accuracy_matrix_heatmap(matrix: Sequence[Sequence[float | None]] | np.ndarray, *,
                            title: str = "Accuracy matrix R[i, j]", uirevision: str = "acc-matrix",
                            height: int | None = None) -> go.Figure:
    """Heatmap of the accuracy matrix R[i, j] (accuracy on task j after training task i).

    Rows are "after training task i", columns "evaluated on task j"; row 0 is on top. None cells
    (above the diagonal, rows not trained yet) stay blank (NaN in `z`). Cells are annotated in %
    with one decimal ("87.3%"), or for T ≥ 8 in whole percents without the sign ("87"); the colour scale is fixed to [0, 1]. Ragged rows (e.g. the `acc_row` of
    each "task_finished" event) are padded with None to a square T × T matrix.

    Args:
        matrix: T rows of fractions in [0, 1] or None.
        title, uirevision, height: layout options.
    Returns:
        Figure with one Heatmap (`z` float with NaN for None).
    """
    z = _as_float_matrix(matrix)
    n_rows, n_cols = z.shape
    rows = list(range(n_rows))
    cols = list(range(n_cols))
    # many tasks (T ≥ 8): whole percents without "%" in a larger font, so the cells stay readable
    big = max(n_rows, n_cols) >= 8
    text = _text_grid(z * 100.0, ".0f") if big else _text_grid(z * 100.0, ".1f", "%")
    fig = go.Figure(go.Heatmap(
        z=z, x=cols, y=rows, zmin=0.0, zmax=1.0, colorscale=_ACC_SCALE,
        text=text, texttemplate="%{text}", textfont=dict(size=13 if big else 12),
        colorbar=dict(title=dict(text="accuracy"), tickformat=".0%"),
        hovertemplate=("after training task %{y}<br>evaluated on task %{x}"
                       "<br>accuracy %{z:.1%}<extra></extra>"),
        xgap=1, ygap=1, hoverongaps=False,
    ))
    if big and height is None:
        height = min(900, 40 * max(n_rows, n_cols) + 130)
    _finish(fig, title=title, x_title="evaluated on task j", y_title="after training task i",
            uirevision=uirevision, height=height)
    fig.update_xaxes(tickmode="array", tickvals=cols, ticktext=[str(c) for c in cols],
                     side="bottom", showgrid=False, zeroline=False)
    fig.update_yaxes(tickmode="array", tickvals=rows, ticktext=[str(r) for r in rows],
                     autorange="reversed", showgrid=False, zeroline=False)
    return fig


@_holding_figure_lock
def mask_overlap_heatmap(overlap: np.ndarray, *, layer: str, measure: str,
                         title: str | None = None, uirevision: str = "mask-overlap",
                         task_labels: Sequence[str] | None = None,
                         height: int | None = None) -> go.Figure:
    """T × T heatmap of a mask overlap measure between tasks (Jaccard, soft overlap, cosine).

    Args:
        overlap: (T, T) values in [0, 1] (see `mask_analysis.jaccard_matrix` etc.).
        layer: target network layer name (for the title).
        measure: name of the measure, e.g. "Jaccard" (for the title, colour bar and hover).
        title: overrides the default "Mask overlap (<measure>): <layer>".
        task_labels: optional T labels; default "0", "1", ….
        uirevision, height: layout options.
    Returns:
        Figure with one Heatmap annotated with two decimals, colour scale fixed to [0, 1].
    """
    z = np.asarray(overlap, dtype=np.float64)
    t = z.shape[0]
    labels = list(task_labels) if task_labels is not None else [str(i) for i in range(t)]
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, zmin=0.0, zmax=1.0, colorscale=_MASK_SCALE,
        text=_text_grid(z, ".2f"), texttemplate="%{text}",
        colorbar=dict(title=dict(text=measure)),
        hovertemplate=f"task %{{y}} vs task %{{x}}<br>{measure} %{{z:.3f}}<extra></extra>",
        xgap=1, ygap=1, hoverongaps=False,
    ))
    _finish(fig, title=title or f"Mask overlap ({measure}): {layer}", x_title="task j",
            y_title="task i", uirevision=uirevision, height=height)
    fig.update_xaxes(type="category", showgrid=False, zeroline=False)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, zeroline=False)
    return fig


@_holding_figure_lock
def sparsity_heatmap(sparsity: np.ndarray, layers: Sequence[str], *,
                     title: str = "Mask sparsity per task and layer", uirevision: str = "sparsity",
                     task_labels: Sequence[str] | None = None,
                     height: int | None = None) -> go.Figure:
    """Task × layer heatmap of mask sparsity (fraction of zero entries), shown in %.

    Args:
        sparsity: (T, L) fractions in [0, 1] (see `mask_analysis.sparsity_matrix`); NaN blank.
        layers: the L layer names (columns).
        task_labels: optional T row labels; default "0", "1", ….
        title, uirevision, height: layout options.
    Returns:
        Figure with one Heatmap whose `z` is in percent (fraction · 100), range fixed to
        [0, 100], cells annotated "12.3%".
    """
    z = np.asarray(sparsity, dtype=np.float64) * 100.0
    t = z.shape[0]
    rows = list(task_labels) if task_labels is not None else [str(i) for i in range(t)]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(layers), y=rows, zmin=0.0, zmax=100.0, colorscale=_MASK_SCALE,
        text=_text_grid(z, ".1f", "%"), texttemplate="%{text}",
        colorbar=dict(title=dict(text="sparsity %"), ticksuffix="%"),
        hovertemplate="task %{y}<br>layer %{x}<br>mask sparsity %{z:.1f}%<extra></extra>",
        xgap=1, ygap=1, hoverongaps=False,
    ))
    _finish(fig, title=title, x_title="layer", y_title="task", uirevision=uirevision,
            height=height)
    fig.update_xaxes(type="category", showgrid=False, zeroline=False)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, zeroline=False)
    return fig


@_holding_figure_lock
def neuron_usage(usage: np.ndarray, layer: str, *, title: str | None = None,
                 uirevision: str = "neuron-usage", zmax: float | None = None,
                 height: int | None = None) -> go.Figure:
    """Task × neuron heatmap of the mean mask value per output neuron (row of the weight matrix).

    Args:
        usage: (T, n_neurons) from `mask_analysis.neuron_usage`.
        layer: target network layer name (for the title).
        title: overrides the default "Per-neuron usage: <layer>".
        zmax: colour scale upper bound; default: the data maximum (lower bound is 0).
        uirevision, height: layout options.
    Returns:
        Figure with one Heatmap (no cell text: there are many neurons).
    """
    z = np.asarray(usage, dtype=np.float64)
    if z.ndim == 1:
        z = z[None, :]
    t, n = z.shape
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(n)), y=list(range(t)), zmin=0.0, zmax=zmax, colorscale=_MASK_SCALE,
        colorbar=dict(title=dict(text="mean mask")),
        hovertemplate="task %{y}<br>neuron %{x}<br>mean mask %{z:.3f}<extra></extra>",
    ))
    _finish(fig, title=title or f"Per-neuron usage: {layer}", x_title="output neuron",
            y_title="task", uirevision=uirevision, height=height)
    fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=list(range(t)),
                     showgrid=False, zeroline=False)
    fig.update_xaxes(showgrid=False, zeroline=False)
    return fig


@_holding_figure_lock
def input_masks_grid(images: np.ndarray, *, title: str = "First-layer masks on the input grid",
                     uirevision: str = "input-masks", task_labels: Sequence[str] | None = None,
                     max_cols: int = 10, zmin: float = 0.0, zmax: float | None = None,
                     tile_px: int = 130) -> go.Figure:
    """One small image per task: the first-layer mask folded back to the image grid.

    Tasks are laid side by side (`make_subplots`, one row, or more when T > `max_cols`), each a
    Heatmap titled "task k", with square pixels, image orientation (row 0 on top), no ticks and a
    shared colour scale (one `coloraxis`).

    Args:
        images: (T, H, W) values, typically in [0, 1] (see `mask_analysis.fold_input_mask`).
        title, uirevision: layout options.
        task_labels: optional T subplot titles; default "task k".
        max_cols: most images per row.
        zmin, zmax: shared colour range; `zmax` None = maximum over all images.
        tile_px: approximate height of one row in px.
    Returns:
        Figure with T Heatmap traces sharing `layout.coloraxis`.
    """
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim == 2:
        imgs = imgs[None]
    t = imgs.shape[0]
    n_rows = max(1, math.ceil(t / max(1, max_cols)))
    n_cols = max(1, math.ceil(t / n_rows))
    labels = list(task_labels) if task_labels is not None else [f"task {k}" for k in range(t)]
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=labels,
                        horizontal_spacing=0.015, vertical_spacing=0.08)
    for k in range(t):
        r, c = divmod(k, n_cols)
        fig.add_trace(go.Heatmap(
            z=imgs[k], coloraxis="coloraxis", name=labels[k],
            hovertemplate=f"{labels[k]}<br>row %{{y}}, col %{{x}}<br>mean mask %{{z:.3f}}<extra></extra>",
        ), row=r + 1, col=c + 1)
        idx = k + 1
        fig.update_yaxes(scaleanchor=f"x{idx if idx > 1 else ''}", scaleratio=1, constrain="domain",
                         row=r + 1, col=c + 1)
        fig.update_xaxes(constrain="domain", row=r + 1, col=c + 1)
    finite = imgs[np.isfinite(imgs)]
    cmax = zmax if zmax is not None else (float(finite.max()) if finite.size else 1.0)
    if cmax <= zmin:
        cmax = zmin + 1.0
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False,
                     autorange="reversed")
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left"), template=TEMPLATE,
        margin=dict(l=30, r=20, t=75, b=30), uirevision=uirevision,
        coloraxis=dict(colorscale=_INPUT_MASK_SCALE, cmin=zmin, cmax=cmax,
                       colorbar=dict(title=dict(text="mean mask"), thickness=12)),
        height=n_rows * tile_px + 100,
    )
    # axis titles only on the bottom-left tile to keep the grid compact
    fig.update_xaxes(title_text="pixel column", title_font_size=10, row=n_rows, col=1)
    fig.update_yaxes(title_text="pixel row", title_font_size=10, row=n_rows, col=1)
    for a in fig.layout.annotations:
        a.font = dict(size=11)
    return fig


# ----------------------------------------------------------------------------------------------
# 9–11: histogram, scatter, bars
# ----------------------------------------------------------------------------------------------
@_holding_figure_lock
def mask_histogram(values_per_task: Mapping[int, np.ndarray], thresholds: Mapping[int, float], *,
                   log_y: bool = True, bins: int = 60, drop_zeros: bool = False,
                   title: str = "Mask value histogram", uirevision: str = "mask-hist",
                   height: int | None = None) -> go.Figure:
    """Overlaid histograms of mask values for chosen tasks, with each task's threshold τ.

    The histograms are binned here with numpy (shared bin edges) and drawn as semi-transparent
    bars (`barmode="overlay"`), so large masks do not ship every value to the browser. A dashed
    vertical line in the task's colour marks each threshold τ > 0 (none for τ ≤ 0: a dense mask has
    no threshold); its value is in the legend ("τ task k = 0.123", a line-only legend entry).

    Args:
        values_per_task: task → mask values (any shape; flattened).
        thresholds: task → effective threshold τ (see `mask_analysis.threshold_of`); one line
            each.
        log_y: logarithmic count axis (zeros of a sparse mask dominate the first bin).
        bins: number of shared bins over [0, max value].
        drop_zeros: leave exact zeros out of the histograms.
        title, uirevision, height: layout options.
    Returns:
        Figure with one Bar trace per task, then, per threshold τ > 0, one shape and one empty
        Scatter (legend entry).
    """
    flat = {int(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in values_per_task.items()}
    flat = {k: v[np.isfinite(v)] for k, v in flat.items()}
    if drop_zeros:
        flat = {k: v[v != 0] for k, v in flat.items()}
    nonempty = [v for v in flat.values() if v.size]
    lo = min(0.0, min(float(v.min()) for v in nonempty)) if nonempty else 0.0
    hi = max(float(v.max()) for v in nonempty) if nonempty else 1.0
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, max(1, int(bins)) + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    width = float(edges[1] - edges[0])
    fig = go.Figure()
    for task, v in sorted(flat.items()):
        counts, _ = np.histogram(v, bins=edges)
        fig.add_trace(go.Bar(
            x=centers, y=counts, width=width, name=f"task {task}", opacity=0.55,
            marker=dict(color=task_color(task), line=dict(width=0)),
            customdata=np.column_stack([edges[:-1], edges[1:]]),
            hovertemplate=(f"task {task}<br>mask value %{{customdata[0]:.3f}}–%{{customdata[1]:.3f}}"
                           "<br>count %{y}<extra></extra>"),
        ))
    # τ lines only where there is a threshold (τ > 0; a dense mask, p = 0, has none). The τ values
    # go into the legend (one legend entry per line) rather than into overlapping text labels.
    for task, tau in sorted(thresholds.items()):
        tau = float(tau) if tau is not None else float("nan")
        if not math.isfinite(tau) or tau <= 0:
            continue
        color = task_color(int(task))
        fig.add_shape(type="line", xref="x", yref="paper", x0=tau, x1=tau, y0=0, y1=1,
                      line=dict(color=color, width=2, dash="dash"))
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="lines", name=f"τ task {task} = {tau:.3f}",
            line=dict(color=color, width=2, dash="dash"), hoverinfo="skip",
        ))
    _finish(fig, title=title, x_title="mask value", y_title="count (log scale)" if log_y else "count",
            uirevision=uirevision, height=height, barmode="overlay", bargap=0)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def _label_order(labels: Sequence[Any]) -> list[Any]:
    uniq = list(dict.fromkeys(labels))
    try:
        return sorted(uniq)
    except TypeError:
        return uniq


@_holding_figure_lock
def projection_scatter(points: np.ndarray, labels: Sequence[Any], hover: Sequence[str] | None = None,
                       *, color_title: str, title: str = "2-D projection",
                       uirevision: str = "projection", highlight: np.ndarray | None = None,
                       highlight_labels: Sequence[Any] | None = None,
                       x_title: str = "component 1", y_title: str = "component 2",
                       marker_size: int = 6, height: int | None = None) -> go.Figure:
    """Scatter of a 2-D projection (PCA / t-SNE / UMAP) coloured by a categorical label.

    One trace per distinct label (task or class), sorted, with hover text. Optional highlighted
    points (e.g. the task embeddings projected into the same plane) are drawn as one extra trace
    of large star markers, coloured like the matching label when there is one.

    Args:
        points: (N, 2) coordinates.
        labels: N categorical labels.
        hover: N hover strings (optional).
        color_title: legend title (e.g. "task", "class").
        highlight: optional (K, 2) coordinates to draw as stars.
        highlight_labels: K labels of the highlighted points (shown as text and in hover).
        title, uirevision, x_title, y_title, marker_size, height: layout options.
    Returns:
        Figure with one Scatter per label, plus one if `highlight` has points.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    labels = list(labels)
    if len(labels) != pts.shape[0]:
        raise ValueError(f"{len(labels)} labels for {pts.shape[0]} points")
    hover_list = list(hover) if hover is not None else [str(l) for l in labels]
    order = _label_order(labels)
    colors = {lab: _PALETTE[i % len(_PALETTE)] for i, lab in enumerate(order)}
    lab_arr = np.empty(len(labels), dtype=object)
    lab_arr[:] = labels
    hov_arr = np.empty(len(hover_list), dtype=object)
    hov_arr[:] = hover_list
    fig = go.Figure()
    for lab in order:
        sel = np.array([l == lab for l in labels], dtype=bool)
        fig.add_trace(go.Scatter(
            x=pts[sel, 0], y=pts[sel, 1], mode="markers", name=str(lab),
            marker=dict(size=marker_size, color=colors[lab], opacity=0.75, line=dict(width=0)),
            text=list(hov_arr[sel]), hovertemplate="%{text}<extra></extra>",
        ))
    if highlight is not None and np.asarray(highlight).size:
        hl = np.asarray(highlight, dtype=np.float64).reshape(-1, 2)
        hl_labels = list(highlight_labels) if highlight_labels is not None else [
            str(i) for i in range(hl.shape[0])]
        by_str = {str(k): v for k, v in colors.items()}
        hl_colors = [colors.get(l, by_str.get(str(l), "#222222")) if _hashable(l) else "#222222"
                     for l in hl_labels]
        fig.add_trace(go.Scatter(
            x=hl[:, 0], y=hl[:, 1], mode="markers+text", name="task embeddings",
            text=[str(l) for l in hl_labels], textposition="top center",
            marker=dict(symbol="star", size=18, color=hl_colors,
                        line=dict(width=1.5, color="black")),
            hovertemplate=f"{color_title} %{{text}} (highlighted)<extra></extra>",
        ))
    _finish(fig, title=title, x_title=x_title, y_title=y_title, uirevision=uirevision,
            height=height, legend_title_text=color_title)
    return fig


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _lookup_metric(values: Mapping[str, float], metric: str) -> float | None:
    """Value of `metric` in `values`, by exact name, case-insensitively, or via known aliases
    ("ACC" ↔ "avg_acc", "BWT" ↔ "bwt", …)."""
    if metric in values:
        return values[metric]
    lowered = {str(k).lower(): v for k, v in values.items()}
    key = metric.lower()
    if key in lowered:
        return lowered[key]
    for canon, aliases in _METRIC_ALIASES.items():
        if key == canon or key in aliases:
            for a in (canon, *aliases):
                if a in lowered:
                    return lowered[a]
    return None


@_holding_figure_lock
def metric_bars(summary: Mapping[str, Mapping[str, float]], *,
                metrics: Sequence[str] = ("ACC", "BWT", "forgetting"),
                title: str = "Continual-learning metrics", uirevision: str = "metrics",
                height: int | None = None) -> go.Figure:
    """Grouped bars of average accuracy (ACC), backward transfer (BWT) and forgetting per method.

    Args:
        summary: method → {metric: fraction}; keys are matched case-insensitively, and the
            metrics dict of a run (avg_acc, bwt, forgetting) works directly.
        metrics: metrics to show, in order (x axis groups).
        title, uirevision, height: layout options.
    Returns:
        Figure with one Bar trace per method, coloured by its position in `summary` (pass every
        method, even one without values yet, to keep its colour); y = value · 100 (percent), text
        "12.3%". Missing metrics are None (no bar). The legend is always shown.
    """
    fig = go.Figure()
    for m, (method, values) in enumerate(summary.items()):
        ys: list[float | None] = []
        for metric in metrics:
            v = _lookup_metric(values, metric)
            ys.append(None if v is None or not math.isfinite(float(v)) else float(v) * 100.0)
        fig.add_trace(go.Bar(
            x=list(metrics), y=ys, name=str(method),
            marker=dict(color=_PALETTE[m % len(_PALETTE)]),
            text=["" if y is None else f"{y:.1f}%" for y in ys], textposition="outside",
            hovertemplate=f"{method}<br>%{{x}} %{{y:.2f}}%<extra></extra>",
        ))
    _finish(fig, title=title, x_title="metric", y_title="value (%)", uirevision=uirevision,
            height=height, barmode="group", legend_title_text="method", showlegend=True,
            uniformtext=dict(minsize=9, mode="hide"))  # a label too wide for its bar is left out
    fig.update_yaxes(ticksuffix="%", zeroline=True, zerolinecolor="#888")
    return fig
