"""A run's state rebuilt from its typed events (`core/events.py`), once, for every reader: the training
loop's metrics, the app's live views and charts, the CLI, a second browser tab.

Events come from a run folder's `events.jsonl` (`core.runs.EventLog`, `core.runs.read_events`) or
straight from the loop. Every function is pure and tolerates a run in progress (rows still missing)
and a log holding several runs (only the last one counts where that matters, see `current_run`).
"""

from __future__ import annotations

from collections.abc import Sequence

from core import events as ev

Matrix = list[list[float | None]]


def current_run(events: Sequence[ev.Event]) -> list[ev.Event]:
    """The events of the last run: everything from the last RunStarted on (all if none)."""
    events = list(events)
    starts = [i for i, e in enumerate(events) if isinstance(e, ev.RunStarted)]
    return events[starts[-1]:] if starts else events


def run_info(events: Sequence[ev.Event]) -> tuple[int, int]:
    """(number of tasks T, iterations per task) from the RunStarted event, (0, 0) before it arrives."""
    start = next((e for e in events if isinstance(e, ev.RunStarted)), None)
    return (start.n_tasks, start.iters_per_task) if start is not None else (0, 0)


def run_dir(events: Sequence[ev.Event]) -> str | None:
    """The run folder named by the RunStarted event (None before it, or for a run not saved)."""
    return next((e.run_dir for e in events if isinstance(e, ev.RunStarted)), None)


_STEPPED = (ev.StepLogged, ev.Evaluated, ev.TaskFinished, ev.TaskStarted)


def last_step(events: Sequence[ev.Event]) -> int:
    """Latest global step (iterations over all tasks) reached in the events (0 if none)."""
    return next((e.global_step for e in reversed(events) if isinstance(e, _STEPPED)), 0)


def terminal(events: Sequence[ev.Event]) -> ev.RunFinished | ev.RunFailed | None:
    """The RunFinished or RunFailed event, if the run has ended."""
    return next((e for e in reversed(events) if isinstance(e, ev.TERMINAL)), None)


def failure(events: Sequence[ev.Event]) -> str | None:
    """The one-line message of a failed run, None for a run that has not failed."""
    end = terminal(events)
    return end.message if isinstance(end, ev.RunFailed) else None


def final_metrics(events: Sequence[ev.Event]) -> dict | None:
    """The metrics of a run that finished (RunFinished.result), None before."""
    end = terminal(events)
    return end.result if isinstance(end, ev.RunFinished) else None


def scenarios(events: Sequence[ev.Event]) -> dict | None:
    """The two evaluation scenarios of a finished run side by side (hypermask.md §6), None before it ends.

    Returns:
        {"given": per task j, R[T-1, j] (task-incremental: the task id is given);
         "given_acc": their mean (ACC);
         "inferred": per task j, the class-incremental accuracy with the task id inferred by entropy,
         or None where undefined; "cil_accuracy", "task_accuracy": pooled fractions or None;
         "confusion": T×T task-id counts (row: true task, column: inferred) or None;
         "reason": why the task id cannot be inferred (fine-tuning) or why the run has no
         task-inference result (saved before it was recorded), else None;
         "cil_reason": why the class-incremental accuracy is undefined, else None}.
        Fractions in [0, 1].
    """
    final = final_metrics(events)
    if final is None:
        return None
    rows = [r for r in (final.get("acc_matrix") or []) if r and all(isinstance(v, (int, float)) for v in r)]
    given = [float(v) for v in rows[-1]] if rows else []
    out: dict = {"given": given, "given_acc": sum(given) / len(given) if given else None, "inferred": None,
                 "cil_accuracy": None, "task_accuracy": None, "confusion": None, "reason": None, "cil_reason": None}
    ti = final.get("task_inference")
    if not isinstance(ti, dict):
        out["reason"] = ("this run was saved before task inference was recorded at the end of training; "
                         "its Tickets page computes it")
        return out
    for key in ("cil_accuracy", "task_accuracy", "confusion", "reason", "cil_reason"):
        out[key] = ti.get(key)
    out["inferred"] = ti.get("cil_per_task")
    return out


def finished_rows(events: Sequence[ev.Event]) -> list[list[float]]:
    """The rows of the accuracy matrix R[i, j] (accuracy on task j after training task i, fractions)
    of the tasks finished so far: a ragged lower triangle, as `core.metrics.summarize` takes it."""
    return [list(e.acc_row) for e in events if isinstance(e, ev.TaskFinished)]


def padded_matrix(rows: Sequence[Sequence[float | None]], n_tasks: int) -> Matrix:
    """Rows of R padded with None to n × n, n = max(`n_tasks`, rows): None above the diagonal and in
    the rows of tasks not trained yet (the form metrics.json stores, hypermask.md §8)."""
    n = max(n_tasks, len(rows))
    return [list(r) + [None] * (n - len(r)) for r in rows] + [[None] * n for _ in range(n - len(rows))]


def accuracy_matrix(events: Sequence[ev.Event]) -> Matrix:
    """The accuracy matrix R so far, T × T with None where not (yet) defined."""
    return padded_matrix(finished_rows(events), run_info(events)[0])


def task_switches(events: Sequence[ev.Event]) -> list[tuple[int, int]]:
    """(task, global step) of every TaskStarted event, in order."""
    return [(e.task, e.global_step) for e in events if isinstance(e, ev.TaskStarted)]


def loss_steps(events: Sequence[ev.Event]) -> list[ev.StepLogged]:
    """The StepLogged events (loss terms per logged step), in order."""
    return [e for e in events if isinstance(e, ev.StepLogged)]


def eval_curves(events: Sequence[ev.Event]) -> dict[int, dict[str, list]]:
    """Forgetting curves: for each task j, from the periodic Evaluated events, the global steps
    ("x"), accuracies ("y", fractions; None where not evaluated), and the task being trained and its
    step at each point ("train_task", "step")."""
    curves: dict[int, dict[str, list]] = {}
    for e in events:
        if not isinstance(e, ev.Evaluated):
            continue
        for j, acc in enumerate(e.accuracies):
            c = curves.setdefault(j, {"x": [], "y": [], "train_task": [], "step": []})
            c["x"].append(e.global_step)
            c["y"].append(None if acc is None else float(acc))
            c["train_task"].append(e.task)
            c["step"].append(e.step)
    return dict(sorted(curves.items()))


def counts(events: Sequence[ev.Event], kinds: Sequence[type]) -> tuple[int, ...]:
    """How many events of each type in `kinds` (what a chart drawn from them depends on)."""
    return tuple(sum(isinstance(e, k) for e in events) for k in kinds)
