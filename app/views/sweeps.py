"""Sweeps: a sweep's summary (mean ± std over seeds per setting), its ACC per setting across seeds, the
mean ACC over a grid of two axes, and any trial opened on the other pages — for the user's sweeps
(`python -m core sweep`, in the sweeps folder) and the grid shipped in pretrained/sweeps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import paths, roles, state
from app.components.charts import plotly_config
from app.components.charts.sweeps import grid_heatmap, setting_boxes
from app.components.ui import pct, projected
from core.sweeps import METRICS, SweepError, SweepInfo, TrialRow, aggregate, list_sweeps, read_sweep, trial_rows
from core.sweeps.fields import format_value, label
from core.sweeps.summary import mean_grid, mean_std, settings_csv

_APPLIED = "_sweeps_applied_click"  # the last box-plot click already turned into a trial choice


def _choices() -> dict[str, str]:
    """Sweep folder → label: the user's sweeps (most recent first), then the shipped ones."""
    out: dict[str, str] = {}
    for root, shipped in ((paths.sweeps_dir(), False), (paths.shipped_sweeps_dir(), True)):
        try:
            found = list_sweeps(root)
        except OSError as e:
            st.warning(f"Cannot list the sweeps in `{root}`: {e.strerror or e}")
            continue
        for p in found:
            out[str(p.resolve())] = f"★ {p.name} (shipped)" if shipped else p.name
    return out


def _setting_label(setting: dict) -> str:
    return ", ".join(f"{label(a)}={format_value(tuple(v) if isinstance(v, list) else v)}"
                     for a, v in setting.items()) or "all trials"


def _summary_table(info: SweepInfo, rows: list[TrialRow]) -> None:
    settings = aggregate(rows)
    table = pd.DataFrame([{**{label(a): format_value(tuple(v) if isinstance(v, list) else v)
                              for a, v in s.setting.items()},
                           "seeds": f"{s.done}/{s.total}" + (f" ({s.failed} failed)" if s.failed else ""),
                           **{title: mean_std(*s.stats[k], percent=p) for k, title, p in METRICS}}
                          for s in settings])
    st.dataframe(table, hide_index=True)
    st.download_button("summary.csv", settings_csv(info, settings), file_name=f"{info.name}-summary.csv",
                       mime="text/csv", key="sweeps_csv", icon=":material/download:")
    st.caption("Mean ± sample standard deviation over each setting's finished seeds. Task-ID accuracy: the task "
               "picked by the lowest-entropy subnetwork (hypermask.md §6); wall time: the sum of the per-task times.")


def _boxes(rows: list[TrialRow]) -> None:
    groups: dict[str, list[tuple[float, str, str]]] = {}
    for r in rows:
        if r.state == "finished" and r.values.get("acc") is not None:
            groups.setdefault(_setting_label(r.setting), []).append((r.values["acc"], f"{r.name}", r.name))
    if not groups:
        st.info("No trial of this sweep has finished yet.")
        return
    event = st.plotly_chart(projected(setting_boxes(groups)), key="sweeps_boxes", on_select="rerun",
                            selection_mode="points", config=plotly_config("sweep_acc"), theme=None)
    try:
        points = list(event["selection"]["points"])
    except (KeyError, TypeError):  # no selection state (e.g. a test run of the page)
        points = []
    clicked = next((p.get("customdata") for p in points if isinstance(p, dict) and p.get("customdata")), None)
    if clicked and clicked != state.get(_APPLIED):
        state.put(_APPLIED, clicked)
        state.put("sweeps_trial", clicked)  # drawn below: the clicked trial becomes the one to open
    st.caption("Each point is one seed; click one to pick that trial below.")


