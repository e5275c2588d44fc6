"""Run folders: save, load, list, delete, export and import — one format, one loader.

A run folder holds
  config.json         {"format_version", "config": RunConfig.to_dict()}
  metrics.json        {"format_version", "status", "tasks_done", "acc_matrix" (T×T, null above the
                       diagonal), "avg_acc", "bwt", "forgetting", "fwt", …, "data": {source, sha256, …}}
  events.jsonl        the training events, one JSON object a line
  weights.safetensors target.* and hypernet.* tensors (task embeddings: hypernet.embeddings)
  masks.safetensors   final per-task masks "task<j>/<param>" (float16, for inspection)
JSON and safetensors only: loading a run never executes code. Files are written to a temporary name
and renamed, after every task, so an interrupted run keeps its completed tasks.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import FORMAT_VERSION, RunConfig
from core.engine import events as ev

if TYPE_CHECKING:  # torch and safetensors are imported where tensors are read or written, so that
    from torch import Tensor  # listing runs (the app's first page) does not pay for importing torch

RUN_FILES = ("config.json", "metrics.json", "events.jsonl", "weights.safetensors", "masks.safetensors")
MAX_BUNDLE_BYTES = 200 * 1024 * 1024


class RunError(ValueError):
    """A folder or bundle that is not a readable run; the message says why, in one line."""


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=False))
    os.replace(tmp, path)


def save_tensors_atomic(path: Path, tensors: dict[str, Tensor]) -> None:
    """safetensors file written under a temporary name, then renamed."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    os.chmod(tmp, 0o644)  # same permissions as the JSON files
    os.replace(tmp, path)


def new_run_dir(root: str | Path, cfg: RunConfig) -> Path:
    """A fresh, unique folder under `root` named '<date>-<time>-<method>-<benchmark>-s<seed>'."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y%m%d-%H%M%S") + f"-{cfg.train.method}-{cfg.data.benchmark}-s{cfg.train.seed}"
    for k in range(1000):
        path = root / (stem if k == 0 else f"{stem}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunError(f"could not create a new run folder under {root}")


LOCK_FILE = ".run.lock"


def check_out_dir(path: str | Path, name: str = "--out") -> Path:
    """Check, without creating anything, that `path` can become a new run folder. `name` is how the
    messages call the path (the CLI's `--out`, the worker's `run_dir`).

    Raises:
        RunError: empty path, a file, a folder that already holds a run or anything else.
    """
    if not str(path).strip():
        raise RunError(f"{name} is empty; give a new folder for the run")
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise RunError(f"{name} {p} is a file; give a folder for the run")
    if (p / "config.json").exists() or (p / "metrics.json").exists():
        raise RunError(f"{name} {p} already holds a run; choose a new folder (nothing was overwritten)")
    if p.is_dir() and any(p.iterdir()):
        early = early_failure(p)
        if early is not None:
            raise RunError(f"{name} {p} holds a run that failed before its first task ({early[:120]}); "
                           "delete that folder or give another one")
        raise RunError(f"{name} {p} is a folder that is not empty; give a new or empty folder")
    return p


def prepare_out_dir(path: str | Path) -> Path:
    """Check and create a run folder chosen by the user, and claim it with an exclusive lock file so
    that a second run started on the same folder is refused; never overwrite anything.

    Raises:
        RunError: as `check_out_dir`, or the folder cannot be created or is being claimed.
    """
    p = check_out_dir(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        (p / LOCK_FILE).open("x").close()
    except FileExistsError:
        raise RunError(f"--out {p}: another run is already writing into this folder") from None
    except OSError as e:
        raise RunError(f"cannot create run folder {p}: {e.strerror}") from None
    return p


@dataclass
class RunFiles:
    """Writer for one run folder (used by the training loop)."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._log = open(self.path / "events.jsonl", "a", encoding="utf-8")

    def write_config(self, cfg: RunConfig) -> None:
        write_json_atomic(self.path / "config.json", {"format_version": FORMAT_VERSION, "config": cfg.to_dict()})

    def log_event(self, event: ev.Event) -> None:
        self._log.write(ev.to_json(event) + "\n")
        self._log.flush()

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json_atomic(self.path / "metrics.json", {"format_version": FORMAT_VERSION, **metrics})

    def write_tensors(self, weights: dict[str, Tensor], masks: dict[int, dict[str, Tensor]]) -> None:
        import torch

        save_tensors_atomic(self.path / "weights.safetensors", weights)
        flat = {f"task{t}/{n}": m.detach().to("cpu", torch.float16) for t, ms in masks.items() for n, m in ms.items()}
        if flat:
            save_tensors_atomic(self.path / "masks.safetensors", flat)

    def close(self) -> None:
        self._log.close()


