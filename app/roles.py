"""Who may do what: the presenter and visitors of one server (a lecture hall).

Without a presenter password the app is a single user's (it binds to localhost,
`app/.streamlit/config.toml`) and every session may do everything. With one — `presenter_password`
in Streamlit's secrets (`app/.streamlit/secrets.toml` or `~/.streamlit/secrets.toml`) or the
environment variable HYPERMASK_PRESENTER_PASSWORD — every session starts as a visitor, who watches
live runs, opens saved runs and explores every view, and may start one small run on the bundled data
at a time if the presenter allows it. A session becomes the presenter by entering the password in the
sidebar (compared in constant time, `hmac.compare_digest`); the presenter trains anything, deletes,
imports, resumes, reorders the queue and names data files — only inside the configured data folders
(`data_dirs` in the secrets, or HYPERMASK_DATA_DIRS, folders separated by the path separator) when
any are configured.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from core.config import RunConfig

#: The most training steps (tasks × iterations, over the runs of one Start) a visitor may start.
VISITOR_MAX_STEPS = 5 * 800
#: Server-wide switches the presenter sets (every session reads the same).
_HALL = {"visitors_may_train": False}
_HALL_LOCK = threading.Lock()


def _secret(name: str) -> object | None:
    try:
        return st.secrets.get(name)
    except Exception:  # noqa: BLE001 — no secrets file, or one that does not parse: not configured
        return None


def presenter_password() -> str | None:
    """The presenter password, or None when none is configured (a single user's app)."""
    value = _secret("presenter_password") or os.environ.get("HYPERMASK_PRESENTER_PASSWORD")
    return str(value) if value else None


def is_presenter() -> bool:
    """True for the presenter's sessions, and for every session when no password is configured."""
    return presenter_password() is None or bool(st.session_state.get("_presenter"))


def shown_path(path: str | Path) -> str:
    """How a server folder is named on a page: in full for the presenter, by its last part only for
    a visitor (a visitor does not learn the server's paths)."""
    return str(path) if is_presenter() else Path(path).name


def owner() -> str:
    """This session's name in the run queue (the presenter's sessions share one)."""
    if is_presenter():
        return "presenter"
    # A random name kept in this browser session (a refresh starts a new session, and so a new visitor).
    return st.session_state.setdefault("_visitor_id", f"visitor-{secrets.token_hex(6)}")


def may_steer(run_dirs: Sequence[str]) -> bool:
    """Whether this session may pause, step, stop or re-pace `run_dirs`: the presenter always, a
    visitor only runs it started itself."""
    if is_presenter():
        return True
    from core.engine import launcher

    me = owner()
    return bool(run_dirs) and all(launcher.QUEUE.owner_of(str(d)) == me for d in run_dirs)


def visitors_may_train() -> bool:
    with _HALL_LOCK:
        return _HALL["visitors_may_train"]


def set_visitors_may_train(allowed: bool) -> None:
    with _HALL_LOCK:
        _HALL["visitors_may_train"] = bool(allowed)


def data_dirs() -> list[Path]:
    """The folders the presenter's data files must lie in ([]: any path)."""
    raw = _secret("data_dirs")
    if raw is None:
        raw = [p for p in os.environ.get("HYPERMASK_DATA_DIRS", "").split(os.pathsep) if p.strip()]
    if isinstance(raw, str):
        raw = [raw]
    return [Path(str(p)).expanduser().resolve() for p in raw] if isinstance(raw, (list, tuple)) else []


def start_problem(configs: Sequence[RunConfig]) -> str | None:
    """Why this session may not start `configs` (one line), or None."""
    sources = [c.data.source for c in configs if c.data.source != "bundled"]
    if not is_presenter():
        if not visitors_may_train():
            return "only the presenter can start runs here (the presenter has not allowed visitors to train)"
        if sources:
            return "visitors train on the bundled data only"
        steps = sum(c.data.tasks * c.train.iters_per_task for c in configs)
        if steps > VISITOR_MAX_STEPS:
            return (f"a visitor's run may have at most {VISITOR_MAX_STEPS:,} training steps (tasks × iterations) "
                    f"and this one has {steps:,}")
        return None
    return next((p for p in map(data_path_problem, sources) if p), None)


def data_path_problem(source: str) -> str | None:
    """Why the presenter may not name data path `source` (one line: outside the configured data
    folders, `data_dirs`), or None ("bundled", or no data folders configured)."""
    allowed = data_dirs()
    if source == "bundled" or not allowed:
        return None
    try:
        where = Path(source).expanduser().resolve()
    except (OSError, ValueError, RuntimeError):
        return f"data path {source!r} is not a usable path"
    if not any(where == d or d in where.parents for d in allowed):
        return f"data path {source!r} is not inside the configured data folders"
    return None


def sidebar() -> None:
    """Sign in / out as the presenter, and the presenter's switches (when a password is configured)."""
    password = presenter_password()
    if password is None:
        return
    with st.sidebar:
        if is_presenter():
            st.caption(":material/co_present: Signed in as the **presenter**.")
            st.toggle("Visitors may train small runs", value=visitors_may_train(), key="roles_visitors_train",
                      on_change=lambda: set_visitors_may_train(st.session_state["roles_visitors_train"]))
            if st.button("Sign out", key="roles_sign_out"):
                st.session_state["_presenter"] = False
                st.rerun()
            return
        with st.form("roles_sign_in", border=False):
            typed = st.text_input("Presenter password", type="password", key="roles_password")
            if st.form_submit_button("Sign in as presenter"):
                st.session_state["_presenter"] = hmac.compare_digest(typed.encode(), password.encode())
                if not st.session_state["_presenter"]:
                    st.error("Wrong password.")
                else:
                    st.rerun()
        st.caption("Visitors watch live runs and explore every view"
                   + ("; you may train one small run." if visitors_may_train() else "."))
