"""Reading a run folder's `events.jsonl` as typed events (`core.events`), incrementally: the one
channel through which a run's data reaches every reader — the CLI, the app's live views, a second
browser tab, the training process's parent and the tests — while it trains and after."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core import events as ev
from core.safe_io import FileProblem, open_regular

#: Bytes read from the file per call at most: a reader keeps up with any run in a few calls and a
#: damaged (e.g. endless) file is never read into memory at once.
READ_CHUNK = 8 << 20


class EventLog:
    """Typed events of run folder `run_dir`, read from where the last call stopped.

    Only complete lines count: a line being written (no newline yet) is read by a later call. Lines
    that are not a valid event (a torn write, another tool's line, a field of the wrong type) are
    skipped and counted in `skipped`. A file that shrank (replaced) is read again from its start. Not
    thread-safe: one reader per thread (each browser session keeps its own).

    Args:
        run_dir: the run folder (the file need not exist yet).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / "events.jsonl"
        self.offset = 0  # bytes of the file consumed
        self.skipped = 0
        self._drop_partial = False  # inside an over-long line: drop up to its newline

    def read_new(self) -> list[ev.Event]:
        """The events appended since the last call (at most READ_CHUNK bytes of them); [] when the
        file does not exist (yet) or has no new complete line, or is not a regular file (a FIFO or
        a device such as /dev/zero is never read). Never raises for a bad file."""
        try:
            with open_regular(self.path) as f:
                if os.fstat(f.fileno()).st_size < self.offset:
                    self.offset, self._drop_partial = 0, False
                f.seek(self.offset)
                data = f.read(READ_CHUNK)
        except (OSError, FileProblem):
            return []
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) == READ_CHUNK:  # one line longer than a chunk: no event is that long
                self.offset += len(data)
                self._drop_partial = True
                self.skipped += 1
            return []
        self.offset += end + 1
        lines = data[:end].split(b"\n")
        if self._drop_partial:
            lines, self._drop_partial = lines[1:], False
        out = []
        for line in lines:
            event = _parse(line)
            if event is None:
                self.skipped += line.strip() != b""
            else:
                out.append(event)
        return out

    def read_all(self) -> list[ev.Event]:
        """Every event from the current offset to the end of the file (several chunks if needed)."""
        out: list[ev.Event] = []
        while True:
            before = self.offset
            out += self.read_new()
            if self.offset == before:
                return out


def _parse(line: bytes) -> ev.Event | None:
    """One line → event, or None if it is not a valid event."""
    try:
        d = json.loads(line)
        return ev.from_dict(d) if isinstance(d, dict) else None
    except (ValueError, RecursionError, TypeError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def read_events(path: str | Path) -> list[ev.Event]:
    """All events of run folder `path` (typed, in order); [] without events.jsonl. Invalid lines —
    e.g. a torn last line of an interrupted write — are skipped."""
    return EventLog(path).read_all()
