"""The real app in a real browser: `streamlit run app/main.py` driven by headless Chromium (Selenium).

Opens the Overview page (a pretrained chart must draw), then starts a small Split Digits · demo run on
the Train page by clicking and typing in its form, waits for the live forgetting curves and the
accuracy matrix, checks that no error is shown, and stops the run. Screenshots go to
$BROWSER_SCREENSHOTS (else the test's tmp folder).

Needs Debian's `chromium` and `chromedriver` (or BROWSER_CHROMIUM / BROWSER_CHROMEDRIVER); without them
the test skips locally and fails in CI (`CI=true`). About 30 s on 2 cores, a minute or two when loaded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browser_helpers import (
    StreamlitServer,
    button_enabled,
    choose_options,
    chrome,
    click,
    click_button,
    errors,
    has_plot,
    page_text,
    plot_div_script,
    plot_traces,
    screenshot,
    set_number,
    status_text,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.browser

ITERS = 60  # per task: 5 tasks × 60 iterations finish within a minute or two even on a loaded machine
EVAL_EVERY = 15


@pytest.fixture(scope="module")
def driver(server: StreamlitServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    d = chrome(tmp_path_factory.mktemp("chrome-profile"))
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _no_errors(driver: Any, where: str) -> None:
    found = errors(driver)
    assert not found, f"{where}: error shown in the app: {found}"


def test_overview_then_live_training(server: StreamlitServer, driver: Any, shots: Path) -> None:
    # Overview: the shipped pretrained comparison draws its forgetting curves (in the in-place chart's frame).
    driver.get(server.url + "/")
    wait_for(lambda: plot_traces(driver, "overview_forgetting") >= 3, 60, "the Overview's forgetting curves")
    wait_idle(driver, timeout=60)
    _no_errors(driver, "overview")
    screenshot(driver, shots / "browser_overview.png")

    # Train: Split Digits · demo, small iterations, set through the form's widgets.
    driver.get(server.url + "/train")
    choose_options(driver, "train", [("benchmark", "Split Digits (8×8, seconds)"), ("method", "HyperMask"),
                                     ("preset", "demo")])
    set_number(driver, "train_iters", ITERS)
    wait_idle(driver)
    set_number(driver, "train_eval_every", EVAL_EVERY)
    wait_idle(driver)
    wait_for(lambda: f"× {ITERS} iterations" in page_text(driver), 30, "the form's summary caption")
    _no_errors(driver, "train form")
    assert button_enabled(driver, "train_start"), "Start is disabled with a valid form"
    click_button(driver, "train_start")

    # Live charts: forgetting curves with at least one drawn trace, and the accuracy matrix.
    wait_for(lambda: status_text(driver) in ("running", "paused", "finished", "stopped"), 60, "a run status")
    t0 = time.perf_counter()
    wait_for(lambda: plot_traces(driver, "live_forgetting") >= 1
             and has_plot(driver, "live_acc_matrix"), 180,
             "live forgetting curves with a trace and the accuracy matrix")
    assert status_text(driver) != "failed", page_text(driver)[-2000:]
    _no_errors(driver, "train page, live run")
    # the loss chart redraws at most once a second (live.LOSS_REFRESH_S)
    wait_for(lambda: plot_traces(driver, "live_losses") >= 1, 30, "the live loss curves")
    screenshot(driver, shots / "browser_train.png")

    # Stop (if the run is still going) and wait for the terminal status.
    driver.execute_script(plot_div_script("window.__hmLiveDiv = window.__hmPlotDiv('live_forgetting');"))
    if status_text(driver) in ("running", "paused") and button_enabled(driver, "train_stop"):
        click_button(driver, "train_stop")
    wait_for(lambda: status_text(driver) in ("stopped", "finished"), 60, "a stopped or finished status")
    _no_errors(driver, "train page, after the run")
    wait_idle(driver, timeout=30)  # the page's full rerun once polling ends
    time.sleep(1.0)
    assert plot_traces(driver, "live_forgetting") >= 1
    # the same chart (not a new one in its place): a user's zoom survives the end of the run
    assert driver.execute_script(plot_div_script(
        "return window.__hmPlotDiv('live_forgetting') === window.__hmLiveDiv;")), "the chart was re-created"
    screenshot(driver, shots / "browser_train_end.png")

    # "Full screen" on the chart's toolbar (for a projector): the chart fills the screen, then Esc
    # (here exitFullscreen) gives it back its height, still the same chart.
    size = "const d = window.__hmPlotDiv('live_forgetting'); return [d._fullLayout.width, d._fullLayout.height];"
    before = driver.execute_script(plot_div_script(size))
    from selenium.webdriver.common.action_chains import ActionChains

    chart = driver.find_element("css selector", ".st-key-live_forgetting .js-plotly-plot")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
    ActionChains(driver).move_to_element(chart).perform()  # the toolbar shows on hover; a real click
    click(driver, ".st-key-live_forgetting .modebar-btn[data-title^='Full screen']")
    wait_for(lambda: driver.execute_script(plot_div_script(
        "const d = window.__hmPlotDiv('live_forgetting'); return document.fullscreenElement === d"
        " && Math.abs(d._fullLayout.height - window.innerHeight) < 2 && d._fullLayout.width === d.clientWidth;")),
        10, "the chart in full screen at the screen's size")
    driver.execute_script("document.exitFullscreen();")
    wait_for(lambda: driver.execute_script(plot_div_script(size)) == before, 10, "the chart's size back after full screen")
    assert driver.execute_script(plot_div_script("return window.__hmPlotDiv('live_forgetting') === window.__hmLiveDiv;"))

    # The loss curves and the accuracy matrix share a row in a wide window and go one under the other
    # in a narrow one (st.columns would squeeze both to slivers).
    def boxes() -> list[dict[str, float]]:
        return [driver.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().toJSON();",
                                      f".st-key-train_row_{name}") for name in ("losses", "matrix")]

    loss, matrix = boxes()
    assert abs(loss["top"] - matrix["top"]) < 5 and matrix["left"] > loss["right"], (loss, matrix)
    driver.set_window_size(800, 1000)
    wait_for(lambda: boxes()[1]["top"] >= boxes()[0]["bottom"], 10, "the row to wrap in a narrow window")
    assert boxes()[1]["width"] > 300
    screenshot(driver, shots / "browser_train_narrow.png")
    runs = list(server.runs_dir.iterdir())
    assert len(runs) == 1 and (runs[0] / "events.jsonl").exists(), runs
    print(f"live curves after {time.perf_counter() - t0:.1f} s; final status {status_text(driver)}")
