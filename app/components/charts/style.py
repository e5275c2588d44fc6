"""The one style every chart shares: Plotly config, template, margins, palette, colour scales, the
common layout (`finish`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative

#: Downloaded images are 1920 × 1080 px, a projector's resolution (16:9 slides): the chart is laid out
#: at 1280 × 720 and drawn at 1.5×, so its type comes out half as large again as on screen (laid out at
#: 1920 × 1080 it would be screen-sized type on a big canvas, too small on a slide). The SVG button of
#: the in-place charts (`plotly_live.js`) reads the same options, so both downloads look alike.
EXPORT_WIDTH, EXPORT_HEIGHT, EXPORT_SCALE = 1280, 720, 1.5

#: `st.plotly_chart(fig, config=PLOTLY_CONFIG)`: modebar with a 1920 × 1080 PNG download, no logo, and no
#: "Share chart" button (plotly.js 4 offers to upload the figure to Plotly's cloud; the app is offline).
PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "displayModeBar": True,
    "showSendToCloud": False,
    "toImageButtonOptions": {"format": "png", "width": EXPORT_WIDTH, "height": EXPORT_HEIGHT,
                             "scale": EXPORT_SCALE, "filename": "hypermask_chart"},
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "sendChartToCloud"],
}


MARGIN = dict(l=55, r=20, t=55, b=50)


#: The trace types the app's charts draw: the chart template keeps plotly_white's defaults for these only.
TRACE_TYPES = ("bar", "box", "heatmap", "scatter")


def _template() -> go.layout.Template:
    """plotly_white's layout and its defaults for `TRACE_TYPES`, without the defaults of the other
    forty-odd trace types: charts look the same, and what Plotly validates, copies into every figure
    and sends to the browser with it is half the size."""
    white = pio.templates["plotly_white"]
    return go.layout.Template(layout=white.layout, data={t: white.data[t] for t in TRACE_TYPES if white.data[t]})


#: The template every chart uses, registered with Plotly under this name and made its default: a new
#: figure takes the default template without validating it again (set by name, it is validated and
#: copied into every figure).
TEMPLATE = "hypermask"
pio.templates[TEMPLATE] = _template()
pio.templates.default = TEMPLATE


def use_template(fig: go.Figure) -> go.Figure:
    """Give `fig` the chart template (`TEMPLATE`) unless it has it from its start (Plotly's default
    when `fig` was made). Streamlit makes its own template the default when its Plotly element is first
    imported: if that happened after this module was imported, the template is set here (slower)."""
    if pio.templates.default != TEMPLATE:
        fig.update_layout(template=TEMPLATE)
    return fig


PALETTE: list[str] = list(qualitative.Plotly) + list(qualitative.Dark24)


DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


ACC_SCALE = "Viridis"


MASK_SCALE = "Blues"


INPUT_MASK_SCALE = "Viridis"  # first-layer masks on the image grid: high (used) = bright yellow



#: Okabe & Ito (2008), "Color Universal Design": eight colours told apart with every common colour-vision
#: deficiency; the projector palette (task k gets OKABE_ITO[k % 8]). Yellow last: on a white background a
#: projector washes it out, so the first seven tasks never get it.
OKABE_ITO: tuple[str, ...] = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#F0E442")

PROJECTOR_FONT = 22  # px: base type on a projector (titles +8, ticks = base, annotations ≥ base − 2)
PROJECTOR_HEIGHT = 620  # px: the least height of a chart in presenter mode


def for_projector(fig: go.Figure) -> go.Figure:
    """A copy of `fig` for a projector: large type everywhere (title, axis titles, tick labels,
    legend, colour bars, annotations, heatmap cell text), the task palette replaced by Okabe–Ito (in
    traces, line shapes and the colourway of traces without a colour of their own),
    thicker lines, log axes labelled at powers of ten only (no minor "2", "5" labels), and at least
    PROJECTOR_HEIGHT px tall. `fig` itself is not changed (figures may be cached and shared)."""
    out = go.Figure(fig)
    swap = {c.lower(): OKABE_ITO[i % len(OKABE_ITO)] for i, c in enumerate(PALETTE)}
    base = PROJECTOR_FONT
    out.update_layout(font=dict(size=base), title_font_size=base + 8, legend=dict(font=dict(size=base - 2)),
                      hoverlabel=dict(font_size=base - 2),
                      margin=dict(l=90, r=30, t=90, b=80), height=max(out.layout.height or 0, PROJECTOR_HEIGHT))
    out.update_xaxes(title_font_size=base + 2, tickfont_size=base)
    out.update_yaxes(title_font_size=base + 2, tickfont_size=base)
    out.for_each_yaxis(lambda ax: ax.update(dtick=1) if ax.type == "log" else None)
    for ann in out.layout.annotations or ():
        ann.font = dict(ann.font.to_plotly_json() if ann.font else {}, size=max(base - 2, (ann.font.size or 0)))
    for trace in out.data:
        line = getattr(trace, "line", None)
        if line is not None and isinstance(line.color, str) and line.color.lower() in swap:
            trace.line.color = swap[line.color.lower()]
            trace.line.width = max(line.width or 2, 3)
        marker = getattr(trace, "marker", None)
        if marker is not None and isinstance(marker.color, str) and marker.color.lower() in swap:
            trace.marker.color = swap[marker.color.lower()]
        if marker is not None and getattr(marker, "line", None) is not None and isinstance(marker.line.color, str) \
                and marker.line.color.lower() in swap:  # outlined bars (the hatched "task id inferred" ones)
            trace.marker.line.color = swap[marker.line.color.lower()]
        pattern = getattr(marker, "pattern", None) if marker is not None else None
        if pattern is not None and isinstance(pattern.fgcolor, str) and pattern.fgcolor.lower() in swap:
            trace.marker.pattern.fgcolor = swap[pattern.fgcolor.lower()]
        if trace.type == "heatmap":
            trace.textfont = dict(size=base)
        if getattr(trace, "colorbar", None) is not None and trace.type in ("heatmap",):
            trace.colorbar.tickfont = dict(size=base - 2)
    for shape in out.layout.shapes or ():  # task-coloured lines drawn as shapes (the τ thresholds)
        if shape.line is not None and isinstance(shape.line.color, str) and shape.line.color.lower() in swap:
            shape.line.color = swap[shape.line.color.lower()]
    out.update_layout(colorway=list(OKABE_ITO))  # traces without a colour of their own (the loss terms)
    return out


def plotly_config(filename: str = "hypermask_chart") -> dict[str, Any]:
    """A copy of `PLOTLY_CONFIG` whose downloads (PNG, and SVG on the in-place charts) are named `filename`
    (without extension); both are 1920 × 1080 px (`EXPORT_WIDTH` × `EXPORT_HEIGHT` at `EXPORT_SCALE`)."""
    cfg = dict(PLOTLY_CONFIG)
    cfg["toImageButtonOptions"] = {**PLOTLY_CONFIG["toImageButtonOptions"], "filename": filename}
    return cfg


def task_color(task: int) -> str:
    """Fixed colour of task `task` (the same in every chart)."""
    return PALETTE[int(task) % len(PALETTE)]


def finish(fig: go.Figure, *, title: str, x_title: str, y_title: str, uirevision: str,
            height: int | None = None, automargin: bool = True, **layout: Any) -> go.Figure:
    """Apply the common layout: title, axis titles, margins, uirevision (the template, `TEMPLATE`,
    every figure has from its start).

    `automargin=False` keeps the margins at MARGIN instead of the template's axis automargin, for a
    chart whose tick labels are known to fit (percent axes): with automargin plotly.js lays a chart
    out twice, and the Overview's first chart took twice as long to draw (0.8 s against 0.4 s in
    headless Chromium on a slow 2-core machine)."""
    use_template(fig)
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left"),
        margin=MARGIN,
        uirevision=uirevision,
        **layout,
    )
    fig.update_xaxes(title_text=x_title, automargin=automargin)
    fig.update_yaxes(title_text=y_title, automargin=automargin)
    if height is not None:
        fig.update_layout(height=height)
    return fig


def log_y_axis(fig: go.Figure) -> None:
    """Make `fig`'s y axis logarithmic. Where its traces' positive y values span two decades or more,
    it is labelled at powers of ten only: Plotly's own labels there add the minor 2, 3, … 9 of each
    decade, in small type, which crowds the axis."""
    ys = [np.asarray([np.nan if v is None else v for v in t.y], dtype=np.float64)
          for t in fig.data if getattr(t, "y", None) is not None]
    flat = np.concatenate(ys) if ys else np.empty(0)
    flat = flat[np.isfinite(flat) & (flat > 0)]
    wide = flat.size > 0 and float(np.log10(flat.max() / flat.min())) >= 2
    fig.update_yaxes(type="log", **({"dtick": 1} if wide else {}))


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
