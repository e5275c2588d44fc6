"""Starting runs through the server's queue (`core.engine.launcher.submit`): who may start what
(`app.roles`), the session's waiting entry with its position and expected start, and the presenter's
view of the queue (reorder, cancel)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from app import paths, roles, state
from core.config import RunConfig
from core.data.sources import DataError
from core.engine import launcher
from core.runs import RunError

WAIT_REFRESH_S = 1.0  # how often a waiting entry's position and estimate are refreshed


def submit(configs: Sequence[RunConfig], key: str, group: bool = False, what: str = "the run") -> list[str] | None:
    """Start `configs` now, or queue them; returns the run folders when they started at once, else
    None (queued: `waiting(key, …)` shows it; refused: a flash message "Could not start `what`: …")."""
    problem = roles.start_problem(configs)
    if problem:
        state.flash("error", f"Could not start {what}: {problem}.")
        return None
    try:
        entry = launcher.submit(configs, paths.runs_dir(), roles.owner(), threads=paths.train_threads(),
                                group=group, unlimited=roles.is_presenter())
    except (RunError, DataError, ValueError, OSError) as e:
        state.flash("error", f"Could not start {what}: {e}")
        return None
    if entry.state == "started":
        return entry.run_dirs
    if entry.state == "failed":
        state.flash("error", f"Could not start {what}: {entry.error}")
        return None
    state.put(f"{key}_queued", entry.id)
    return None


def _describe(configs: Sequence[RunConfig]) -> str:
    return " + ".join(c.label for c in configs)


def waiting(key: str, on_started: Callable[[list[str]], None]) -> bool:
    """Show this session's waiting entry for `key` (position, expected start, Cancel), refreshed every
    `WAIT_REFRESH_S`; once it starts, `on_started(run_dirs)` and a rerun. True while one waits."""
    entry_id = state.get(f"{key}_queued")
    entry = launcher.QUEUE.get(entry_id) if entry_id else None
    if entry is None or entry.state == "cancelled":
        state.put(f"{key}_queued", None)
        return False
    if entry.state == "started":
        state.put(f"{key}_queued", None)
        on_started(entry.run_dirs)
        return False
    if entry.state == "failed":
        state.put(f"{key}_queued", None)
        st.error(f"Your queued run could not start: {entry.error}")
        return False

    @st.fragment(run_every=WAIT_REFRESH_S)
    def _tick() -> None:
        now = launcher.QUEUE.get(entry.id)
        if now is None or now.state != "queued":
            st.rerun(scope="app")
        pos, eta = launcher.QUEUE.position(entry.id), launcher.QUEUE.expected_start_s(entry.id)
        st.info(f"**Queued** ({_describe(entry.configs)}): position **{pos}** of {len(launcher.QUEUE.queued())}; "
                f"expected to start in about **{_duration(eta)}** (the machine trains {launcher.QUEUE.capacity} "
                "run(s) at a time).", icon=":material/hourglass_top:")
        if st.button("Cancel my queued run", key=f"{key}_queue_cancel"):
            launcher.QUEUE.cancel(entry.id)
            st.rerun(scope="app")

    _tick()
    return True


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def presenter_panel(key: str) -> None:
    """The waiting entries, with move-up and cancel buttons, for the presenter (nothing otherwise)."""
    queued = launcher.QUEUE.queued()
    if not queued or not roles.is_presenter():
        return
    with st.expander(f"Queue: {len(queued)} waiting", expanded=True, key=f"{key}_queue_panel"):
        for pos, e in enumerate(queued, start=1):
            row = st.container(horizontal=True, vertical_alignment="center")
            row.markdown(f"{pos}. {_describe(e.configs)} — *{e.owner}*, starts in about "
                         f"{_duration(launcher.QUEUE.expected_start_s(e.id))}")
            if pos > 1 and row.button("Move up", key=f"{key}_queue_up_{e.id}", icon=":material/arrow_upward:"):
                launcher.QUEUE.move(e.id, pos - 1)
                st.rerun()
            if row.button("Cancel", key=f"{key}_queue_cancel_{e.id}", icon=":material/close:"):
                launcher.QUEUE.cancel(e.id)
                st.rerun()
