"""AppTest tests for every page of the app (app/main.py + app/views/*).

Runs use tiny Split Digits configurations so the whole file stays well under a minute on 2 CPU cores.
`HYPERMASK_RUNS_DIR` and `HYPERMASK_PRETRAINED_DIR` point at temporary folders; live runs are
stopped after every test (the registry is process-wide).
"""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import events as ev
from core.runs import export_bundle
from core.config import DataConfig, HyperConfig, MaskConfig, RunConfig, TargetConfig, TrainConfig
from core.engine.loop import run_training
from core.engine.runner import REGISTRY

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
PAGES = ["views/overview.py", "views/train.py", "views/compare.py", "views/masks.py", "views/embeddings.py",
         "views/runs.py", "views/sweeps.py"]
WIDGETS = ("button", "checkbox", "multiselect", "number_input", "radio", "selectbox", "slider", "text_input",
           "file_uploader", "download_button", "toggle", "text_area")


def _tiny(method: str) -> RunConfig:
    return RunConfig(
        data=DataConfig(benchmark="split-digits", n_tasks=2, eval_subsample=50),
        target=TargetConfig(hidden=(16,)), hyper=HyperConfig(hidden=(8,), embedding_dim=4),
        mask=MaskConfig(sparsity=30.0), train=TrainConfig(method=method, iters_per_task=20, batch_size=32,
                                                          log_every=5, eval_every=5))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pretrained folder with a tiny HyperMask and fine-tuning run and a manifest."""
    root = tmp_path_factory.mktemp("pretrained")
    entries = []
    for method in ("hypermask", "finetune"):
        name = f"split-digits-{method}"
        result = run_training(_tiny(method), run_dir=root / name)
        assert result.error is None
        entries.append({"path": name, "title": f"Split Digits · {method}", "description": "tiny test run"})
    (root / "manifest.json").write_text(json.dumps({"runs": entries}))
    return root


@pytest.fixture
def env(tmp_path: Path, pretrained: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty runs folder + the shipped tiny runs; stops every live run afterwards."""
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("HYPERMASK_RUNS_DIR", str(runs))
    monkeypatch.setenv("HYPERMASK_PRETRAINED_DIR", str(pretrained))
    monkeypatch.setenv("HYPERMASK_SWEEPS_DIR", str(tmp_path / "sweeps"))
    yield runs
    for run in REGISTRY.all().values():
        run.stop()
    for run in REGISTRY.all().values():
        assert run.join(10), "a live run did not stop"
    REGISTRY.forget_finished()  # the next test's pages start without this test's runs


def _app(page: str | None = None, **query: str) -> AppTest:
    """A new session (a new tab, or a refresh) on `page`, with URL query parameters `query`."""
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    if page is not None:
        at.switch_page(page)
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
    return at


def _status(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown if "Status:" in m.value)


def _chart_keys(at: AppTest) -> list[str]:
    """Keys of the Plotly charts on the page: st.plotly_chart and the in-place live-chart component."""
    return [c.proto.id.rsplit("-", 1)[-1] for c in [*at.get("plotly_chart"), *at.get("bidi_component")]]


def _live_figures(at: AppTest) -> dict[str, dict]:
    """key → figure (parsed JSON) of every live-chart component on the page."""
    out = {}
    for c in at.get("bidi_component"):
        assert c.proto.component_name == "hm_plotly_live"
        out[c.proto.id.rsplit("-", 1)[-1]] = json.loads(c.proto.bytes)["figure"]
    return out


def _poll(at: AppTest, done, timeout: float = 30.0) -> None:  # noqa: ANN001
    end = time.time() + timeout
    while time.time() < end:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out; status: {_status(at)!r}")


