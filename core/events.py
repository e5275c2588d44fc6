"""Training events: the one vocabulary in which a run's data travels — from the training loop to its
run folder's `events.jsonl` (one `to_json` line each), and from there, as these same typed events, to
the CLI, the app's live views, a second browser tab and the tests (`core.runs.EventLog`,
`core.runs.read_events`). State rebuilt from them (accuracy matrix so far, curves) is `core.run_state`.

Payloads are plain Python numbers, strings, lists and dicts (never tensors), so events cross threads
and processes safely and serialise to JSON. The order is: RunStarted, then per task TaskStarted,
StepLogged…, Evaluated…, TaskFinished; and last exactly one of RunFinished or RunFailed. Adding a
field to an event means adding it here (with a default, so older run folders still read).
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


#: The JSON type each annotation of the event fields stands for (bool is not an int here).
_JSON_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,),
                                            "bool": (bool,), "list": (list,), "dict": (dict,)}


def _check_field(kind: str, name: str, annotation: str, value: Any) -> None:
    """Raise ValueError unless `value` is of the JSON type `annotation` names ("int", "str | None",
    "list[float]", …): a file a user supplies must not make a reader fail later, far from the cause."""
    options = [a.strip().split("[")[0] for a in annotation.split("|")]
    if value is None and "None" in options:
        return
    ok = any(isinstance(value, _JSON_TYPES.get(o, (object,))) for o in options)
    if not ok or (isinstance(value, bool) and "bool" not in options):
        raise ValueError(f"{kind}.{name} = {str(value)[:40]!r} is not {annotation}")
    if isinstance(value, list) and "[" in annotation:  # list[float] (None allowed: not evaluated), list[dict]
        item = annotation.split("[", 1)[1].split("[")[0].split("]")[0].split(",")[0].strip()
        for v in value:
            if not (v is None or isinstance(v, _JSON_TYPES.get(item, (object,)))) or isinstance(v, bool):
                raise ValueError(f"{kind}.{name} holds {str(v)[:40]!r}, not {item}")


def from_dict(d: dict[str, Any]) -> Event:
    """Plain dict (as from `to_dict`) → event. Unknown keys are ignored (a newer writer); missing keys
    take the field's default.

    Raises:
        ValueError: an unknown kind, a missing field without default, or a field of the wrong JSON type.
    """
    kind = d.get("kind")
    if kind not in _BY_KIND:
        raise ValueError(f"unknown event kind {str(kind)[:40]!r}")
    cls = _BY_KIND[kind]
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in d:
            _check_field(kind, f.name, str(f.type), d[f.name])
            values[f.name] = d[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{kind} lacks {f.name!r}")
    return cls(**values)


def to_json(event: Event) -> str:
    """One JSON line (no newline)."""
    return json.dumps(to_dict(event), separators=(",", ":"))


def from_json(line: str) -> Event:
    """Inverse of `to_json`."""
    return from_dict(json.loads(line))


def is_terminal(event: Event) -> bool:
    """True for RunFinished and RunFailed."""
    return isinstance(event, TERMINAL)
