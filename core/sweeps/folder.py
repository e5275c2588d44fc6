"""The sweep folder: sweep.json (the spec and every trial's configuration), one ordinary run folder per
trial, the summary files, and the locks that keep two sweeps (or a killed sweep's last trial
processes) from writing one trial at once.

    <sweep>/sweep.json        {"format_version", "sweep": SweepSpec.to_dict(), "trials": [{"name",
                              "setting": [[field, value], …], "seed", "config": RunConfig.to_dict()}]}
    <sweep>/<trial name>/     a run folder (core/runs), e.g. "sparsity=30,beta=0.001,seed=1"
    <sweep>/summary.csv, summary.md, trials.csv   written by core.sweeps.summary
    <sweep>/.sweep.lock, .locks/<trial>.lock      advisory locks (fcntl.flock; freed by the kernel
                              when their process dies, so a killed sweep never leaves a stale lock)
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.config import FORMAT_VERSION, RunConfig
from core.runs import LOCK_FILE, RUN_FILES, RunError, early_failure, read_metrics
from core.runs.layout import write_json_atomic
from core.safe_io import FileProblem, read_json
from core.sweeps.fields import SpecError
from core.sweeps.spec import SweepSpec

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS: no locks (one sweep at a time is the user's care)
    fcntl = None  # type: ignore[assignment]

SWEEP_FILE = "sweep.json"
SUMMARY_FILES = ("summary.csv", "summary.md", "trials.csv")
SWEEP_LOCK = ".sweep.lock"
LOCKS_DIR = ".locks"
#: sweep.json larger than this is refused unread (5,000 trials' configurations fit in about 5 MB).
MAX_SWEEP_BYTES = 32 << 20
#: Files a trial folder may hold besides RUN_FILES; anything else stops it from being cleared.
_TRIAL_EXTRAS = (LOCK_FILE, "tickets.json")


class SweepError(ValueError):
    """A sweep folder that cannot be used or read; the message says why, in one line."""


@dataclass(frozen=True)
class TrialInfo:
    """One trial as sweep.json lists it: folder name, setting (field → value), seed, configuration."""

    name: str
    setting: dict[str, Any]
    seed: int
    config: dict[str, Any]


@dataclass(frozen=True)
class SweepInfo:
    """A sweep folder's sweep.json, checked: its name, preset, axes (field, values) and trials."""

    path: Path
    name: str
    preset: str
    axes: list[tuple[str, list[Any]]]
    trials: list[TrialInfo]

    @property
    def setting_axes(self) -> list[str]:
        return [path for path, _ in self.axes if path != "train.seed"]


def _trial_record(t: Any) -> dict[str, Any]:
    return {"name": t.name, "setting": [[p, list(v) if isinstance(v, tuple) else v] for p, v in t.setting],
            "seed": t.seed, "config": t.config.to_dict()}


def read_sweep(path: str | Path) -> SweepInfo:
    """sweep.json of sweep folder `path`, checked (a regular file of at most MAX_SWEEP_BYTES, JSON only).

    Raises:
        SweepError: not a sweep folder, or a damaged sweep.json (one line naming the problem).
    """
    p = Path(path)
    file = p / SWEEP_FILE
    try:
        d = read_json(file, MAX_SWEEP_BYTES)
    except FileNotFoundError:
        raise SweepError(f"{p} is not a sweep folder (no {SWEEP_FILE})") from None
    except FileProblem as e:
        raise SweepError(f"{file} {e}") from None
    try:
        if not isinstance(d, dict) or not isinstance(d.get("format_version"), int):
            raise ValueError("no format_version")
        if d["format_version"] > FORMAT_VERSION:
            raise SweepError(f"{file} was written in format {d['format_version']}; upgrade HyperMask Explorer")
        sweep = d["sweep"]
        trials = [TrialInfo(str(t["name"]), {str(k): v for k, v in t["setting"]}, int(t["seed"]), dict(t["config"]))
                  for t in d["trials"]]
        if any(t.name in ("", ".", "..") or "/" in t.name or "\\" in t.name for t in trials):
            raise ValueError("a trial name is not a folder name")
        axes = [(str(a), list(v)) for a, v in sweep["axes"]]
        return SweepInfo(p, str(sweep["name"]), str(sweep.get("preset", "")), axes, trials)
    except SweepError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SweepError(f"{file} is not a valid sweep file ({type(e).__name__}: {str(e)[:80]})") from None


def list_sweeps(root: str | Path) -> list[Path]:
    """Sub-folders of `root` holding a sweep.json, most recently changed first; [] if `root` is not a folder."""
    r = Path(root)
    if not r.is_dir():
        return []
    found = [d for d in r.iterdir() if d.is_dir() and (d / SWEEP_FILE).is_file()]
    return sorted(found, key=lambda d: (d / SWEEP_FILE).stat().st_mtime, reverse=True)


