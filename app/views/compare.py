"""Compare (the demo): HyperMask and fine-tuning (and HNET when chosen) trained on the same seeded task
stream at the same time, their forgetting curves overlaid live; or any two saved runs side by side."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import paths, state
from app.components import live, queue_view, summary_export, ui
from app.components.compare_view import draw_comparison
from app.components.config_form import METHOD_LABELS, compare_config_ui
from app.components.run_picker import available_runs
from core.config import RunConfig
from core.engine import launcher
from core.runs import read_events


def _start(configs: dict[str, RunConfig]) -> None:
    """Start button callback: one run per method, started together now (or when the queue lets them),
    registered as a group."""
    dirs = queue_view.submit(list(configs.values()), "compare", group=True, what="the comparison")
    if dirs:
        _attach_started(dirs)


def _attach_started(dirs: list[str]) -> None:
    state.set_compare_group(dirs)
    state.put("compare_config", False)


def _label(run_dir: str, used: set[str]) -> str:
    run = launcher.get(run_dir)
    method = run.cfg.train.method if run is not None else ""
    return _unique(METHOD_LABELS.get(method, method or Path(run_dir).name), used)


def _unique(label: str, used: set[str]) -> str:
    """`label`, or "label (2)", "label (3)", … when it is taken; recorded in `used`."""
    out, k = label, 1
    while out in used:
        k += 1
        out = f"{label} ({k})"
    used.add(out)
    return out


def _labels(group: list[str]) -> dict[str, str]:
    """Run folder → its label on the page (the method, numbered when two runs share one)."""
    used: set[str] = set()
    return {d: _label(d, used) for d in group}


def _live_group_body(group: list[str]) -> None:
    labels = _labels(group)
    runs = {labels[d]: live.events(d) for d in group}
    statuses = {labels[d]: live.status(d) for d in group}
    samples = {labels[d]: state.live_view(d).samples for d in group}
    live.controls(group, "compare")
    draw_comparison(runs, "compare", statuses, samples)


def _saved_comparison() -> None:
    """Compare two (or three) finished runs picked from pretrained and saved ones."""
    st.subheader("Compare saved runs")
    runs = [r for r in available_runs() if r.origin != "live"]
    if len(runs) < 2:
        st.info("Fewer than two saved runs: start a live comparison above.")
        return
    by_path = {r.path: r for r in runs}
    pairs = [(h.path, f.path) for h in runs if h.method == "hypermask"
             for f in runs if f.method == "finetune" and f.benchmark == h.benchmark]
    state.init_default("compare_saved", list(pairs[0]) if pairs else [r.path for r in runs[:2]])
    state.put("compare_saved", [p for p in state.get("compare_saved") if p in by_path])
    chosen = st.multiselect("Runs to compare", list(by_path), key="compare_saved", max_selections=3,
                            format_func=lambda p: by_path[p].label)
    if not chosen:
        return
    used: set[str] = set()
    data = {}
    for p in chosen:
        name = METHOD_LABELS.get(by_path[p].method, by_path[p].method)
        if by_path[p].origin == "sweep":  # trials of one sweep share a method: their folders tell them apart
            name = f"{name} · {Path(p).name}"
        data[_unique(name, used)] = live.events(p)
    if len({by_path[p].benchmark for p in chosen}) > 1:
        st.warning("These runs use different task streams; their curves are not directly comparable.")
    draw_comparison(data, "compare_saved")
    summary_export.download_button("compare_saved_summary", "comparison", " vs ".join(data), lambda: data)


def main() -> None:
    st.title("Compare: HyperMask vs fine-tuning")
    ui.scenario()
    st.markdown("Both methods train on **the same seeded task stream** (same data split, task order and "
                "batches) with their own preset networks; watch fine-tuning's earlier tasks fall while "
                "HyperMask's stay up.")
    for level, text in state.pop_flashes():
        getattr(st, level)(text)
    problem = paths.runs_dir_problem() or paths.settings_problem()
    if problem:
        st.warning(problem, icon=":material/folder_off:")
    queued = queue_view.waiting("compare", _attach_started)
    group = state.compare_group()
    if group is None:  # a new session: ?runs= (a refresh) names the comparison, else a live one
        group = state.from_url("runs", launcher.group_named, "No comparison of runs `{named}` was trained by this "
                               "server since it started, so there is nothing live to show for it. Saved runs "
                               "can be compared below.") or launcher.newest_group(live.is_live)
        if group:  # kept for this session: it stays on screen when the runs end
            state.set_compare_group(group)
    if group and not any(launcher.get(d) is not None for d in group):
        group = []  # runs of an earlier server process: open them below instead
    state.keep_in_url("runs", launcher.group_url(group) if group else None)
    form = st.expander("Start a live comparison", expanded=not group, key="compare_config", on_change="rerun")
    if form.open:  # drawn only while open: a folded form costs the page (and the browser) nothing
        with form:
            res = compare_config_ui("compare")
            n = len(res.configs or {})
            if n and not problem:
                launcher.prewarm()  # the runs start at once when Start is pressed
            st.button(f"Start comparison ({n} runs)" if n else "Start comparison", key="compare_start",
                      type="primary", icon=":material/rocket_launch:",
                      disabled=res.configs is None or bool(problem) or queued,
                      on_click=_start, args=(res.configs,))
    if group:
        st.subheader("Live comparison")
        live.live_fragment(group, lambda: _live_group_body(group))
        labels = _labels(group)  # the events are read on the click: a live run's newest
        summary_export.download_button("compare_summary", Path(group[0]).name, " vs ".join(labels.values()),
                                       lambda: {label: read_events(d) for d, label in labels.items()})
        if not any(live.is_live(d) for d in group) and st.button("Close this comparison", key="compare_close"):
            state.set_compare_group([])
            st.rerun()
    else:
        _saved_comparison()


main()
