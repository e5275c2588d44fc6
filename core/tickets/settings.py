"""What the analyses run with: their defaults, the settings record a cache is matched against, and
the size limit of the tensor files they read. Torch-free, so that a cache hit imports no model code."""

from __future__ import annotations

from typing import Any, Sequence

#: Sparsities swept, in percent of each tensor's entries set to zero (sweep.py), besides the trained p.
SWEEP_LEVELS: tuple[float, ...] = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99)
#: Random-control draws per task (controls.py): mean ± sample standard deviation over them.
RANDOM_SEEDS = 5
#: Bytes a safetensors file may hold beyond its tensor data (its JSON header of names and shapes) before
#: it is refused unread (lab.check_file_sizes, drift.read_task_masks).
HEADER_SLACK = 1 << 20


def settings(seeds: int = RANDOM_SEEDS, levels: Sequence[float] = SWEEP_LEVELS) -> dict[str, Any]:
    """The analysis settings as stored in (and compared with) the cache tickets.json."""
    return {"seeds": int(seeds), "levels": [float(p) for p in levels]}


__all__ = ["HEADER_SLACK", "RANDOM_SEEDS", "SWEEP_LEVELS", "settings"]
