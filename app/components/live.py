"""Live training views: a polling fragment over `BackgroundRun.events_since`, the run controls, and
pure helpers (records → progress, accuracy rows).

Following style.md ("Live training in the UI"): the worker thread never calls Streamlit; this module
reads the run's event list from the session's own cursor (`state.LiveView`), so any number of tabs
can watch one run. The fragment is declared with `run_every` while a run is live; when the terminal
event arrives it calls a full-app `st.rerun()`, which re-declares it with `run_every=None`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from app import cached, paths, state
from core import events as ev
from core.engine.runner import REGISTRY, SPARES
from core.run_state import last_step, run_info, terminal
from core.runs import new_run_dir

REFRESH_S = 0.4  # fragment refresh interval while a run is live (2.5 refreshes a second)
LIVE_VIEW_KEY = "hm_live_view"  # the container of a page's live fragment (one per page)
# Inside the live view, no CSS transitions: Streamlit fades elements that are being rerun (after a
# 0.5 s delay), slides the progress bar over 0.5 s and fades expander borders, so with a refresh every
# 0.4 s the browser was always mid-transition and drew frames continuously (about a tenth of a core in
# headless Chromium), taking CPU from training on a small machine. Elements being rerun stay opaque.
LIVE_VIEW_CSS = (f'.st-key-{LIVE_VIEW_KEY}, .st-key-{LIVE_VIEW_KEY} * {{ transition: none !important; }} '
                 f'.st-key-{LIVE_VIEW_KEY} [data-stale="true"] {{ opacity: 1 !important; }}')
MAX_LIVE_RUNS = 4  # refuse to start more concurrent runs than this (small CPUs)
_RATE_WINDOW_S = 30.0

# Compare groups (lists of run folders started together), process-wide like REGISTRY so that a
# refresh or a second tab finds the newest live comparison.
_GROUPS: list[list[str]] = []
_GROUPS_LOCK = threading.Lock()


def add_group(run_dirs: Sequence[str]) -> None:
    with _GROUPS_LOCK:
        _GROUPS.append(list(run_dirs))


def newest_group() -> list[str]:
    """The newest compare group started by this server that still has a live run, or []: a new tab
    re-attaches to a comparison that is training, not to one that ended (see `group_named`)."""
    with _GROUPS_LOCK:
        groups = list(reversed(_GROUPS))
    return next((list(g) for g in groups if any(is_live(d) for d in g)), [])


def group_named(names: str) -> list[str] | None:
    """The compare group of this server whose run folder names, joined by commas, are `names` (the
    Compare page's `?runs=` URL parameter, so that a refresh shows the same comparison), or None."""
    with _GROUPS_LOCK:
        groups = list(reversed(_GROUPS))
    return next((list(g) for g in groups if group_url(g) == names), None)


def group_url(group: Sequence[str]) -> str:
    """The `?runs=` value naming `group` (its run folder names, joined by commas)."""
    return ",".join(Path(d).name for d in group)


# ---- pure helpers -------------------------------------------------------------------------------
# The events each live chart is drawn from: its figure is rebuilt only when their counts change.
FC_KINDS = ("task_started", "evaluated")  # forgetting curves
LOSS_KINDS = ("task_started", "step_logged")  # loss terms
ACC_KINDS = ("task_finished",)  # accuracy matrix, metrics


def signature(records: Sequence[Mapping[str, Any]], kinds: Sequence[str]) -> tuple[Any, ...]:
    """What a chart drawn from the `kinds` events of one run depends on: the run folder named by its
    RunStarted event, the number of records of each kind, and whether the run has ended. Equal
    signatures mean an identical figure (for `state.memo_figure`)."""
    counts = dict.fromkeys(kinds, 0)
    run_dir = None
    for e in records:
        k = e.get("kind")
        if k in counts:
            counts[k] += 1
        elif k == "run_started":
            run_dir = e.get("run_dir")
    return (run_dir, *counts.values(), terminal(records) is not None)


def progress(records: Sequence[Mapping[str, Any]], samples: Sequence[tuple[float, int]],
             status: str) -> tuple[float, str]:
    """(fraction done, text) for a progress bar: global step against n_tasks · iters_per_task and
    an estimate of the time left from the steps per second seen while polling (last 30 s)."""
    n_tasks, iters = run_info(records)
    total = n_tasks * iters
    if total <= 0:
        return 0.0, "preparing the task stream…"
    done = min(last_step(records), total)
    task = min(done // max(iters, 1), n_tasks - 1)
    # tasks are numbered from 0, as in the charts ("task 2 (3 of 5)")
    text = f"iteration {done:,} / {total:,} · task {task} ({task + 1} of {n_tasks})"
    if status in ("running",) and len(samples) >= 2:
        # from the first step on: the seconds a training process spends starting are not training
        recent = [s for s in samples if s[0] >= samples[-1][0] - _RATE_WINDOW_S and s[1] > 0]
        if len(recent) < 2:
            return done / total, text + " · estimating time left…"
        (t0, g0), (t1, g1) = recent[0], recent[-1]
        if t1 - t0 >= 2.0 and g1 - g0 >= 3:
            left = (total - done) / ((g1 - g0) / (t1 - t0))
            text += f" · about {_duration(left)} left"
        else:
            text += " · estimating time left…"
    elif status not in ("running",):
        text += f" · {status}"
    return done / total, text


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


# ---- session side ---------------------------------------------------------------------------
def sync(run_dir: str) -> state.LiveView:
    """Read the run's new events into this session's LiveView (no-op for runs not in REGISTRY)."""
    view = state.live_view(run_dir)
    run = REGISTRY.get(run_dir)
    if run is None:
        return view
    new, view.cursor = run.events_since(view.cursor)
    for e in new:
        d = ev.to_dict(e)
        view.records.append(d)
        view.terminal = view.terminal or d["kind"] in ("run_finished", "run_failed")
    if run.status() == "running":
        view.samples.append((time.time(), last_step(view.records)))
        del view.samples[:-200]
    else:
        view.samples.clear()
    return view


def is_live(run_dir: str) -> bool:
    """A run in REGISTRY whose worker is alive and whose terminal event this session has not read."""
    run = REGISTRY.get(run_dir)
    return run is not None and run.alive and not state.live_view(run_dir).terminal


def records(run_dir: str) -> list[dict[str, Any]]:
    """Event records of a run: from the live run when it is in REGISTRY, else from events.jsonl."""
    if REGISTRY.get(run_dir) is not None:
        return sync(run_dir).records
    return cached.events(run_dir)


def status(run_dir: str) -> str:
    """'running', 'paused', …, 'finished', 'stopped', 'failed'; 'interrupted' for a saved run whose
    metrics still say running but that no worker in this process trains."""
    run = REGISTRY.get(run_dir)
    if run is not None:
        return run.status()
    m = cached.metrics(run_dir) or {}
    s = str(m.get("status", "interrupted"))
    return "interrupted" if s == "running" else s


def start_runs(configs: Sequence[Any], root: str | Path) -> list[str]:
    """Start one run per config (a compare group shares a seed), each in a new folder under `root`
    and in its own training process; returns the run folders.

    A child process, not a thread: the Streamlit server's own Python work (reruns, figures) would
    otherwise hold the GIL against the training loop. Threads per run: `paths.train_threads()`.
    Everything that can refuse the start (settings, the live-run limit, the data, the model size:
    `core.engine.loop.check_run`) is checked before any folder is made, and folders made before a
    failure are removed again if still empty.

    Raises:
        ValueError: a bad setting, more than MAX_LIVE_RUNS live runs, or a model too large to build;
        DataError (a ValueError): data that cannot be read; RunError / OSError: the runs folder
        cannot take a new run.
    """
    threads = paths.train_threads()
    if len(REGISTRY.active()) + len(configs) > MAX_LIVE_RUNS:
        raise ValueError(f"at most {MAX_LIVE_RUNS} runs may train at once on this machine and "
                         f"{len(REGISTRY.active())} are running; stop some first")
    from core.engine.loop import check_run  # torch: imported here, not on the way to the Overview

    for cfg in configs:  # a data path that exists may still not be MNIST; the model size
        check_run(cfg)
    dirs: list[str] = []
    try:
        for cfg in configs:
            dirs.append(str(new_run_dir(root, cfg).resolve()))
            REGISTRY.start(cfg, dirs[-1], threads=threads, process=True)
        SPARES.close()  # spares left over (e.g. from Compare) would sit on memory while these train
    except Exception:
        control(dirs, "stop")
        for d in dirs:
            if REGISTRY.get(d) is None:
                with contextlib.suppress(OSError):
                    os.rmdir(d)  # only an empty folder goes
        raise
    return dirs


def prewarm(count: int) -> None:
    """Get ready for Start while the user fills in the form: keep `count` spare training processes
    (`core.engine.runner.SPARES`, about 0.4 GB each; without one a run spends 3.5 s importing before
    its first step), and import the training loop here too (PyTorch, 1.3 s), which `start_runs`
    checks each run with. Spares only while nothing trains: their imports would take CPU from it."""
    _import_training_loop_once()
    if not REGISTRY.active():
        SPARES.fill(max(0, min(count, MAX_LIVE_RUNS)))


@functools.cache
def _import_training_loop_once() -> None:
    """Import core.engine.loop on a background thread, once per server (it imports no pandas)."""
    threading.Thread(target=importlib.import_module, args=("core.engine.loop",), name="hypermask-import",
                     daemon=True).start()


def control(run_dirs: Sequence[str], action: str) -> None:
    """Button callback: 'pause', 'resume', 'step' or 'stop' every live run of `run_dirs`."""
    for d in run_dirs:
        run = REGISTRY.get(d)
        if run is not None and run.alive:
            getattr(run, action)()


def controls(run_dirs: Sequence[str], prefix: str) -> None:
    """Pause / Resume / Step / Stop buttons (keys `<prefix>_pause` …), enabled by the runs' state."""
    runs = [r for r in (REGISTRY.get(d) for d in run_dirs) if r is not None and r.alive]
    any_running = any(r.status() == "running" for r in runs)
    any_paused = any(r.status() == "paused" for r in runs)
    row = st.container(horizontal=True)  # wraps in a narrow window: no label is cut short
    spec = (("pause", "Pause", ":material/pause:", not any_running, "pause before the next iteration"),
            ("resume", "Resume", ":material/play_arrow:", not any_paused, "continue training"),
            ("step", "Step", ":material/skip_next:", not any_paused, "train until the next evaluation, then pause"),
            ("stop", "Stop", ":material/stop:", not runs,
             "end the run within one iteration; finished tasks stay saved"))
    for action, label, icon, disabled, help_ in spec:
        row.button(label, key=f"{prefix}_{action}", icon=icon, disabled=disabled, help=help_,
                   on_click=control, args=(list(run_dirs), action))


def live_fragment(run_dirs: Sequence[str], body: Callable[[], None]) -> None:
    """Draw `body` in a fragment that refreshes every REFRESH_S seconds while any run is live.

    `body` reads the records itself (via `records`). When the last live run's terminal event has
    been read, a full-app rerun re-declares the fragment without auto-refresh.
    """
    dirs = list(run_dirs)
    for d in dirs:
        sync(d)
    live = any(is_live(d) for d in dirs)

    def _tick(was_live: bool) -> None:
        for d in dirs:
            sync(d)
        with st.container(key=LIVE_VIEW_KEY):
            body()
        if was_live and not any(is_live(d) for d in dirs):
            st.rerun(scope="app")

    st.html(f"<style>{LIVE_VIEW_CSS}</style>")  # style only: no space taken in the page
    st.fragment(_tick, run_every=REFRESH_S if live else None)(live)
