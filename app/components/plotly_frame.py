"""Plotly charts that update in place and load fast: a tiny Streamlit component (v2: no iframe).

Two reasons to draw a chart here instead of with `st.plotly_chart`:

- **Live charts.** `st.plotly_chart` derives its element identity from the figure itself, so every
  refresh of a live chart with new data mounts a new chart: the plot blinks and a user's zoom is lost.
  The renderer in `plotly_live.js` keeps one Plotly div per key and calls `Plotly.react` on it with
  each new figure, which keeps `layout.uirevision` state (zoom, hidden traces) across refreshes.
- **The first chart a visitor sees.** Streamlit's own Plotly chunk is the full plotly.js (4.7 MB);
  the browser spends about 0.8 s evaluating it before the first chart can appear. This component
  loads a plotly.js bundle with only the scatter, bar and heatmap traces (1.2 MB, about 0.2 s to
  load and evaluate, against 0.5 s for plotly.js's "cartesian" bundle) once per page, into the page
  itself: no iframe per chart, and one evaluation however many charts the page has.

The bundle is vendored in `app/static/plotly-hm.min.js` (plotly.js v4.1.1, the version plotly 7.x
for Python ships; MIT licence in `PLOTLY_LICENSE.txt`; rebuilt by `plotly_bundle/build.sh`) and
served by Streamlit's static file serving (`server.enableStaticServing` in `app/.streamlit/config.toml`),
so nothing is downloaded. A figure with any other trace type (`TRACE_TYPES`) is drawn by
`st.plotly_chart` instead (`in_place_chart` returns False).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
BUNDLE = STATIC_DIR / "plotly-hm.min.js"
RENDERER = Path(__file__).with_name("plotly_live.js")
LOADER = Path(__file__).with_name("plotly_loader.js")  # `loadPlotly()`: shared by the renderer and `preload`
DEFAULT_HEIGHT = 450  # px, Plotly's default figure height

#: Trace types in the vendored bundle (`app/static/plotly-hm.min.js`, built by `plotly_bundle/build.sh`).
TRACE_TYPES = frozenset({"bar", "heatmap", "scatter"})

# Registered once, at import: the page's DOM holds the chart (isolate_styles=False: plotly.js styles
# its modebar and hover labels with rules in the document's head, which a shadow root would not see).
_LOADER_JS = LOADER.read_text(encoding="utf-8")
_MOUNT = st.components.v2.component("hm_plotly_live", js=_LOADER_JS + "\n" + RENDERER.read_text(encoding="utf-8"),
                                    isolate_styles=False)
# The early load as a script of the page's own (our constant text, no user input), run as soon as the
# element is drawn: a component's code runs later, once its module is loaded after the page's first render.
# Its element is hidden (an empty element would still take a gap's height at the top of every page).
_PRELOAD_HTML = ('<style>[data-testid="stElementContainer"]:has(script#hm-plotly-preload) { display: none; }</style>'
                 f'<script id="hm-plotly-preload">(function () {{\n{_LOADER_JS}\nloadPlotly().catch(function () {{}});\n}})();'
                 '</script>')


def can_draw(fig: go.Figure) -> bool:
    """True when every trace of `fig` is of a type in the vendored bundle (`TRACE_TYPES`)."""
    return all((t.type or "scatter") in TRACE_TYPES for t in fig.data)


_SEALED = "_hm_sealed_json"  # the attribute a sealed figure keeps its JSON in
_SEALED_EMPTY = "_hm_sealed_empty"  # … and whether it plots nothing yet


def plots_nothing(fig: go.Figure) -> bool:
    """True while no trace of `fig` has a point to draw: no x / y values, and a heatmap's z all
    missing (NaN or None), e.g. a live chart before its run's first evaluation."""
    for t in fig.data:
        z = getattr(t, "z", None)
        if z is not None:
            try:
                if np.isfinite(np.asarray(z, dtype=np.float64)).any():
                    return False
            except (TypeError, ValueError):  # ragged or text values: something to draw
                return False
            continue
        values = t.x if getattr(t, "x", None) is not None else getattr(t, "y", None)
        if values is not None and len(values) > 0:
            return False
    return True


def seal(fig: go.Figure) -> go.Figure:
    """Serialise `fig` once and keep the JSON on it, so drawing it again (another visitor, a live
    view's next refresh) costs no new `to_json` (Plotly validates and converts every array there: most
    of the server time of a page with two large charts). Returns `fig`, which is read only from now on:
    a change made after sealing would not be drawn. A copy (`go.Figure(fig)`) is not sealed."""
    object.__setattr__(fig, _SEALED, fig.to_json())
    object.__setattr__(fig, _SEALED_EMPTY, plots_nothing(fig))
    return fig


def payload(fig: go.Figure, config: dict[str, Any], height: int) -> bytes:
    """The component's data: one UTF-8 JSON document {"empty", "figure", "config", "height"}, as bytes
    (a sealed figure's JSON is reused, `seal`). `empty` (`plots_nothing`) first: the renderer reads it
    without parsing the figure, and draws a chart that has nothing to show yet only if it still has
    nothing a moment later (its space is kept meanwhile), so a Start's first real curve does not wait
    behind the browser drawing empty axes.

    Bytes go to the browser as they are; Streamlit checks any other value (a dict, even a string) for
    being a dataframe, which imports pandas and pyarrow: 0.3 s on the first page a visitor opens."""
    figure = fig.__dict__.get(_SEALED) or fig.to_json()
    empty = fig.__dict__[_SEALED_EMPTY] if _SEALED_EMPTY in fig.__dict__ else plots_nothing(fig)
    return (f'{{"empty":{json.dumps(empty)},"figure":{figure},"config":{json.dumps(config)},'
            f'"height":{int(height)}}}').encode()


def preload() -> None:
    """Start fetching and evaluating the vendored plotly.js now, instead of when the page's first
    chart element arrives: called once per script run, first (`app.main`), so the browser loads it
    while the session waits for its page slot and while the page is built, and a live curve that
    comes later is drawn as soon as it comes. An `st.html` element with a script and the style
    rule that hides the element's container."""
    st.html(_PRELOAD_HTML, unsafe_allow_javascript=True)


def in_place_chart(fig: go.Figure, key: str, config: dict[str, Any]) -> bool:
    """Draw `fig` in the in-place component under `key` (the same key keeps the same chart across
    reruns). `config` is Plotly's config (modebar, PNG download). Height: `fig.layout.height`, else
    450 px. Returns False, having drawn nothing, when `fig` has a trace type the bundle lacks."""
    if not can_draw(fig):
        return False
    _MOUNT(key=key, data=payload(fig, config, int(fig.layout.height or DEFAULT_HEIGHT)))
    return True