def record_failure(path: str | Path, event: ev.RunFailed) -> None:
    """Best effort, for a run whose writer died without ending it (e.g. a killed training process):
    append `event` to events.jsonl (on a line of its own if the last line was torn mid-write) and
    set metrics.json's status to "failed" if it still says "running". Never raises; a folder without
    those files is left alone."""
    path = Path(path)
    try:
        log = path / "events.jsonl"
        if log.exists():
            with open(log, "rb+") as f:
                torn = False
                if f.seek(0, os.SEEK_END) > 0:
                    f.seek(-1, os.SEEK_END)
                    torn = f.read(1) != b"\n"
                f.write((("\n" if torn else "") + ev.to_json(event) + "\n").encode("utf-8"))
        metrics_path = path / "metrics.json"
        if metrics_path.exists():
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
            if isinstance(metrics, dict) and metrics.get("status") == "running":
                metrics.update(status="failed", error=event.message)
                write_json_atomic(metrics_path, metrics)
    except (OSError, ValueError):
        pass


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"{path.name} is not valid JSON ({type(e).__name__})") from None
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
    try:
        return RunConfig.from_dict(data.get("config", {}))
    except (TypeError, ValueError) as e:
        raise RunError(f"config.json: {e}") from None


def _is_fraction(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and -1e-9 <= v <= 1 + 1e-9


def _validate_metrics(m: dict[str, Any]) -> None:
    """Raise RunError unless the numbers the app shows are well formed (accuracies are fractions)."""
    r = m.get("acc_matrix")
    if not isinstance(r, list) or not all(isinstance(row, list) and len(row) == len(r) for row in r):
        raise RunError("metrics.json: acc_matrix is not a square list of rows")
    done = m.get("tasks_done", 0)
    if not isinstance(done, int) or isinstance(done, bool) or not 0 <= done <= len(r):
        raise RunError(f"metrics.json: tasks_done={done!r} does not fit a {len(r)}-task accuracy matrix")
    for i, row in enumerate(r):
        for j, v in enumerate(row):
            if v is not None and not _is_fraction(v):
                raise RunError(f"metrics.json: acc_matrix[{i}][{j}]={v!r} is not an accuracy in [0, 1]")
    for key in ("avg_acc", "bwt", "forgetting", "fwt"):
        v = m.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not -1 <= v <= 1):
            raise RunError(f"metrics.json: {key}={v!r} is not a number in [-1, 1]")


def read_metrics(path: str | Path) -> dict[str, Any]:
    """metrics.json of run folder `path`, validated (raises RunError)."""
    data = _read_json(Path(path) / "metrics.json")
    _validate_metrics(data)
    return data


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """All events of a run as plain dicts; a torn last line (interrupted write) is skipped."""
    out: list[dict[str, Any]] = []
    p = Path(path) / "events.jsonl"
    if not p.exists():
        return out
    with open(p, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(d, dict) and "kind" in d:
                out.append(d)
    return out


def _tensor_file_error(path: Path, e: Exception) -> RunError:
    """The message for a safetensors file that could not be read: missing, or not valid."""
    if isinstance(e, FileNotFoundError):
        return RunError(f"{path.name} is missing")
    return RunError(f"{path.name} is not a valid safetensors file ({str(e).splitlines()[0][:80]})")


def _load_tensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise _tensor_file_error(path, e) from None


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
        try:
            with safe_open(str(f), framework="pt") as h:
                h.keys()
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

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.path)


