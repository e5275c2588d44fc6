"""Reading a run folder: config, metrics (validated), events, tensor files, and `load_run`, which
rebuilds the method with its weights on the CPU (JSON and safetensors only: nothing is executed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import events as ev
from core.config import FORMAT_VERSION, RunConfig
from core.runs.event_log import read_events
from core.runs.layout import RunError, read_json_file
from core.safe_io import FileProblem, check_regular

if TYPE_CHECKING:
    from torch import Tensor


#: The most a run's safetensors file may hold (the paper's Permuted MNIST weights are 0.8 GiB).
MAX_TENSOR_BYTES = 8 * 1024**3


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise RunError(f"{path.name} does not hold a JSON object")
    version = data.get("format_version")
    if not isinstance(version, int):
        raise RunError(f"{path.name} has no format_version; not a HyperMask Explorer run")
    if version > FORMAT_VERSION:
        raise RunError(f"{path.name} was written in run format {version}; this version reads up to "
                       f"{FORMAT_VERSION} — upgrade HyperMask Explorer to open it")
    return data


def read_config(path: str | Path) -> RunConfig:
    """The RunConfig stored in run folder `path` (raises RunError)."""
    data = _read_json(Path(path) / "config.json")
    if "config" not in data:
        raise RunError("config.json has no \"config\" object")
    try:
        return RunConfig.from_dict(data["config"])
    except (TypeError, ValueError, OverflowError) as e:
        raise RunError(f"config.json: {str(e)[:300]}") from None


def _is_fraction(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and -1e-9 <= v <= 1 + 1e-9


def _validate_metrics(m: dict[str, Any]) -> None:
    """Raise RunError unless the numbers the app shows are well formed (accuracies are fractions)."""
    r = m.get("acc_matrix")
    if not isinstance(r, list) or not all(isinstance(row, list) and len(row) == len(r) for row in r):
        raise RunError("metrics.json: acc_matrix is not a square list of rows")
    done = m.get("tasks_done", 0)
    if not isinstance(done, int) or isinstance(done, bool) or not 0 <= done <= len(r):
        raise RunError(f"metrics.json: tasks_done={str(done)[:40]!r} does not fit a {len(r)}-task accuracy matrix")
    for i, row in enumerate(r):
        for j, v in enumerate(row):
            if v is not None and not _is_fraction(v):
                raise RunError(f"metrics.json: acc_matrix[{i}][{j}]={str(v)[:40]!r} is not an accuracy in [0, 1]")
    for key in ("avg_acc", "bwt", "forgetting", "fwt"):
        v = m.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not -1 <= v <= 1):
            raise RunError(f"metrics.json: {key}={str(v)[:40]!r} is not a number in [-1, 1]")
    for key, kind, name in (("status", str, "a string"), ("created", str, "a string"), ("device", str, "a string"),
                            ("error", str, "a string"), ("data", dict, "an object"), ("mask_stats", list, "a list"),
                            ("task_seconds", list, "a list"), ("task_inference", dict, "an object")):
        v = m.get(key)
        if v is not None and not isinstance(v, kind):
            raise RunError(f"metrics.json: {key}={str(v)[:40]!r} is not {name}")
    n = (m.get("data") or {}).get("n_tasks")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n != len(r)):
        raise RunError(f"metrics.json: data.n_tasks={str(n)[:40]!r} does not fit a {len(r)}-task accuracy matrix")


def read_metrics(path: str | Path) -> dict[str, Any]:
    """metrics.json of run folder `path`, validated (raises RunError)."""
    data = _read_json(Path(path) / "metrics.json")
    _validate_metrics(data)
    return data


def _tensor_file_error(path: Path, e: Exception) -> RunError:
    """The message for a safetensors file that could not be read: missing, or not valid."""
    if isinstance(e, FileNotFoundError):
        return RunError(f"{path.name} is missing")
    return RunError(f"{path.name} is not a valid safetensors file ({str(e).splitlines()[0][:80]})")


def check_tensor_file(path: Path) -> None:
    """Raise RunError (one line naming the file) unless `path` is a regular file of a size a run's
    tensors may have: never open a FIFO or a device as safetensors."""
    try:
        check_regular(path, MAX_TENSOR_BYTES)
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing") from None
    except FileProblem as e:
        raise RunError(f"{path.name} {e}") from None


def _load_tensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    check_tensor_file(path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise _tensor_file_error(path, e) from None


def read_tensors(path: Path) -> dict[str, Tensor]:
    """Every tensor of safetensors file `path` (on the CPU). Raises RunError (one line naming the
    file): missing, not a regular file, or not safetensors."""
    return _load_tensors(path)


def _has_masks(path: Path) -> bool:
    """Whether the run's method writes masks (HyperMask); True when its config cannot be read."""
    try:
        return read_config(path).train.method == "hypermask"
    except RunError:
        return True


