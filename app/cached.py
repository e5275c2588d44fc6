"""Streamlit caches over run folders (read-only).

`load_run` goes through the safe loader `core.runs.load_run` (JSON + safetensors, no pickle) and
is cached per folder *and* file modification time, so a live run that saves after every task is
re-read when it changes while finished and pretrained runs are loaded once per process. Loaded runs
are shared between sessions and must be treated as read-only. Projections are cached per run,
modification time and request.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.components import plotly_frame, projections
from core import events as ev, runs
from core.runs import Run, RunError


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime_ns / 1e9
    except OSError:
        return 0.0


def run_stamp(path: str | Path) -> float:
    """Latest modification time of the files `load_run` reads (0.0 if none)."""
    p = Path(path)
    return max(_mtime(p / n) for n in ("config.json", "metrics.json", "weights.safetensors", "masks.safetensors"))


@st.cache_resource(max_entries=12, show_spinner="Loading run…")
def _load_run(path: str, stamp: float) -> Run:
    return runs.load_run(path)


def load_run(path: str | Path) -> Run:
    """The run in folder `path` (cached). Raises `RunError` for an unreadable folder."""
    return _load_run(str(Path(path).resolve()), run_stamp(path))


def try_load_run(path: str | Path) -> tuple[Run | None, str | None]:
    """(run, None) or (None, reason) — never raises for a bad folder."""
    try:
        return load_run(path), None
    except RunError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - a foreign folder must not break a page
        return None, f"{type(e).__name__}: {e}"[:200]


@functools.lru_cache(maxsize=64)
def _events(path: str, stamp: float) -> tuple[ev.Event, ...]:
    return tuple(runs.read_events(path))


def events(path: str | Path) -> tuple[ev.Event, ...]:
    """The run's events.jsonl as typed events (cached per modification time; one immutable copy per
    server, shared by every session). A plain `functools.lru_cache`, not a Streamlit cache: the
    Overview asks for three runs' events on every visit, and Streamlit's caches hash their arguments
    with a hasher of their own (several milliseconds a call on a small machine)."""
    p = os.path.abspath(path)
    return _events(p, _mtime(Path(p) / "events.jsonl"))


@st.cache_data(max_entries=64, show_spinner=False)
def _metrics(path: str, stamp: float) -> dict[str, Any] | None:
    try:
        return runs.read_metrics(path)
    except RunError:
        return None


def metrics(path: str | Path) -> dict[str, Any] | None:
    """metrics.json of a run (None if missing or unreadable)."""
    p = Path(path)
    return _metrics(str(p.resolve()), _mtime(p / "metrics.json"))


@st.cache_data(max_entries=32, show_spinner=False)  # the Embeddings page shows its own spinner
def _projection(path: str, stamp: float, what: str, algorithm: str, layer: int, per_task: int,
                seed: int) -> projections.Projection:
    run = _load_run(path, stamp)
    if what == "task embeddings":
        from core.analysis import task_embeddings

        emb = task_embeddings(run.method)
        if emb is None:
            raise ValueError(f"{run.config.train.method} has no task embeddings")
        emb = emb[: max(1, run.tasks_done)]
        pts, note = projections.project(emb, algorithm, seed)
        t = list(range(emb.shape[0]))
        return projections.Projection(pts, t, t, [f"task embedding e_{j} (d = {emb.shape[1]})" for j in t], note)
    from core.data.benchmarks import make_benchmark

    bench = make_benchmark(run.config.data, run.config.train.seed)
    x, tasks, classes, hover = projections.activation_samples(run, bench, layer, per_task)
    pts, note = projections.project(x, algorithm, seed)
    return projections.Projection(np.asarray(pts), tasks, classes, hover, note)


def projection(path: str | Path, what: str, algorithm: str, layer: int = 0, per_task: int = 100,
               seed: int = 0) -> projections.Projection:
    """Projection of a run's task embeddings or hidden activations (cached per run and request).

    Raises:
        RunError, core.data.sources.DataError, ValueError: with a one-line message for the page.
    """
    return _projection(str(Path(path).resolve()), run_stamp(path), what, algorithm, layer, per_task, seed)


@st.cache_resource(max_entries=8, show_spinner=False)
def _masks_numpy(path: str, stamp: float) -> dict[int, dict[str, np.ndarray]]:
    run = _load_run(path, stamp)
    return {t: {n: m.detach().float().numpy() for n, m in ms.items()} for t, ms in run.masks.items()}


def masks_numpy(path: str | Path) -> dict[int, dict[str, np.ndarray]]:
    """The run's saved per-task masks as float32 numpy arrays (shared, read-only; {} without masks)."""
    return _masks_numpy(str(Path(path).resolve()), run_stamp(path))


_FIGURES: OrderedDict[Hashable, go.Figure] = OrderedDict()  # key → sealed figure, least recently used first
_FIGURES_MAX = 128
_FIGURES_LOCK = threading.Lock()


class Same:
    """A key part that stands for one object by identity (`is`), not by value: cheap to hash where
    the value is large or unhashable (a run's events as `events` returns them, the same tuple while
    the file is unchanged). The key holds the object, so its identity is not reused while cached."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj


def shared_figure(key: Hashable, build: Callable[[], go.Figure]) -> go.Figure:
    """The figure `build()` makes, built once per server for `key` and shared by every session that
    shows the same thing (the Overview's shipped runs, a saved comparison): a room of visitors costs
    one build, and one serialisation (`plotly_frame.seal`). `key` must name everything the figure is
    drawn from; the figure is read only. The last `_FIGURES_MAX` keys are kept. (Keyed by Python's own
    hash: a Streamlit cache would hash `key` with its own hasher on every visit.)"""
    with _FIGURES_LOCK:  # one build per key, however many sessions ask at once
        fig = _FIGURES.get(key)
        if fig is None:
            fig = _FIGURES[key] = plotly_frame.seal(build())
            if len(_FIGURES) > _FIGURES_MAX:
                _FIGURES.popitem(last=False)
        _FIGURES.move_to_end(key)
        return fig


@functools.lru_cache(maxsize=4)
def pretrained_stories(stamp: tuple[tuple[str, str, float], ...]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The Overview's stories: benchmark → {method: run folder} and run folder → description, of the
    pretrained manifest's runs (`stamp`: each entry's folder, description and `run_stamp`). Computed
    once per server and manifest state rather than per visitor (every run's config and metrics are
    read here); declared here, not in the page script, which reruns (and would re-declare it) on
    every visit. The dicts are shared: read only."""
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    notes: dict[str, str] = {}
    for path, description, _ in stamp:
        s = runs.summarize_run(path)
        if s.error is None and s.method not in groups[s.benchmark]:
            groups[s.benchmark][s.method] = path
            notes[path] = description
    return dict(groups), notes