def load_run(path: str | Path) -> Run:
    """Load run folder `path`: JSON + safetensors only, never pickle.

    Raises:
        RunError: missing or malformed files, a newer format version, weights or masks that do not
            fit the configured networks.
    """
    from core.methods import build_method  # local import: checkpoint stays light for listing
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
        for key, t in _load_tensors(p / "masks.safetensors").items():
            m = re.fullmatch(r"task(\d+)/(.+)", key)
            if m:
                task, name = int(m.group(1)), m.group(2)
                if name not in shapes:
                    raise RunError(f"masks.safetensors: {key} names no parameter of the target network")
                if tuple(t.shape) != shapes[name]:
                    raise RunError(f"masks.safetensors: {key} has shape {tuple(t.shape)}, but the target "
                                   f"network's {name} has {shapes[name]}")
                if task >= n_tasks:
                    raise RunError(f"masks.safetensors: {key} is for task {task} of a {n_tasks}-task run")
                masks.setdefault(task, {})[name] = t.float()
    return Run(p, cfg, metrics, method, dict(sorted(masks.items())))


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
    try:
        failed = [e for e in read_events(p) if e.get("kind") == "run_failed"]
    except (RunError, OSError):
        return None
    if not failed:
        return None
    return str(failed[-1].get("message") or "no message")


def summarize_run(path: str | Path) -> RunSummary:
    """Read config.json and metrics.json only (cheap); never raises for a bad folder. A run that
    failed before saving anything is reported as such (`early_failure`), with its error."""
    p = Path(path)
    early = early_failure(p)
    if early is not None:
        return RunSummary(p, p.name, error=f"the run failed before its first task: {early}"[:300])
    try:
        cfg = read_config(p)
        m = read_metrics(p)
        return RunSummary(p, p.name, cfg.data.benchmark, cfg.train.method, str(m.get("status", "?")),
                          int(m.get("tasks_done", 0)), int(m.get("data", {}).get("n_tasks", 0)),
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


def export_bundle(path: str | Path) -> bytes:
    """Zip of a run folder's files (the RUN_FILES present), as bytes."""
    p = Path(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in RUN_FILES:
            if (p / name).is_file():
                z.write(p / name, arcname=name)
    return buf.getvalue()


def import_bundle(data: bytes, root: str | Path, max_bytes: int = MAX_BUNDLE_BYTES) -> Path:
    """Check an uploaded run bundle (zip) and unpack it as a new run folder under `root`.

    Checks, before anything is read as a run: size (compressed and uncompressed ≤ `max_bytes`), that
    every member is one of RUN_FILES at the top level (no folders, no pickles, no '..'), that the
    safetensors parse; then the unpacked run must load.

    Raises:
        RunError: the bundle fails a check; nothing is left behind.
    """
    if len(data) > max_bytes:
        raise RunError(f"bundle is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except zipfile.BadZipFile:
        raise RunError("bundle is not a zip file") from None
    names = [i.filename for i in infos]
    escaping = [n for n in names if n.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", n)]
    if escaping:
        raise RunError(f"bundle member(s) {escaping[:3]} point outside the run folder; nothing was unpacked")
    bad = [n for n in names if n not in RUN_FILES]
    if bad:
        raise RunError(f"bundle holds unexpected file(s) {bad[:3]}; allowed: {', '.join(RUN_FILES)}")
    if "config.json" not in names or "metrics.json" not in names:
        raise RunError("bundle lacks config.json or metrics.json")
    if sum(i.file_size for i in infos) > max_bytes:
        raise RunError("bundle unpacks to more than the size limit")
    contents = {}
    try:
        for n in names:
            contents[n] = z.read(n)
    except (zipfile.BadZipFile, OSError, RuntimeError) as e:
        raise RunError(f"bundle is corrupt ({type(e).__name__})") from None
    from safetensors.torch import load as st_load

    for n, b in contents.items():
        if n.endswith(".safetensors"):
            try:
                st_load(b)
            except Exception:  # noqa: BLE001
                raise RunError(f"{n} in the bundle is not a valid safetensors file") from None
    cfg_data = json.loads(contents["config.json"]) if contents["config.json"].strip() else {}
    try:
        cfg = RunConfig.from_dict(cfg_data.get("config", {}))
    except (ValueError, TypeError, AttributeError) as e:
        raise RunError(f"config.json in the bundle: {e}") from None
    dest = new_run_dir(root, cfg)
    for n, b in contents.items():
        (dest / n).write_bytes(b)
    try:
        load_run(dest)
    except RunError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


def tempdir() -> Path:
    """A fresh temporary folder (for tests and exports)."""
    return Path(tempfile.mkdtemp(prefix="hypermask-"))
