"""Choose any run: live ones (from `core.engine.launcher`), saved ones (under the runs folder),
pretrained ones (`pretrained/manifest.json`) and sweep trials this session opened on the Sweeps page.
Unreadable folders are left out here; the Runs page lists them with their reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app import paths, state
from app.components.config_form import METHOD_LABELS
from app.components.ui import pct
from core.engine import launcher
from core.runs import list_runs, summarize_run


@dataclass(frozen=True)
class RunChoice:
    """A run the user can open. `origin` is 'live', 'saved', 'pretrained' or 'sweep'."""

    path: str
    label: str
    origin: str
    method: str = ""
    benchmark: str = ""


def _describe(method: str, benchmark: str) -> str:
    return f"{METHOD_LABELS.get(method, method)} · {benchmark}" if method else ""


def available_runs() -> list[RunChoice]:
    """Live runs (newest first), then pretrained runs, readable saved runs (newest first), and the sweep
    trials this session opened (`state.opened_runs`).

    A saved run that ended before its first task finished is left out: nothing of it was saved but
    its configuration and events (no weights, no masks), so no analysis page can open it
    (`_unfinished_runs` counts them for a note under the picker)."""
    out: list[RunChoice] = []
    seen: set[str] = set()
    for path, run in reversed(list(launcher.all_runs().items())):
        if not run.alive:
            continue
        c = run.cfg
        out.append(RunChoice(path, f"● live: {Path(path).name} ({run.status()})", "live", c.train.method,
                             c.data.benchmark))
        seen.add(path)
    for entry in paths.read_manifest():
        s = summarize_run(entry.path)
        if s.error is None:
            out.append(RunChoice(str(entry.path), f"★ {entry.title}", "pretrained", s.method, s.benchmark))
    for s in list_runs(paths.runs_dir()):
        p = str(s.path.resolve())
        if s.error is None and p not in seen and s.tasks_done > 0:
            acc = f" · ACC {pct(s.avg_acc)}"
            label = f"{s.name} — {_describe(s.method, s.benchmark)}{acc} ({s.status})"
            out.append(RunChoice(p, label, "saved", s.method, s.benchmark))
            seen.add(p)
    for p in state.opened_runs():
        s = summarize_run(p)
        if s.error is None and p not in seen:
            label = (f"◆ sweep {s.path.parent.name} · {s.name} — {_describe(s.method, s.benchmark)} · "
                     f"ACC {pct(s.avg_acc)}")
            out.append(RunChoice(p, label, "sweep", s.method, s.benchmark))
    return out


def _unfinished_runs() -> int:
    """How many readable saved runs finished no task (left out of `available_runs`)."""
    return sum(1 for s in list_runs(paths.runs_dir()) if s.error is None and s.tasks_done == 0
               and s.status not in ("running",))


def run_picker(key: str, label: str = "Run", prefer_method: str | None = None) -> RunChoice | None:
    """Selectbox over `available_runs()`; the choice is shared across pages (state.selected_run).

    Default: the run last opened, else the newest live run, else the first pretrained run (the
    first one of `prefer_method` if given), else the newest saved run. Returns None if no run exists.
    """
    runs = available_runs()
    if not runs:
        st.info("No runs yet: start one on the **Train** page (Split Digits · demo takes a few seconds), "
                "or import a run bundle on the **Runs** page.")
        return None
    by_path = {r.path: r for r in runs}
    current = state.get(key)
    if current not in by_path:
        chosen = state.selected_run()
        if chosen not in by_path:
            preferred = [r for r in runs if r.origin != "saved" and r.method == prefer_method]
            chosen = (preferred or runs)[0].path
        state.put(key, chosen)
    unfinished = _unfinished_runs()
    if unfinished:
        st.caption(f"{unfinished} saved run{'s' if unfinished > 1 else ''} ended before finishing a first task, "
                   "so no weights or masks were saved: not listed here (the **Runs** page shows them).")
    path = st.selectbox(label, list(by_path), key=key, format_func=lambda p: by_path[p].label,
                        on_change=lambda: state.set_selected_run(state.get(key)))
    state.set_selected_run(path)
    return by_path[path]
