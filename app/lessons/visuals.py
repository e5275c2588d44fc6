"""The visuals the lessons show (`app.lessons.content.Step.visual` → a function drawing one view).

Each visual is drawn from the shipped pretrained runs (`pretrained/`, read through `app.cached` and the
winning-ticket results cached in each run's tickets.json) with the chart functions every page uses, or,
for the live ablation, from short runs started through `core.engine.launcher` like the Compare page's.
Every chart key starts with `lesson_`. A run the lesson needs that is not shipped is said in one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from app import cached, paths, state
from app.components import charts, live, ui
from app.components import mask_analysis as ma
from app.components.charts.tickets import labelled_heatmap, scenario_bars, ticket_figures
from app.components.compare_view import draw_comparison
from app.components.forgetting_toggles import forgetting_toggles
from core import run_state
from core.engine import launcher
from core.presets import make_config
from core.runs import RunError, summarize_run

LABELS = {"hypermask": "HyperMask", "hnet": "HNET", "finetune": "Fine-tuning"}
PREFERRED_BENCHMARK = "split-mnist"  # the lessons' numbers are quoted from the shipped Split MNIST runs
ABLATION_ITERS = 100  # per task: three runs of 5 × 100 iterations on 8×8 digits take seconds


class MissingRun(Exception):
    """A shipped run the visual needs is not in the pretrained folder."""


def _shipped(method: str) -> str:
    """The shipped run of `method`, on Split MNIST if there is one, else on any benchmark.

    Raises:
        MissingRun: no readable pretrained run of that method.
    """
    found = [(summarize_run(e.path), e.path) for e in paths.read_manifest()]
    found = [(s, p) for s, p in found if s.error is None and s.method == method]
    found.sort(key=lambda sp: sp[0].benchmark != PREFERRED_BENCHMARK)
    if not found:
        raise MissingRun(f"this step needs a shipped {LABELS.get(method, method)} run, and "
                         f"{paths.pretrained_dir()} holds none")
    return str(found[0][1])


def _shipped_events(*methods: str) -> dict[str, list]:
    """Label → the typed events of each method's shipped run (methods without one are left out;
    the first one is required)."""
    out = {}
    for k, m in enumerate(methods):
        try:
            out[LABELS[m]] = cached.events(_shipped(m))
        except MissingRun:
            if k == 0:
                raise
    return out


def _masks(path: str) -> tuple[dict[int, dict[str, np.ndarray]], list[str]]:
    """A run's final masks (task → layer → values) and its masked weight layers in network order."""
    run = cached.load_run(path)
    masks = cached.masks_numpy(path)
    first = next(iter(masks.values()))
    layers = [n for n, _ in run.method.target.named_parameters() if n in first and n.endswith("weight")]
    return masks, layers


@st.cache_data(max_entries=16, show_spinner=False)
def _tickets(path: str, stamp: float) -> dict:
    from core.tickets.lab import analyze_run

    return analyze_run(path)


def _ticket_figure(name: str) -> None:
    path = _shipped("hypermask")
    with st.spinner("Reading the run's winning-ticket analyses…"):
        res = _tickets(path, cached.run_stamp(path))
        figs = ticket_figures(res)
    if name not in figs:
        reasons = [v.get("reason") for v in res.values() if isinstance(v, dict) and v.get("reason")]
        st.info(reasons[0] if reasons else "This analysis does not apply to the shipped run.")
        return
    ui.chart(figs[name], f"lesson_{name}", f"From the shipped run `{Path(path).name}` (its tickets.json).")


# ---- one function per visual ------------------------------------------------------------------
def ft_forgetting() -> None:
    runs = _shipped_events("finetune")
    shown = forgetting_toggles(runs, "lesson_fc")
    label, recs = next(iter(runs.items()))
    fig = charts.forgetting_curves(recs, title=f"{label}: accuracy of every seen task", uirevision="lesson-fc",
                                   highlight=shown.highlight)
    ui.chart(fig, "lesson_ft_forgetting", "Each line is one task's test accuracy while the stream goes on; dashed "
             "verticals mark task switches.")


