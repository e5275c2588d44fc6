"""HyperMask Explorer engine: task streams, target networks, hypernetwork, semi-binary masks,
methods, the training loop and its events, metrics and run files. Pure PyTorch/NumPy."""

import os

# Read once by PyTorch's OpenMP runtime when torch loads, so it is set here, before any engine module
# imports torch: a thread waiting for the others spins for ~10k iterations (GNU's default: 300k), then
# sleeps. Idle, it costs nothing; when another program shares the cores, a spinning thread no longer
# holds a core the others need (benchmarks/train_speed.py, 2 cores with one taken).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
