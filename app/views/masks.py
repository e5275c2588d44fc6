"""Masks: what HyperMask's per-task masks look like — overlap between tasks, sparsity, per-neuron
usage, first-layer masks on the image grid, and the distribution of mask values with τ."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import cached, state
from app.components import charts, live, ui
from app.components import mask_analysis as ma
from app.components.config_form import METHOD_LABELS
from app.components.run_picker import RunChoice, run_picker
from core.runs import Run

MEASURES = ("Jaccard of supports", "Soft overlap Σmin/Σmax", "Cosine similarity")


def _layers(run: Run, masks: dict[int, dict[str, np.ndarray]]) -> list[str]:
    """Masked parameter names in the target network's order (hidden.0.weight, …, head.weight)."""
    first = next(iter(masks.values()))
    return [n for n, _ in run.method.target.named_parameters() if n in first]


def _overlaps(masks: dict[int, dict[str, np.ndarray]], layers: list[str], level: float) -> None:
    measure = st.radio("Overlap measure", MEASURES, key="masks_measure", horizontal=True)
    cols = ui.wrapping_row("masks_overlap_row", [(str(k), 1, 18) for k in range(min(3, len(layers)))])
    for k, layer in enumerate(layers):
        per_task = [masks[t][layer] for t in sorted(masks)]
        if measure == MEASURES[0]:
            z = ma.jaccard_matrix(per_task, level)
        elif measure == MEASURES[1]:
            z = ma.soft_overlap_matrix(per_task)
        else:
            z = ma.cosine_matrix(per_task)
        with cols[k % len(cols)]:
            fig = charts.mask_overlap_heatmap(z, layer=layer, measure=measure.split(" ")[0], height=330,
                                              title=layer, uirevision=f"overlap-{layer}")
            ui.chart(fig, f"masks_overlap_{k}", f"{layer}: {measure.lower()} of task i's and task j's masks "
                     "(1 = identical, 0 = disjoint).", f"mask_overlap_{layer}")


def _input_grid(run: Run, masks: dict[int, dict[str, np.ndarray]]) -> None:
    grid = ma.input_grid(run, masks)
    if grid is None:
        st.info("The first layer is not a linear layer over the image pixels (e.g. a CNN), so its mask "
                "cannot be folded back to the image grid.")
        return
    imgs, note = grid
    side_h, side_w = imgs.shape[1:]
    fig = charts.input_masks_grid(imgs, task_labels=[f"task {t}" for t in sorted(masks)], tile_px=170,
                                  title=f"First-layer masks on the {side_h}×{side_w} input grid")
    ui.chart(fig, "masks_input_grid", "Mean mask value of the first-layer weights reading each pixel, one image "
             f"per task{note}: bright (yellow) pixels are the ones that task uses, dark ones it ignores.", "input_masks")


def _histogram(masks: dict[int, dict[str, np.ndarray]], layers: list[str]) -> None:
    c = ui.wrapping_row("masks_hist_controls", [("layer", 2, 12), ("tasks", 3, 16), ("zeros", 1, 8)])
    layer = c[0].selectbox("Layer", layers, key="masks_hist_layer")
    tasks = sorted(masks)
    state.init_default("masks_hist_tasks", tasks[:3])
    state.put("masks_hist_tasks", [t for t in state.get("masks_hist_tasks") if t in tasks])
    chosen = c[1].multiselect("Tasks", tasks, key="masks_hist_tasks", format_func=lambda t: f"task {t}")
    drop = c[2].checkbox("Hide zeros", key="masks_hist_drop_zeros")
    vals = {t: masks[t][layer] for t in chosen}
    taus = {t: ma.threshold_of(v) for t, v in vals.items()}
    fig = charts.mask_histogram(vals, taus, drop_zeros=drop, title=f"Mask values: {layer}")
    if not taus or any(float(tau) > 0 for tau in taus.values()):
        cap = ("Distribution of the mask values M = r·[r ≥ τ] per task; the dashed lines are the thresholds τ "
               "(values in the legend) below which entries are set to zero.")
    else:
        cap = ("Distribution of the mask values per task. This mask is dense (sparsity p = 0): there is no "
               "threshold τ, so no entry is set to zero and no τ line is drawn.")
    ui.chart(fig, "masks_histogram", cap, f"mask_histogram_{layer}")


