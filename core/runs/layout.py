"""The run folder's file names, its error type and atomic writes (core/runs/__init__.py has the layout)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch and safetensors are imported where tensors are written, so that listing
    from torch import Tensor  # runs (the app's first page) does not pay for importing torch

#: Each task's mask as it was at the end of its own task ("task<j>/<param>", float16), beside
#: masks.safetensors (every task's mask at the end of training): what mask drift compares.
TASK_MASKS_FILE = "task_masks.safetensors"
RUN_FILES = ("config.json", "metrics.json", "events.jsonl", "weights.safetensors", "masks.safetensors",
             TASK_MASKS_FILE)


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