def _matrix(method: str) -> None:
    path = _shipped(method)
    m = cached.metrics(path) or {}
    fig = charts.accuracy_matrix_heatmap(m.get("acc_matrix") or [], title=f"{LABELS[method]}: R[i, j]",
                                         uirevision=f"lesson-acc-{method}")
    ui.chart(fig, f"lesson_{method}_matrix", "Row i = after training task i; column j = the task evaluated.")


def compare_hm_ft() -> None:
    runs = _shipped_events("hypermask", "finetune")
    shown = forgetting_toggles(runs, "lesson_cmp")
    fig = charts.compare_forgetting({k: v for k, v in runs.items() if k in shown.methods},
                                    title="Forgetting curves: HyperMask against fine-tuning",
                                    uirevision="lesson-cmp", highlight=shown.highlight)
    ui.chart(fig, "lesson_compare", "Colour = task, line style = method; dashed verticals mark task switches.")


def mask_histogram() -> None:
    path = _shipped("hypermask")
    masks, layers = _masks(path)
    vals = {t: masks[t][layers[0]] for t in sorted(masks)[:3]}
    fig = charts.mask_histogram(vals, {t: ma.threshold_of(v) for t, v in vals.items()},
                                title=f"Mask values of {layers[0]}, tasks 0–2")
    ui.chart(fig, "lesson_mask_histogram", "Count of mask entries per value (log scale); dashed lines: thresholds τ.")


def input_masks() -> None:
    path = _shipped("hypermask")
    masks, _ = _masks(path)
    grid = ma.input_grid(cached.load_run(path), masks)
    if grid is None:
        st.info("The shipped run's first layer does not read pixels directly, so it has no image grid.")
        return
    imgs, note = grid
    fig = charts.input_masks_grid(imgs, task_labels=[f"task {t}" for t in sorted(masks)], tile_px=170,
                                  title="First-layer masks on the input grid")
    ui.chart(fig, "lesson_input_masks", f"Bright pixels are the ones a task keeps weights for{note}.")


def sparsity() -> None:
    path = _shipped("hypermask")
    masks, layers = _masks(path)
    z = ma.sparsity_matrix([masks[t] for t in sorted(masks)], layers, 0.0)
    ui.chart(charts.sparsity_heatmap(z, layers), "lesson_sparsity", "Share of zero mask entries per task and layer.")


def hm_losses() -> None:
    recs = cached.events(_shipped("hypermask"))
    fig = ui.robust_log_range(charts.loss_curves(recs, title="HyperMask: loss terms", uirevision="lesson-loss"))
    ui.chart(fig, "lesson_losses", "Cross-entropy, β·R_hnet and λ·R_target as added to the loss; log scale.")


def overlap() -> None:
    path = _shipped("hypermask")
    masks, layers = _masks(path)
    z = ma.jaccard_matrix([masks[t][layers[0]] for t in sorted(masks)])
    fig = charts.mask_overlap_heatmap(z, layer=layers[0], measure="Jaccard", title=f"Jaccard overlap: {layers[0]}",
                                      uirevision="lesson-overlap")
    ui.chart(fig, "lesson_overlap", "Jaccard of the kept weights of task i and task j (1 = the same subnetwork).")


def _scenarios() -> dict[str, dict]:
    runs = _shipped_events("hypermask", "hnet", "finetune")
    out = {label: run_state.scenarios(recs) for label, recs in runs.items()}
    return {label: sc for label, sc in out.items() if sc is not None and sc["given"]}


def scenario_bars_visual() -> None:
    done = _scenarios()
    fig = scenario_bars({k: sc["given"] for k, sc in done.items()}, {k: sc["inferred"] for k, sc in done.items()},
                        uirevision="lesson-scenarios")
    ui.chart(fig, "lesson_scenario_bars", "Each task's final accuracy with the task id given and with it inferred.")