def _heatmap(info: SweepInfo, rows: list[TrialRow]) -> None:
    axes = info.setting_axes
    if len(axes) < 2:
        st.caption("A heatmap needs two axes besides the seed; this sweep has "
                   f"{len(axes)}.")
        return
    state.init_default("sweeps_x", axes[0])
    state.init_default("sweeps_y", axes[1])
    for key, default in (("sweeps_x", axes[0]), ("sweeps_y", axes[1])):
        if state.get(key) not in axes:  # another sweep was open
            state.put(key, default)
    c1, c2 = st.columns(2)
    x = c1.selectbox("Columns", axes, key="sweeps_x", format_func=label)
    y = c2.selectbox("Rows", axes, key="sweeps_y", format_func=label)
    if x == y:
        st.info("Choose two different axes.")
        return
    xs, ys, matrix = mean_grid(rows, x, y)
    fmt = [format_value(v) for v in xs], [format_value(v) for v in ys]
    fig = grid_heatmap(matrix, fmt[0], fmt[1], x_title=label(x), y_title=label(y))
    st.plotly_chart(projected(fig), key="sweeps_grid", config=plotly_config("sweep_grid"), theme=None)
    others = [label(a) for a in axes if a not in (x, y)]
    st.caption("Mean ACC over seeds" + (f" and over {', '.join(others)}" if others else "") +
               "; blank where no trial has finished.")


def _open_trial(rows: list[TrialRow]) -> None:
    done = {r.name: r for r in rows if r.state == "finished"}
    if not done:
        return
    if state.get("sweeps_trial") not in done:
        state.put("sweeps_trial", next(iter(done)))
    name = st.selectbox("Trial", list(done), key="sweeps_trial",
                        format_func=lambda n: f"{n} — ACC {pct(done[n].values.get('acc'))}")
    trial = done[name]
    path = str(trial.path.resolve())
    weights = (trial.path / "weights.safetensors").is_file()
    row = st.container(horizontal=True, gap="medium")
    if row.button("Compare its seeds", key="sweeps_open_compare", icon=":material/compare_arrows:"):
        same = [str(r.path.resolve()) for r in done.values() if r.setting == trial.setting][:3]
        for p in same:
            state.open_run(p)
        state.put("compare_saved", same)
        st.switch_page("views/compare.py")
    for title, page, icon in (("Masks", "views/masks.py", ":material/texture:"),
                              ("Tickets", "views/tickets.py", ":material/confirmation_number:"),
                              ("Embeddings", "views/embeddings.py", ":material/scatter_plot:")):
        if row.button(title, key=f"sweeps_open_{title.lower()}", icon=icon, disabled=not weights):
            state.open_run(path)
            st.switch_page(page)
    if not weights:
        st.caption("This trial was saved without its weights (the shipped grid keeps only config, metrics and "
                   "events, to stay small): Compare shows its curves and accuracy matrix; re-run the sweep "
                   "(pretrained/README.md) to open it on Masks, Tickets and Embeddings.")


def main() -> None:
    st.title("Sweeps")
    st.caption("Seeds × settings × methods under one name (`python -m core sweep SPEC`): does a setting win "
               "over seeds, not just once?")
    choices = _choices()
    if not choices:
        st.info("No sweep yet. Run one with `python -m core sweep SPEC` (README: Sweeps); it appears here "
                f"when its folder is in `{roles.shown_path(paths.sweeps_dir())}`.")
        return
    if state.get("sweeps_choice") not in choices:
        state.put("sweeps_choice", next(iter(choices)))
    path = st.selectbox("Sweep", list(choices), key="sweeps_choice", format_func=choices.get)
    try:
        info = read_sweep(path)
        rows = trial_rows(info)
    except (SweepError, OSError) as e:
        st.error(f"Cannot open this sweep: {e}")
        return
    counts = pd.Series([r.state for r in rows]).value_counts()
    st.markdown(f"**{info.name}** · preset {info.preset} · {len(rows)} trials: " +
                ", ".join(f"{n} {s}" for s, n in counts.items()) + f" · `{Path(path).name}`")
    failed = [r for r in rows if r.state == "failed"]
    for r in failed[:5]:
        st.warning(f"Trial {r.name} failed: {r.error}")
    if len(failed) > 5:
        st.caption(f"… and {len(failed) - 5} more failed trials (trials.csv lists them all).")
    if any(r.state in ("pending", "interrupted") for r in rows):
        st.button("Refresh", key="sweeps_refresh", icon=":material/refresh:")  # a click reruns the page
    st.subheader("Summary")
    _summary_table(info, rows)
    st.subheader("ACC per setting across seeds")
    _boxes(rows)
    st.subheader("Mean ACC over two axes")
    _heatmap(info, rows)
    st.subheader("Open a trial")
    _open_trial(rows)


main()
