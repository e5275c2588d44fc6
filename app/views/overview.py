"""Overview (default page): the HyperMask-versus-fine-tuning story from shipped pretrained runs.

Reads only the runs' JSON files (events.jsonl, metrics.json) through core.runs, so it opens
instantly: no training and no model loading on first open.
"""

from __future__ import annotations

import os
from collections import defaultdict

import streamlit as st

from app import cached, paths, state
from app.components import summary_export, ui
from app.components.compare_view import draw_comparison, partial_metrics
from app.components.config_form import BENCHMARK_LABELS, METHOD_LABELS
from core.runs import list_runs

ORDER = ("hypermask", "finetune", "hnet")  # as on Compare: the two the story is about come first


def _stories() -> tuple[dict[str, dict[str, str]], str, dict[str, str]]:
    """benchmark → {method: run folder}, where they come from, and run folder → description.

    Pretrained runs first; without any, the newest saved run of each method and benchmark.
    """
    entries = paths.read_manifest()
    groups, notes = cached.pretrained_stories(tuple((str(e.path), e.description, cached.run_stamp(e.path))
                                              for e in entries))
    if groups:
        return groups, "pretrained", notes
    saved: dict[str, dict[str, str]] = defaultdict(dict)
    for s in list_runs(paths.runs_dir()):  # newest first
        if s.error is None and s.tasks_done > 0 and s.method not in saved[s.benchmark]:
            saved[s.benchmark][s.method] = str(s.path)
    return {b: g for b, g in saved.items() if g}, "saved", {}


def _intro() -> None:
    st.title("HyperMask Explorer")
    st.markdown(
        "A **hypernetwork** turns each task's **task embedding** into a semi-binary **mask** over the weights "
        "of one shared **target network**; each task trains through its own mask, and a regulariser keeps "
        "earlier tasks' masks in place. Plain **fine-tuning** trains the same network task after task — and "
        "forgets. Below: the same seeded task stream for each method, every task's accuracy as training goes on."
        "\n\n" + ui.SCENARIO)  # one element, not two: a room of visitors opens this page at once


def _headline(runs: dict[str, list]) -> None:
    """One sentence with the story's numbers: ACC and forgetting of HyperMask against fine-tuning."""
    hm, ft = partial_metrics(runs.get("HyperMask", [])), partial_metrics(runs.get("Fine-tuning", []))
    if not hm.get("avg_acc") or not ft.get("avg_acc") or hm.get("forgetting") is None or ft.get("forgetting") is None:
        return
    st.markdown(f"After the last task, **HyperMask** keeps an average accuracy (ACC) of **{ui.pct(hm['avg_acc'])}** "
                f"against **{ui.pct(ft['avg_acc'])}** for fine-tuning: fine-tuning's earlier tasks lost "
                f"**{100 * ft['forgetting']:.1f} points** on average (forgetting), HyperMask's "
                f"**{100 * hm['forgetting']:.1f}**.")


def main() -> None:
    _intro()
    stories, origin, notes = _stories()
    if not stories:
        where = paths.pretrained_dir()
        if not where.is_dir():
            st.warning(f"The pretrained runs folder `{where}` does not exist"
                       + (" (set by HYPERMASK_PRETRAINED_DIR)." if os.environ.get("HYPERMASK_PRETRAINED_DIR") else "."),
                       icon=":material/folder_off:")
        st.info("No pretrained runs are installed and no runs are saved yet. Open **Train (live)** and start "
                "Split Digits · demo (a few seconds on a laptop), or **Compare** to train HyperMask and "
                "fine-tuning side by side.")
        st.page_link("views/train.py", label="Train a run now", icon=":material/model_training:")
        return
    # manifest order (dicts keep insertion order), pairs before single runs
    names = sorted(stories, key=lambda b: len(stories[b]) < 2)
    state.init_default("overview_benchmark", names[0])
    if state.get("overview_benchmark") not in names:
        state.put("overview_benchmark", names[0])
    bench = st.selectbox("Task stream", names, key="overview_benchmark",
                         format_func=lambda b: BENCHMARK_LABELS.get(b, b).split(" (")[0],
                         help="benchmarks with shipped runs" if origin == "pretrained" else "from your saved runs")
    if origin == "saved":
        st.caption("No pretrained runs installed: showing your newest saved run of each method.")
    group = stories[bench]
    methods = [m for m in ORDER if m in group] + [m for m in group if m not in ORDER]
    runs = {METHOD_LABELS.get(m, m): cached.events(group[m]) for m in methods}
    described = [f"**{METHOD_LABELS.get(m, m)}** — {notes[group[m]]}" for m in methods if notes.get(group[m])]
    if described:
        st.caption("  \n".join(described))  # one caption, a line per method
    if len(methods) == 1:
        st.info(f"Only {METHOD_LABELS.get(methods[0], methods[0])} is available for {bench}; "
                "train the other method on the Compare page to see both.")
    _headline(runs)
    draw_comparison(runs, "overview", matrices_folded=True)  # matrices on demand: a light first page
    st.divider()
    row = st.container(horizontal=True, gap="medium")
    if row.button("Train live", key="overview_open_train", icon=":material/model_training:"):
        st.switch_page("views/train.py")
    if row.button("Compare live", key="overview_open_compare", icon=":material/compare_arrows:"):
        st.switch_page("views/compare.py")
    masked = group.get("hypermask") or next(iter(group.values()))
    if row.button("Look at the masks", key="overview_open_masks", icon=":material/texture:"):
        state.set_selected_run(masked)
        st.switch_page("views/masks.py")
    if row.button("Task embeddings", key="overview_open_embeddings", icon=":material/scatter_plot:"):
        state.set_selected_run(masked)
        st.switch_page("views/embeddings.py")
    with row:  # the events are read already (shared, immutable): the page is built from them on a click
        stream = BENCHMARK_LABELS.get(bench, bench).split(" (")[0]
        summary_export.download_button("overview_summary", bench, f"{stream}: " + " vs ".join(runs), lambda: runs)

main()
