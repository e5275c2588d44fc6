"""Charts of the winning-ticket lab (`core.tickets`): task × task or task × layer matrices, the
sparsity sweep, and the learned mask against its controls. Accuracies are fractions in [0, 1]."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from app.components.charts.style import ACC_SCALE, MASK_SCALE, PALETTE, as_float_matrix, finish, task_color, text_grid


def labelled_heatmap(matrix: Sequence[Sequence[float | None]], *, title: str, x_title: str, y_title: str,
                     x_labels: Sequence[str] | None = None, y_labels: Sequence[str] | None = None,
                     percent: bool = True, zmax: float | None = 1.0, uirevision: str = "tickets-matrix",
                     height: int | None = None) -> go.Figure:
    """Heatmap of a (rows × columns) matrix, annotated (in % when `percent`, its colour bar too), row 0
    on top.

    Args:
        matrix: rows of values (None: blank); accuracies as fractions when `percent`.
        x_labels, y_labels: column / row labels (default "0", "1", …).
        zmax: top of the colour scale (None: the data's maximum).
    """
    z = as_float_matrix(matrix)
    xs = list(x_labels) if x_labels is not None else [str(j) for j in range(z.shape[1])]
    ys = list(y_labels) if y_labels is not None else [str(i) for i in range(z.shape[0])]
    shown = z * 100 if percent else z
    fig = go.Figure(go.Heatmap(
        z=z, x=xs, y=ys, zmin=0.0, zmax=zmax, colorscale=ACC_SCALE if percent else MASK_SCALE,
        text=text_grid(shown, ".1f" if percent else ".3g"), texttemplate="%{text}", xgap=1, ygap=1,
        colorbar=dict(tickformat=".0%") if percent else None,  # as the cells: in %
        hoverongaps=False, hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}: %{{text}}"
                                         f"{' %' if percent else ''}<extra></extra>"))
    finish(fig, title=title, x_title=x_title, y_title=y_title, uirevision=uirevision, height=height)
    fig.update_xaxes(type="category", showgrid=False, zeroline=False)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, zeroline=False)
    return fig


def sweep_curves(levels: Sequence[float], accuracy: Sequence[Sequence[float]], trained_p: float, *,
                 chance: float | None = None, uirevision: str = "tickets-sweep") -> go.Figure:
    """Accuracy of each task (one line, its task colour) against the sparsity p (%) its mask is
    re-cut at; the trained p is a dashed vertical line, chance a dotted horizontal one."""
    fig = go.Figure()
    for t, row in enumerate(accuracy):
        fig.add_trace(go.Scatter(x=list(levels), y=list(row), mode="lines+markers", name=f"task {t}",
                                 line=dict(color=task_color(t), width=2),
                                 hovertemplate=f"task {t}<br>p = %{{x}} %<br>accuracy %{{y:.1%}}<extra></extra>"))
    fig.add_vline(x=trained_p, line=dict(color="rgba(60,60,60,0.7)", dash="dash"),
                  annotation_text=f"trained p = {trained_p:g} %", annotation_position="bottom right",
                  annotation_bgcolor="rgba(255,255,255,0.85)")  # low down: the curves sit near 100 %
    if chance is not None:
        fig.add_hline(y=chance, line=dict(color="rgba(60,60,60,0.5)", dash="dot"),
                      annotation_text="chance", annotation_position="bottom left")
    finish(fig, title="Sparsity sweep: each task's mask re-cut at p", x_title="mask sparsity p (%)",
           y_title="accuracy", uirevision=uirevision)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return fig


def control_bars(series: Mapping[str, Sequence[float | None]], errors: Mapping[str, Sequence[float]] | None = None,
                 *, title: str = "Learned mask against controls of equal per-layer sparsity",
                 uirevision: str = "tickets-controls") -> go.Figure:
    """Grouped bars: accuracy per task (x) for each series (one colour each; None: no bar), e.g. the
    learned mask and its controls, or each method with the task id given and inferred; `errors` gives
    ± spreads for some series (the random control's std over seeds)."""
    fig = go.Figure()
    for k, (name, values) in enumerate(series.items()):
        err = (errors or {}).get(name)
        fig.add_trace(go.Bar(x=[f"task {t}" for t in range(len(values))], y=list(values), name=name,
                             marker_color=PALETTE[k % len(PALETTE)],
                             error_y=dict(type="data", array=list(err)) if err is not None else None,
                             hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>"))
    finish(fig, title=title, x_title="task",
           y_title="accuracy", uirevision=uirevision, barmode="group")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return fig



def scenario_bars(given: Mapping[str, Sequence[float]], inferred: Mapping[str, Sequence[float] | None], *,
                  uirevision: str = "scenarios") -> go.Figure:
    """Grouped bars: each task's final accuracy (x) per method, with the task id given (solid) and
    inferred (hatched, the same colour: one colour per method, in the order of `given`). A method
    whose `inferred` is None has no hatched bar."""
    fig = go.Figure()
    for m, (method, values) in enumerate(given.items()):
        color = PALETTE[m % len(PALETTE)]
        x = [f"task {t}" for t in range(len(values))]
        fig.add_trace(go.Bar(x=x, y=list(values), name=f"{method} · task id given", marker_color=color,
                             offsetgroup=f"{m}-given",
                             hovertemplate=f"{method}, task id given<br>%{{x}}: %{{y:.1%}}<extra></extra>"))
        if inferred.get(method) is not None:
            fig.add_trace(go.Bar(x=x, y=list(inferred[method]), name=f"{method} · task id inferred",
                                 marker=dict(color="white", line=dict(color=color, width=2),
                                             pattern=dict(shape="/", fgcolor=color, solidity=0.5)),
                                 offsetgroup=f"{m}-inferred",
                                 hovertemplate=f"{method}, task id inferred<br>%{{x}}: %{{y:.1%}}<extra></extra>"))
    finish(fig, title="Final accuracy per task: task id given (solid) against task id inferred (hatched)",
           x_title="task", y_title="accuracy", uirevision=uirevision, barmode="group")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return fig


def ticket_figures(res: Mapping[str, Any]) -> dict[str, go.Figure]:
    """The figures of one run's winning-ticket analyses (`core.tickets.lab.analyze_run`'s result): keys
    'cross', 'sweep', 'controls', 'drift', 'confusion', each present only when its analysis applies
    (an analysis that does not apply carries a 'reason' instead)."""
    cm, sw, ctl, dr, inf = (res["cross_mask"], res["sweep"], res["controls"], res["drift"], res["inference"])
    tasks = [f"task {t}" for t in range(len(sw.get("accuracy") or cm.get("matrix") or []))]
    figs: dict[str, go.Figure] = {}
    if not cm.get("reason"):
        figs["cross"] = labelled_heatmap(cm["matrix"], title="C[i, j]: task i's test set through task j's subnetwork",
                                         x_title="subnetwork of task j", y_title="test set of task i")
    if not sw.get("reason"):
        figs["sweep"] = sweep_curves(sw["levels"], sw["accuracy"], sw["trained_p"], chance=cm.get("chance"))
    if not ctl.get("reason"):
        figs["controls"] = control_bars(
            {"learned": ctl["learned"], "random (same support size)": ctl["random_mean"],
             "magnitude": ctl["magnitude"], "binarised support": ctl["binarised"]},
            {"random (same support size)": ctl["random_std"]})
    if not dr.get("reason"):
        figs["drift"] = labelled_heatmap(dr["jaccard"], title="Jaccard of each task's mask: end of its task vs end of "
                                         "training", x_title="layer", y_title="task", x_labels=dr["layers"],
                                         y_labels=tasks)
    if not inf.get("reason"):
        figs["confusion"] = labelled_heatmap(inf["confusion"], title="Which task the lowest-entropy subnetwork picked",
                                             x_title="inferred task", y_title="true task", percent=False, zmax=None)
    return figs
