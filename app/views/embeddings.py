"""Embeddings: the learned task embeddings and the hidden-layer activations of test images under each
task's weights, projected to 2-D (PCA, t-SNE or UMAP). Computed on demand and cached per run."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import cached, state
from app.components import charts, ui
from app.components.projections import ALGORITHMS
from app.components.run_picker import RunChoice, run_picker
from core.runs import RunError
from core.data.sources import DataError

WHAT = ("hidden activations", "task embeddings")


def _source_missing(run) -> str | None:  # noqa: ANN001 - core.runs.Run
    src = run.config.data.source
    if run.config.data.benchmark != "split-digits" and src != "bundled" and not Path(src).expanduser().exists():
        return (f"This run was trained on data at `{src}`, which does not exist on this machine, so its test "
                "images cannot be rebuilt. Task embeddings still work.")
    return None


def _controls(run) -> dict:  # noqa: ANN001
    has_emb = run.method.hypernet is not None
    c = st.columns(4)
    what = c[0].radio("Show", WHAT if has_emb else WHAT[:1], key="emb_what",
                      help="task embeddings exist only for hypernetwork methods (HyperMask, HNET)")
    algo = c[1].radio("Projection", ALGORITHMS, key="emb_algorithm", horizontal=True)
    n_hidden = len(run.config.target.hidden)
    layer = c[2].selectbox("Hidden layer", list(range(n_hidden)), key="emb_layer",
                           format_func=lambda k: f"hidden.{k} ({run.config.target.hidden[k]} units)",
                           disabled=what != WHAT[0])
    state.init_default("emb_per_task", 100)
    per_task = c[3].number_input("Test images per task", min_value=10, max_value=1000, step=10, key="emb_per_task",
                                 disabled=what != WHAT[0])
    state.init_default("emb_color", "task")
    color = st.radio("Colour by", ("task", "class"), key="emb_color", horizontal=True, disabled=what != WHAT[0])
    return {"what": what, "algorithm": algo, "layer": int(layer), "per_task": int(per_task), "color": color}


def _draw(choice: RunChoice, req: dict) -> None:
    wait = (f"Computing the {req['algorithm']} projection…" + (
        " The first UMAP after the app starts compiles UMAP's code first (10–20 s on a laptop); later ones are quick."
        if req["algorithm"] == "UMAP" else ""))
    try:
        with st.spinner(wait):
            proj = cached.projection(choice.path, req["what"], req["algorithm"], req["layer"], req["per_task"])
    except (RunError, DataError, ValueError) as e:
        st.warning(f"Cannot compute this projection: {e}")
        return
    # name the method actually used: with too few points t-SNE/UMAP fall back to PCA (see proj.note)
    algo = "PCA" if "PCA used instead" in (proj.note or "") else req["algorithm"]
    if req["what"] == "task embeddings":
        fig = charts.projection_scatter(proj.points, [f"task {t}" for t in proj.tasks], proj.hover,
                                        color_title="task", marker_size=16,
                                        title=f"Task embeddings e_t ({algo})")
        caption = ("Each point is one learned task embedding e_t, the hypernetwork's input for task t; "
                   "nearby embeddings generate similar masks. How to read this: with a handful of tasks, "
                   "distances matter more than directions, and t-SNE / UMAP distances are only roughly meaningful.")
    else:
        labels = proj.tasks if req["color"] == "task" else proj.classes
        fig = charts.projection_scatter(proj.points, labels, proj.hover, color_title=req["color"],
                                        title=f"Hidden layer {req['layer']} activations ({algo})")
        caption = (f"{req['per_task']} test images per task through hidden layer {req['layer']} with that task's "
                   f"mask/weights, projected to 2-D; colour = {req['color']}. Hover for details. How to read this: "
                   "separate clusters per task mean each task's subnetwork maps its images to its own region; "
                   "colour by class to see whether the two classes of a task split inside its cluster.")
    ui.chart(fig, "emb_projection", caption + (f" ({proj.note})" if proj.note else ""), "projection")


def main() -> None:
    st.title("Embeddings")
    ui.scenario()
    st.markdown("Where tasks sit relative to each other: the **task embeddings** learned for each task, and the "
                "**hidden activations** of test images when the target network runs with each task's mask.")
    choice = run_picker("emb_run", prefer_method="hypermask")
    if choice is None:
        return
    run, err = cached.try_load_run(choice.path)
    if run is None:
        st.warning(f"unreadable: {err}" if choice.origin != "live" else "No task finished yet in this live run.")
        return
    if run.tasks_done == 0:
        st.info("No task finished yet.")
        return
    req = _controls(run)
    missing = _source_missing(run)
    if missing and req["what"] == WHAT[0]:
        st.warning(missing)
    req_key = {**req, "path": choice.path, "stamp": cached.run_stamp(choice.path)}
    if st.button("Compute projection", key="emb_compute", type="primary", icon=":material/calculate:",
                 disabled=bool(missing) and req["what"] == WHAT[0]):
        state.set_projection_request(req_key)
    asked = state.projection_request()
    if asked is None or {k: v for k, v in asked.items() if k != "color"} != {
            k: v for k, v in req_key.items() if k != "color"}:
        st.caption("Choose what to project, then press **Compute projection** (t-SNE and UMAP take a few seconds; "
                   "results are cached per run).")
        return
    _draw(choice, req)


main()
