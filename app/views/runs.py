"""Runs: saved and pretrained runs — open, delete (with confirmation), export a bundle (zip), download
the accuracy matrix as CSV, import a bundle (checked before anything is read), resume an interrupted
or stopped run (`core.engine.launcher.resume_run`)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app import cached, paths, roles, state
from app.components import charts, live, summary_export, ui
from app.components.config_form import METHOD_LABELS
from core.engine import launcher
from core.metrics import matrix_csv
from core.runs import MAX_BUNDLE_BYTES, RunError, RunSummary, check_tensor_files, delete_run, export_bundle
from core.runs import import_bundle, list_runs, read_config, read_events, summarize_run


def _all_runs() -> list[tuple[str, RunSummary]]:
    """(origin, summary) for pretrained runs, then saved runs (newest first), unreadable ones included."""
    rows = [("pretrained", summarize_run(e.path)) for e in paths.read_manifest()]
    for s in list_runs(paths.runs_dir()):
        run = launcher.get(s.path)
        if s.error and run is not None and run.alive:  # first task still training: no metrics.json yet
            s = RunSummary(s.path, s.name, run.cfg.data.benchmark, run.cfg.train.method, "running", 0,
                           run.cfg.data.tasks)
        rows.append(("saved", s))
    return rows


def _table(rows: list[tuple[str, RunSummary]]) -> pd.DataFrame:
    def pct(v: object) -> float | None:
        v = ui.num(v)
        return None if v is None else round(100 * v, 1)

    return pd.DataFrame([{
        "run": s.name, "date": str(s.created or "")[:16].replace("T", " "), "origin": origin, "benchmark": s.benchmark,
        "method": METHOD_LABELS.get(s.method, s.method),
        "status": "unreadable (see above)" if s.error else live.status(str(s.path.resolve())),
        "tasks": f"{s.tasks_done}/{s.n_tasks}" if not s.error else "",
        "ACC %": pct(s.avg_acc), "BWT %": pct(s.bwt),
    } for origin, s in rows])


def strip_common_folder(data: bytes, max_bytes: int = MAX_BUNDLE_BYTES) -> bytes:
    """A bundle zipped with its run folder (``sd-ft/config.json``, …) → the same zip with the files at
    the top level, as `import_bundle` expects. Other bundles (and non-zips) come back unchanged, for
    `import_bundle` to check and refuse with its own message.

    Raises:
        RunError: the members would unpack to more than `max_bytes`.
    """
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return data
    files = [i for i in infos if not i.is_dir()]
    tops = {i.filename.split("/", 1)[0] for i in infos}
    if not files or len(tops) != 1 or any("/" not in i.filename for i in files):
        return data
    prefix = next(iter(tops)) + "/"
    if prefix in ("./", "../", "/") or any(i.filename[len(prefix):].count("/") for i in files):
        return data  # deeper nesting: leave it for import_bundle to refuse
    if sum(i.file_size for i in files) > max_bytes:
        raise RunError(f"bundle unpacks to more than the size limit ({max_bytes // 2**20} MiB)")
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as w:
            for i in files:
                w.writestr(i.filename[len(prefix):], z.read(i))
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as e:
        raise RunError(f"bundle is corrupt ({type(e).__name__})") from None
    return out.getvalue()


def _import_ui() -> None:
    with st.expander("Import a run bundle (.zip)", key="runs_import_box"):
        up = st.file_uploader("Run bundle", type=["zip"], key="runs_upload",
                              help=f"a zip exported from this app (at most {MAX_BUNDLE_BYTES // 2**20} MiB); "
                                   "checked for size and contents (JSON and safetensors only, no pickle) first")
        if st.button("Import", key="runs_import", disabled=up is None) and up is not None:
            if up.size > MAX_BUNDLE_BYTES:
                st.error(f"The bundle is {up.size / 2**20:.1f} MiB; the limit is {MAX_BUNDLE_BYTES // 2**20} MiB.")
                return
            try:
                dest = import_bundle(strip_common_folder(up.getvalue()), paths.runs_dir())
            except RunError as e:
                st.error(f"Not imported: {e}")
                return
            state.set_selected_run(str(dest.resolve()))
            st.success(f"Imported as `{dest.name}`.")


def _open(path: str, page: str) -> None:
    state.set_selected_run(path)
    st.switch_page(page)


def _resume_ui(path: str, origin: str, s: RunSummary) -> None:
    """A Resume button for a saved run whose process died (or that was stopped) before its last task:
    it continues from its last completed task in a training process of its own, shown on the Train page."""
    status = live.status(path)
    if origin != "saved" or status not in ("interrupted", "stopped") or s.tasks_done >= s.n_tasks > 0:
        return
    if not roles.is_presenter():
        st.caption("The presenter can resume this run.")
        return
    if st.button("Resume training", key="runs_resume", icon=":material/play_arrow:", width="stretch",
                 help=f"continue from the last completed task ({s.tasks_done} of {s.n_tasks} done); the results "
                      "equal those of a run that was never interrupted"):
        try:
            run_dir = launcher.resume_run(path)
        except (RunError, ValueError, OSError) as e:
            st.error(f"Not resumed: {e}")
            return
        state.drop_live_view(run_dir)
        state.set_train_run(run_dir)
        st.switch_page("views/train.py")


def _delete_ui(path: str, origin: str) -> None:
    if not roles.is_presenter():
        return  # visitors never delete
    run = launcher.get(path)
    if origin != "saved" or (run is not None and run.alive):
        st.caption("Pretrained and live runs cannot be deleted here." if origin != "saved" else
                   "Stop the run before deleting it.")
        return
    if state.pending_delete() != path:
        st.button("Delete…", key="runs_delete", icon=":material/delete:", on_click=state.set_pending_delete,
                  args=(path,))
        return
    st.warning(f"Delete `{Path(path).name}` and all its files? This cannot be undone.")
    c = st.columns(2)
    if c[0].button("Yes, delete", key="runs_delete_confirm", type="primary"):
        try:
            delete_run(path, paths.runs_dir())
            state.flash("success", f"Deleted `{Path(path).name}`.")
        except (RunError, OSError) as e:
            state.flash("error", f"Not deleted: {e}")
        state.set_pending_delete(None)
        st.rerun()
    c[1].button("Cancel", key="runs_delete_cancel", on_click=state.set_pending_delete, args=(None,))


def _clean_matrix(matrix: object) -> list[list[float | None]]:
    """acc_matrix rows with every non-number (string, NaN, …) as None; [] when it is not a list of lists."""
    if not isinstance(matrix, list):
        return []
    return [[ui.num(v) for v in row] if isinstance(row, list) else [] for row in matrix]


def _details(path: str, origin: str, s: RunSummary) -> None:
    if s.error:
        st.warning(f"`{s.name}` is unreadable: {s.error}")
        _delete_ui(path, origin)
        return
    try:
        _details_body(path, origin, s)
    except Exception as e:  # noqa: BLE001 - a damaged run folder must not take the page down
        st.error(f"`{s.name}` could not be opened: {type(e).__name__}: {e}")
        _delete_ui(path, origin)


def _details_body(path: str, origin: str, s: RunSummary) -> None:
    m = cached.metrics(path) or {}
    if not isinstance(m, dict):
        raise RunError("metrics.json is not a JSON object")
    matrix = _clean_matrix(m.get("acc_matrix"))
    if not any(v is not None for row in matrix for v in row):
        matrix = []
    run = launcher.get(path)  # a live run's files are written as it goes: not checked
    problems = check_tensor_files(path) if s.tasks_done and not (run is not None and run.alive) else []
    if problems:
        st.warning("The Masks and Embeddings pages cannot open this run: " + "; ".join(problems) + ".",
                   icon=":material/broken_image:")
    ui.metrics_row(m)
    trained = [f"Trained on {m['device']}" if isinstance(m.get("device"), str) else "",
               f"{m['ms_per_iter']:.1f} ms per iteration" if isinstance(m.get("ms_per_iter"), (int, float)) else ""]
    if any(trained):
        st.caption(" · ".join(t for t in trained if t))
    ui.formulas("runs_formulas")
    left, right = ui.wrapping_row("runs_details", [("matrix", 3, 22), ("actions", 2, 14)])
    with left:
        if matrix:
            fig = charts.accuracy_matrix_heatmap(matrix, title="Accuracy matrix R[i, j]",
                                                 uirevision="runs-acc")
            ui.chart(fig, "runs_acc_matrix", f"{s.name}: accuracy on task j (column) after training "
                     "task i (row), full test sets.", f"{s.name}_acc_matrix")
    with right:
        st.download_button("Export bundle (.zip)", data=lambda: export_bundle(path), file_name=f"{s.name}.zip",
                           mime="application/zip", key="runs_export", icon=":material/archive:", on_click="ignore",
                           width="stretch")
        st.download_button("Accuracy matrix (.csv)", data=matrix_csv(matrix), file_name=f"{s.name}_acc_matrix.csv",
                           mime="text/csv", key="runs_csv", icon=":material/table_view:", on_click="ignore",
                           disabled=not matrix, width="stretch")
        label = METHOD_LABELS.get(s.method, s.method)
        summary_export.download_button("runs_summary", s.name, f"{label} · {s.benchmark} · {s.name}",
                                       lambda: {label: read_events(path)}, lambda: {label: m}, width="stretch")
        _resume_ui(path, origin, s)
        if st.button("Open on the Masks page", key="runs_open_masks", icon=":material/texture:", width="stretch",
                     disabled=bool(problems)):
            _open(path, "views/masks.py")
        if st.button("Open on the Embeddings page", key="runs_open_embeddings", icon=":material/scatter_plot:",
                     width="stretch", disabled=bool(problems)):
            _open(path, "views/embeddings.py")
        with st.expander("Configuration (config.json)", key="runs_config"):
            try:
                st.code(json.dumps(read_config(path).to_dict(), indent=1), language="json")
            except RunError as e:
                st.caption(f"config.json could not be shown: {e}")
        _delete_ui(path, origin)


def main() -> None:
    st.title("Runs")
    ui.scenario()
    st.caption(f"Saved runs live in `{roles.shown_path(paths.runs_dir())}` (set HYPERMASK_RUNS_DIR to change "
               f"it); pretrained runs in `{roles.shown_path(paths.pretrained_dir())}`.")
    for level, text in state.pop_flashes():
        getattr(st, level)(text)
    problem = paths.runs_dir_problem()
    if problem:
        st.warning(problem, icon=":material/folder_off:")
    if roles.is_presenter():
        _import_ui()
    rows = _all_runs()
    if not rows:
        st.info("No runs yet: train one on the **Train** page or import a bundle above.")
        return
    bad = [s for _, s in rows if s.error]
    if bad:
        st.warning("Some folders are not readable runs (listed as unreadable; nothing else is affected):\n\n" +
                   "\n".join(f"- `{s.name}` — unreadable: {s.error}" for s in bad))
    # widths in px that add up to a wide window's page (about 930 px): no sideways scroll for ACC and BWT
    text = {"run": 190, "date": 125, "origin": 75, "benchmark": 120, "method": 85, "status": 150, "tasks": 50}
    st.dataframe(_table(rows), key="runs_table", hide_index=True, column_config={
        **{name: st.column_config.TextColumn(width=w) for name, w in text.items()},
        "ACC %": st.column_config.NumberColumn(format="%.1f", width=60),
        "BWT %": st.column_config.NumberColumn(format="%+.1f", width=60)})
    by_path = {str(s.path.resolve()): (origin, s) for origin, s in rows}
    chosen = state.selected_run()
    state.put("runs_selected", chosen if chosen in by_path else state.get("runs_selected"))
    if state.get("runs_selected") not in by_path:
        state.put("runs_selected", next(iter(by_path)))
    path = st.selectbox("Run", list(by_path), key="runs_selected",
                        format_func=lambda p: f"{by_path[p][1].name} ({by_path[p][0]})"
                        + (" — unreadable" if by_path[p][1].error else ""),
                        on_change=lambda: state.set_selected_run(state.get("runs_selected")))
    origin, s = by_path[path]
    _details(path, origin, s)


main()
