"""Small shared Streamlit pieces: a chart with its caption, the scenario line, the metrics row and
the expander with the metric formulas (hypermask.md §8)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.components import plotly_frame, presenter
from app.components.charts import plotly_config
from app.components.charts.style import for_projector

SCENARIO = ("**Scenario: task-incremental learning.** Tasks arrive one after another and earlier "
            "training data is not revisited; at test time the task id is given, so the network uses "
            "that task's task embedding (and, for HyperMask, its mask).")

STATUS_ICONS = {"running": ":green[:material/play_circle:]", "paused": ":orange[:material/pause_circle:]",
                "stopping": ":orange[:material/hourglass_top:]", "starting": ":gray[:material/hourglass_top:]",
                "finished": ":green[:material/check_circle:]", "stopped": ":gray[:material/stop_circle:]",
                "failed": ":red[:material/error:]", "interrupted": ":orange[:material/warning:]"}


def projected(fig: go.Figure) -> go.Figure:
    """`fig` restyled for a projector (`charts.style.for_projector`: large type, Okabe–Ito) in presenter
    mode (`presenter.on()`), else `fig` itself: every chart of the app goes through here."""
    return for_projector(fig) if presenter.on() else fig


def chart(fig: go.Figure, key: str, caption: str, filename: str | None = None, in_place: bool = False) -> None:
    """Show a Plotly figure (modebar: download as PNG) and a one-line caption under it.

    `in_place=True` draws it with the in-place component (`plotly_frame.in_place_chart`): for charts
    redrawn by a polling fragment while a run trains (one Plotly div per key is updated instead of a new
    chart mounted on every refresh: no blink, zoom kept through the figure's `uirevision`), and for the
    charts of the default page (a lighter plotly.js: the first chart appears sooner). In presenter mode
    (`presenter.on()`) the figure is shown restyled for a projector (`charts.style.for_projector`)."""
    fig = projected(fig)
    config = plotly_config(filename or key)
    config["displayModeBar"] = "hover"  # the toolbar (PNG download, zoom) appears on hover, off the titles
    config["modeBarButtonsToRemove"] = [*config.get("modeBarButtonsToRemove", []), "zoomIn2d", "zoomOut2d",
                                        "autoScale2d"]  # a short toolbar leaves room for titles in columns
    if not (in_place and plotly_frame.in_place_chart(fig, key, config)):
        st.plotly_chart(fig, key=key, config=config, theme=None)
    st.caption(caption)


ROW_GAP_REM = 2.0  # the gap between the parts of a wrapping row (Streamlit's "medium" gap)


def wrapping_row(key: str, parts: Sequence[tuple[str, float, float]], per_line: int | None = None) -> list[Any]:
    """A row of containers, one per `(name, grow, min_rem)`, that go onto lines of their own when the
    page is too narrow for them side by side: each is at least `min_rem` rem wide (or the full width),
    and `grow` shares out the rest. `st.columns` instead squeezes charts to unreadable slivers in a
    narrow window. With `per_line`, a part is at most 1/per_line of the row wide (a part alone on a
    second line keeps the width of those above). Container keys: `<key>_<name>`.

    The row is Streamlit's wrapping horizontal container; each part's flex basis is set with a style
    rule on its layout wrapper (a layout hint only: if Streamlit's markup changes, the parts share
    the row evenly and nothing breaks). In presenter mode every part takes a line of its own (one chart
    per screen width)."""
    if presenter.on():
        parts, per_line = [(name, grow, 10_000) for name, grow, _ in parts], None
    gap = (per_line - 1) / per_line * ROW_GAP_REM if per_line else 0.0  # each part's share of the gaps
    cap = f" max-width: calc({100 / per_line:.4g}% - {gap:.3g}rem);" if per_line else ""
    rules = " ".join(f'[data-testid="stLayoutWrapper"]:has(> .st-key-{key}_{name}) '
                     f"{{ flex: {grow:g} 1 {min_rem:g}rem; min-width: min({min_rem:g}rem, 100%);{cap} }}"
                     for name, grow, min_rem in parts)
    st.html(f"<style>{rules}</style>")
    row = st.container(horizontal=True, gap="medium", key=key)
    return [row.container(key=f"{key}_{name}") for name, _, _ in parts]


def robust_log_range(fig: go.Figure, quantile: float = 0.03) -> go.Figure:
    """On a log y axis, start the range at a low quantile of the plotted values, so that a few
    near-zero points (β·R_hnet is ~0 on the first step of each task) do not squash the curves."""
    parts = [np.asarray(t.y, dtype=float) for t in fig.data if t.y is not None and len(t.y)]
    ys = np.concatenate(parts or [np.ones(1)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if ys.size >= 5:
        lo, hi = np.quantile(ys, quantile), ys.max()
        if hi > lo > 0:
            fig.update_yaxes(range=[np.log10(lo) - 0.3, np.log10(hi) + 0.2])
    return fig


def scenario() -> None:
    """State the continual-learning scenario on the page."""
    st.markdown(SCENARIO)


def status_line(status: str, label: str = "") -> None:
    """One recognisable status line, e.g. 'Status: **paused**'."""
    suffix = f" — {label}" if label else ""
    st.markdown(f"{STATUS_ICONS.get(status, '•')} Status: **{status}**{suffix}")


def num(v: Any) -> float | None:
    """`v` as a finite float, or None when it is missing, NaN/inf or not a number (e.g. a string
    in a damaged metrics.json)."""
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def pct(v: Any, signed: bool = False) -> str:
    """Fraction → '12.3%' ('—' for None, NaN or a non-number)."""
    v = num(v)
    if v is None:
        return "—"
    return f"{100 * v:+.1f}%" if signed else f"{100 * v:.1f}%"


METRIC_COLUMNS = (("ACC", "avg_acc"), ("BWT", "bwt"), ("Forgetting", "forgetting"), ("FWT", "fwt"))
SIGNED = ("bwt", "fwt")  # shown with their sign: negative BWT is forgetting
METRIC_WIDTH = 190  # px: rows of metrics line up


def metrics_row(metrics: Mapping[str, Any]) -> None:
    """One run's ACC, BWT, forgetting and FWT as st.metric, in a row that wraps in a narrow window (no
    value is cut short). A comparison of runs is one table instead (`metrics_table`)."""
    row = st.container(horizontal=True, gap="medium")
    for label, key in METRIC_COLUMNS:
        row.metric(label, pct(metrics.get(key), signed=key in SIGNED), width=METRIC_WIDTH)




def metrics_table(metrics: Mapping[str, Mapping[str, Any]], baseline_name: str | None = None) -> str:
    """A Markdown table of ACC, BWT, forgetting and FWT (in %), one row per method (`metrics`: label →
    metrics dict); with `baseline_name` (a label of `metrics`), each other row's value is followed by
    its difference from that row in points. A method with no finished task reads "no task finished
    yet". One element for a whole comparison: a page many visitors open at once stays light."""
    base = metrics.get(baseline_name) if baseline_name else None
    head = "| Method | " + " | ".join(n for n, _ in METRIC_COLUMNS) + " |"
    lines = [head, "|:--|" + "--:|" * len(METRIC_COLUMNS)]
    for label, m in metrics.items():
        if not m:
            lines.append(f"| **{label}** | no task finished yet |" + " |" * (len(METRIC_COLUMNS) - 1))
            continue
        cells = []
        for _, key in METRIC_COLUMNS:
            v = num(m.get(key))
            cell = pct(v, signed=key in SIGNED)
            b = num(base.get(key)) if base is not None and label != baseline_name else None
            if v is not None and b is not None:
                cell += f" ({100 * (v - b):+.1f})"
            cells.append(cell)
        lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def formulas(key: str) -> None:
    """Expander with the metric formulas; R[i, j] is the accuracy on task j after training task i.

    Its content is sent only once the reader opens it: the formulas are typeset with KaTeX, which the
    browser would otherwise load and run on every first page (0.1–0.3 s before the first chart)."""
    box = st.expander("How the metrics are computed", expanded=False, key=key, on_change="rerun",
                      icon=":material/function:")
    if not box.open:
        return
    with box:
        st.markdown("Accuracy matrix **R[i, j]** = test accuracy on task *j* after training task *i* "
                    "(T tasks, 0-based). All values are fractions shown in %.")
        st.latex(r"\mathrm{ACC} = \frac{1}{T}\sum_{j=0}^{T-1} R_{T-1,\,j}")
        st.latex(r"\mathrm{BWT} = \frac{1}{T-1}\sum_{j<T-1} \left(R_{T-1,\,j} - R_{j,\,j}\right)")
        st.latex(r"\mathrm{Forgetting} = \frac{1}{T-1}\sum_{j<T-1} \Big(\max_{i<T-1} R_{i,\,j} - R_{T-1,\,j}\Big)")
        st.latex(r"\mathrm{FWT} = \frac{1}{T-1}\sum_{i\geq 1} \left(R_{i-1,\,i} - b_i\right)")
        st.markdown("Average accuracy (ACC): higher is better. Backward transfer (BWT): negative values "
                    "mean earlier tasks got worse, i.e. forgetting (Lopez-Paz & Ranzato, 2017). "
                    "Forgetting (Chaudhry et al., 2018): how far each earlier task fell from its best. "
                    "Forward transfer (FWT): task *i* evaluated with the previous task's embedding, "
                    "against a randomly initialised network's accuracy *b_i*. "
                    "During a run the metrics use the tasks finished so far.")
