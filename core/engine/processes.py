"""Where training processes come from: one multiprocessing forkserver per server (standard library)
that imports PyTorch and the training loop once (`core.engine.worker.PRELOAD`); every run's process is
forked from it, ready to train. On a platform without forkserver, processes are spawned (slower).

The forkserver is started by `warm_up()` (e.g. while a user fills in the Train form) or by the first
run; it holds about 0.4 GB and ends with this process. Once it has started a process (`ready()`), a
run's process is started on the caller's thread (a fork: quick), not on a background thread that would
wait its turn for the interpreter lock behind the page being drawn.

As with any multiprocessing start method but fork, a main script given by path is run again (as
`__mp_main__`) in every training process: a script that starts runs must do so under
`if __name__ == "__main__":`, or each training process would start runs itself (and never train).
"""

from __future__ import annotations

import ast
import functools
import multiprocessing
import sys
import threading
from pathlib import Path
from multiprocessing.context import BaseContext

from core.engine.worker import PRELOAD


def _main_script_imports() -> list[str]:
    """The modules the main script imports at its top level (e.g. `streamlit.web.cli` for
    `streamlit run`): multiprocessing re-runs a main script given by path in every child it starts
    (`multiprocessing.spawn.prepare`); with those preloaded the re-run costs nothing (else 1.5 s for
    Streamlit's). A main run as `python -m x` is not re-run: []."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or getattr(main, "__spec__", None) is not None or not path:
        return []
    try:
        tree = ast.parse(Path(path).read_bytes()[:1 << 20])
    except (OSError, SyntaxError, ValueError):
        return []
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return sorted(names)


@functools.cache
def context() -> BaseContext:
    """The multiprocessing context training processes are started from (forkserver where the platform
    has it, with `PRELOAD` and the main script's imports preloaded; else spawn)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([*PRELOAD, *_main_script_imports()])
    return ctx


_READY = threading.Event()  # a process has been started from the forkserver: it has done its imports


def ready() -> bool:
    """True once a training process can start at once: a first process has started (from the
    forkserver: its imports are done)."""
    return _READY.is_set()


def mark_ready() -> None:
    """Note that a process started from the forkserver (`ready()` is True from now on)."""
    _READY.set()


def _nothing() -> None:
    """The target of the probe process `warm_up` starts (it only has to start)."""


def _probe() -> None:
    try:
        proc = context().Process(target=_nothing, name="hypermask-warm-up", daemon=True)
        proc.start()  # returns once the forkserver, its imports done, has forked it
        proc.join(60)
        mark_ready()
    except (OSError, ValueError, RuntimeError):
        pass  # the first run tries again and reports what failed


def warm_up() -> None:
    """Start the forkserver; it imports in the background, so this returns at once, and a probe
    process started from it once it is ready sets `ready()`. Never raises."""
    if context().get_start_method() != "forkserver" or multiprocessing.parent_process() is not None:
        return  # a training process never starts a forkserver of its own
    _start_probe_once()


@functools.cache
def _start_probe_once() -> None:
    threading.Thread(target=_probe, name="hypermask-forkserver-warm-up", daemon=True).start()
