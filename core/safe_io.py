"""Reading files that a user names or hands in (run folders, bundles, data files), with limits.

Only regular files are read: never a FIFO (opening one would wait for a writer), a device such as
`/dev/zero` (endless), a socket or a folder. Sizes are checked before reading and capped while
reading; JSON is parsed with one-line reasons (invalid UTF-8, invalid JSON, absurd nesting, which
makes Python's json raise RecursionError). `FileProblem` messages say what is wrong, not where:
callers put the file's name in front and raise their own error type (`core.runs.RunError`,
`core.data.sources.DataError`). Standard library only.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import IO, Any


class FileProblem(ValueError):
    """A file that cannot be read safely; the message is the problem, e.g. "is a FIFO (named pipe),
    not a regular file", for the caller to prefix with the file's name."""


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def size_text(n: int) -> str:
    """Bytes for a message: '812 bytes', '3.1 MiB', '2.0 GiB'."""
    if n < 1024:
        return f"{n} bytes"
    for unit, scale in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
        if n < 1024 * scale or unit == "TiB":
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"  # pragma: no cover


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _reason(e: BaseException) -> str:
    return (getattr(e, "strerror", None) or str(e) or type(e).__name__).splitlines()[0].lower()


def check_regular(path: str | Path, max_bytes: int | None = None) -> int:
    """The size of regular file `path` (links followed; `os.stat` never blocks, not even on a FIFO).

    Raises:
        FileNotFoundError: it does not exist.
        FileProblem: it is not a regular file, is larger than `max_bytes`, or cannot be examined.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:  # ValueError: an embedded NUL in the path
        raise FileProblem(f"cannot be read ({_reason(e)})") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileProblem(f"is {_kind(st.st_mode)}, not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise FileProblem(f"is {size_text(st.st_size)}, more than the {size_text(max_bytes)} allowed")
    return st.st_size


def open_regular(path: str | Path) -> IO[bytes]:
    """Open regular file `path` for reading in binary mode. Opened without blocking (a FIFO that
    appeared after a check would otherwise wait for a writer forever), then checked on the open file.

    Raises:
        FileNotFoundError: it does not exist.
        FileProblem: it is not a regular file or cannot be opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise FileProblem(f"cannot be read ({_reason(e)})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileProblem(f"is {_kind(mode)}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of regular file `path`, which must not exceed `max_bytes` (checked before reading,
    and again while reading: a file that grows is not followed).

    Raises:
        FileNotFoundError: it does not exist.
        FileProblem: not a regular file, too large, or a read error.
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise FileProblem(f"is {size_text(size)}, more than the {size_text(max_bytes)} allowed")
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise FileProblem(f"cannot be read ({_reason(e)})") from None
    if len(data) > max_bytes:
        raise FileProblem(f"is more than the {size_text(max_bytes)} allowed")
    return data


def parse_json(data: bytes) -> Any:
    """`data` (UTF-8 JSON) as Python objects.

    Raises:
        FileProblem: not UTF-8, not valid JSON, or nested too deeply for Python's parser.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileProblem(f"is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise FileProblem("is nested too deeply to read (arrays or objects inside each other hundreds "
                          "of levels deep)") from None
    except json.JSONDecodeError as e:
        raise FileProblem(f"is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise FileProblem(f"is not valid JSON ({_reason(e)[:80]})") from None


def read_json(path: str | Path, max_bytes: int) -> Any:
    """`parse_json(read_capped(path, max_bytes))`: raises FileNotFoundError or FileProblem."""
    return parse_json(read_capped(path, max_bytes))
