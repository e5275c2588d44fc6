"""Projections: 2-D points (PCA, t-SNE, UMAP of task embeddings or hidden activations), coloured by
task or class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from app.components.charts.style import PALETTE, finish

def _label_order(labels: Sequence[Any]) -> list[Any]:
    uniq = list(dict.fromkeys(labels))
    try:
        return sorted(uniq)
    except TypeError:
        return uniq


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


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
    colors = {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(order)}
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
    finish(fig, title=title, x_title=x_title, y_title=y_title, uirevision=uirevision,
            height=height, legend_title_text=color_title)
    return fig
