"""Tests for app.components.charts: pure figure builders."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from app.components import charts
from core import events as E


def _events_two_tasks() -> list[E.Event]:
    """Hand-built events of a 2-task run (evaluations every 50 steps)."""
    losses = lambda ce, rh, rt: {"total": ce + rh + rt, "ce": ce, "r_hnet": rh, "r_target": rt,
                                 "sparsity": 0.0}
    return [
        E.RunStarted(config={}, run_dir=None, n_tasks=2, iters_per_task=100),
        E.TaskStarted(task=0, global_step=0),
        E.StepLogged(task=0, step=0, global_step=0, losses=losses(2.0, 0.0, 0.0)),
        E.StepLogged(task=0, step=49, global_step=49, losses=losses(1.0, 0.0, 0.0)),
        E.Evaluated(task=0, step=49, global_step=50, accuracies=[0.6]),
        E.Evaluated(task=0, step=99, global_step=100, accuracies=[0.9]),
        E.TaskFinished(task=0, global_step=100, acc_row=[0.91],
                        mask_stats=[{"layer": "fc1", "sparsity": 0.3, "mean": 0.2}], seconds=1.0),
        E.TaskStarted(task=1, global_step=100),
        E.StepLogged(task=1, step=0, global_step=100, losses=losses(2.2, 0.01, 0.1)),
        E.StepLogged(task=1, step=49, global_step=149, losses=losses(0.8, 0.02, 0.05)),
        E.Evaluated(task=1, step=49, global_step=150, accuracies=[0.85, 0.5]),
        E.Evaluated(task=1, step=99, global_step=200, accuracies=[0.8, 0.95]),
        E.TaskFinished(task=1, global_step=200, acc_row=[0.82, 0.96], mask_stats=[], seconds=1.0),
        E.RunFinished(result={"avg_acc": 0.89, "bwt": -0.09, "forgetting": 0.09}, stopped=False),
    ]


def _check_common(fig: go.Figure, uirevision: str) -> None:
    assert isinstance(fig, go.Figure)
    assert fig.layout.uirevision == uirevision
    assert fig.layout.title.text
    assert fig.layout.template.layout.plot_bgcolor == "white"  # plotly_white
    assert fig.layout.margin.t is not None and fig.layout.margin.t <= 80


def test_template_is_plotly_white_for_the_app_trace_types() -> None:
    import plotly.io as pio
    from app.components.charts import style

    ours, white = pio.templates[style.TEMPLATE], pio.templates["plotly_white"]
    assert ours.layout.to_plotly_json() == white.layout.to_plotly_json()
    assert set(ours.data.to_plotly_json()) <= set(style.TRACE_TYPES)
    for t in style.TRACE_TYPES:
        assert [d.to_plotly_json() for d in ours.data[t]] == [d.to_plotly_json() for d in white.data[t]]
    # every chart has it, also when another library (Streamlit) has made its own template the default
    saved = pio.templates.default
    try:
        for default in (style.TEMPLATE, "plotly"):
            pio.templates.default = default
            fig = charts.forgetting_curves(_events_two_tasks(), total_steps=200)
            assert fig.layout.template.to_plotly_json() == ours.to_plotly_json()
    finally:
        pio.templates.default = saved


def _dashed_lines(fig: go.Figure) -> list:
    return [s for s in fig.layout.shapes if s.type == "line" and s.line.dash == "dash"]


def test_module_imports_only_plotly_numpy():
    """Charts are plotly + numpy, and the run state they draw comes from the engine's one place for it
    (core.run_state, itself pure Python)."""
    def imports(path: str) -> set[str]:
        mods = set()
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods.add(node.module)
        return mods

    from core import run_state

    files = sorted(Path(charts.__file__).parent.glob("*.py"))
    assert {f.stem for f in files} == {"__init__", "style", "curves", "heatmaps", "bars", "projections", "tickets",
                                           "sweeps"}
    mods = {m.split(".")[0] if not m.startswith(("core", "app")) else m for f in files for m in imports(f)}
    assert "streamlit" not in mods and "torch" not in mods
    assert mods <= {"__future__", "math", "collections", "typing", "numpy", "plotly",
                    "core.run_state", *(f"app.components.charts.{f.stem}" for f in files)}
    assert imports(run_state.__file__) <= {"__future__", "collections.abc", "typing", "core"}


def test_plotly_config():
    cfg = charts.PLOTLY_CONFIG
    assert cfg["displaylogo"] is False
    image = cfg["toImageButtonOptions"]
    assert image["format"] == "png"
    # a projector's 1920 × 1080 px: laid out at 1280 × 720 and drawn at 1.5×
    assert (image["width"] * image["scale"], image["height"] * image["scale"]) == (1920, 1080)
    assert image["filename"]
    named = charts.plotly_config("acc_matrix")
    assert named["toImageButtonOptions"]["filename"] == "acc_matrix"
    assert named["toImageButtonOptions"]["width"] == 1280 and named["toImageButtonOptions"]["scale"] == 1.5
    assert cfg["toImageButtonOptions"]["filename"] != "acc_matrix"  # original untouched


def test_in_place_charts_have_an_svg_download_button():
    """The in-place component adds "Download as SVG" to every chart's modebar, with the config's
    1920 × 1080 options (plotly.js's own camera button downloads the PNG)."""
    from app.components.plotly_frame import RENDERER

    js = RENDERER.read_text(encoding="utf-8")
    assert "const EXTRA_BUTTONS = [SVG_BUTTON, FULLSCREEN_BUTTON];" in js
    assert "modeBarButtonsToAdd: EXTRA_BUTTONS" in js
    button = js[js.index("const SVG_BUTTON"):js.index("const EXTRA_BUTTONS")]
    assert 'format: "svg"' in button and "toImageButtonOptions" in button
    assert "window.Plotly.downloadImage(gd, opts)" in button


def test_forgetting_curves_two_tasks():
    fig = charts.forgetting_curves(_events_two_tasks(), total_steps=200)
    _check_common(fig, "fc")
    assert len(fig.data) == 2
    t0, t1 = fig.data
    assert list(t0.x) == [50, 100, 150, 200]
    assert list(t0.y) == [0.6, 0.9, 0.85, 0.8]
    assert list(t1.x) == [150, 200]           # starts where task 1 first appears
    assert list(t1.y) == [0.5, 0.95]
    assert t0.line.color != t1.line.color
    shapes = _dashed_lines(fig)
    assert len(shapes) == 2
    assert [s.x0 for s in shapes] == [0, 100]
    texts = [a.text for a in fig.layout.annotations]
    assert "task 0" in texts and "task 1" in texts
    assert tuple(fig.layout.yaxis.range) == (0, 1.02)
    assert tuple(fig.layout.xaxis.range) == (0, 200)
    assert fig.layout.xaxis.title.text == "training iterations"
    assert fig.layout.yaxis.title.text == "accuracy"
    assert "%" in t0.hovertemplate and "task 0" in t0.hovertemplate


def test_forgetting_curves_live_partial_and_empty():
    ev = _events_two_tasks()[:5]  # task 0 running, one evaluation so far
    fig = charts.forgetting_curves(ev, uirevision="live")
    _check_common(fig, "live")
    assert len(fig.data) == 1 and list(fig.data[0].y) == [0.6]
    assert len(_dashed_lines(fig)) == 1
    assert fig.layout.xaxis.range is None  # no total_steps: autorange
    empty = charts.forgetting_curves([])
    assert len(empty.data) == 0 and empty.layout.uirevision == "fc"


def test_forgetting_curves_uses_last_run_only():
    ev = _events_two_tasks() + _events_two_tasks()[:5]
    fig = charts.forgetting_curves(ev)
    assert len(fig.data) == 1 and list(fig.data[0].y) == [0.6]


def test_compare_forgetting():
    ev = _events_two_tasks()
    fig = charts.compare_forgetting({"HyperMask": ev, "Fine-tuning": ev, "EWC": ev})
    _check_common(fig, "fc-compare")
    assert len(fig.data) == 6
    by_method = {}
    for tr in fig.data:
        by_method.setdefault(tr.legendgroup, []).append(tr)
    assert set(by_method) == {"HyperMask", "Fine-tuning", "EWC"}
    assert [tr.line.dash for tr in by_method["HyperMask"]] == ["solid", "solid"]
    assert by_method["Fine-tuning"][0].line.dash == "dash"
    assert by_method["EWC"][0].line.dash == "dot"
    # same colour per task across methods
    assert by_method["HyperMask"][1].line.color == by_method["Fine-tuning"][1].line.color
    assert by_method["HyperMask"][0].line.color != by_method["HyperMask"][1].line.color
    assert len(_dashed_lines(fig)) == 2  # deduplicated task switches


def test_loss_curves_log_and_linear():
    ev = _events_two_tasks()
    fig = charts.loss_curves(ev)
    _check_common(fig, "loss")
    assert len(fig.data) == 4
    names = [t.name for t in fig.data]
    assert names == ["cross-entropy", "β·R_hnet", "λ·R_target", "total"]
    assert fig.layout.yaxis.type == "log"
    ce, rh, rt, total = fig.data
    assert list(ce.y) == [2.0, 1.0, 2.2, 0.8]
    assert list(rh.x) == [100, 149]           # zeros omitted on the log scale
    assert list(rh.y) == pytest.approx([0.01, 0.02])
    assert fig.layout.yaxis.dtick == 1  # 0.01 … 2.2: over two decades, labelled at powers of ten only
    assert len(_dashed_lines(fig)) == 2
    lin = charts.loss_curves(ev, log_y=False)
    assert lin.layout.yaxis.type != "log"
    assert list(lin.data[1].y) == pytest.approx([0.0, 0.0, 0.01, 0.02])


def test_tickets_heatmap_colour_bar_speaks_as_its_cells():
    from app.components.charts.tickets import labelled_heatmap

    acc = labelled_heatmap([[0.995, 0.41], [0.5, 0.98]], title="t", x_title="mask of task", y_title="task")
    assert acc.data[0].texttemplate == "%{text}" and acc.data[0].text[0][0] == "99.5"
    assert acc.data[0].colorbar.tickformat == ".0%"  # 0 %–100 %, as the cells' 99.5
    raw = labelled_heatmap([[1.0, 2.0]], title="t", x_title="x", y_title="y", percent=False, zmax=None)
    assert raw.data[0].colorbar.tickformat is None


def test_a_log_axis_over_one_decade_keeps_plotlys_labels():
    fig = go.Figure(go.Scatter(y=[0.5, 1.0, 2.0, None, 0.0]))
    charts.style.log_y_axis(fig)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick is None
    fig = go.Figure([go.Scatter(y=[0.5, 1.0]), go.Bar(y=[3, 400])])
    charts.style.log_y_axis(fig)
    assert fig.layout.yaxis.dtick == 1


def test_loss_of_exactly_zero_is_a_gap_not_a_joined_line():
    """A cross-entropy of exactly 0 mid-run (an easy task) cannot be drawn on a log axis: the line
    breaks there instead of joining the points on either side (which drew a false rising diagonal)."""
    vals = [0.5, 0.0, 0.0, 0.4, float("nan"), 0.3]
    steps = [E.StepLogged(task=0, step=i, global_step=i, losses={"ce": v, "r_hnet": 0.0, "r_target": 0.0,
                                                                  "total": 1.0}) for i, v in enumerate(vals)]
    ce = charts.loss_curves(steps).data[0]
    assert list(ce.x) == [0, 1, 2, 3, 4, 5] and list(ce.y) == [0.5, None, None, 0.4, None, 0.3]
    assert not ce.connectgaps


def test_metric_bars_keep_each_methods_colour_and_legend():
    both = charts.metric_bars({"HyperMask": {"avg_acc": 0.9}, "Fine-tuning": {"avg_acc": 0.6}})
    one = charts.metric_bars({"HyperMask": {}, "Fine-tuning": {"avg_acc": 0.6}})  # HyperMask: no task yet
    assert one.data[1].marker.color == both.data[1].marker.color != both.data[0].marker.color
    assert list(one.data[0].y) == [None, None, None] and one.layout.showlegend is True


def test_loss_curves_downsample():
    steps = [E.StepLogged(task=0, step=i, global_step=i,
                           losses={"total": 1.0 + i, "ce": 1.0, "r_hnet": 0.0, "r_target": 0.0}) for i in range(1000)]
    fig = charts.loss_curves(steps, max_points=100)
    assert len(fig.data[0].x) <= 101
    assert fig.data[3].x[-1] == 999
    assert len(fig.data[1].x) == 0  # all-zero term kept as an (empty) trace


def test_accuracy_matrix_heatmap_full_and_partial():
    m = [[0.91, None, None], [0.82, 0.96, None], [None, None, None]]
    fig = charts.accuracy_matrix_heatmap(m)
    _check_common(fig, "acc-matrix")
    assert len(fig.data) == 1
    hm = fig.data[0]
    z = np.asarray(hm.z, dtype=float)
    assert z.shape == (3, 3)
    assert z[0, 0] == pytest.approx(0.91) and z[1, 1] == pytest.approx(0.96)
    assert np.isnan(z[0, 1]) and np.isnan(z[2]).all()
    assert hm.zmin == 0 and hm.zmax == 1
    assert hm.text[1][0] == "82.0%" and hm.text[0][1] == ""
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.xaxis.title.text == "evaluated on task j"
    assert fig.layout.yaxis.title.text == "after training task i"


def test_accuracy_matrix_heatmap_many_tasks_whole_percents():
    m = np.tril(np.full((10, 10), 0.873))
    m[np.triu_indices(10, 1)] = np.nan
    fig = charts.accuracy_matrix_heatmap(m)
    assert fig.data[0].text[9][0] == "87" and fig.data[0].text[0][9] == ""
    assert fig.layout.height and fig.layout.height >= 450


def test_forgetting_curve_switch_labels_above_plot():
    fig = charts.forgetting_curves(_events_two_tasks())
    for a in fig.layout.annotations:
        assert a.yref == "paper" and a.y == 1.0 and a.yanchor == "bottom"


def test_accuracy_matrix_heatmap_ragged_rows():
    fig = charts.accuracy_matrix_heatmap([[0.9], [0.8, 0.95]])
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2, 2) and np.isnan(z[0, 1]) and z[1, 1] == pytest.approx(0.95)


