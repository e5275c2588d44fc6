"""HyperMask Explorer engine: task streams, target networks, hypernetwork, semi-binary masks,
methods, the training loop and its events, metrics and run files. Pure PyTorch/NumPy."""
