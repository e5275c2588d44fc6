"""A run's state rebuilt from its event records, once, for every reader: the training loop's metrics,
the app's live views and charts, a second browser tab.

Records are the plain dicts a run folder's `events.jsonl` holds (`core.runs.read_events`), which are
`dataclasses.asdict` of the typed events in `core/events.py`, with their "kind". Every function is
pure and tolerates a run in progress (rows still missing) and a log holding several runs (only the
last one counts where that matters, see `current_run`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Record = Mapping[str, Any]
Matrix = list[list[float | None]]


def current_run(records: Sequence[Record]) -> list[Record]:
    """The records of the last run: everything from the last "run_started" on (all if none)."""
    records = list(records)
    starts = [i for i, e in enumerate(records) if e.get("kind") == "run_started"]
    return records[starts[-1]:] if starts else records


def run_info(records: Sequence[Record]) -> tuple[int, int]:
    """(number of tasks T, iterations per task) from the RunStarted record, (0, 0) before it arrives."""
    for e in records:
        if e.get("kind") == "run_started":
            return int(e.get("n_tasks", 0)), int(e.get("iters_per_task", 0))
    return 0, 0


def last_step(records: Sequence[Record]) -> int:
    """Latest global step (iterations over all tasks) reached in the records (0 if none)."""
    for e in reversed(records):
        if e.get("kind") in ("step_logged", "evaluated", "task_finished", "task_started"):
            return int(e.get("global_step", 0))
    return 0


def terminal(records: Sequence[Record]) -> Record | None:
    """The RunFinished or RunFailed record, if the run has ended."""
    for e in reversed(records):
        if e.get("kind") in ("run_finished", "run_failed"):
            return e
    return None


def finished_rows(records: Sequence[Record]) -> list[list[float]]:
    """The rows of the accuracy matrix R[i, j] (accuracy on task j after training task i, fractions)
    of the tasks finished so far: a ragged lower triangle, as `core.metrics.summarize` takes it."""
    return [list(e["acc_row"]) for e in records if e.get("kind") == "task_finished"]


def padded_matrix(rows: Sequence[Sequence[float | None]], n_tasks: int) -> Matrix:
    """Rows of R padded with None to n × n, n = max(`n_tasks`, rows): None above the diagonal and in
    the rows of tasks not trained yet (the form metrics.json stores, hypermask.md §8)."""
    n = max(n_tasks, len(rows))
    return [list(r) + [None] * (n - len(r)) for r in rows] + [[None] * n for _ in range(n - len(rows))]


def accuracy_matrix(records: Sequence[Record]) -> Matrix:
    """The accuracy matrix R so far, T × T with None where not (yet) defined."""
    return padded_matrix(finished_rows(records), run_info(records)[0])


def task_switches(records: Sequence[Record]) -> list[tuple[int, int]]:
    """(task, global step) of every "task_started" record, in order."""
    return [(int(e["task"]), int(e["global_step"])) for e in records if e.get("kind") == "task_started"]


def eval_curves(records: Sequence[Record]) -> dict[int, dict[str, list]]:
    """Forgetting curves: for each task j, from the periodic "evaluated" records, the global steps
    ("x"), accuracies ("y", fractions), and the task being trained and its step at each point
    ("train_task", "step")."""
    curves: dict[int, dict[str, list]] = {}
    for e in records:
        if e.get("kind") != "evaluated":
            continue
        for j, acc in enumerate(e.get("accuracies") or []):
            c = curves.setdefault(j, {"x": [], "y": [], "train_task": [], "step": []})
            c["x"].append(int(e["global_step"]))
            c["y"].append(None if acc is None else float(acc))
            c["train_task"].append(int(e.get("task", -1)))
            c["step"].append(int(e.get("step", -1)))
    return dict(sorted(curves.items()))
