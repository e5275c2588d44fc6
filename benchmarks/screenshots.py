"""Take the app's screenshots for the README and assets/ with headless Chromium.

Starts `streamlit run app/main.py` (new runs go to a temporary folder, never to runs/), then saves
  assets/screenshot_overview.png  Overview: the shipped pretrained comparison
  assets/screenshot_masks.png     Masks: the pretrained HyperMask · Split MNIST run
  assets/screenshot_train.png     Train: a live Split MNIST · demo run in its fourth task
  assets/screenshot_compare.png   Compare: a live Split MNIST · demo comparison, HyperMask vs fine-tuning
  assets/screenshot_tickets.png   Tickets: the winning-ticket analyses of the pretrained HyperMask run
  assets/screenshot_scenarios.png Overview with "task id inferred": both scenarios side by side
Takes about 1–2 minutes on 2 CPU cores (several more when other processes load the machine).

    python benchmarks/screenshots.py [--out assets] [--only overview,masks,train,compare,tickets,scenarios]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.browser_helpers import (
    PLOT_CSS,
    StreamlitServer,
    choose_options,
    chrome,
    click_button,
    count,
    errors,
    has_plot,
    missing_browser,
    page_text,
    plot_traces,
    screenshot,
    status_text,
    wait_css,
    wait_for,
    wait_idle,
)

PAGES = ("overview", "masks", "train", "compare", "tickets", "scenarios")
WIDTH = 1400


def _settle(driver, seconds: float = 1.5) -> None:  # noqa: ANN001
    """Let Plotly finish its transitions and Streamlit its reruns before a picture."""
    wait_idle(driver, timeout=90)
    time.sleep(seconds)


def _check(driver, page: str) -> None:  # noqa: ANN001
    found = errors(driver)
    if found:
        print(f"WARNING {page}: the page shows an error: {found}", file=sys.stderr)


def overview(driver, url: str, out: Path) -> None:  # noqa: ANN001
    driver.set_window_size(WIDTH, 1500)
    driver.get(url + "/")
    wait_for(lambda: plot_traces(driver, "overview_forgetting") >= 1, 90, "the Overview's forgetting curves")
    _settle(driver)
    _check(driver, "overview")
    screenshot(driver, out / "screenshot_overview.png")


def _whole_page(driver, url: str, out: Path, page: str, last_chart: str, timeout: float) -> None:  # noqa: ANN001
    """Open `page`, wait for its chart `last_chart`, and save the whole page's height."""
    driver.set_window_size(WIDTH, 1500)
    driver.get(f"{url}/{page}")
    wait_css(driver, f".st-key-{last_chart} {PLOT_CSS}", timeout)
    _settle(driver)
    _check(driver, page)
    screenshot(driver, out / f"screenshot_{page}.png", full_height=True, max_height=4200)


def masks(driver, url: str, out: Path) -> None:  # noqa: ANN001
    _whole_page(driver, url, out, "masks", "masks_input_grid", 120)


def tickets(driver, url: str, out: Path) -> None:  # noqa: ANN001
    _whole_page(driver, url, out, "tickets", "tickets_controls", 180)


def scenarios(driver, url: str, out: Path) -> None:  # noqa: ANN001
    driver.set_window_size(WIDTH, 1500)
    driver.get(url + "/")
    wait_for(lambda: plot_traces(driver, "overview_forgetting") >= 1, 90, "the Overview's forgetting curves")
    driver.find_element("xpath", "//button[contains(., 'Task id inferred')]").click()
    wait_css(driver, f".st-key-overview_scenario_bars {PLOT_CSS}", 90)
    _settle(driver)
    _check(driver, "scenarios")
    screenshot(driver, out / "screenshot_scenarios.png", full_height=True, max_height=3000)


def train(driver, url: str, out: Path) -> None:  # noqa: ANN001
    """Split MNIST · demo (bundled data), pictured live while its fourth task trains."""
    driver.set_window_size(WIDTH, 1300)
    driver.get(url + "/train")
    choose_options(driver, "train", [("benchmark", "Split MNIST"), ("preset", "demo")], timeout=90)
    click_button(driver, "train_start")
    wait_for(lambda: ("(4 of 5)" in page_text(driver) and plot_traces(driver, "live_forgetting") >= 4)
             or status_text(driver) in ("finished", "stopped", "failed"), 600, "the live run's fourth task")
    time.sleep(1.0)  # one more fragment refresh: the third row of the accuracy matrix
    _check(driver, "train")
    wait_for(lambda: plot_traces(driver, "live_forgetting") >= 1 and plot_traces(driver, "live_losses") >= 1,
             30, "both curve charts drawn")
    screenshot(driver, out / "screenshot_train.png")
    if status_text(driver) in ("running", "paused"):
        click_button(driver, "train_stop")
    wait_for(lambda: status_text(driver) in ("stopped", "finished", "failed"), 120, "the run to end")


def compare(driver, url: str, out: Path) -> None:  # noqa: ANN001
    """A live comparison on Split MNIST · demo (bundled data), pictured when both runs have finished."""
    driver.set_window_size(WIDTH, 1500)
    driver.get(url + "/compare")
    choose_options(driver, "compare", [("benchmark", "Split MNIST"), ("preset", "demo")], timeout=90)
    click_button(driver, "compare_start")
    wait_for(lambda: has_plot(driver, "compare_forgetting"), 120, "the live forgetting curves")
    def _done() -> bool:
        lines = [ln for ln in page_text(driver).splitlines() if "iteration " in ln]
        print("  compare:", " | ".join(lines), flush=True)
        return count(driver, ".st-key-compare_close button") >= 1

    wait_for(_done, 600, "both runs to finish", poll=10)
    wait_for(lambda: has_plot(driver, "compare_acc_1"), 60, "the second accuracy matrix")
    driver.execute_script("const m = document.querySelector('[data-testid=\"stMain\"]'); if (m) m.scrollTo(0, 0);")
    _settle(driver)
    _check(driver, "compare")
    screenshot(driver, out / "screenshot_compare.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "assets"))
    ap.add_argument("--only", default=",".join(PAGES), help="comma-separated subset of " + ", ".join(PAGES))
    a = ap.parse_args()
    why = missing_browser()
    if why:
        sys.exit(f"cannot take screenshots: {why}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hm-shots-"))
    t0 = time.perf_counter()
    with StreamlitServer(tmp / "runs", log_path=tmp / "streamlit.log") as srv:
        driver = chrome(tmp / "chrome")
        try:
            for page in a.only.split(","):
                t = time.perf_counter()
                try:
                    {"overview": overview, "masks": masks, "train": train, "compare": compare,
                     "tickets": tickets, "scenarios": scenarios}[page](driver, srv.url,
                                                                                                   out)
                except Exception:
                    screenshot(driver, tmp / f"failed_{page}.png")
                    print(f"{page} failed; picture of the page: {tmp / f'failed_{page}.png'}", file=sys.stderr)
                    raise
                print(f"{page}: {time.perf_counter() - t:.1f} s")
        finally:
            driver.quit()
    print(f"screenshots in {out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
