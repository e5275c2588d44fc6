"""AppTest of the Sweeps page: it opens the grid shipped in pretrained/sweeps when the user has no sweep
(summary, box plot, heatmap with the trials' own numbers), opens a trial's seeds on Compare, and turns a
damaged sweep folder into one line."""

from __future__ import annotations

import base64
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from core.sweeps import read_sweep, trial_rows

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app" / "main.py")
GRID = ROOT / "pretrained" / "sweeps" / "split-mnist-p-beta"


@pytest.fixture
def no_user_sweeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HYPERMASK_SWEEPS_DIR", str(tmp_path / "sweeps"))
    monkeypatch.setenv("HYPERMASK_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("HYPERMASK_PRETRAINED_DIR", raising=False)
    return tmp_path / "sweeps"


def _sweeps_page() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    at.switch_page("views/sweeps.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _figure(at: AppTest, key: str) -> go.Figure:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key))
    return pio.from_json(chart.proto.spec)


def _array(v: Any) -> np.ndarray:
    """A figure's array as sent to the browser: a list, or plotly's typed array {dtype, bdata, shape}."""
    if isinstance(v, dict) and "bdata" in v:
        shape = [int(n) for n in str(v.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).reshape(shape)
    return np.asarray(v, dtype=float)


def test_shipped_grid_opens_by_default(no_user_sweeps: Path) -> None:
    at = _sweeps_page()
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="sweeps_choice").value == str(GRID.resolve())
    rows = trial_rows(read_sweep(GRID))
    assert len(rows) == 36 and all(r.state == "finished" for r in rows)
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["sparsity", "beta", "seeds"] and len(table) == 12
    assert set(table["seeds"]) == {"3/3"}
    accs = [r.values["acc"] for r in rows if r.setting == {"mask.sparsity": 30.0, "mask.beta": 0.001}]
    shown = table[(table["sparsity"] == "30") & (table["beta"] == "0.001")]["ACC (%)"].item()
    assert shown == f"{100 * statistics.fmean(accs):.1f} ± {100 * statistics.stdev(accs):.1f}"
    boxes = _figure(at, "sweeps_boxes")
    assert len(boxes.data) == 12 and sorted(boxes.data[0].y) == sorted(
        r.values["acc"] for r in rows if r.setting == {"mask.sparsity": 0.0, "mask.beta": 0.0})
    grid = _figure(at, "sweeps_grid").data[0]
    assert list(grid.x) == ["0", "30", "60", "90"] and list(grid.y) == ["0", "0.001", "0.01"]
    assert _array(grid.z)[1, 1] == pytest.approx(statistics.fmean(accs))  # row beta=0.001, column p=30
    assert at.button(key="sweeps_open_masks").disabled  # shipped without weights: said in a caption
    assert any("without its weights" in c.value for c in at.caption)


def test_a_trials_seeds_open_on_compare(no_user_sweeps: Path) -> None:
    at = _sweeps_page()
    at.selectbox(key="sweeps_trial").set_value("sparsity=60,beta=0.01,seed=2").run()
    at.button(key="sweeps_open_compare").click().run()
    assert not at.exception, at.exception
    chosen = at.multiselect(key="compare_saved").value
    assert [Path(p).name for p in chosen] == [f"sparsity=60,beta=0.01,seed={s}" for s in (1, 2, 3)]
    assert not at.error, [e.value for e in at.error]


def test_a_damaged_sweep_folder_is_one_line(no_user_sweeps: Path) -> None:
    bad = no_user_sweeps / "broken"
    bad.mkdir(parents=True)
    (bad / "sweep.json").write_text('{"format_version": 1, "sweep": {"name": "x"}, "trials": 3}')
    at = _sweeps_page()  # the user's sweep comes first
    assert at.selectbox(key="sweeps_choice").value == str(bad.resolve())
    assert len(at.error) == 1 and at.error[0].value.startswith("Cannot open this sweep: ")
    assert "\n" not in at.error[0].value


def test_presenter_mode_restyles_the_sweeps_charts(no_user_sweeps: Path) -> None:
    at = _sweeps_page()
    assert _figure(at, "sweeps_boxes").layout.font.size is None
    at.toggle(key="presenter").set_value(True).run()
    assert not at.exception
    for key in ("sweeps_boxes", "sweeps_grid"):
        fig = _figure(at, key)
        assert fig.layout.font.size >= 20 and fig.layout.height >= 600, key