def test_mask_overlap_heatmap():
    ov = np.array([[1.0, 0.25], [0.25, 1.0]])
    fig = charts.mask_overlap_heatmap(ov, layer="fc1", measure="Jaccard")
    _check_common(fig, "mask-overlap")
    assert len(fig.data) == 1
    assert np.allclose(np.asarray(fig.data[0].z), ov)
    assert fig.data[0].text[0][1] == "0.25"
    assert "fc1" in fig.layout.title.text and "Jaccard" in fig.layout.title.text
    assert fig.data[0].zmin == 0 and fig.data[0].zmax == 1


def test_sparsity_heatmap_percent():
    s = np.array([[0.5, 0.123], [0.6, np.nan]])
    fig = charts.sparsity_heatmap(s, ["fc1", "fc2"])
    _check_common(fig, "sparsity")
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z[0, 0] == pytest.approx(50.0) and z[0, 1] == pytest.approx(12.3)
    assert np.isnan(z[1, 1])
    assert fig.data[0].text[0][1] == "12.3%" and fig.data[0].text[1][1] == ""
    assert list(fig.data[0].x) == ["fc1", "fc2"]


def test_neuron_usage_chart():
    u = np.random.default_rng(0).random((3, 50))
    fig = charts.neuron_usage(u, "fc1")
    _check_common(fig, "neuron-usage")
    assert len(fig.data) == 1 and np.asarray(fig.data[0].z).shape == (3, 50)
    assert fig.layout.xaxis.title.text == "output neuron"


