"""Charts of a sweep (`core.sweeps`): the accuracy of every setting across its seeds (box plot with each
trial as a point one can click), and the mean accuracy over a grid of two axes (heatmap).
Accuracies are fractions in [0, 1]."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from app.components.charts.style import ACC_SCALE, PALETTE, as_float_matrix, finish, text_grid


def setting_boxes(groups: Mapping[str, Sequence[tuple[float, str, str]]], *,
                  title: str = "ACC per setting across seeds",
                  y_title: str = "ACC after the last task",
                  uirevision: str = "sweep-boxes") -> go.Figure:
    """One box per setting (x: its label) over its trials' values, every trial drawn as a point (a
    click selects it).

    Args:
        groups: setting label → [(value, trial label, trial key)]; the key is each point's
            `customdata`, what a selection returns.
    """
    fig = go.Figure()
    for k, (setting, trials) in enumerate(groups.items()):
        fig.add_trace(go.Box(
            x=[setting] * len(trials), y=[v for v, _, _ in trials], name=setting, showlegend=False,
            marker=dict(color=PALETTE[k % len(PALETTE)], size=8), boxpoints="all", jitter=0.4, pointpos=0,
            customdata=[key for _, _, key in trials], text=[label for _, label, _ in trials],
            hovertemplate="%{text}<br>ACC %{y:.1%}<extra></extra>"))
    finish(fig, title=title, x_title="setting", y_title=y_title, uirevision=uirevision, clickmode="event+select")
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%")
    return fig


def grid_heatmap(matrix: Sequence[Sequence[float | None]], x_labels: Sequence[str], y_labels: Sequence[str], *,
                 x_title: str, y_title: str, title: str = "Mean ACC over the grid",
                 uirevision: str = "sweep-grid") -> go.Figure:
    """Heatmap of mean accuracies (rows: `y_labels`, columns: `x_labels`), annotated in %, its colour
    scale spanning the values shown (a grid's settings often differ by a few points only)."""
    z = as_float_matrix(matrix)
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(x_labels), y=list(y_labels), zmin=lo, zmax=hi if hi > lo else lo + 1e-6, colorscale=ACC_SCALE,
        text=text_grid(z * 100, ".1f"), texttemplate="%{text}", xgap=1, ygap=1, hoverongaps=False,
        colorbar=dict(tickformat=".0%"),
        hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}: mean ACC %{{text}} %<extra></extra>"))
    finish(fig, title=title, x_title=x_title, y_title=y_title, uirevision=uirevision)
    fig.update_xaxes(type="category", showgrid=False, zeroline=False)
    fig.update_yaxes(type="category", showgrid=False, zeroline=False)
    return fig