def check_tensor_files(path: str | Path) -> list[str]:
    """Problems with a run's `weights.safetensors` and `masks.safetensors`, from their headers only
    (no tensor data is read; safetensors never executes code): [] when both open.

    `list_runs` / `summarize_run` read only the JSON files, so a run with damaged tensor files still
    shows its metrics; this says, before a page tries to load it, why `load_run` would fail.
    """
    from safetensors import SafetensorError, safe_open

    problems = []
    for name in ("weights.safetensors", "masks.safetensors"):
        f = Path(path) / name
        if name == "masks.safetensors" and not f.exists() and not _has_masks(Path(path)):
            continue  # fine-tuning and HNET runs have no masks
        try:
            check_tensor_file(f)
            with safe_open(str(f), framework="pt") as h:
                h.keys()
        except RunError as e:
            problems.append(str(e))
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            problems.append(str(_tensor_file_error(f, e)))
    return problems


@dataclass
class Run:
    """A loaded run: its config, metrics, rebuilt method (weights loaded) and per-task masks."""

    path: Path
    config: RunConfig
    metrics: dict[str, Any]
    method: Any  # core.methods.Method (typed loosely to keep this module free of model imports)
    masks: dict[int, dict[str, Tensor]] = field(default_factory=dict)

    @property
    def tasks_done(self) -> int:
        return int(self.metrics.get("tasks_done", 0))

    def events(self) -> list[ev.Event]:
        """The run's training events (events.jsonl), typed."""
        return read_events(self.path)


def load_run(path: str | Path) -> Run:
    """Load run folder `path`: JSON + safetensors only, never pickle.

    Raises:
        RunError: missing or malformed files, a newer format version, weights or masks that do not
            fit the configured networks.
    """
    from core.methods import build_method  # local import: listing runs never imports torch
    from core.models.target import build_target

    p = Path(path)
    if not p.is_dir():
        raise RunError(f"{p} is not a folder")
    cfg = read_config(p)
    metrics = read_metrics(p)
    data = metrics.get("data", {})
    try:
        shape = tuple(int(v) for v in data["input_shape"])
        n_classes, n_tasks = int(data["n_classes"]), int(data["n_tasks"])
    except (KeyError, TypeError, ValueError):
        raise RunError("metrics.json lacks data.input_shape / n_classes / n_tasks") from None
    if len(metrics["acc_matrix"]) != n_tasks:
        raise RunError(f"metrics.json: acc_matrix has {len(metrics['acc_matrix'])} rows for {n_tasks} tasks")
    tensors = _load_tensors(p / "weights.safetensors")  # its own message: missing, or not safetensors
    try:
        method = build_method(cfg, build_target(cfg.target, shape, n_classes), n_tasks)  # type: ignore[arg-type]
        method.load_state_tensors(tensors)
    except (ValueError, RuntimeError) as e:
        msg = str(e).strip().splitlines()
        detail = next((line.strip() for line in msg if "size mismatch" in line), msg[0] if msg else "")
        raise RunError(f"weights.safetensors does not fit the configured networks: {detail[:160]}") from None
    if cfg.train.method == "hypermask" and int(metrics.get("tasks_done", 0)) > 0 \
            and not (p / "masks.safetensors").exists():
        raise RunError("masks.safetensors is missing (a HyperMask run with completed tasks has masks)")
    masks: dict[int, dict[str, Tensor]] = {}
    if (p / "masks.safetensors").exists():
        shapes = {name: tuple(w.shape) for name, w in method.target.named_parameters()}
        masks = read_masks(p / "masks.safetensors", shapes, n_tasks)
    return Run(p, cfg, metrics, method, masks)


def read_masks(file: Path, shapes: dict[str, tuple[int, ...]], n_tasks: int) -> dict[int, dict[str, Tensor]]:
    """Per-task masks from a masks file (masks.safetensors, task_masks.safetensors): tensors named
    "task<j>/<param>", float16 on disk, returned as {task: {param: float32 tensor}} sorted by task.
    Keys of another form are ignored.

    Args:
        file: the safetensors file (safetensors never executes code).
        shapes: {param: shape} of the target tensors a mask may cover.
        n_tasks: the run's number of tasks.
    Raises:
        RunError: one line naming the file — missing, not safetensors, or a mask for no parameter of
            `shapes`, of the wrong shape, or for a task beyond the run's.
    """
    masks: dict[int, dict[str, Tensor]] = {}
    for key, t in _load_tensors(file).items():
        m = re.fullmatch(r"task(\d+)/(.+)", key)
        if m:
            task, name = int(m.group(1)), m.group(2)
            if name not in shapes:
                raise RunError(f"{file.name}: {key} names no masked parameter of the target network")
            if tuple(t.shape) != tuple(shapes[name]):
                raise RunError(f"{file.name}: {key} has shape {tuple(t.shape)}, but the target "
                               f"network's {name} has {tuple(shapes[name])}")
            if task >= n_tasks:
                raise RunError(f"{file.name}: {key} is for task {task} of a {n_tasks}-task run")
            masks.setdefault(task, {})[name] = t.float()
    return dict(sorted(masks.items()))