@pytest.mark.parametrize("t,rows", [(3, 1), (10, 1), (20, 2)])
def test_input_masks_grid(t, rows):
    imgs = np.random.default_rng(1).random((t, 6, 6))
    fig = charts.input_masks_grid(imgs)
    _check_common(fig, "input-masks")
    assert len(fig.data) == t
    assert all(tr.coloraxis == "coloraxis" for tr in fig.data)
    assert fig.layout.coloraxis.cmin == 0
    assert fig.layout.coloraxis.cmax == pytest.approx(imgs.max())
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:t] == [f"task {k}" for k in range(t)]
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.xaxis.showticklabels is False
    # rows: distinct y domains
    assert len({tuple(getattr(fig.layout, f"yaxis{i if i > 1 else ''}").domain)
                for i in range(1, t + 1)}) == rows


def test_mask_histogram():
    rng = np.random.default_rng(2)
    vals = {0: np.concatenate([np.zeros(50), rng.uniform(0.2, 1, 50)]),
            3: np.concatenate([np.zeros(30), rng.uniform(0.4, 1, 70)])}
    fig = charts.mask_histogram(vals, {0: 0.2, 3: 0.4}, bins=20)
    _check_common(fig, "mask-hist")
    assert len(fig.data) == 4
    assert [t.name for t in fig.data[:2]] == ["task 0", "task 3"]
    assert sum(fig.data[0].y) == 100 and sum(fig.data[1].y) == 100
    assert fig.data[0].opacity < 1
    assert fig.layout.barmode == "overlay"
    assert fig.layout.yaxis.type == "log"
    assert len(fig.layout.shapes) == 2
    assert [s.x0 for s in fig.layout.shapes] == [0.2, 0.4]
    legend = [t.name for t in fig.data[2:]]
    assert legend == ["τ task 0 = 0.200", "τ task 3 = 0.400"]
    assert not [a for a in fig.layout.annotations if "τ" in (a.text or "")]
    dense = charts.mask_histogram(vals, {0: 0.0, 3: 0.0}, bins=20)  # p = 0: no threshold, no lines
    assert len(dense.layout.shapes) == 0 and len(dense.data) == 2
    nz = charts.mask_histogram(vals, {}, log_y=False, drop_zeros=True)
    assert sum(nz.data[0].y) == 50 and len(nz.layout.shapes) == 0
    assert nz.layout.yaxis.type != "log"


