"""The run folder's file names, its error type and atomic writes (core/runs/__init__.py has the layout)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.safe_io import FileProblem, read_json

if TYPE_CHECKING:  # torch and safetensors are imported where tensors are written, so that listing
    from torch import Tensor  # runs (the app's first page) does not pay for importing torch

#: Each task's mask as it was at the end of its own task ("task<j>/<param>", float16), beside
#: masks.safetensors (every task's mask at the end of training): what mask drift compares.
TASK_MASKS_FILE = "task_masks.safetensors"
RUN_FILES = ("config.json", "metrics.json", "events.jsonl", "weights.safetensors", "masks.safetensors",
             TASK_MASKS_FILE)
#: The claim on a run folder (core/runs/claim.py), locked while a process trains into the folder
#: (core/runs/liveness.py).
LOCK_FILE = ".run.lock"
#: The most a run's JSON file (config.json, metrics.json) may hold: a 100-task metrics.json is ~1 MiB.
MAX_JSON_BYTES = 16 * 1024 * 1024


class RunError(ValueError):
    """A folder or bundle that is not a readable run; the message says why, in one line."""


def read_json_file(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON in run file `path`, read with the limits of `core.safe_io` (a regular file of at most
    `max_bytes`, UTF-8, not absurdly nested).

    Raises:
        RunError: one line naming the file and the problem ("config.json is missing",
            "metrics.json is not UTF-8 text (byte 0xff at offset 0)", …).
    """
    try:
        return read_json(path, max_bytes)
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing") from None
    except FileProblem as e:
        raise RunError(f"{path.name} {e}") from None


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=False))
    os.replace(tmp, path)


def save_tensors_atomic(path: Path, tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> None:
    """safetensors file (with string `metadata` in its header, if given) written under a temporary
    name, then renamed."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)  # same permissions as the JSON files
    os.replace(tmp, path)