def _analysis(choice: RunChoice) -> None:
    run, err = cached.try_load_run(choice.path)
    if run is None:
        if choice.origin == "live":
            st.info("This live run has not finished its first task yet; masks appear after each task.")
        else:
            st.warning(f"unreadable: {err}")
        return
    method = run.config.train.method
    if not run.masks:
        st.info(f"{METHOD_LABELS.get(method, method)} has no masks: only HyperMask learns a mask per task. "
                "Pick a HyperMask run above.")
        return
    masks = cached.masks_numpy(choice.path)
    layers = _layers(run, masks)
    p = run.config.mask.sparsity
    st.markdown(f"**{run.config.label}** · {len(masks)} task(s) · mask sparsity p = {p:g}% · "
                f"target network hidden sizes {list(run.config.target.hidden)}")
    if choice.origin == "live":
        st.caption("Live run: the masks below update after each finished task.")
    state.init_default("masks_level", 0.0 if p > 0 else 0.1)
    level = st.slider("Count a mask entry as used when M >", 0.0, 0.9, step=0.01, key="masks_level",
                      help="With p > 0 the masks have exact zeros, so 0 is natural. With p = 0 every entry is "
                           "positive: raise the level to see which entries each task really relies on.")
    if p == 0 and level == 0:
        st.info("p = 0: no mask entry is exactly zero, so every support is full (Jaccard = 1). Raise the level.")
    weights = [n for n in layers if n.endswith("weight")]
    shown = layers if st.checkbox("Include bias masks", key="masks_biases") else weights
    st.subheader("Mask overlap between tasks")
    st.caption("How to read this: off-diagonal values well below 1 mean tasks keep partly different weights "
               "(their own subnetworks); values near 1 mean they share almost everything. With p = 0 every "
               "entry is kept, so raise the level above to compare what each task relies on.")
    _overlaps(masks, shown, level)
    st.subheader("Sparsity and per-neuron usage")
    st.caption("How to read this: sparsity near p in every cell is the threshold at work (per task and layer); "
               "0 % for a p = 0 run is expected, the paper's setting. Neuron usage: bright columns shared by "
               "every task are units all tasks need; a column bright for one task only is a unit it owns.")
    c = ui.wrapping_row("masks_usage_row", [("sparsity", 1, 22), ("neurons", 1, 22)])
    with c[0]:
        z = ma.sparsity_matrix([masks[t] for t in sorted(masks)], layers, level)
        ui.chart(charts.sparsity_heatmap(z, layers), "masks_sparsity",
                 f"Share of mask entries with M ≤ {level:g} per task and layer (mask sparsity).", "mask_sparsity")
    with c[1]:
        layer = st.selectbox("Layer for per-neuron usage", weights, key="masks_neuron_layer")
        usage = ma.neuron_usage([masks[t][layer] for t in sorted(masks)])
        ui.chart(charts.neuron_usage(usage, layer), "masks_neuron_usage",
                 "Mean mask value of each output neuron's weights, per task: which units each task uses.",
                 f"neuron_usage_{layer}")
    st.subheader("Which pixels each task uses")
    st.caption("How to read this: each task's own pattern over the centre, where the strokes are. The border holds "
               "no ink in any image, so whatever is kept there cannot tell two digits apart.")
    _input_grid(run, masks)
    st.subheader("Mask values and the threshold τ")
    st.caption("How to read this: a spike at 0 is the p % of entries cut; the kept values spread from τ to 1. "
               "Semi-binary: zero or a soft value, not just 0 / 1.")
    _histogram(masks, layers)


def main() -> None:
    st.title("Masks")
    ui.scenario()
    st.markdown("HyperMask's hypernetwork maps each task embedding to a semi-binary mask over the target "
                "network's weights. Overlapping masks mean shared weights; disjoint masks mean separate subnetworks.")
    choice = run_picker("masks_run", prefer_method="hypermask")
    if choice is None:
        return
    if choice.origin == "live" and live.is_live(choice.path):
        st.fragment(_analysis, run_every=5.0)(choice)
    else:
        _analysis(choice)


main()