def test_projection_scatter_with_highlight():
    pts = np.array([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]], dtype=float)
    labels = [1, 0, 1, 2, 0]
    hover = [f"sample {i}" for i in range(5)]
    fig = charts.projection_scatter(pts, labels, hover, color_title="task",
                                    highlight=np.array([[5.0, 5.0], [6.0, 6.0]]),
                                    highlight_labels=[0, 2])
    _check_common(fig, "projection")
    assert len(fig.data) == 4
    assert [t.name for t in fig.data[:3]] == ["0", "1", "2"]
    assert list(fig.data[0].x) == [1.0, 4.0] and list(fig.data[0].text) == ["sample 1", "sample 4"]
    star = fig.data[3]
    assert star.marker.symbol == "star" and star.marker.size >= 14
    assert list(star.marker.color) == [fig.data[0].marker.color, fig.data[2].marker.color]
    assert fig.layout.legend.title.text == "task"
    plain = charts.projection_scatter(pts, labels, hover, color_title="class")
    assert len(plain.data) == 3
    with pytest.raises(ValueError):
        charts.projection_scatter(pts, labels[:3], None, color_title="task")


def test_metric_bars():
    summary = {"HyperMask": {"ACC": 0.95, "BWT": -0.01, "forgetting": 0.012},
               "Fine-tuning": {"avg_acc": 0.6, "bwt": -0.35, "forgetting": 0.36}}
    fig = charts.metric_bars(summary)
    _check_common(fig, "metrics")
    assert len(fig.data) == 2
    assert fig.layout.barmode == "group"
    assert list(fig.data[0].x) == ["ACC", "BWT", "forgetting"]
    assert list(fig.data[0].y) == pytest.approx([95.0, -1.0, 1.2])
    assert list(fig.data[1].y) == pytest.approx([60.0, -35.0, 36.0])
    assert fig.data[0].text[0] == "95.0%"
    partial = charts.metric_bars({"x": {"ACC": 0.5}})
    assert partial.data[0].y[1] is None


