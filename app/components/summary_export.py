"""One-page summaries for slides and handouts: a run's or a comparison's figures and metric table in one
self-contained HTML file (plotly.js inline, so it opens offline, e-mailed or on a lecture-hall PC).

`summary_html` builds the page from runs' typed events with the chart functions every page uses;
`download_button` offers it on a page, built only when clicked (`st.download_button` with a callable
and `on_click="ignore"`: no rerun, nothing built for a reader who never asks). The callable runs outside
the page's script, so it must not use `st.*` or the session's caches: callers hand it events already
read, or read them from the run folder (`core.runs.read_events`).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from app.components import charts, ui
from app.components.charts.style import plotly_config
from app.components.compare_view import partial_metrics
from app.components.plotly_frame import BUNDLE, can_draw
from core import events as ev, run_state
from core.config import RunConfig

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#222}"
         "table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.3rem .7rem;"
         "text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}.fig{margin:1rem 0 2rem}"
         "small,.note{color:#555}pre{font-size:.8rem;white-space:pre-wrap}")


def _settings(events: Sequence[ev.Event]) -> tuple[str, dict[str, Any] | None]:
    """A one-line description of the run's configuration (benchmark, method, schedule, p, β, λ, seed)
    and its full config dict, from its `run_started` event ("—", None without one)."""
    start = next((e for e in run_state.current_run(events) if isinstance(e, ev.RunStarted)), None)
    if start is None:
        return "—", None
    try:
        cfg = RunConfig.from_dict(start.config)
    except (ValueError, TypeError):  # a config this version cannot read: still shown in full below
        return "—", start.config
    m = cfg.mask
    regs = {"hypermask": f" · p = {m.sparsity:g} % · β = {m.beta:g} · λ = {m.lam:g}",
            "hnet": f" · β = {m.beta:g}"}  # fine-tuning has neither mask nor regulariser
    line = (f"{cfg.data.benchmark} · {cfg.train.method} · {start.n_tasks} tasks × {start.iters_per_task:,} "
            f"iterations{regs.get(cfg.train.method, '')} · seed {cfg.train.seed}")
    return line, start.config


def _figures(runs: Mapping[str, Sequence[ev.Event]], metrics: Mapping[str, Mapping[str, Any]],
             total: int | None) -> list[tuple[str, go.Figure]]:
    """(file-name stem, figure): one run's forgetting curves, loss terms and accuracy matrix, or a
    comparison's overlaid curves, metric bars and one accuracy matrix per run."""
    if len(runs) == 1:
        label, recs = next(iter(runs.items()))
        curves = charts.forgetting_curves(recs, title=f"{label}: forgetting curves", total_steps=total)
        return [("forgetting", curves),
                ("losses", ui.robust_log_range(charts.loss_curves(recs, title=f"{label}: loss terms",
                                                                  total_steps=total))),
                ("acc_matrix", charts.accuracy_matrix_heatmap(run_state.accuracy_matrix(recs),
                                                              title=f"{label}: accuracy matrix R[i, j]"))]
    figs = [("forgetting", charts.compare_forgetting(runs, title="Forgetting curves: accuracy of every seen task",
                                                     total_steps=total)),
            ("metrics", charts.metric_bars(metrics))]
    figs += [(f"acc_matrix_{k}", charts.accuracy_matrix_heatmap(run_state.accuracy_matrix(recs),
                                                                title=f"{label}: R[i, j]"))
             for k, (label, recs) in enumerate(runs.items())]
    return figs


def _plotly_js(figs: Sequence[go.Figure]) -> str:
    """plotly.js to inline once: the app's 1.2 MB bundle when it draws every trace, else the full one."""
    if all(can_draw(f) for f in figs):
        return BUNDLE.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _metric_table(metrics: Mapping[str, Mapping[str, Any]], tasks: Mapping[str, str]) -> str:
    """An HTML table: one row per run, ACC / BWT / forgetting in % (FWT where any run has it)."""
    cols = [(name, key) for name, key in ui.METRIC_COLUMNS
            if key != "fwt" or any(ui.num(m.get("fwt")) is not None for m in metrics.values())]
    head = "".join(f"<th>{name}</th>" for name, _ in cols)
    rows = "".join(f"<tr><td>{html.escape(label)}</td><td class=num>{tasks[label]}</td>"
                   + "".join(f"<td class=num>{ui.pct(m.get(key), signed=key in ui.SIGNED)}</td>" for _, key in cols)
                   + "</tr>" for label, m in metrics.items())
    return f"<table><tr><th>run</th><th>tasks done</th>{head}</tr>{rows}</table>"


