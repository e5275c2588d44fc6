"""Listing run folders (cheap summaries from the JSON files only) and deleting one."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from core.runs.layout import RunError
from core import events as ev
from core.runs.event_log import read_events
from core.runs.liveness import clear_stale, run_status
from core.runs.reader import read_config, read_metrics


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs list; `error` is set (and the rest may be empty) for unreadable folders."""

    path: Path
    name: str
    benchmark: str = ""
    method: str = ""
    status: str = ""
    tasks_done: int = 0
    n_tasks: int = 0
    avg_acc: float | None = None
    bwt: float | None = None
    created: str = ""
    error: str | None = None


def early_failure(path: str | Path) -> str | None:
    """The message of a run that failed before it saved anything (no config.json; its events.jsonl
    ends with a run_failed event, e.g. out of memory while building the networks), else None."""
    p = Path(path)
    if (p / "config.json").exists() or not (p / "events.jsonl").is_file():
        return None
    failed = [e for e in read_events(p) if isinstance(e, ev.RunFailed)]
    return (failed[-1].message or "no message") if failed else None


def summarize_run(path: str | Path) -> RunSummary:
    """Read config.json and metrics.json only (cheap); never raises for a bad folder. A run that
    failed before saving anything is reported as such (`early_failure`), with its error. A run whose
    metrics.json says "running" while no process trains it (its lock is free: killed, crashed) is
    "interrupted", and recorded so in its folder (`core.runs.liveness.clear_stale`)."""
    p = Path(path)
    early = early_failure(p)
    if early is not None:
        return RunSummary(p, p.name, error=f"the run failed before its first task: {early}"[:300])
    try:
        cfg = read_config(p)
        m = read_metrics(p)
        status = run_status(p, str(m.get("status", "?")))
        if status == "interrupted" and m.get("status") == "running":
            clear_stale(p)
        return RunSummary(p, p.name, cfg.data.benchmark, cfg.train.method, status,
                          int(m.get("tasks_done", 0)), int((m.get("data") or {}).get("n_tasks", 0)),
                          m.get("avg_acc"), m.get("bwt"), str(m.get("created", "")))
    except RunError as e:
        return RunSummary(p, p.name, error=str(e))
    except Exception as e:  # noqa: BLE001 - a foreign folder must never break the list
        return RunSummary(p, p.name, error=f"{type(e).__name__}: {e}"[:200])


def list_runs(root: str | Path) -> list[RunSummary]:
    """Summaries of every sub-folder of `root` (newest first); unreadable ones carry `error`."""
    r = Path(root)
    if not r.is_dir():
        return []
    dirs = [d for d in r.iterdir() if d.is_dir() and not d.name.startswith(".")]
    return [summarize_run(d) for d in sorted(dirs, key=lambda d: d.name, reverse=True)]


def delete_run(path: str | Path, root: str | Path) -> None:
    """Delete run folder `path`, which must sit directly inside `root` (guards against deleting
    anything else). Raises RunError otherwise."""
    p, r = Path(path).resolve(), Path(root).resolve()
    if p.parent != r or not p.is_dir():
        raise RunError(f"{p} is not a run folder inside {r}; nothing deleted")
    shutil.rmtree(p)