def test_all_figures_serialise():
    ev = _events_two_tasks()
    figs = [charts.forgetting_curves(ev), charts.loss_curves(ev),
            charts.accuracy_matrix_heatmap([[0.9, None], [0.8, 0.9]])]
    for f in figs:
        js = f.to_json()
        assert "uirevision" in js and "NaN" not in js


def test_sweep_boxes_and_grid_heatmap():
    from app.components.charts.sweeps import grid_heatmap, setting_boxes

    groups = {"p=0": [(0.90, "p=0,seed=1", "a"), (0.94, "p=0,seed=2", "b")], "p=30": [(0.97, "p=30,seed=1", "c")]}
    fig = setting_boxes(groups)
    _check_common(fig, "sweep-boxes")
    assert [t.type for t in fig.data] == ["box", "box"] and fig.data[0].boxpoints == "all"
    assert list(fig.data[0].y) == [0.90, 0.94] and list(fig.data[1].customdata) == ["c"]  # a click names the trial
    assert fig.data[0].marker.color != fig.data[1].marker.color and fig.layout.clickmode == "event+select"
    hm = grid_heatmap([[0.90, None], [0.95, 0.97]], ["0", "30"], ["0", "0.001"], x_title="sparsity", y_title="beta")
    _check_common(hm, "sweep-grid")
    z = hm.data[0]
    assert (z.zmin, z.zmax) == (0.90, 0.97)  # the scale spans the values shown: a few points apart stay apart
    assert z.text[1][1] == "97.0" and z.text[0][1] == ""
    assert hm.layout.xaxis.title.text == "sparsity" and "NaN" not in hm.to_json()