# ---- every page ------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_error_and_keys_every_widget(env: Path, page: str) -> None:
    at = _app(page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    for kind in WIDGETS:
        for w in at.get(kind):
            assert getattr(w, "key", None), f"{page}: a {kind} has no key ({getattr(w, 'label', '')!r})"


def test_overview_shows_pretrained_comparison(env: Path) -> None:
    at = _app()
    assert not at.exception
    keys = _chart_keys(at)
    assert "overview_forgetting" in keys and "overview_metrics" in keys
    assert not any(k.startswith("overview_acc_") for k in keys)  # folded: built only when opened
    assert any("task-incremental" in m.value for m in at.markdown)
    labels = [e.label for e in at.expander]
    assert "How the metrics are computed" in labels and "Accuracy matrices R[i, j]" in labels
    assert not at.latex  # the formulas (KaTeX) are sent only once their expander is opened
    # the page's first element starts loading plotly.js (a script of the page's own, run at once)
    first = at.get("html")[0].proto
    assert first.unsafe_allow_javascript and "loadPlotly()" in first.body and "plotly-hm.min.js" in first.body
    assert ":has(script#hm-plotly-preload) { display: none; }" in first.body  # no gap above the title
    at.session_state["overview_matrices"] = True  # the reader opens the folded matrices
    at.session_state["overview_formulas"] = True  # and the formulas
    at.run()
    assert not at.exception
    assert any("ACC" in f.value for f in at.latex) and any("BWT" in f.value for f in at.latex)
    keys = _chart_keys(at)
    assert "overview_acc_0" in keys and "overview_acc_1" in keys


def test_overview_scenario_switch_shows_task_id_inferred(env: Path, pretrained: Path) -> None:
    at = _app()
    assert at.session_state["overview_scenario"] == "given"
    at.session_state["overview_scenario"] = "inferred"
    at.run()
    assert not at.exception and not at.error
    keys = _chart_keys(at)
    assert "overview_scenario_bars" in keys and "overview_confusion_0" in keys  # HyperMask's task-id confusion
    assert "overview_forgetting" not in keys and "overview_confusion_1" not in keys  # fine-tuning has none
    bars = _live_figures(at)["overview_scenario_bars"]
    names = [t["name"] for t in bars["data"]]
    assert names == ["HyperMask · task id given", "HyperMask · task id inferred", "Fine-tuning · task id given"]
    m = json.loads((pretrained / "split-digits-hypermask" / "metrics.json").read_text())
    assert bars["data"][1]["y"] == m["task_inference"]["cil_per_task"]  # the figures of metrics.json
    assert bars["data"][0]["y"] == m["acc_matrix"][-1]
    text = " ".join(md.value for md in at.markdown)
    assert f"{100 * m['task_inference']['cil_accuracy']:.1f}%" in text
    assert "no task identity to infer" in text  # fine-tuning says why it has no inferred bars


def test_overview_without_pretrained_runs(env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERMASK_PRETRAINED_DIR", str(tmp_path / "missing"))
    at = _app()
    assert not at.exception and not at.error
    assert any("No pretrained runs" in i.value for i in at.info)
    assert any(str(tmp_path / "missing") in w.value and "HYPERMASK_PRETRAINED_DIR" in w.value for w in at.warning)


# ---- train page ----------------------------------------------------------------------------
def _tiny_form(at: AppTest, iters: int = 300, pace: int = 0) -> None:
    """Split Digits, 2 tasks, a 16-unit network, at `pace` iterations a second (0: full speed; the page's
    default is a slow-motion demo on Split MNIST). Opens the form first where a live run has folded it
    (its fields are drawn only while it is open)."""
    if not any(w.key == "train_benchmark" for w in at.selectbox):
        at.session_state["train_config"] = True
        at.run()
    at.selectbox(key="train_benchmark").set_value("split-digits").run()
    at.select_slider(key="train_pace").set_value(pace).run()
    at.number_input(key="train_n_tasks").set_value(2)
    at.number_input(key="train_iters").set_value(iters)
    at.number_input(key="train_eval_every").set_value(5)
    at.text_input(key="train_hidden").set_value("16")
    at.run()


def test_train_start_pause_stop(env: Path) -> None:
    at = _app("views/train.py")
    _tiny_form(at)
    assert not at.error
    at.button(key="train_start").click().run()
    assert not at.exception
    assert len(REGISTRY.active()) == 1
    # the form folds away for the live charts, and its fields are not drawn while it is folded
    assert at.session_state["train_config"] is False and not [w for w in at.selectbox if w.key == "train_benchmark"]
    _poll(at, lambda a: any(isinstance(e, ev.Evaluated) for e in _events()))
    at.button(key="train_pause").click().run()
    _poll(at, lambda a: "**paused**" in _status(a))
    assert at.button(key="train_resume").disabled is False
    n_eval = _settled_evaluations()
    at.button(key="train_step").click().run()  # one evaluation interval, then paused again
    _poll(at, lambda a: "**paused**" in _status(a) and _n_evaluated() == n_eval + 1)
    at.button(key="train_stop").click().run()
    _poll(at, lambda a: "**stopped**" in _status(a))
    assert not at.error
    assert {"live_forgetting", "live_losses", "live_acc_matrix"} <= set(_chart_keys(at))
    opened = _app("views/train.py")  # unfolded again: the fields keep what the user chose
    opened.session_state["train_config"] = True
    opened.run()
    # The live charts go through the in-place component; the forgetting figure holds one curve per seen
    # task with the evaluations made so far, and a fixed uirevision (zoom survives refreshes).
    figs = _live_figures(at)
    fc = figs["live_forgetting"]
    curves = [t for t in fc["data"] if t.get("type") == "scatter" and len(t.get("x", [])) > 0]
    assert curves and fc["layout"]["uirevision"] == "live-fc"
    assert max(len(t["x"]) for t in curves) >= n_eval + 1
    run_dir = next(iter(env.iterdir()))
    assert (run_dir / "events.jsonl").exists() and (run_dir / "config.json").exists()
    at.session_state["train_config"] = True  # the user unfolds the form: the fields kept their values
    at.run()
    assert at.selectbox(key="train_benchmark").value == "split-digits"
    assert at.number_input(key="train_n_tasks").value == 2 and at.text_input(key="train_hidden").value == "16"


def _n_evaluated() -> int:
    return sum(isinstance(e, ev.Evaluated) for e in _events())


def _settled_evaluations(quiet_s: float = 2.0, timeout: float = 60.0) -> int:
    """The number of evaluations once none has come for `quiet_s`: the page says "paused" as soon as
    the pause is asked for, and the training process may finish an evaluation it was in."""
    end = time.time() + timeout
    n = _n_evaluated()
    while time.time() < end:
        time.sleep(quiet_s)
        m = _n_evaluated()
        if m == n:
            return n
        n = m
    raise AssertionError(f"evaluations still coming after {timeout} s of pause")


def _events() -> list[ev.Event]:
    return [e for run in REGISTRY.all().values() for e in run.events()]


def test_second_session_reattaches_instead_of_starting(env: Path) -> None:
    first = _app("views/train.py")
    _tiny_form(first, iters=2000)
    first.button(key="train_start").click().run()
    second = _app("views/train.py")  # a refresh / another tab
    assert not second.exception
    mine = [d for d in REGISTRY.all() if d.startswith(str(env.resolve()))]
    assert len(mine) == 1 and len(REGISTRY.active()) == 1
    assert "**running**" in _status(second) or "**paused**" in _status(second)
    second.button(key="train_stop").click().run()
    _poll(first, lambda a: "**stopped**" in _status(a))


def test_a_refresh_reattaches_to_the_run_named_in_the_url(env: Path) -> None:
    """The Train page keeps `?run=<folder>` in the URL; a refresh (new session, same URL) shows that
    run even when a newer one (e.g. started on Compare) is live."""
    first = _app("views/train.py")
    _tiny_form(first, iters=50_000)  # both runs must still be live when the refresh comes
    first.button(key="train_start").click().run()
    mine = next(iter(REGISTRY.all()))
    assert first.query_params["run"] == Path(mine).name
    newer = _app("views/train.py")
    _tiny_form(newer, iters=50_000)
    newer.button(key="train_start").click().run()  # the newest run now
    assert len(REGISTRY.active()) == 2
    refreshed = _app("views/train.py", run=Path(mine).name)
    shown = f"`{Path(mine).name}`"  # the status line names the run folder in backticks
    assert shown in _status(refreshed)
    plain = _app("views/train.py")  # no URL: the newest live run
    assert shown not in _status(plain)
    for run in list(REGISTRY.active().values()):
        run.stop()
    end = time.time() + 30
    while REGISTRY.active() and time.time() < end:
        time.sleep(0.2)
    assert not REGISTRY.active()
    assert shown in _status(_app("views/train.py", run=Path(mine).name))  # a refresh after the end
    fresh = _app("views/train.py")  # a new visitor is not shown someone else's finished run
    assert not _status(fresh) and fresh.expander(key="train_config").proto.expanded
    odd = _app("views/train.py", run="../../etc")  # names no run of this server: said, and dropped
    assert any("No run named `../../etc`" in i.value for i in odd.info) and "run" not in odd.query_params


@pytest.mark.parametrize("field,value,message", [
    ("train_sparsity", 100.0, "sparsity"),
    ("train_lr", 0.0, "learning rate"),
    ("train_hidden", "abc", "hidden"),
    ("train_n_tasks", 9, "number of tasks"),
    ("train_lam", float("nan"), "λ (target L1 regulariser) is empty, not a finite number"),
])
def test_form_refuses_impossible_settings(env: Path, field: str, value: object, message: str) -> None:
    at = _app("views/train.py")
    widget = at.text_input(key=field) if isinstance(value, str) else at.number_input(key=field)
    widget.set_value(value).run()
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="train_start").disabled  # AppTest, like a browser, cannot click it
    assert not REGISTRY.active() and not any(env.iterdir())


# ---- compare, masks, embeddings, runs -------------------------------------------------------
def test_compare_starts_both_methods_on_one_stream(env: Path) -> None:
    at = _app("views/compare.py")
    at.number_input(key="compare_n_tasks").set_value(2)
    at.number_input(key="compare_iters").set_value(1000)
    at.number_input(key="compare_eval_every").set_value(10)
    at.run()
    at.button(key="compare_start").click().run()
    assert not at.exception
    runs = list(REGISTRY.active().values())
    assert sorted(r.cfg.train.method for r in runs) == ["finetune", "hypermask"]
    assert len({(r.cfg.train.seed, r.cfg.data) for r in runs}) == 1
    _poll(at, lambda a: "compare_forgetting" in _chart_keys(a) and len(a.get("progress")) == 2)
    names = at.query_params["runs"]  # the comparison's run folders, kept in the URL
    assert sorted(names.split(",")) == sorted(Path(r.run_dir).name for r in runs)
    assert "compare_forgetting" in _chart_keys(_app("views/compare.py"))  # a new tab re-attaches while live
    at.button(key="compare_stop").click().run()
    _poll(at, lambda a: not REGISTRY.active() and any(b.key == "compare_close" for b in a.button))
    assert not at.exception and not at.error
    assert "compare_forgetting" in _chart_keys(_app("views/compare.py", runs=names))  # a refresh after the end
    fresh = _app("views/compare.py")  # a new visitor is not shown a comparison that has ended
    assert "compare_forgetting" not in _chart_keys(fresh) and fresh.expander(key="compare_config").proto.expanded
    odd = _app("views/compare.py", runs="nope,../x")
    assert any("No comparison of runs `nope,../x`" in i.value for i in odd.info) and "runs" not in odd.query_params
    at.button(key="compare_close").click().run()  # back to comparing saved runs
    assert at.multiselect(key="compare_saved").value and "compare_saved_forgetting" in _chart_keys(at)
    assert "runs" not in at.query_params


def test_compare_warns_about_a_run_whose_events_cannot_be_read(env: Path, pretrained: Path) -> None:
    import shutil

    bad = env / "garbled-hypermask"
    shutil.copytree(pretrained / "split-digits-hypermask", bad)
    (bad / "events.jsonl").write_bytes(b"\x00\xffnot json\n{also not\n")
    at = _app("views/compare.py")
    at.multiselect(key="compare_saved").set_value([str(bad.resolve()),
                                                   str((pretrained / "split-digits-finetune").resolve())]).run()
    assert not at.exception
    assert any("no training events could be read" in w.value for w in at.warning), [w.value for w in at.warning]


def test_masks_page_for_hypermask_and_finetune(env: Path, pretrained: Path) -> None:
    at = _app("views/masks.py")
    keys = _chart_keys(at)
    assert {"masks_overlap_0", "masks_sparsity", "masks_neuron_usage", "masks_input_grid",
            "masks_histogram"} <= set(keys)
    at.radio(key="masks_measure").set_value("Soft overlap Σmin/Σmax").run()
    at.slider(key="masks_level").set_value(0.2).run()
    assert not at.exception and not at.error
    ft = str((pretrained / "split-digits-finetune").resolve())
    at.selectbox(key="masks_run").set_value(ft).run()
    assert not at.exception and any("no masks" in i.value for i in at.info)


def test_embeddings_projection_on_demand(env: Path) -> None:
    at = _app("views/embeddings.py")
    assert "emb_projection" not in _chart_keys(at)  # nothing is computed before the click
    at.radio(key="emb_algorithm").set_value("PCA")
    at.number_input(key="emb_per_task").set_value(20)
    at.button(key="emb_compute").click().run()
    assert not at.exception and not at.error
    assert "emb_projection" in _chart_keys(at)
    at.radio(key="emb_what").set_value("task embeddings").run()
    at.button(key="emb_compute").click().run()
    assert not at.exception and "emb_projection" in _chart_keys(at)


def test_runs_page_lists_unreadable_folder_and_good_runs(env: Path, pretrained: Path) -> None:
    shutil.copytree(pretrained / "split-digits-hypermask", env / "good-run")
    bad = env / "broken-run"
    bad.mkdir()
    (bad / "config.json").write_text("{ this is not json")
    at = _app("views/runs.py")
    assert not at.exception and not at.error
    assert any("unreadable" in w.value and "broken-run" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert {"good-run", "broken-run", "split-digits-hypermask"} <= set(table["run"])
    assert "runs_acc_matrix" in _chart_keys(at)


def test_runs_page_delete_needs_confirmation(env: Path, pretrained: Path) -> None:
    shutil.copytree(pretrained / "split-digits-hypermask", env / "good-run")
    at = _app("views/runs.py")
    at.selectbox(key="runs_selected").set_value(str((env / "good-run").resolve())).run()
    at.button(key="runs_delete").click().run()
    assert (env / "good-run").exists()
    at.button(key="runs_delete_confirm").click().run()
    assert not (env / "good-run").exists() and not at.exception


def test_runs_page_imports_checked_bundles(env: Path, pretrained: Path) -> None:
    at = _app("views/runs.py")
    at.file_uploader(key="runs_upload").upload("run.zip", export_bundle(pretrained / "split-digits-hypermask"))
    at.run()
    at.button(key="runs_import").click().run()
    assert not at.exception and any("Imported" in s.value for s in at.success)
    assert len(list(env.iterdir())) == 1
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("evil.pkl", b"\x80\x04N.")
    at.file_uploader(key="runs_upload").set_value(("evil.zip", buf.getvalue(), "application/zip"))
    at.run()
    at.button(key="runs_import").click().run()
    assert any("unexpected file" in e.value for e in at.error)
    assert len(list(env.iterdir())) == 1


def test_every_preset_default_is_accepted(env: Path) -> None:
    """No st.error unless there is an error: every benchmark × method × preset default is valid."""
    at = _app("views/train.py")
    for bench in ("split-digits", "split-mnist", "permuted-mnist"):
        for method in ("hypermask", "finetune", "hnet"):
            for preset in ("demo", "paper"):
                at.selectbox(key="train_benchmark").set_value(bench)
                at.selectbox(key="train_method").set_value(method)
                at.selectbox(key="train_preset").set_value(preset).run()
                assert not at.exception
                assert not at.error, (bench, method, preset, [e.value for e in at.error])
                assert not at.button(key="train_start").disabled


def test_switching_runs_keeps_pages_consistent(env: Path, pretrained: Path) -> None:
    at = _app("views/embeddings.py")
    at.radio(key="emb_what").set_value("task embeddings").run()
    ft = str((pretrained / "split-digits-finetune").resolve())
    at.selectbox(key="emb_run").set_value(ft).run()
    assert not at.exception and not at.error
    at.switch_page("views/masks.py").run()  # the run chosen on one page is opened on the next
    assert at.selectbox(key="masks_run").value == ft
    assert not at.exception


def test_data_that_is_not_mnist_is_refused_at_start(env: Path, tmp_path: Path) -> None:
    """A data file that exists but is not MNIST: Start is refused with the file's problem, and no run
    folder is made (it once became a run that failed and then showed as an unreadable folder)."""
    bogus = tmp_path / "mnist.npz"
    bogus.write_bytes(b"not a zip")
    at = _app("views/train.py")
    at.selectbox(key="train_benchmark").set_value("split-mnist").run()
    at.text_input(key="train_source").set_value(str(bogus)).run()
    assert not at.error
    at.button(key="train_start").click().run()
    msgs = [e.value for e in at.error]
    assert any("Could not start the run" in m and str(bogus) in m and "npz" in m for m in msgs), msgs
    assert not list(env.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_device_without_a_gpu_is_refused_in_the_form(env: Path) -> None:
    """The Device field: 'cuda' on a server without a GPU keeps Start disabled with one line that
    says why and what to choose; the field survives a preset change; 'cpu' trains."""
    at = _app("views/train.py")
    assert at.selectbox(key="train_device").value == "auto"
    at.selectbox(key="train_device").set_value("cuda").run()
    msgs = [e.value for e in at.error]
    assert any("Cannot start" in m and "device 'cuda' was asked for" in m and "'cpu' or 'auto'" in m for m in msgs), msgs
    assert at.button(key="train_start").disabled
    at.selectbox(key="train_preset").set_value("paper").run()
    assert at.selectbox(key="train_device").value == "cuda"
    at.selectbox(key="train_device").set_value("cpu").run()
    assert not at.error and not at.button(key="train_start").disabled


def test_failed_run_shows_its_error(env: Path) -> None:
    """A run whose loss diverges (β = 1e300 overflows the loss) fails in the worker; its RunFailed
    becomes st.error on the page, naming the cause and the settings to lower."""
    at = _app("views/train.py")
    at.number_input(key="train_n_tasks").set_value(2)
    at.number_input(key="train_iters").set_value(10)
    at.number_input(key="train_eval_every").set_value(5)
    at.number_input(key="train_beta").set_value(1e300).run()
    assert not at.error
    at.button(key="train_start").click().run()
    _poll(at, lambda a: "**failed**" in _status(a))
    msgs = [e.value for e in at.error]
    assert any("Training failed" in m and "diverged" in m and "β=1e+300" in m for m in msgs), msgs


def test_form_values_survive_a_page_switch(env: Path) -> None:
    at = _app("views/train.py")
    at.number_input(key="train_iters").set_value(42).run()
    at.switch_page("views/overview.py").run()
    at.switch_page("views/train.py").run()
    assert at.number_input(key="train_iters").value == 42


def test_runs_dir_that_is_a_file_is_reported_up_front(env: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "runs-file"
    f.write_text("not a folder")
    monkeypatch.setenv("HYPERMASK_RUNS_DIR", str(f))
    for page in ("views/train.py", "views/runs.py"):
        at = _app(page)
        assert not at.exception
        assert any("is a file" in w.value for w in at.warning), page
    assert _app("views/train.py").button(key="train_start").disabled


@pytest.mark.parametrize("page, start", [("views/train.py", "train_start"), ("views/compare.py", "compare_start")])
def test_bad_thread_setting_is_reported_up_front(env: Path, monkeypatch: pytest.MonkeyPatch, page: str,
                                                 start: str) -> None:
    monkeypatch.setenv("HYPERMASK_TRAIN_THREADS", "abc")
    at = _app(page)
    assert not at.exception
    assert any("HYPERMASK_TRAIN_THREADS 'abc'" in w.value for w in at.warning)
    assert at.button(key=start).disabled
    assert not list(env.iterdir())  # no run folder was made


def test_runs_page_imports_a_zip_of_the_run_folder(env: Path, pretrained: Path) -> None:
    flat = zipfile.ZipFile(io.BytesIO(export_bundle(pretrained / "split-digits-hypermask")))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("sd-ft/", b"")
        for info in flat.infolist():
            z.writestr(f"sd-ft/{info.filename}", flat.read(info))
    at = _app("views/runs.py")
    at.file_uploader(key="runs_upload").upload("sd-ft.zip", buf.getvalue())
    at.run()
    at.button(key="runs_import").click().run()
    assert not at.exception and any("Imported" in s.value for s in at.success), [e.value for e in at.error]
    assert len(list(env.iterdir())) == 1


def test_runs_page_survives_wrongly_typed_metrics(env: Path, pretrained: Path) -> None:
    run = env / "typo-run"
    shutil.copytree(pretrained / "split-digits-hypermask", run)
    m = json.loads((run / "metrics.json").read_text())
    m["bwt"] = "x"
    if m.get("acc_matrix"):
        m["acc_matrix"][0][0] = "oops"
    (run / "metrics.json").write_text(json.dumps(m))
    at = _app("views/runs.py")
    at.selectbox(key="runs_selected").set_value(str(run.resolve())).run()
    assert not at.exception


def test_a_gpu_trained_run_opens_and_says_where_it_trained(env: Path, pretrained: Path) -> None:
    """Run files are device-free: a run whose config asks for a second GPU and whose metrics say it
    trained on one opens on this CPU-only server, with a caption naming its device and speed."""
    run = env / "gpu-run"
    shutil.copytree(pretrained / "split-digits-hypermask", run)
    c = json.loads((run / "config.json").read_text())
    c["config"]["train"]["device"] = "cuda:1"
    (run / "config.json").write_text(json.dumps(c))
    m = json.loads((run / "metrics.json").read_text())
    m["device"], m["ms_per_iter"] = "cuda (NVIDIA H200)", 0.75
    (run / "metrics.json").write_text(json.dumps(m))
    at = _app("views/runs.py")
    at.selectbox(key="runs_selected").set_value(str(run.resolve())).run()
    assert not at.exception and not at.warning
    assert any(c.value == "Trained on cuda (NVIDIA H200) · 0.8 ms per iteration" for c in at.caption)
    assert not at.button(key="runs_open_masks").disabled


def test_runs_page_names_damaged_tensor_files(env: Path, pretrained: Path) -> None:
    """A run whose JSON files are fine but whose safetensors files are garbage still shows its
    metrics on Runs, with a warning that names the files (before Masks or Embeddings try them)."""
    run = env / "garbled-run"
    shutil.copytree(pretrained / "split-digits-hypermask", run)
    (run / "weights.safetensors").write_bytes(b"\xff" * 64)
    (run / "masks.safetensors").unlink()
    at = _app("views/runs.py")
    at.selectbox(key="runs_selected").set_value(str(run.resolve())).run()
    assert not at.exception
    warned = [w.value for w in at.warning if "cannot open this run" in w.value]
    assert warned and "weights.safetensors is not a valid safetensors file" in warned[0]
    assert "masks.safetensors is missing" in warned[0]
    assert at.button(key="runs_open_masks").disabled and at.button(key="runs_open_embeddings").disabled
    at.selectbox(key="runs_selected").set_value(str((pretrained / "split-digits-hypermask").resolve())).run()
    assert not any("cannot open this run" in w.value for w in at.warning)
    assert not at.button(key="runs_open_masks").disabled


def test_tickets_page_for_hypermask_finetune_and_a_damaged_run(env: Path, pretrained: Path) -> None:
    """The Tickets page draws every analysis of a HyperMask run (drift: the run's own per-task mask
    snapshots), says which analyses do not apply to fine-tuning, and names the damaged file of a run
    whose weights are garbage — nothing else breaks."""
    import shutil

    at = _app("views/tickets.py")
    at.selectbox(key="tickets_run").set_value(str((pretrained / "split-digits-hypermask").resolve())).run()
    assert not at.exception and not at.error
    assert {"tickets_cross", "tickets_sweep", "tickets_controls", "tickets_drift", "tickets_confusion"} <= \
        set(_chart_keys(at))
    assert (pretrained / "split-digits-hypermask" / "tickets.json").exists()  # cached for the next visit
    at.selectbox(key="tickets_run").set_value(str((pretrained / "split-digits-finetune").resolve())).run()
    assert not at.exception and "tickets_cross" not in _chart_keys(at)
    assert any("fine-tuning" in i.value.lower() for i in at.info), [i.value for i in at.info]
    bad = env / "damaged-hypermask"
    shutil.copytree(pretrained / "split-digits-hypermask", bad)
    (bad / "tickets.json").unlink()
    (bad / "weights.safetensors").write_bytes(b"not a tensor file")
    at = _app("views/tickets.py")
    at.selectbox(key="tickets_run").set_value(str(bad.resolve())).run()
    assert not at.exception
    assert any("weights.safetensors" in e.value for e in at.error), [e.value for e in at.error]
