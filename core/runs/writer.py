"""Writing a run folder while it trains: `RunFiles` (used by the training loop; it holds the folder's
lock, core/runs/liveness.py) and `record_failure` (for a run whose writer died)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import events as ev
from core.config import FORMAT_VERSION, RunConfig
from core.runs import liveness
from core.runs.layout import TASK_MASKS_FILE, read_json_file, save_tensors_atomic, write_json_atomic

if TYPE_CHECKING:
    from torch import Tensor


def flat_masks(masks: dict[int, dict[str, Tensor]]) -> dict[str, Tensor]:
    """{task: {param: mask}} → {"task<j>/<param>": float16 CPU tensor}, the masks files' layout."""
    import torch

    return {f"task{t}/{n}": m.detach().to("cpu", torch.float16) for t, ms in masks.items() for n, m in ms.items()}


@dataclass
class RunFiles:
    """Writer for one run folder (used by the training loop). From construction to `close()` it holds
    the folder's lock (`core.runs.liveness`), which tells readers that the run is alive.

    Raises:
        RunError: another process is training into the folder.
    """

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        liveness.acquire(self.path)
        try:
            self._log = open(self.path / "events.jsonl", "a", encoding="utf-8")
        except OSError:
            liveness.release(self.path)
            raise
        self._closed = False
        self._own_masks: dict[str, Tensor] = {}  # "task<j>/<param>" → float16 CPU snapshot

    def keep_task_masks(self, masks: dict[str, Tensor]) -> None:
        """Own-task mask snapshots ("task<j>/<param>", float16) of tasks trained before a resume:
        task_masks.safetensors keeps them when it is rewritten."""
        self._own_masks.update(masks)

    def write_config(self, cfg: RunConfig) -> None:
        write_json_atomic(self.path / "config.json", {"format_version": FORMAT_VERSION, "config": cfg.to_dict()})

    def log_event(self, event: ev.Event) -> None:
        self._log.write(ev.to_json(event) + "\n")
        self._log.flush()

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json_atomic(self.path / "metrics.json", {"format_version": FORMAT_VERSION, **metrics})

    def write_tensors(self, weights: dict[str, Tensor], masks: dict[int, dict[str, Tensor]],
                      task: int | None = None, checkpoint: dict[str, str] | None = None) -> None:
        """Write the weights (with `checkpoint`, the resume state of core/engine/checkpoint.py, in the
        same file's header, so the two always agree) and every task's current mask
        (masks.safetensors); with `task`, the task just finished, also keep `masks[task]` as that
        task's own-task snapshot and rewrite task_masks.safetensors with all snapshots so far (what
        `core.tickets` mask drift compares)."""
        save_tensors_atomic(self.path / "weights.safetensors", weights, checkpoint)
        flat = flat_masks(masks)
        if flat:
            save_tensors_atomic(self.path / "masks.safetensors", flat)
        if task is not None and task in masks:
            self._own_masks.update(flat_masks({task: masks[task]}))
            save_tensors_atomic(self.path / TASK_MASKS_FILE, self._own_masks)

    def close(self) -> None:
        """Close the event log and release the folder's lock (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        self._log.close()
        liveness.release(self.path)


def record_failure(path: str | Path, event: ev.RunFailed) -> None:
    """Best effort, for a run whose writer died without ending it (e.g. a killed training process, or
    one that never started): append `event` to events.jsonl (creating it; on a line of its own if the
    last line was torn mid-write) and set metrics.json's status to "interrupted" (it can be resumed,
    `core.engine.resume`) if it still says "running". Never raises; nothing is written unless the
    folder exists and no other process trains into it now."""
    path = Path(path)
    try:
        if not path.is_dir() or liveness.lock_held(path):
            return
        with open(path / "events.jsonl", "ab+") as f:
            torn = False
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
            f.write((("\n" if torn else "") + ev.to_json(event) + "\n").encode("utf-8"))
        metrics_path = path / "metrics.json"
        if metrics_path.exists():
            metrics = read_json_file(metrics_path)
            if isinstance(metrics, dict) and metrics.get("status") == "running":
                metrics.update(status="interrupted", error=event.message)
                write_json_atomic(metrics_path, metrics)
    except (OSError, ValueError):  # RunError is a ValueError
        pass
