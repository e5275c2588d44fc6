"""Live training views: a polling fragment over the run folder's events.jsonl, the run control buttons,
and progress. Starting and steering runs is `core.engine.launcher` (no UI); a run's state from its
events is `core.run_state`.

Following style.md ("Live training in the UI"): the training process never calls Streamlit; this
module reads the typed events the run has written to its folder through the session's own reader
(`state.LiveView`, `core.runs.EventLog`), so any number of tabs can watch one run. The fragment is declared with `run_every` while a run is live; when the terminal
event arrives it calls a full-app `st.rerun()`, which re-declares it with `run_every=None`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from app import cached, state
from core import events as ev
from core.engine import launcher
from core import run_state
from core.runs import run_status

REFRESH_S = 0.4  # fragment refresh interval while a run is live (2.5 refreshes a second)
LIVE_VIEW_KEY = "hm_live_view"  # the container of a page's live fragment (one per page)
# Inside the live view, no CSS transitions: Streamlit fades elements that are being rerun (after a
# 0.5 s delay), slides the progress bar over 0.5 s and fades expander borders, so with a refresh every
# 0.4 s the browser was always mid-transition and drew frames continuously (about a tenth of a core in
# headless Chromium), taking CPU from training on a small machine. Elements being rerun stay opaque.
LIVE_VIEW_CSS = (f'.st-key-{LIVE_VIEW_KEY}, .st-key-{LIVE_VIEW_KEY} * {{ transition: none !important; }} '
                 f'.st-key-{LIVE_VIEW_KEY} [data-stale="true"] {{ opacity: 1 !important; }}')
_RATE_WINDOW_S = 30.0

# ---- pure helpers -------------------------------------------------------------------------------
# The events each live chart is drawn from: its figure is rebuilt only when their counts change.
FC_KINDS = (ev.TaskStarted, ev.Evaluated)  # forgetting curves
LOSS_KINDS = (ev.TaskStarted, ev.StepLogged)  # loss terms
ACC_KINDS = (ev.TaskFinished,)  # accuracy matrix, metrics


def signature(events: Sequence[ev.Event], kinds: Sequence[type]) -> tuple[Any, ...]:
    """What a chart drawn from the `kinds` events of one run depends on: the run folder named by its
    RunStarted event, the number of events of each kind, and whether the run has ended. Equal
    signatures mean an identical figure (for `state.memo_figure`)."""
    return (run_state.run_dir(events), *run_state.counts(events, kinds), run_state.terminal(events) is not None)


def progress(events: Sequence[ev.Event], samples: Sequence[tuple[float, int]],
             status: str) -> tuple[float, str]:
    """(fraction done, text) for a progress bar: global step against n_tasks · iters_per_task and
    an estimate of the time left from the steps per second seen while polling (last 30 s)."""
    n_tasks, iters = run_state.run_info(events)
    total = n_tasks * iters
    if total <= 0:
        return 0.0, "preparing the task stream…"
    done = min(run_state.last_step(events), total)
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
    """Read the events the run has appended to its events.jsonl since this session's last read into
    its LiveView (and a progress sample while the run trains)."""
    view = state.live_view(run_dir)
    new = view.log.read_new()
    view.events += new
    view.terminal = view.terminal or any(ev.is_terminal(e) for e in new)
    run = launcher.get(run_dir)
    if run is not None and run.status() == "running":
        view.samples.append((time.time(), run_state.last_step(view.events)))
        del view.samples[:-200]
    else:
        view.samples.clear()
    return view


def is_live(run_dir: str) -> bool:
    """A run this server started (launcher) whose training process is alive and whose terminal event
    this session has not read."""
    run = launcher.get(run_dir)
    return run is not None and run.alive and not state.live_view(run_dir).terminal


def events(run_dir: str) -> list[ev.Event]:
    """The typed events of a run: read as they arrive for a run this server trains (launcher), else
    all of events.jsonl at once (cached per modification time)."""
    if launcher.get(run_dir) is not None:
        return sync(run_dir).events
    return cached.events(run_dir)


def status(run_dir: str) -> str:
    """'running', 'paused', …, 'finished', 'stopped', 'failed'; 'interrupted' for a saved run whose
    metrics still say running but whose process died (no process holds its lock,
    `core.runs.run_status`; a run training in a terminal is 'running')."""
    run = launcher.get(run_dir)
    if run is not None:
        return run.status()
    m = cached.metrics(run_dir) or {}
    return run_status(run_dir, str(m.get("status", "interrupted")))


def controls(run_dirs: Sequence[str], prefix: str) -> None:
    """Pause / Resume / Step / Stop buttons (keys `<prefix>_pause` …), enabled by the runs' state."""
    runs = [r for r in (launcher.get(d) for d in run_dirs) if r is not None and r.alive]
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
                   on_click=launcher.control, args=(list(run_dirs), action))


def live_fragment(run_dirs: Sequence[str], body: Callable[[], None]) -> None:
    """Draw `body` in a fragment that refreshes every REFRESH_S seconds while any run is live.

    `body` reads the events itself (via `events`). When the last live run's terminal event has
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