def summary_html(runs: Mapping[str, Sequence[ev.Event]], *, title: str,
                 metrics: Mapping[str, Mapping[str, Any]] | None = None, when: datetime | None = None) -> str:
    """The one-page summary of one run (`len(runs) == 1`) or a comparison, as a self-contained HTML page.

    Args:
        runs: label (e.g. "HyperMask") → the typed events of one run each; at least one.
        title: the page's heading (escaped).
        metrics: label → metrics dict (`avg_acc`, `bwt`, `forgetting`, `fwt` as fractions, e.g. a run's
            metrics.json); default: `partial_metrics` of the events (final metrics of a finished run).
        when: the date written on the page (default: now, local time).
    Returns:
        UTF-8 text of an HTML5 page: title, date, each run's folder and configuration, the metric table
        (%), and the figures (interactive, each with a 1920 × 1080 PNG download), with plotly.js inline
        once and no external resource.
    Raises:
        ValueError: `runs` is empty.
    """
    if not runs:
        raise ValueError("a summary needs at least one run")
    metrics = {label: dict((metrics or {}).get(label) or partial_metrics(recs)) for label, recs in runs.items()}
    total = max((n * i for n, i in (run_state.run_info(r) for r in runs.values())), default=0) or None
    figs = _figures(runs, metrics, total)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in title)[:60]
    divs = "".join("<div class=fig>" + pio.to_html(fig, full_html=False, include_plotlyjs=False, default_height="480px",
                                                   config=plotly_config(f"{stem}_{name}")) + "</div>"
                   for name, fig in figs)
    run_rows, configs = [], {}
    for label, recs in runs.items():
        line, cfg = _settings(recs)
        folder = Path(run_state.run_dir(recs) or "").name or "—"
        run_rows.append(f"<tr><td>{html.escape(label)}</td><td><code>{html.escape(folder)}</code></td>"
                        f"<td>{html.escape(line)}</td></tr>")
        configs[label] = cfg
    tasks = {label: f"{len(run_state.finished_rows(recs))}/{run_state.run_info(recs)[0] or '?'}"
             for label, recs in runs.items()}
    date = (when or datetime.now()).strftime("%Y-%m-%d %H:%M")
    full = html.escape(json.dumps(configs, indent=1))
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{_plotly_js([f for _, f in figs])}</script></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=note>HyperMask Explorer · {date} · "
            f"{html.escape(ui.SCENARIO.replace('**', ''))}</p>"
            f"<h2>Runs</h2><table><tr><th>run</th><th>folder</th><th>configuration</th></tr>{''.join(run_rows)}</table>"
            f"<h2>Metrics</h2>{_metric_table(metrics, tasks)}<p class=note>R[i, j] = accuracy on task j after "
            "training task i. ACC: mean of the last row; BWT: mean change of each earlier task from just after "
            "its training to the end (negative = forgetting); forgetting: mean drop from each earlier task's best; "
            "FWT: a new task through the previous task's model, against a random network.</p>"
            f"<h2>Figures</h2>{divs}<details><summary>Full configurations</summary><pre>{full}</pre></details>"
            "</body></html>")


def file_name(stem: str) -> str:
    """`<stem>_summary.html` with every character other than letters, digits, `.`, `-` and `_` (a
    run folder may be named `a&b's run`) replaced by `_`, so the name is safe on every system."""
    safe = re.sub(r"[^\w.-]+", "_", stem, flags=re.ASCII).strip("._") or "hypermask"
    return f"{safe[:120]}_summary.html"


def download_button(key: str, file_stem: str, title: str,
                    runs: Callable[[], Mapping[str, Sequence[ev.Event]]],
                    metrics: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
                    label: str = "One-page summary (.html)", width: str = "content") -> None:
    """A download button (key `key`) for `summary_html` of `runs()`, built only when clicked.

    `runs` (and `metrics`) are called then, outside the page's script run: they may read run folders
    but must not call `st.*`. The file is `file_name(file_stem)`; `width` as for `st.download_button`."""
    st.download_button(label, data=lambda: summary_html(runs(), title=title, metrics=metrics() if metrics else None
                                                        ).encode("utf-8"),
                       file_name=file_name(file_stem), mime="text/html", key=key, on_click="ignore", width=width,
                       icon=":material/summarize:", help="figures and the metric table on one self-contained "
                                                         "HTML page (opens offline), for slides or a handout")
