"""Drive the real app in headless Chromium: start `streamlit run app/main.py` on a free port, open it
with Selenium (Debian's chromium + chromedriver), and work Streamlit 1.67's widgets by their keys.

Used by tests/browser/test_browser.py and by the scripts benchmarks/screenshots.py and
benchmarks/app_speed.py. Keyed Streamlit elements carry the CSS class `st-key-<key>`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
# Debian's packages (apt-get install chromium chromium-driver); BROWSER_CHROMIUM / BROWSER_CHROMEDRIVER
# point elsewhere.
CHROMIUM = os.environ.get("BROWSER_CHROMIUM") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("BROWSER_CHROMEDRIVER") or "/usr/bin/chromedriver"
CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-dev-shm-usage", "--window-size=1400,1800", "--no-first-run", "--disable-sync",
               "--disable-component-update")
# What Streamlit 1.67 renders for st.exception and st.error (data-testid `stAlertContent<Kind>`).
ERROR_CSS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
PLOT_CSS = ".js-plotly-plot"

T = TypeVar("T")


def missing_browser() -> str | None:
    """Why the browser cannot run here (None if chromium, chromedriver and selenium are available)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} not found (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StreamlitServer:
    """`python -m streamlit run app/main.py` in its own process group on a free port.

    `launched` is the time.perf_counter() of the launch, `ready_s` the seconds until /_stcore/health
    answered "ok". `stop()` ends the whole process group (SIGTERM, then SIGKILL).
    """

    def __init__(self, runs_dir: str | Path, env: Mapping[str, str] | None = None, port: int | None = None,
                 log_path: str | Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runs_dir = Path(runs_dir)
        self._env = {**os.environ, "HYPERMASK_RUNS_DIR": str(self.runs_dir), **(env or {})}
        self._log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None
        self.launched = 0.0
        self.ready_s = float("nan")

    def start(self, timeout: float = 60.0) -> StreamlitServer:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app" / "main.py"),
               "--server.headless", "true", "--server.port", str(self.port),
               "--browser.gatherUsageStats", "false"]
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.launched = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=self._env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        end = self.launched + timeout
        while time.perf_counter() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        self.ready_s = time.perf_counter() - self.launched
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # stragglers of the group (none expected: training runs are threads)
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        self.proc = None

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def chrome(user_data_dir: str | Path | None = None, window: tuple[int, int] | None = None) -> Any:
    """A headless Chromium WebDriver (Debian's chromium and chromedriver) with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in CHROME_ARGS:
        if window and a.startswith("--window-size="):
            a = f"--window-size={window[0]},{window[1]}"
        opts.add_argument(a)
    opts.add_argument(f"--user-data-dir={user_data_dir or tempfile.mkdtemp(prefix='chrome-')}")
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


# ---- waiting and reading ---------------------------------------------------------------------------
def wait_for(cond: Callable[[], T], timeout: float, what: str, poll: float = 0.2) -> T:
    """Poll `cond()` until it returns something truthy; TimeoutError naming `what` otherwise."""
    end = time.perf_counter() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - stale elements while Streamlit re-renders
            last_exc = e
        if time.perf_counter() > end:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}"
                               + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(poll)


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def count(driver: Any, selector: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector))


def wait_css(driver: Any, selector: str, timeout: float = 60.0, n: int = 1) -> list[Any]:
    return wait_for(lambda: (lambda els: els if len(els) >= n else None)(css(driver, selector)), timeout,
                    f"{n}× {selector!r}")


def errors(driver: Any) -> list[str]:
    """Texts of the exceptions and st.error boxes on the page."""
    return [e.text for e in css(driver, ERROR_CSS)]


def page_text(driver: Any) -> str:
    return str(driver.execute_script("return document.body.innerText"))


def status_text(driver: Any) -> str:
    """The run status word of ui.status_line ('running', 'stopped', …) or ''."""
    return str(driver.execute_script("""
        for (const p of document.querySelectorAll('[data-testid="stMarkdownContainer"] p')) {
          const t = p.innerText || '';
          const i = t.indexOf('Status:');
          if (i >= 0) { const s = p.querySelector('strong'); return s ? s.innerText.trim() : t.slice(i + 7).trim(); }
        }
        return '';"""))


def script_running(driver: Any) -> bool:
    """Whether Streamlit shows its 'running' indicator (a script or fragment run in progress)."""
    return count(driver, '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]') > 0


def wait_idle(driver: Any, timeout: float = 60.0, quiet: float = 0.6) -> None:
    """Wait until no script run has been in progress for `quiet` seconds."""
    end = time.perf_counter() + timeout
    since = None
    while time.perf_counter() < end:
        busy = script_running(driver) or count(driver, '[data-stale="true"]') > 0
        now = time.perf_counter()
        if busy:
            since = None
        elif since is None:
            since = now
        elif now - since >= quiet:
            return
        time.sleep(0.1)
    raise TimeoutError(f"the app was still running a script after {timeout:.0f} s")


# ---- widgets by key ---------------------------------------------------------------------------------
def click(driver: Any, selector: str, timeout: float = 30.0) -> None:
    """Scroll an element into view and click it (retrying while Streamlit re-renders it)."""
    def _do() -> bool:
        el = css(driver, selector)[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()
        return True

    wait_for(_do, timeout, f"a clickable {selector!r}")


def button_enabled(driver: Any, key: str) -> bool:
    els = css(driver, f".st-key-{key} button")
    return bool(els) and els[0].is_enabled()


def click_button(driver: Any, key: str, timeout: float = 30.0) -> None:
    wait_for(lambda: button_enabled(driver, key), timeout, f"button {key!r} enabled")
    click(driver, f".st-key-{key} button", timeout)


def select_option(driver: Any, key: str, text: str, timeout: float = 30.0) -> None:
    """Pick `text` in the st.selectbox with `key` (a react-aria combobox in Streamlit 1.67): click the
    widget, click the option with that text in the listbox, wait until the input shows it."""
    box = f".st-key-{key} input[role='combobox']"
    wait_css(driver, box, timeout)
    if css(driver, box)[0].get_attribute("value") == text:
        return

    def _open_and_pick() -> bool:
        if not css(driver, "[role='listbox'] [role='option']"):
            click(driver, box, timeout)
            time.sleep(0.3)
        for opt in css(driver, "[role='listbox'] [role='option']"):
            if opt.text.strip() == text:
                opt.click()
                return True
        names = [o.text for o in css(driver, "[role='listbox'] [role='option']")]
        raise LookupError(f"no option {text!r} in {names}")

    wait_for(_open_and_pick, timeout, f"option {text!r} of {key!r}")
    wait_for(lambda: css(driver, box)[0].get_attribute("value") == text, timeout, f"{key!r} = {text!r}")


def set_number(driver: Any, key: str, value: float, timeout: float = 30.0) -> None:
    """Type `value` into the st.number_input with `key` and commit it (Enter)."""
    from selenium.webdriver.common.keys import Keys

    sel = f".st-key-{key} input[type='number']"
    wait_css(driver, sel, timeout)

    def _type() -> bool:
        el = css(driver, sel)[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()
        el.send_keys(Keys.CONTROL, "a")
        el.send_keys(Keys.BACKSPACE)
        el.send_keys(str(value), Keys.ENTER)
        return True

    wait_for(_type, timeout, f"typing into {key!r}")
    wait_for(lambda: float(css(driver, sel)[0].get_attribute("value")) == float(value), timeout,
             f"{key!r} = {value}")


# The Plotly div of the chart with a key: st.plotly_chart's, or the in-place live chart component's
# (app/components/plotly_frame.py), both in the page itself.
PLOT_DIV_JS = """
window.__hmPlotDiv = function (key) {
  const box = document.querySelector('.st-key-' + key);
  return box ? box.querySelector('.js-plotly-plot') : null;
};
"""


# Injected before any page script runs (Chrome DevTools `Page.addScriptToEvaluateOnNewDocument`): every
# 20 ms, until it happens, looks for a Plotly chart with at least one drawn trace and records the time
# (epoch ms) in `window.__hmFirstChart`.
FIRST_CHART_JS = """
if (window === window.top) {
  window.__hmFirstChart = null;
  // Milliseconds since navigation start: the page's first element, plotly.js ready, the first chart;
  // and the main thread's long tasks (over 50 ms) until then.
  const marks = window.__hmMarks = {element: null, plotly: null, chart: null, longTasksMs: 0, longTasks: 0};
  try {
    new PerformanceObserver((list) => {
      if (marks.chart !== null) return;
      for (const e of list.getEntries()) { marks.longTasksMs += e.duration; marks.longTasks += 1; }
    }).observe({type: 'longtask', buffered: true});
  } catch (e) { marks.longTasks = null; }
  const timer = setInterval(() => {
    const now = performance.now();
    if (marks.element === null && document.querySelector('[data-testid="stMain"] [data-testid="stElementContainer"]'))
      marks.element = now;
    if (marks.plotly === null && window.Plotly) marks.plotly = now;
    if (document.querySelector('.js-plotly-plot g.trace')) {
      marks.chart = now;
      window.__hmFirstChart = performance.timeOrigin + now;
      clearInterval(timer);
    }
  }, 20);
}
"""

LOAD_BREAKDOWN_JS = """
const m = window.__hmMarks || {};
const nav = performance.getEntriesByType('navigation')[0] || {};
const res = performance.getEntriesByType('resource');
const last = (pred) => Math.max(0, ...res.filter(pred).map((e) => e.responseEnd));
const pl = res.filter((e) => e.name.includes('plotly-hm'))[0];
return {html: nav.responseEnd, dom_ready: nav.domContentLoadedEventEnd, scripts: last((e) => e.initiatorType === 'script'
        && !e.name.includes('plotly-hm')), first_element: m.element, plotly_fetch_start: pl ? pl.startTime : null,
        plotly_fetched: pl ? pl.responseEnd : null, plotly_ready: m.plotly, first_chart: m.chart,
        long_tasks_ms: m.longTasksMs, long_tasks: m.longTasks};
"""


def watch_first_chart(driver: Any) -> None:
    """Make every page this Chromium opens from now on record when its first chart is drawn
    (`first_chart_time`)."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FIRST_CHART_JS})


def first_chart_time(driver: Any) -> float | None:
    """Epoch seconds at which the current page drew its first Plotly trace (None: not yet); needs
    `watch_first_chart` before the page was opened."""
    t = driver.execute_script("return window.__hmFirstChart === undefined ? null : window.__hmFirstChart;")
    return None if t is None else float(t) / 1000.0


def load_breakdown(driver: Any) -> dict[str, float | None]:
    """Where the current page's load went, in seconds since its navigation started: the HTML
    (`html`), DOMContentLoaded (`dom_ready`), the last of Streamlit's own scripts (`scripts`), the
    page's first element (`first_element`), plotly.js fetch start / fetched / evaluated
    (`plotly_fetch_start`, `plotly_fetched`, `plotly_ready`), the first drawn chart (`first_chart`);
    and the main thread's long tasks until the first chart (`long_tasks_s`, `long_tasks`: total
    seconds and count). None where a step has not happened. Needs `watch_first_chart` before the page
    was opened."""
    raw = driver.execute_script(LOAD_BREAKDOWN_JS)
    out: dict[str, float | None] = {}
    for k, v in raw.items():
        k = "long_tasks_s" if k == "long_tasks_ms" else k
        out[k] = None if v is None else (float(v) if k == "long_tasks" else float(v) / 1000.0)
    return out


def plot_div_script(body: str) -> str:
    """JavaScript that defines `window.__hmPlotDiv(key)` and then runs `body` (which may use it)."""
    return PLOT_DIV_JS + body


def plot_traces(driver: Any, key: str) -> int:
    """Number of drawn traces in the Plotly chart with `key` (0 while it is absent)."""
    return int(driver.execute_script(plot_div_script(
        "const d = window.__hmPlotDiv(arguments[0]); return d ? d.querySelectorAll('g.trace').length : 0;"),
        key))


def has_plot(driver: Any, key: str) -> bool:
    """True once the chart with `key` has a drawn Plotly div."""
    return bool(driver.execute_script(plot_div_script("return !!window.__hmPlotDiv(arguments[0]);"), key))


def screenshot(driver: Any, path: str | Path, full_height: bool = False, width: int = 1400,
               max_height: int = 5000) -> Path:
    """Save a PNG of the window; with `full_height`, first grow the window to the page's content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if full_height:
        h = int(driver.execute_script("""
            const m = document.querySelector('[data-testid="stMain"]') || document.body;
            const b = document.querySelector('[data-testid="stMainBlockContainer"]');
            return Math.max(m.scrollHeight, b ? b.scrollHeight + 120 : 0);"""))
        driver.set_window_size(width, min(max(h, 800), max_height))
        time.sleep(1.0)
    driver.save_screenshot(str(path))
    return path


def choose_options(driver: Any, form: str, choices: list[tuple[str, str]], timeout: float = 60.0) -> None:
    """Wait for the form whose widget keys start with `form` (e.g. 'train'), then pick each
    (widget suffix, option text) in order — `[("benchmark", "Split MNIST"), ("preset", "demo")]` —
    letting the app rerun after each pick."""
    wait_css(driver, f".st-key-{form}_benchmark input[role='combobox']", timeout)
    wait_idle(driver, timeout=timeout)
    for suffix, text in choices:
        select_option(driver, f"{form}_{suffix}", text)
        wait_idle(driver)
