"""Bars and histograms: per-neuron mask usage, mask values against the threshold τ, and the
metrics (ACC, BWT, forgetting, FWT) of several runs side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math

import numpy as np
import plotly.graph_objects as go

from app.components.charts.style import MASK_SCALE, PALETTE, finish, log_y_axis, task_color

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
        z=z, x=list(range(n)), y=list(range(t)), zmin=0.0, zmax=zmax, colorscale=MASK_SCALE,
        colorbar=dict(title=dict(text="mean mask")),
        hovertemplate="task %{y}<br>neuron %{x}<br>mean mask %{z:.3f}<extra></extra>",
    ))
    finish(fig, title=title or f"Per-neuron usage: {layer}", x_title="output neuron",
            y_title="task", uirevision=uirevision, height=height)
    fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=list(range(t)),
                     showgrid=False, zeroline=False)
    fig.update_xaxes(showgrid=False, zeroline=False)
    return fig


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
    finish(fig, title=title, x_title="mask value", y_title="count (log scale)" if log_y else "count",
            uirevision=uirevision, height=height, barmode="overlay", bargap=0)
    if log_y:
        log_y_axis(fig)
    return fig


_METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "acc": ("acc", "avg_acc", "average_accuracy", "average accuracy"),
    "bwt": ("bwt", "backward_transfer", "backward transfer"),
    "forgetting": ("forgetting", "avg_forgetting", "fgt"),
    "fwt": ("fwt", "forward_transfer", "forward transfer"),
}


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
            marker=dict(color=PALETTE[m % len(PALETTE)]),
            text=["" if y is None else f"{y:.1f}%" for y in ys], textposition="outside",
            hovertemplate=f"{method}<br>%{{x}} %{{y:.2f}}%<extra></extra>",
        ))
    finish(fig, title=title, x_title="metric", y_title="value (%)", uirevision=uirevision,
            height=height, barmode="group", legend_title_text="method", showlegend=True,
            uniformtext=dict(minsize=9, mode="hide"))  # a label too wide for its bar is left out
    fig.update_yaxes(ticksuffix="%", zeroline=True, zerolinecolor="#888")
    return fig
