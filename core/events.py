"""Training events: small immutable facts the loop sends to a sink (console, list, queue, app).

Payloads are plain Python numbers, strings, lists and dicts (never tensors), so events cross threads
and processes safely and serialise to one JSON line each (`to_json` / `from_json`). The order is:
RunStarted, then per task TaskStarted, StepLogged…, Evaluated…, TaskFinished; and last exactly one
of RunFinished or RunFailed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Union


@dataclass(frozen=True)
class RunStarted:
    """The run began. `config` is `RunConfig.to_dict()`; `info` holds data source, sha256, sizes."""

    config: dict[str, Any]
    run_dir: str | None
    n_tasks: int
    iters_per_task: int
    info: dict[str, Any] = field(default_factory=dict)
    kind: str = "run_started"


@dataclass(frozen=True)
class TaskStarted:
    """Training on task `task` (0-based) begins at global step `global_step`."""

    task: int
    global_step: int
    kind: str = "task_started"


@dataclass(frozen=True)
class StepLogged:
    """Loss terms at one step. `losses` has 'total', 'ce', 'r_hnet', 'r_target' (weighted as added
    to the loss, i.e. β-scaled R_hnet and λ-scaled R_target), plus 'sparsity' (p in effect, %)."""

    task: int
    step: int
    global_step: int
    losses: dict[str, float]
    kind: str = "step_logged"


@dataclass(frozen=True)
class Evaluated:
    """Periodic evaluation: `accuracies[j]` is the accuracy (fraction in [0, 1]) on a fixed test
    subsample of task j, for every seen task j ≤ task, at global step `global_step`."""

    task: int
    step: int
    global_step: int
    accuracies: list[float]
    kind: str = "evaluated"


@dataclass(frozen=True)
class TaskFinished:
    """Task `task` finished. `acc_row` is row `task` of the accuracy matrix R (full test sets, seen
    tasks only). `mask_stats` lists per-layer dicts {layer, sparsity, mean} for this task's mask
    (empty for fine-tuning). `seconds` is the wall time spent on the task."""

    task: int
    global_step: int
    acc_row: list[float]
    mask_stats: list[dict[str, Any]]
    seconds: float
    kind: str = "task_finished"


@dataclass(frozen=True)
class RunFinished:
    """Terminal event: the run ended normally or by a stop request. `result` is the metrics dict
    written to `metrics.json` (acc_matrix, avg_acc, bwt, forgetting, …)."""

    result: dict[str, Any]
    stopped: bool
    kind: str = "run_finished"


@dataclass(frozen=True)
class RunFailed:
    """Terminal event: the run raised. `message` is one line; `traceback` the full text."""

    message: str
    traceback: str
    kind: str = "run_failed"


Event = Union[RunStarted, TaskStarted, StepLogged, Evaluated, TaskFinished, RunFinished, RunFailed]
Emit = Callable[[Event], None]
TERMINAL = (RunFinished, RunFailed)
_BY_KIND = {c.kind: c for c in (RunStarted, TaskStarted, StepLogged, Evaluated, TaskFinished,  # type: ignore[attr-defined]
                                RunFinished, RunFailed)}


def to_dict(event: Event) -> dict[str, Any]:
    """Event → plain dict with a 'kind' key."""
    return dataclasses.asdict(event)


def from_dict(d: dict[str, Any]) -> Event:
    """Plain dict (as from `to_dict`) → event; raises `ValueError` on an unknown kind."""
    kind = d.get("kind")
    if kind not in _BY_KIND:
        raise ValueError(f"unknown event kind {kind!r}")
    cls = _BY_KIND[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def to_json(event: Event) -> str:
    """One JSON line (no newline)."""
    return json.dumps(to_dict(event), separators=(",", ":"))


def from_json(line: str) -> Event:
    """Inverse of `to_json`."""
    return from_dict(json.loads(line))


def is_terminal(event: Event) -> bool:
    """True for RunFinished and RunFailed."""
    return isinstance(event, TERMINAL)
