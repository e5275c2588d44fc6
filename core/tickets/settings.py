"""What the analyses run with: their defaults, and the settings record a cache is matched against.
Torch-free, so that a cache hit imports no model code."""

from __future__ import annotations

from typing import Any, Sequence

#: Sparsities swept, in percent of each tensor's entries set to zero (sweep.py), besides the trained p.
SWEEP_LEVELS: tuple[float, ...] = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99)
#: Random-control draws per task (controls.py): mean ± sample standard deviation over them.
RANDOM_SEEDS = 5


def settings(seeds: int = RANDOM_SEEDS, levels: Sequence[float] = SWEEP_LEVELS) -> dict[str, Any]:
    """The analysis settings as stored in (and compared with) the cache tickets.json."""
    return {"seeds": int(seeds), "levels": [float(p) for p in levels]}


__all__ = ["RANDOM_SEEDS", "SWEEP_LEVELS", "settings"]
