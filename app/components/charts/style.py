"""The one style every chart shares: Plotly config, template, margins, palette, colour scales, the
common layout (`finish`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

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


PALETTE: list[str] = list(qualitative.Plotly) + list(qualitative.Dark24)


DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


ACC_SCALE = "Viridis"


MASK_SCALE = "Blues"


INPUT_MASK_SCALE = "Viridis"  # first-layer masks on the image grid: high (used) = bright yellow



def plotly_config(filename: str = "hypermask_chart") -> dict[str, Any]:
    """A copy of `PLOTLY_CONFIG` whose PNG download is named `filename` (without extension)."""
    cfg = dict(PLOTLY_CONFIG)
    cfg["toImageButtonOptions"] = {**PLOTLY_CONFIG["toImageButtonOptions"], "filename": filename}
    return cfg


def task_color(task: int) -> str:
    """Fixed colour of task `task` (the same in every chart)."""
    return PALETTE[int(task) % len(PALETTE)]


def finish(fig: go.Figure, *, title: str, x_title: str, y_title: str, uirevision: str,
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


def fmt_value(v: float, spec: str) -> str:
    return "" if v is None or not np.isfinite(v) else format(v, spec)


def text_grid(z: np.ndarray, spec: str, suffix: str = "") -> list[list[str]]:
    return [[(fmt_value(v, spec) + suffix) if np.isfinite(v) else "" for v in row] for row in z]


def as_float_matrix(matrix: Any) -> np.ndarray:
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
