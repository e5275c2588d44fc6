"""Where the app finds run folders: saved runs (`runs/`) and shipped pretrained runs (`pretrained/`).

Environment variables are read here, in the app only (core never reads them):
  HYPERMASK_RUNS_DIR        folder for new and saved runs (default: <repo>/runs)
  HYPERMASK_PRETRAINED_DIR  folder with the shipped runs and manifest.json (default: <repo>/pretrained);
                            its sweeps/ sub-folder holds the shipped sweeps
  HYPERMASK_SWEEPS_DIR      folder of the user's sweeps (default: <repo>/sweeps, where `python -m core
                            sweep` puts a sweep whose spec names no folder, when run from the repo root)
  HYPERMASK_TRAIN_THREADS   torch threads of a training process started by the app (default: half the cores)
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from core.config import check_threads
from core.safe_io import read_json

REPO_ROOT = Path(__file__).resolve().parents[1]


def runs_dir() -> Path:
    """Folder of saved runs; new runs are created inside it."""
    return Path(os.environ.get("HYPERMASK_RUNS_DIR") or REPO_ROOT / "runs").expanduser()


def runs_dir_problem() -> str | None:
    """Why new runs cannot be saved in `runs_dir()` (e.g. it is a file), or None when it is usable
    (an existing folder, or a path whose nearest existing ancestor is a folder)."""
    d = runs_dir()
    try:
        if d.exists() and not d.is_dir():
            return (f"The runs folder `{d}` is a file, not a folder, so new runs cannot be saved there; "
                    "point HYPERMASK_RUNS_DIR at a folder.")
        for parent in d.parents:
            if parent.exists():
                if not parent.is_dir():
                    return (f"The runs folder `{d}` cannot be created: `{parent}` is a file; "
                            "point HYPERMASK_RUNS_DIR at a folder.")
                break
    except OSError as e:
        return f"The runs folder `{d}` cannot be used: {e}"
    return None


def pretrained_dir() -> Path:
    """Folder of shipped pretrained runs."""
    return Path(os.environ.get("HYPERMASK_PRETRAINED_DIR") or REPO_ROOT / "pretrained").expanduser()


def sweeps_dir() -> Path:
    """Folder of the user's sweeps (each a sub-folder with sweep.json)."""
    return Path(os.environ.get("HYPERMASK_SWEEPS_DIR") or REPO_ROOT / "sweeps").expanduser()


def shipped_sweeps_dir() -> Path:
    """Folder of the sweeps shipped with the repo (`pretrained/sweeps`)."""
    return pretrained_dir() / "sweeps"


@dataclass(frozen=True)
class PretrainedEntry:
    """One run listed in `pretrained/manifest.json`."""

    path: Path
    title: str
    description: str = ""


def read_manifest(root: Path | None = None) -> list[PretrainedEntry]:
    """Entries of `manifest.json` whose folder exists; never raises.

    Without a (valid) manifest every sub-folder holding a config.json is listed, titled by its name,
    so a pretrained folder filled by hand still shows up. Read once per state of the folder and its
    manifest (their modification times), not on every page a visitor opens.
    """
    root = root or pretrained_dir()
    return list(_read_manifest(str(root), _mtime_ns(root), _mtime_ns(root / "manifest.json")))


def _mtime_ns(p: Path) -> int | None:
    try:
        return p.stat().st_mtime_ns
    except OSError:
        return None


@functools.lru_cache(maxsize=8)
def _read_manifest(where: str, *stamp: int | None) -> tuple[PretrainedEntry, ...]:
    root = Path(where)
    if not root.is_dir():
        return ()
    entries: list[PretrainedEntry] = []
    try:
        data = read_json(root / "manifest.json", 1 << 20)  # a regular file of at most 1 MiB
        for item in data.get("runs", []):
            rel = str(item.get("path", ""))
            p = (root / rel).resolve()
            if rel and p.parent == root.resolve() and p.is_dir():
                entries.append(PretrainedEntry(p, str(item.get("title") or rel), str(item.get("description", ""))))
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        entries = []
    if entries:
        return tuple(entries)
    return tuple(PretrainedEntry(d.resolve(), d.name) for d in sorted(root.iterdir())
                 if d.is_dir() and (d / "config.json").exists())


def train_threads() -> int:
    """torch threads of an app training process: `HYPERMASK_TRAIN_THREADS` if set, else half the CPU
    cores (at least 1), leaving the rest to the Streamlit server and the browser. On 2 cores that is
    1: two OpenMP threads that must meet at every barrier stall whenever the UI takes either core
    (figures: benchmarks/train_speed.py and the README)."""
    raw = os.environ.get("HYPERMASK_TRAIN_THREADS", "").strip()
    if not raw:
        return max(1, (os.cpu_count() or 2) // 2)
    try:
        n: object = int(raw)
    except ValueError:
        n = raw
    return check_threads(n, "HYPERMASK_TRAIN_THREADS")


def settings_problem() -> str | None:
    """A one-line description of a bad app setting that would make every run fail to start (shown on
    the Train and Compare pages, whose Start buttons it disables), or None."""
    try:
        train_threads()
    except ValueError as e:
        return f"Cannot start runs: {e}. Fix the environment variable and restart the app."
    return None