def test_for_projector_recolours_threshold_lines_as_their_legend_and_sets_a_colourway():
    from app.components.charts.style import OKABE_ITO, for_projector

    vals = {0: np.linspace(0, 1, 50), 1: np.linspace(0, 1, 50)}
    fig = for_projector(charts.mask_histogram(vals, {0: 0.2, 1: 0.4}, bins=10))
    legend = {t.name.split(" =")[0]: t.line.color for t in fig.data if t.name.startswith("τ")}
    lines = [s.line.color for s in fig.layout.shapes]
    assert lines == [legend["τ task 0"], legend["τ task 1"]] and set(lines) <= set(OKABE_ITO)
    assert fig.data[0].marker.color == lines[0]  # the bars of task 0 too
    loss = for_projector(charts.loss_curves(_events_two_tasks()))
    assert list(loss.layout.colorway) == list(OKABE_ITO) and loss.layout.yaxis.dtick == 1


def test_an_accuracy_matrix_with_no_row_yet_keeps_row_0_on_top():
    fig = charts.accuracy_matrix_heatmap([[None] * 3] * 3)  # a live run in its first task
    assert tuple(fig.layout.yaxis.range) == (2.5, -0.5) and fig.layout.yaxis.autorange is False
    assert tuple(fig.layout.xaxis.range) == (-0.5, 2.5)
    assert charts.accuracy_matrix_heatmap([[0.9, None], [None, None]]).layout.yaxis.autorange == "reversed"