def trial_state(run_dir: str | Path) -> tuple[str, str | None]:
    """(state, error) of a trial's folder: "pending" (no folder, or empty), "finished" (every task
    saved), "failed" (with its error), or "interrupted" (anything else: killed, stopped, damaged)."""
    p = Path(run_dir)
    if not p.is_dir() or not any(p.iterdir()):
        return "pending", None
    early = early_failure(p)
    if early is not None:
        return "failed", early
    try:
        m = read_metrics(p)
    except RunError:
        return "interrupted", None
    status = m.get("status")
    if status == "finished" and m.get("tasks_done") == len(m["acc_matrix"]):
        return "finished", None
    if status == "failed":
        return "failed", str(m.get("error") or "no message")
    return "interrupted", None


def clear_trial(run_dir: str | Path, keep_lock: bool = False) -> None:
    """Remove a trial's run files (RUN_FILES, tickets.json, leftover *.tmp, and its lock file unless
    `keep_lock`: the caller holds it) and nothing else, so the trial can start again in its folder.

    Raises:
        SweepError: the folder holds other files (they are kept: nothing is deleted).
    """
    p = Path(run_dir)
    known = set(RUN_FILES) | set(_TRIAL_EXTRAS)
    files = list(p.iterdir())
    other = [f.name for f in files if not (f.is_file() and (f.name in known or
                                                           f.name.removesuffix(".tmp") in known))]
    if other:
        raise SweepError(f"trial folder {p} holds files that are not a run's ({', '.join(sorted(other)[:3])}); "
                         "nothing was deleted")
    for f in files:
        if not (keep_lock and f.name == LOCK_FILE):
            f.unlink()


@contextlib.contextmanager
def _flock(path: Path, wait_s: float, busy: str) -> Iterator[IO[str]]:
    """Hold an exclusive advisory lock on file `path` (created if needed), waiting up to `wait_s`."""
    with open(path, "a+", encoding="utf-8") as f:
        if fcntl is not None:
            end = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= end:
                        raise SweepError(busy) from None
                    time.sleep(0.2)
        yield f


@contextlib.contextmanager
def trial_lock(sweep_dir: str | Path, name: str, wait_s: float = 120.0) -> Iterator[None]:
    """Hold trial `name`'s lock while it trains. A trial process of a killed sweep stops within one
    step (it watches its parent) and frees the lock; a restarted sweep waits up to `wait_s` for it.

    Raises:
        SweepError: still locked after `wait_s`.
    """
    locks = Path(sweep_dir) / LOCKS_DIR
    locks.mkdir(exist_ok=True)
    with _flock(locks / f"{name}.lock", wait_s, f"trial {name} is still being written by another process"):
        yield


@contextlib.contextmanager
def open_sweep(spec: SweepSpec) -> Iterator[Path]:
    """Create or reopen `spec.out` for this spec and hold its lock while the block runs: a new or
    empty folder, or one whose sweep.json gives every trial the spec shares with it the same
    configuration (re-running resumes; more seeds or values may be added). sweep.json is rewritten
    with the spec's trials.

    Raises:
        SweepError: `out` is a file, a folder holding something else, another sweep (a trial's
            configuration differs), or a sweep another process is running now.
    """
    out = Path(spec.out).expanduser()
    if out.exists() and not out.is_dir():
        raise SweepError(f"sweep folder {out} is a file; give a folder")
    if out.is_dir() and not (out / SWEEP_FILE).exists() and any(out.iterdir()):
        raise SweepError(f"sweep folder {out} is not empty and holds no sweep; give a new or empty folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SweepError(f"cannot create sweep folder {out}: {e.strerror}") from None
    with _flock(out / SWEEP_LOCK, 0.0, f"sweep folder {out} is being run by another process now"):
        if (out / SWEEP_FILE).exists():
            _check_same_trials(read_sweep(out), spec)
        write_json_atomic(out / SWEEP_FILE, {"format_version": FORMAT_VERSION, "sweep": spec.to_dict(),
                                             "trials": [_trial_record(t) for t in spec.trials]})
        yield out


def _check_same_trials(old: SweepInfo, spec: SweepSpec) -> None:
    stored = {t.name: t.config for t in old.trials}
    for t in spec.trials:
        if t.name in stored:
            try:
                same = RunConfig.from_dict(stored[t.name]) == t.config
            except (TypeError, ValueError):
                same = False
            if not same:
                raise SweepError(f"sweep folder {old.path} holds another sweep (trial {t.name} has another "
                                 "configuration); give another out folder, or delete that one")
