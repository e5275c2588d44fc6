"""How fast the app feels, measured in headless Chromium (Selenium), and what it costs training.

1. Cold start to first chart: time from launching `streamlit run app/main.py` to the first Plotly
   chart drawn (a trace) on the Overview page (and, separately, to /_stcore/health answering).
   Goal ≤ 3 s.
2. Chart refreshes per second while the Split MNIST · demo preset trains on the Train page: a
   MutationObserver keeps a `plotly_afterplot` listener on the live forgetting figure and counts its
   redraws, and whether the figure's div was replaced (flicker) or updated in place; `layout.uirevision`
   is read twice. Goal ≥ 2 refreshes/s.
3. Training slowdown in the app against the CLI: the same configuration (Split MNIST, demo, bundled,
   seed 1, HyperMask) with `python -m core train --quiet`, once with PyTorch's default threads and
   once with `--threads` set to the app's (`app.paths.train_threads()`), and in the app with the Train
   page watching it live. The three are interleaved `--repeats` times (the same minutes of machine
   load for each) and their medians compared; ms/iteration and the training wall time (sum of
   task_seconds) come from each run's metrics.json. Goal ≤ 20 %.
4. Start → first live forgetting curve on the Train page, the form having been open 6 s (the
   forkserver training processes are forked from imports PyTorch meanwhile). Goal ≤ 2.5 s. Timed in
   the page: from the click event to the animation frame that paints the first trace (WebDriver's own
   polling waits behind the browser's long tasks). Measured
   in the app runs of 3 (a fresh server whose first page is the Train page). `--only-start` measures
   section 4 alone, `--starts` times in each of two cases: that fresh server, and a server up
   `--server-up` seconds (a visitor on the Overview) before the Train page opens (the app gets its
   training processes ready once its first page has run).

    python benchmarks/app_speed.py [--window 6] [--starts 5] [--repeats 3] [--server-up 20]
    python benchmarks/app_speed.py --only-start   # section 4 alone (both cases)

Takes about 5 minutes on 2 CPU cores; other processes on the machine change the figures (the script
prints the load average before and after).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.browser_helpers import (
    StreamlitServer,
    choose_options,
    chrome,
    click_button,
    errors,
    first_chart_time,
    free_port,
    missing_browser,
    page_text,
    plot_div_script,
    plot_traces,
    status_text,
    wait_for,
    watch_first_chart,
)

FULL_SPEED = {"HYPERMASK_TRAIN_PACE": "0"}  # the Train page's slow motion off: training as fast as the CLI
CLI_ARGS = ["--benchmark", "split-mnist", "--method", "hypermask", "--preset", "demo", "--data", "bundled",
            "--seed", "1"]

# Counts redraws of the live forgetting figure. A chart can be re-created (a new div: the chart blinks
# and loses zoom) or updated in place (Plotly.react on the same div: plotly_afterplot only).
# `window.__hmPlotDiv` (browser_helpers.PLOT_DIV_JS) finds the div of a keyed chart.
OBSERVER_JS = plot_div_script("""
const hm = window.__hm = {afterplot: 0, times: [], divs: 0, replaced: 0, div: null, counting: false};
function attach() {
  const d = window.__hmPlotDiv('live_forgetting');
  if (!d || d === hm.div || typeof d.on !== 'function') return;
  if (hm.div && hm.counting) hm.replaced++;
  hm.div = d; hm.divs++;
  d.on('plotly_afterplot', () => { if (hm.counting) { hm.afterplot++; hm.times.push(performance.now()); } });
}
hm.observer = new MutationObserver(attach);
hm.observer.observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['class']});
hm.timer = setInterval(attach, 50);  // a fallback for changes the observer does not report
attach();
""")
UIREVISION_JS = "return window.__hmPlotDiv('live_forgetting').layout.uirevision;"
# Start → first curve, timed in the page (WebDriver's own calls wait behind the browser's long tasks, by
# up to 2 s on a loaded 2-core machine): the Start button's click event, and the first animation frame
# after a trace appears in the live forgetting chart (the frame that paints it), in ms.
START_TIMING_JS = plot_div_script("""
const t = window.__hmStart = {click: null, curve: null};
document.addEventListener('click', (e) => {
  if (t.click === null && e.target.closest && e.target.closest('.st-key-train_start')) t.click = performance.now();
}, true);
const seen = new MutationObserver(() => {
  const d = window.__hmPlotDiv('live_forgetting');
  if (t.click !== null && d && d.querySelector('g.trace')) {
    seen.disconnect();
    requestAnimationFrame(() => { t.curve = performance.now(); });
  }
});
seen.observe(document.body, {childList: true, subtree: true});
""")


def start_to_curve_s(driver: Any, timeout: float = 180) -> float:
    """Seconds from the Start click to the frame that paints the first live forgetting curve, both seen
    in the page (`START_TIMING_JS`, injected before the click)."""
    def painted() -> dict[str, float] | None:
        t = driver.execute_script("return window.__hmStart;")
        return t if t and t["curve"] is not None else None

    t = wait_for(painted, timeout, "the first drawn forgetting curve", poll=0.1)
    return (t["curve"] - t["click"]) / 1000.0


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _metrics(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "metrics.json").read_text())


# ---- 1 ----------------------------------------------------------------------------------------------
def cold_start(n: int, tmp: Path, returning: bool = False) -> list[dict[str, float]]:
    """Launch a fresh server `n` times and time the first chart drawn (a Plotly trace in the page,
    seen by a 20 ms in-page poll); the browser is started beforehand (not part of
    the app's time). Default: a new browser profile each time (a first visit: nothing cached).
    `returning=True`: one profile that has opened the app once before, on the same port (a returning
    visitor: Chromium has Streamlit's and Plotly's scripts cached and compiled)."""
    port = free_port() if returning else None
    if returning:  # the visit that fills the browser's caches (not timed)
        driver = chrome(tmp / "chrome-returning")
        watch_first_chart(driver)
        with StreamlitServer(tmp / "runs-warmup", log_path=tmp / "warmup.log", port=port) as srv:
            driver.get(srv.url + "/")
            wait_for(lambda: first_chart_time(driver) is not None, 60, "the first chart")
            time.sleep(2)
        driver.quit()
    out = []
    for k in range(n):
        driver = chrome(tmp / ("chrome-returning" if returning else f"chrome-cold-{k}"))
        watch_first_chart(driver)
        srv = StreamlitServer(tmp / f"runs-cold-{k}-{returning}", log_path=tmp / f"cold-{k}.log", port=port)
        try:
            srv.start(timeout=60)
            launched = time.time() - (time.perf_counter() - srv.launched)  # the launch, in epoch seconds
            ready = srv.ready_s
            t_get = time.time()
            driver.get(srv.url + "/")
            drawn = wait_for(lambda: first_chart_time(driver), 60, "the first chart")
            out.append({"ready_s": ready, "first_chart_s": drawn - launched, "page_s": drawn - t_get})
            print(f"  start {k + 1}: health ok after {ready:.2f} s, first chart after {drawn - launched:.2f} s "
                  f"({drawn - t_get:.2f} s after the page was requested)", flush=True)
        finally:
            driver.quit()
            srv.stop()
    return out


# ---- 3 (CLI half) -----------------------------------------------------------------------------------
def cli_run(out: Path, threads: int | None = None) -> dict[str, float]:
    extra = ["--threads", str(threads)] if threads else []
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "train", *CLI_ARGS, *extra, "--out", str(out), "--quiet"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    m = _metrics(out)
    r = {"ms_per_iter": float(m["ms_per_iter"]), "train_s": float(sum(m["task_seconds"])), "process_s": wall}
    print(f"  CLI ({f'{threads} thread(s)' if threads else 'default threads'}): {r['ms_per_iter']:.1f} "
          f"ms/iteration, training {r['train_s']:.1f} s, process {wall:.1f} s", flush=True)
    return r


def _drag_zoom(driver: Any, key: str) -> None:
    """Box-zoom the chart `key` with a real mouse drag across the middle third of its plot area, as a
    user would."""
    from selenium.webdriver.common.action_chains import ActionChains

    area = driver.find_element("css selector", f".st-key-{key} .js-plotly-plot .nsewdrag")
    w, h = area.size["width"], area.size["height"]
    (ActionChains(driver).move_to_element_with_offset(area, -w // 6, 0).click_and_hold()
     .move_by_offset(w // 3, h // 8).release().perform())


def _zoom_kept(driver: Any, timeout: float = 30.0) -> str:
    """Zoom into the live forgetting chart with a mouse drag, wait for the next live redraw, and report
    whether the redrawn chart still shows the zoomed x range (layout.uirevision at work)."""
    before = driver.execute_script("return window.__hmPlotDiv('live_forgetting')._fullLayout.xaxis.range.slice();")
    _drag_zoom(driver, "live_forgetting")
    time.sleep(0.3)
    zoomed = driver.execute_script(
        "const d = window.__hmPlotDiv('live_forgetting'); window.__hm.zoomDiv = d; window.__hm.counting = true;"
        "return d._fullLayout.xaxis.range.slice();")
    if [round(float(v)) for v in zoomed] == [round(float(v)) for v in before]:
        return f"not measured (the drag did not zoom: x range {before})"
    base = driver.execute_script("return window.__hm.afterplot")
    try:
        wait_for(lambda: driver.execute_script("return window.__hm.afterplot") > base + 1, timeout, "a live redraw")
    except TimeoutError:
        return "no redraw seen"
    rng, same = driver.execute_script(
        "const d = window.__hmPlotDiv('live_forgetting');"
        "return [d._fullLayout.xaxis.range, d === window.__hm.zoomDiv];")
    kept = all(abs(float(a) - float(b)) < 1 for a, b in zip(rng, zoomed))
    return f"{'yes' if kept else 'NO'} (zoomed to {[round(float(v)) for v in zoomed]} from " \
           f"{[round(float(v)) for v in before]}; after the redraw {[round(float(v)) for v in rng]}, " \
           f"{'same div' if same else 'new div'})"


# ---- 4 ----------------------------------------------------------------------------------------------
def start_to_curve(srv: StreamlitServer, tmp: Path, form_open: float, server_up: float) -> float:
    """Seconds from pressing Start (Split MNIST demo, the form open `form_open` s) to the first drawn
    live forgetting curve, on a server that has been up `server_up` s with a visitor on the Overview."""
    driver = chrome(tmp)
    try:
        if server_up > 0:
            driver.get(srv.url + "/")
            wait_for(lambda: plot_traces(driver, "overview_forgetting") >= 1, 120, "the Overview's first chart")
            time.sleep(max(0.0, server_up - (time.perf_counter() - srv.launched)))
        driver.get(srv.url + "/train")
        choose_options(driver, "train", [("benchmark", "Split MNIST"), ("method", "HyperMask"), ("preset", "demo")])
        driver.execute_script(OBSERVER_JS)
        driver.execute_script(START_TIMING_JS)
        time.sleep(form_open)
        click_button(driver, "train_start")
        took = start_to_curve_s(driver)
        print(f"    first curve after {took:.2f} s", flush=True)
        try:  # stop the run; the measurement is taken whatever the page shows next
            click_button(driver, "train_stop")
        except Exception as e:  # noqa: BLE001
            print(f"    (stopping the run: {e})", flush=True)
        return took
    finally:
        driver.quit()


def start_cases(n: int, tmp: Path, server_up: float) -> dict[str, list[float]]:
    """Section 4 alone: `n` × (fresh server, Train page first) and `n` × (server up `server_up` s)."""
    out: dict[str, list[float]] = {"fresh server": [], f"server up {server_up:g} s": []}
    for k in range(n):
        for case, up in (("fresh server", 0.0), (f"server up {server_up:g} s", server_up)):
            with StreamlitServer(tmp / f"runs-start-{k}-{up:g}", log_path=tmp / f"start-{k}.log",
                                 env=FULL_SPEED) as srv:
                out[case].append(start_to_curve(srv, tmp / f"chrome-start-{k}-{up:g}", 6.0, up))
            print(f"  {case}: Start → first live forgetting curve {out[case][-1]:.2f} s", flush=True)
    return out


# ---- 2 and 3 (app half) -----------------------------------------------------------------------------
def app_run(srv: StreamlitServer, tmp: Path, window: float, form_open: float = 6.0) -> dict[str, Any]:
    driver = chrome(tmp / "chrome-train")
    try:
        driver.get(srv.url + "/train")
        choose_options(driver, "train", [("benchmark", "Split MNIST"), ("method", "HyperMask"), ("preset", "demo")])
        text = page_text(driver)
        assert "HyperMask on split-mnist: 5 tasks × 300 iterations" in text, "the form is not the demo preset"
        driver.execute_script(OBSERVER_JS)
        driver.execute_script(START_TIMING_JS)
        time.sleep(form_open)  # a user filling in the form: the forkserver imports meanwhile
        click_button(driver, "train_start")
        first_curve_s = start_to_curve_s(driver)
        wait_for(lambda: driver.execute_script("return window.__hm.divs") >= 1, 60, "the observed forgetting chart")
        print(f"  Start → first live forgetting curve: {first_curve_s:.2f} s (form open {form_open:.0f} s before)",
              flush=True)
        zoom = _zoom_kept(driver)  # zoomed from here on: the counted refreshes redraw a zoomed chart
        driver.execute_script("window.__hm.counting = true; window.__hm.afterplot = 0; window.__hm.times = [];")
        t0 = time.perf_counter()
        uirev = [driver.execute_script(UIREVISION_JS)]
        while time.perf_counter() - t0 < window and status_text(driver) == "running":
            time.sleep(0.5)
            if len(uirev) == 1 and time.perf_counter() - t0 > window / 2:
                uirev.append(driver.execute_script(UIREVISION_JS))
        elapsed = time.perf_counter() - t0
        hm = driver.execute_script("window.__hm.counting = false; const h = window.__hm;"
                                   "return {afterplot: h.afterplot, divs: h.divs, replaced: h.replaced,"
                                   " times: h.times};")
        if len(uirev) == 1:
            uirev.append(driver.execute_script(UIREVISION_JS))
        gaps = [b - a for a, b in zip(hm["times"], hm["times"][1:])]
        print(f"  {hm['afterplot']} redraws in {elapsed:.1f} s; divs seen {hm['divs']}, replaced while "
              f"counting {hm['replaced']}; uirevision {uirev}; zoom kept across a refresh: {zoom}", flush=True)
        # Let the run finish with the page watching (the fragment keeps refreshing).
        wait_for(lambda: status_text(driver) in ("finished", "stopped", "failed"), 900, "the app run to end",
                 poll=1.0)
        status = status_text(driver)
        errs = errors(driver)
        time.sleep(2)  # the page's last full rerun (live polling ends)
        rng, same = driver.execute_script(plot_div_script(
            "const d = window.__hmPlotDiv('live_forgetting');"
            "return [d._fullLayout.xaxis.range, d === window.__hm.zoomDiv];"))
        zoom_end = f"x range {[round(float(v)) for v in rng]}, {'same div' if same else 'NEW DIV'}"
        print(f"  after the run ended: {zoom_end}", flush=True)
    finally:
        driver.quit()
    run_dir = next(iter(sorted(srv.runs_dir.iterdir())))
    m = _metrics(run_dir)
    # One update of the figure can fire plotly_afterplot more than once (a new div: newPlot, then its
    # autosize), so redraws less than 250 ms apart count as one refresh.
    refreshes = sum(1 for k, t in enumerate(hm["times"]) if k == 0 or t - hm["times"][k - 1] > 250)
    r = {"first_curve_s": first_curve_s, "zoom_kept": zoom, "zoom_end": zoom_end, "refresh_per_s": refreshes / elapsed if elapsed else 0.0, "window_s": elapsed,
         "refreshes": refreshes, "redraws": hm["afterplot"], "replaced": hm["replaced"], "divs": hm["divs"],
         "uirevision": uirev,
         "median_gap_ms": sorted(gaps)[len(gaps) // 2] if gaps else None, "status": status, "errors": errs,
         "ms_per_iter": float(m["ms_per_iter"]), "train_s": float(sum(m["task_seconds"]))}
    print(f"  app: {r['ms_per_iter']:.1f} ms/iteration, training {r['train_s']:.1f} s, status {status}",
          flush=True)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=6.0, help="seconds of counting chart refreshes")
    ap.add_argument("--starts", type=int, default=5, help="cold starts to time (each kind; the median is judged)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved CLI and app training runs (medians judged)")
    ap.add_argument("--server-up", type=float, default=20.0,
                    help="section 4: seconds the server is up (a visitor on the Overview) before the Train page")
    ap.add_argument("--only-start", action="store_true", help="run section 4 alone")
    a = ap.parse_args()
    why = missing_browser()
    if why:
        sys.exit(f"cannot run: {why}")
    tmp = Path(tempfile.mkdtemp(prefix="hm-appspeed-"))
    load_before = _load()
    print(f"load before: {load_before}")
    if a.only_start:
        print("4. Start → first live forgetting curve (Split MNIST demo, form open 6 s)")
        for case, times in start_cases(a.starts, tmp, a.server_up).items():
            med = statistics.median(times)
            print(f"{case:<20} {' / '.join(f'{t:.2f} s' for t in times)}   median {med:.2f} s ≤ 2.5 s: "
                  f"{'yes' if med <= 2.5 else 'NO'}")
        print(f"load after:  {_load()}")
        return

    print("1. cold start to first chart")
    print("   a. first visit (new browser profile)")
    starts = cold_start(a.starts, tmp)
    print("   b. returning visitor (browser profile that has opened the app before)")
    returning = cold_start(a.starts, tmp, returning=True)

    from app.paths import train_threads

    threads = train_threads()
    print(f"2 and 3. {a.repeats} × (CLI with default threads, CLI with --threads {threads} as in the app, "
          "the app with the Train page watching)")
    cli: dict[str, list[dict[str, float]]] = {"default": [], "app": []}
    apps: list[dict[str, Any]] = []
    for k in range(a.repeats):
        cli["default"].append(cli_run(tmp / f"cli-{k}"))
        cli["app"].append(cli_run(tmp / f"cli-t-{k}", threads))
        with StreamlitServer(tmp / f"runs-app-{k}", log_path=tmp / f"app-{k}.log", env=FULL_SPEED) as srv:
            apps.append(app_run(srv, tmp / f"app-{k}", a.window))
    load_after = _load()
    app = apps[0]  # chart refreshes: the first app run (every run's are printed above)
    app_ms = statistics.median(r["ms_per_iter"] for r in apps)
    train_s = " / ".join(f"{r['train_s']:.1f}" for r in apps)

    first = statistics.median(s["first_chart_s"] for s in starts)
    back = statistics.median(s["first_chart_s"] for s in returning)
    ready = min(s["ready_s"] for s in starts)
    rows = [
        ("server ready (/_stcore/health)", " / ".join(f"{s['ready_s']:.2f} s" for s in starts), ""),
        ("cold start → first chart, first visit", " / ".join(f"{s['first_chart_s']:.2f} s" for s in starts),
         f"median {first:.2f} s ≤ 3 s: {'yes' if first <= 3 else 'NO'}"),
        ("cold start → first chart, returning", " / ".join(f"{s['first_chart_s']:.2f} s" for s in returning),
         f"median {back:.2f} s ≤ 3 s: {'yes' if back <= 3 else 'NO'}"),
        ("Start → first live forgetting curve (form open 6 s)", " / ".join(f"{r['first_curve_s']:.2f} s" for r in apps),
         f"median {statistics.median(r['first_curve_s'] for r in apps):.2f} s ≤ 2.5 s: "
         f"{'yes' if statistics.median(r['first_curve_s'] for r in apps) <= 2.5 else 'NO'}"),
        ("chart refreshes while training", f"{app['refresh_per_s']:.2f} /s ({app['refreshes']} in "
         f"{app['window_s']:.0f} s)", f"≥ 2 /s: {'yes' if app['refresh_per_s'] >= 2 else 'NO'}"),
        ("  plotly_afterplot events", f"{app['redraws']} (median gap {app['median_gap_ms']:.0f} ms)"
         if app["median_gap_ms"] else str(app["redraws"]), ""),
        ("  plot div replaced (flicker)", f"{app['replaced']} times (divs seen {app['divs']})",
         "in place" if app["replaced"] == 0 else "REPLACED"),
        ("  layout.uirevision (twice)", " / ".join(map(str, app["uirevision"])),
         "fixed" if len(set(map(str, app["uirevision"]))) == 1 and app["uirevision"][0] else "NOT FIXED"),
        ("  zoom kept across a live refresh", str(app["zoom_kept"]), ""),
        ("  zoomed chart once the run ended", app["zoom_end"], ""),
        ("app ms/iteration (each run)", " / ".join(f"{r['ms_per_iter']:.1f}" for r in apps),
         f"median {app_ms:.1f}; training wall time {train_s} s"),
    ]
    for name, runs in (("default threads", cli["default"]), (f"--threads {threads}", cli["app"])):
        med = statistics.median(c["ms_per_iter"] for c in runs)
        slow = 100 * (app_ms / med - 1)
        rows.append((f"CLI ms/iteration, {name} (each run)", " / ".join(f"{c['ms_per_iter']:.1f}" for c in runs),
                     f"median {med:.1f}: app slowdown {slow:+.0f} % (≤ 20 %: {'yes' if slow <= 20 else 'NO'})"))
    rows.append(("app runs' status / errors shown", " / ".join(f"{r['status']} ({len(r['errors'])})" for r in apps), ""))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"\nSummary (server ready best {ready:.2f} s)")
    print(f"{'measure':<{w0}}  {'value':<{w1}}  goal")
    print("-" * (w0 + w1 + 30))
    for r in rows:
        print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}")
    print(f"\nload before: {load_before}\nload after:  {load_after}")


if __name__ == "__main__":
    main()
