"""Heatmaps: the accuracy matrix R[i, j], mask overlap between tasks, mask sparsity per task and
layer, and first-layer masks folded back to the input grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.components.charts.style import (ACC_SCALE, INPUT_MASK_SCALE, MASK_SCALE, as_float_matrix,
                                         finish, text_grid, use_template)

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
    z = as_float_matrix(matrix)
    n_rows, n_cols = z.shape
    rows = list(range(n_rows))
    cols = list(range(n_cols))
    # many tasks (T ≥ 8): whole percents without "%" in a larger font, so the cells stay readable
    big = max(n_rows, n_cols) >= 8
    text = text_grid(z * 100.0, ".0f") if big else text_grid(z * 100.0, ".1f", "%")
    fig = go.Figure(go.Heatmap(
        z=z, x=cols, y=rows, zmin=0.0, zmax=1.0, colorscale=ACC_SCALE,
        text=text, texttemplate="%{text}", textfont=dict(size=13 if big else 12),
        colorbar=dict(title=dict(text="accuracy"), tickformat=".0%"),
        hovertemplate=("after training task %{y}<br>evaluated on task %{x}"
                       "<br>accuracy %{z:.1%}<extra></extra>"),
        xgap=1, ygap=1, hoverongaps=False,
    ))
    if big and height is None:
        height = min(900, 40 * max(n_rows, n_cols) + 130)
    finish(fig, title=title, x_title="evaluated on task j", y_title="after training task i",
            uirevision=uirevision, height=height)
    fig.update_xaxes(tickmode="array", tickvals=cols, ticktext=[str(c) for c in cols],
                     side="bottom", showgrid=False, zeroline=False)
    fig.update_yaxes(tickmode="array", tickvals=rows, ticktext=[str(r) for r in rows],
                     autorange="reversed", showgrid=False, zeroline=False)
    if z.size and np.isnan(z).all():  # no row yet: Plotly's autorange would drop "reversed" (row 0 at the bottom)
        fig.update_xaxes(range=[-0.5, n_cols - 0.5], autorange=False)
        fig.update_yaxes(range=[n_rows - 0.5, -0.5], autorange=False)
    if z.size == 0:  # before the run has said how many tasks it has: no −1 … 6 axes of nothing
        fig.update_xaxes(range=[-0.5, 0.5], showticklabels=False)
        fig.update_yaxes(range=[0.5, -0.5], autorange=False, showticklabels=False)
        fig.update_traces(showscale=False)
        fig.add_annotation(text="waiting for the first task…", x=0.5, y=0.5, xref="paper", yref="paper",
                           showarrow=False, font=dict(color="rgba(90,90,90,0.9)"))
    return fig


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
        z=z, x=labels, y=labels, zmin=0.0, zmax=1.0, colorscale=MASK_SCALE,
        text=text_grid(z, ".2f"), texttemplate="%{text}",
        colorbar=dict(title=dict(text=measure)),
        hovertemplate=f"task %{{y}} vs task %{{x}}<br>{measure} %{{z:.3f}}<extra></extra>",
        xgap=1, ygap=1, hoverongaps=False,
    ))
    finish(fig, title=title or f"Mask overlap ({measure}): {layer}", x_title="task j",
            y_title="task i", uirevision=uirevision, height=height)
    fig.update_xaxes(type="category", showgrid=False, zeroline=False)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, zeroline=False)
    return fig


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
        z=z, x=list(layers), y=rows, zmin=0.0, zmax=100.0, colorscale=MASK_SCALE,
        text=text_grid(z, ".1f", "%"), texttemplate="%{text}",
        colorbar=dict(title=dict(text="sparsity %"), ticksuffix="%"),
        hovertemplate="task %{y}<br>layer %{x}<br>mask sparsity %{z:.1f}%<extra></extra>",
        xgap=1, ygap=1, hoverongaps=False,
    ))
    finish(fig, title=title, x_title="layer", y_title="task", uirevision=uirevision,
            height=height)
    fig.update_xaxes(type="category", showgrid=False, zeroline=False)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, zeroline=False)
    return fig


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
    use_template(fig)
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left"),
        margin=dict(l=30, r=20, t=75, b=30), uirevision=uirevision,
        coloraxis=dict(colorscale=INPUT_MASK_SCALE, cmin=zmin, cmax=cmax,
                       colorbar=dict(title=dict(text="mean mask"), thickness=12)),
        height=n_rows * tile_px + 100,
    )
    # axis titles only on the bottom-left tile to keep the grid compact
    fig.update_xaxes(title_text="pixel column", title_font_size=10, row=n_rows, col=1)
    fig.update_yaxes(title_text="pixel row", title_font_size=10, row=n_rows, col=1)
    for a in fig.layout.annotations:
        a.font = dict(size=11)
    return fig
