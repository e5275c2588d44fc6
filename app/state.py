"""The only module that knows `st.session_state` keys (typed get/set helpers).

Per browser session we keep: which live run the Train page is attached to, the run chosen on the
Masks / Embeddings pages, the Compare page's group of runs, and for every live run this session
watches a `LiveView` (its own reader of the run folder's events.jsonl plus the events read so far).
The runs themselves live in the process-wide registry behind `core.engine.launcher`, so a refresh or a
second tab re-attaches instead of starting again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import plotly.graph_objects as go
import streamlit as st

from app.components import plotly_frame
from core import events as ev
from core.runs import EventLog

_LIVE = "_live_views"  # dict[run_dir, LiveView]
_TRAIN_RUN = "_train_attached"  # str | None: run folder the Train page shows
_SELECTED = "_selected_run"  # str | None: run opened on the Masks / Embeddings pages
_COMPARE = "_compare_group"  # list[str] | None: run folders of the Compare page's group ([] = closed)
_FLASH = "_flash"  # list[(level, text)] shown once on the next run
_PENDING_DELETE = "_pending_delete"  # str | None: run folder awaiting confirmation
_PROJECTION = "_projection_request"  # dict | None: the last projection asked for
_FIGURES = "_live_figures"  # dict[chart key, (signature, figure)]: see memo_figure
_ABLATION = "_lesson_ablation"  # list[str]: run folders of the lessons' live ablation
_OPENED = "_opened_runs"  # list[str]: run folders opened from the Sweeps page (offered by every run picker)

T = TypeVar("T")


@dataclass
class LiveView:
    """One session's view of one live run: its reader of the run folder's events.jsonl, the typed
    events read so far, and (wall time, global step) samples taken while polling, for the time-left
    estimate."""

    log: EventLog
    events: list[ev.Event] = field(default_factory=list)
    samples: list[tuple[float, int]] = field(default_factory=list)
    terminal: bool = False


def live_view(run_dir: str) -> LiveView:
    """This session's LiveView of `run_dir` (created empty on first use)."""
    views: dict[str, LiveView] = st.session_state.setdefault(_LIVE, {})
    if run_dir not in views:
        views[run_dir] = LiveView(EventLog(run_dir))
    return views[run_dir]


def drop_live_view(run_dir: str) -> None:
    """Forget this session's LiveView of `run_dir` (a resumed run is followed afresh from its start)."""
    st.session_state.setdefault(_LIVE, {}).pop(run_dir, None)


def memo_figure(key: str, signature: Hashable, build: Callable[[], Any], min_interval_s: float = 0.0) -> Any:
    """The figure drawn under chart `key`, rebuilt by `build()` only when `signature` (e.g. the number
    of events it is drawn from) differs from the last call's, and then not more often than every
    `min_interval_s` seconds. Live views rerun several times a second and most of their figures change
    less often than that, or matter less (session-scoped). A Plotly figure is sealed
    (`plotly_frame.seal`: serialised once, not on every refresh) and read only."""
    memo: dict[str, tuple[Hashable, Any, float]] = st.session_state.setdefault(_FIGURES, {})
    hit = memo.get(key)
    now = time.monotonic()
    if hit is not None and (hit[0] == signature or now - hit[2] < min_interval_s):
        return hit[1]
    fig = build()
    if isinstance(fig, go.Figure):
        plotly_frame.seal(fig)
    memo[key] = (signature, fig, now)
    return fig


def train_run() -> str | None:
    return st.session_state.get(_TRAIN_RUN)


def set_train_run(run_dir: str | None) -> None:
    st.session_state[_TRAIN_RUN] = run_dir


def selected_run() -> str | None:
    return st.session_state.get(_SELECTED)


def set_selected_run(run_dir: str | None) -> None:
    st.session_state[_SELECTED] = run_dir


def opened_runs() -> list[str]:
    """Run folders this session opened from outside the runs and pretrained folders (sweep trials)."""
    return list(st.session_state.get(_OPENED, []))


def open_run(run_dir: str) -> None:
    """Offer `run_dir` in every run picker of this session and make it the selected run."""
    opened = st.session_state.setdefault(_OPENED, [])
    if run_dir not in opened:
        opened.append(run_dir)
    set_selected_run(run_dir)


def compare_group() -> list[str] | None:
    """The Compare page's group of runs; [] once the user closed it, None if this session never chose."""
    group = st.session_state.get(_COMPARE)
    return None if group is None else list(group)


def set_compare_group(run_dirs: list[str]) -> None:
    st.session_state[_COMPARE] = list(run_dirs)


def lesson_ablation() -> list[str]:
    """The run folders of the live ablation this session started in a lesson ([] before)."""
    return list(st.session_state.get(_ABLATION, []))


def set_lesson_ablation(run_dirs: list[str]) -> None:
    st.session_state[_ABLATION] = list(run_dirs)


def flash(level: str, text: str) -> None:
    """Queue a message ('info', 'success', 'warning', 'error') for the next run of the page."""
    st.session_state.setdefault(_FLASH, []).append((level, text))


def pop_flashes() -> list[tuple[str, str]]:
    return st.session_state.pop(_FLASH, [])


def pending_delete() -> str | None:
    return st.session_state.get(_PENDING_DELETE)


def set_pending_delete(run_dir: str | None) -> None:
    st.session_state[_PENDING_DELETE] = run_dir


def projection_request() -> dict[str, Any] | None:
    return st.session_state.get(_PROJECTION)


def set_projection_request(req: dict[str, Any] | None) -> None:
    st.session_state[_PROJECTION] = req


def init_default(key: str, value: Any) -> None:
    """Give widget `key` an initial value once (so widgets need no `value=` argument)."""
    if key not in st.session_state:
        st.session_state[key] = value


def get(key: str, default: Any = None) -> Any:
    """Current value of a widget key."""
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    """Set a widget key (only from callbacks or before the widget is drawn)."""
    st.session_state[key] = value


def short(text: str, limit: int = 40) -> str:
    """`text` as a message quotes a value from the URL: cut to `limit` characters (a link may carry
    thousands)."""
    return text if len(text) <= limit else text[:limit] + "…"


def from_url(param: str, find: Callable[[str], T | None], unknown: str) -> T | None:
    """What the URL parameter `param` names (`find(value)`; a refresh keeps the URL, so a refresh
    shows the same run), or None without it. A value `find` does not know is said in an info line
    (`unknown`, with `{named}` for the value) and dropped from the URL."""
    named = st.query_params.get(param)
    if not named:
        return None
    found = find(named)
    if found is None:
        st.info(unknown.format(named=short(named)), icon=":material/link_off:")
        del st.query_params[param]
    return found


def keep_in_url(param: str, value: str | None) -> None:
    """Set the URL parameter `param` to `value` (the page's run, for a refresh), or drop it for None."""
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != value:
        st.query_params[param] = value