def task_confusion() -> None:
    sc = _scenarios().get(LABELS["hypermask"])
    if not sc or not sc["confusion"]:
        st.info((sc or {}).get("reason") or "The shipped HyperMask run has no task-inference result.")
        return
    rows = [[c / sum(r) if sum(r) else None for c in r] for r in sc["confusion"]]
    n = len(rows)
    fig = labelled_heatmap(rows, title="HyperMask: which task is inferred", x_title="inferred task",
                           y_title="true task", x_labels=[f"task {j}" for j in range(n)],
                           y_labels=[f"task {i}" for i in range(n)], uirevision="lesson-confusion")
    ui.chart(fig, "lesson_task_confusion", "Share of each true task's test images given to each task's subnetwork.")


def _metric_bars(metrics: tuple[str, ...], key: str) -> None:
    runs = {label: run_state.final_metrics(recs) or {}
            for label, recs in _shipped_events("hypermask", "hnet", "finetune").items()}
    fig = charts.metric_bars(runs, metrics=metrics, uirevision=key)
    ui.chart(fig, f"lesson_{key}", "Per method, in %, from the shipped runs' accuracy matrices.")


def ablation_live() -> None:
    """Three short Split Digits runs on one stream: the full method, β = 0, λ = 0."""
    group = [d for d in state.lesson_ablation() if launcher.get(d) is not None]
    if not group:
        st.button("Start the ablation", key="lesson_ablation_start", type="primary", icon=":material/science:",
                  on_click=_start_ablation, help="three short Split Digits runs, a few seconds each")
        for level, text in state.pop_flashes():
            getattr(st, level)(text)
        return
    names = dict(zip(group, ("HyperMask (full)", "β = 0", "λ = 0")))

    def body() -> None:
        runs = {names[d]: live.events(d) for d in group}
        draw_comparison(runs, "lesson_ablation", statuses={names[d]: live.status(d) for d in group},
                        samples={names[d]: state.live_view(d).samples for d in group}, matrices_folded=True)

    live.live_fragment(group, body)


def _start_ablation() -> None:
    base = make_config("split-digits", "hypermask", "demo")
    base = base.replace(train=dataclasses.replace(base.train, iters_per_task=ABLATION_ITERS, eval_every=10))
    configs = [base, base.replace(mask=dataclasses.replace(base.mask, beta=0.0)),
               base.replace(mask=dataclasses.replace(base.mask, lam=0.0))]
    try:
        dirs = launcher.start_runs(configs, paths.runs_dir(), paths.train_threads(), group=True)
    except (RunError, ValueError, OSError) as e:
        state.flash("error", f"Could not start the ablation: {e}")
        return
    state.set_lesson_ablation(dirs)


VISUALS: dict[str, Callable[[], None]] = {
    "ft_forgetting": ft_forgetting,
    "ft_matrix": lambda: _matrix("finetune"),
    "hm_matrix": lambda: _matrix("hypermask"),
    "compare_hm_ft": compare_hm_ft,
    "mask_histogram": mask_histogram,
    "input_masks": input_masks,
    "sparsity": sparsity,
    "hm_losses": hm_losses,
    "mask_drift": lambda: _ticket_figure("drift"),
    "ablation_live": ablation_live,
    "overlap": overlap,
    "controls": lambda: _ticket_figure("controls"),
    "cross_mask": lambda: _ticket_figure("cross"),
    "sweep": lambda: _ticket_figure("sweep"),
    "scenario_bars": scenario_bars_visual,
    "task_confusion": task_confusion,
    "metric_bars": lambda: _metric_bars(("ACC", "BWT", "forgetting"), "metric_bars"),
    "fwt_bars": lambda: _metric_bars(("FWT",), "fwt_bars"),
}


def draw(visual: str) -> None:
    """Draw the visual named `visual`; a shipped run that is missing or unreadable is one info line."""
    try:
        VISUALS[visual]()
    except (MissingRun, RunError, OSError, ValueError) as e:
        st.info(f"Not shown: {e}", icon=":material/info:")
