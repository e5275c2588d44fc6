"""Plotly charts that update in place and load fast: a tiny Streamlit component (v1 protocol, no build).

Two reasons to draw a chart here instead of with `st.plotly_chart`:

- **Live charts.** `st.plotly_chart` derives its element identity from the figure itself, so every
  refresh of a live chart with new data mounts a new chart: the plot blinks and a user's zoom is lost.
  The component in `plotly_live/index.html` keeps one Plotly div per key and calls `Plotly.react` on
  it with each new figure, which keeps `layout.uirevision` state (zoom, hidden traces) across refreshes.
- **The first chart a visitor sees.** Streamlit's own Plotly chunk is the full plotly.js (4.7 MB);
  the browser spends about 0.8 s evaluating it before the first chart can appear. The component loads
  plotly.js's "cartesian" partial bundle (1.5 MB, about 0.3 s), which has every trace type the
  Overview, Train and Compare charts use (`TRACE_TYPES`).

The bundle is vendored in `plotly_live/` (plotly.js v4.1.1, the version plotly 7.1 for Python ships;
MIT licence in `PLOTLY_LICENSE.txt`), so nothing is downloaded. A figure with any other trace type is
drawn by `st.plotly_chart` instead (`in_place_chart` returns False).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from streamlit.components import v1 as components

COMPONENT_DIR = Path(__file__).parent / "plotly_live"
DEFAULT_HEIGHT = 450  # px, Plotly's default figure height

#: Trace types in plotly.js's "cartesian" partial bundle (`plotly_live/plotly-cartesian.min.js`).
TRACE_TYPES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d",
                         "histogram2dcontour", "image", "pie", "scatter", "scatterternary", "violin"})


def can_draw(fig: go.Figure) -> bool:
    """True when every trace of `fig` is of a type in the vendored bundle (`TRACE_TYPES`)."""
    return all((t.type or "scatter") in TRACE_TYPES for t in fig.data)


def in_place_chart(fig: go.Figure, key: str, config: dict[str, Any]) -> bool:
    """Draw `fig` in the in-place component under `key` (the same key keeps the same chart across
    reruns). `config` is Plotly's config (modebar, PNG download). Height: `fig.layout.height`, else
    450 px. Returns False, having drawn nothing, when `fig` has a trace type the bundle lacks."""
    if not can_draw(fig):
        return False
    height = int(fig.layout.height or DEFAULT_HEIGHT)
    # declared on each call (cheap): it registers with the current runtime, whichever that is
    component = components.declare_component("plotly_live", path=str(COMPONENT_DIR))
    # Every argument is a string or a number: Streamlit checks any other value for being a dataframe,
    # which imports pandas (0.3 s on the first page a visitor opens).
    component(figure=fig.to_json(), config=json.dumps(config), height=height, key=key, default=None)
    return True
