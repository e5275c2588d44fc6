"""Whether a run folder is being trained right now, from an OS lock that dies with its process.

A training process holds an exclusive `fcntl.flock` on the folder's `.run.lock` for as long as it
writes the folder (`acquire` / `release`, called by `core.runs.RunFiles`) and writes its pid, host and
start time into that file. The kernel drops the lock when the process ends, however it ends (kill -9
and a power cut included), so a folder whose metrics.json still says "running" while nobody holds its
lock was interrupted: `run_status` says so, and `clear_stale` records it in metrics.json (status
"interrupted") and empties the dead process's record in the lock file. A probe holds a shared lock
for a moment; a writer that meets it waits. Where flock does not exist (not POSIX) or the file
system refuses it, nothing is locked and a "running" status is believed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from core.runs.layout import LOCK_FILE, RunError, read_json_file, write_json_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: What metrics.json's "error" says of a run whose process died without a result.
INTERRUPTED = "the training process ended without a result (killed, crashed or the machine stopped)"

_HELD: dict[str, list[int]] = {}  # resolved folder → [fd, depth]: re-entrant within a process
_HELD_LOCK = threading.Lock()


def _key(folder: str | Path) -> str:
    return str(Path(folder).resolve())


def acquire(folder: str | Path, wait_s: float = 5.0) -> None:
    """Take the writer's lock on run folder `folder` (creating `.run.lock` if needed) and record this
    process in it. Re-entrant: a second `acquire` in the same process only counts.

    Raises:
        RunError: another process holds the lock for longer than `wait_s` seconds (it trains into
            the folder), or the lock file cannot be opened.
    """
    key = _key(folder)
    with _HELD_LOCK:
        if key in _HELD:
            _HELD[key][1] += 1
            return
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as e:
        raise RunError(f"cannot open {path}: {e.strerror}") from None
    deadline = time.monotonic() + wait_s
    while fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise RunError(f"{Path(folder).name}: another process is training into this folder "
                               f"(it holds {LOCK_FILE}: {_record(path) or 'no record'})") from None
            time.sleep(0.05)
        except OSError:
            break  # a file system without flock: train unlocked
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode(), 0)
    with _HELD_LOCK:
        _HELD[key] = [fd, 1]


def release(folder: str | Path) -> None:
    """Undo one `acquire` of this process; the last one empties the record and drops the lock."""
    key = _key(folder)
    with _HELD_LOCK:
        entry = _HELD.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _HELD[key]
    fd = entry[0]
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)  # closing the last descriptor releases the flock


def _record(path: Path) -> str:
    """The holder's record in a lock file ('pid 123 on host since …'), '' if none or unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read(200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


@contextlib.contextmanager
def _probe(folder: str | Path) -> Iterator[bool | None]:
    """Yields whether another holder has the folder's lock (True), nobody has (False: a shared lock
    is held here until the block ends, so no writer starts meanwhile), or it cannot be told (None)."""
    path = Path(folder) / LOCK_FILE
    if fcntl is None:
        yield None
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        yield False
        return
    except OSError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held: bool | None = True
        except OSError:
            held = None
        else:
            held = False
        yield held
    finally:
        os.close(fd)


def lock_held(folder: str | Path) -> bool | None:
    """True while a process (this one included) trains into `folder`; False when nobody holds its
    lock; None where that cannot be told (no flock)."""
    with _probe(folder) as held:
        return held


def run_status(folder: str | Path, status: str) -> str:
    """The status to show for a run whose metrics.json says `status`: "interrupted" instead of
    "running" when no process holds the run's lock (its process died), else `status`."""
    if status == "running" and lock_held(folder) is False:
        return "interrupted"
    return status


def clear_stale(folder: str | Path) -> bool:
    """If `folder`'s metrics.json says "running" but no process holds its lock, record the run as
    "interrupted" in metrics.json and empty the dead process's record in the lock file; True if it
    did. Best effort: never raises (a read-only folder stays as it is and is still shown as
    interrupted by `run_status`)."""
    try:
        with _probe(folder) as held:
            if held is not False:
                return False
            metrics_path = Path(folder) / "metrics.json"
            metrics = read_json_file(metrics_path)
            if not isinstance(metrics, dict) or metrics.get("status") != "running":
                return False
            metrics.update(status="interrupted", error=metrics.get("error") or INTERRUPTED)
            write_json_atomic(metrics_path, metrics)
            with contextlib.suppress(OSError), open(Path(folder) / LOCK_FILE, "r+b") as f:
                f.truncate(0)
            return True
    except (OSError, ValueError):  # RunError is a ValueError
        return False
