"""2-D projections for the Embeddings page (numpy + scikit-learn / umap-learn; no Streamlit).

`project` maps (N, D) points to (N, 2) with PCA, t-SNE or UMAP, adapting the neighbourhood sizes to
small N (a run has only 5–10 task embeddings). `activation_samples` gathers hidden-layer activations
of test images under each task's weights by calling `core.analysis.hidden_activations`.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

ALGORITHMS = ("PCA", "t-SNE", "UMAP")
# Forward hooks are registered on the shared (cached) target network: one analysis at a time.
_HOOK_LOCK = threading.Lock()


@dataclass(frozen=True)
class Projection:
    """Projected points and their labels. `note` says when the algorithm was adapted."""

    points: np.ndarray  # (N, 2)
    tasks: list[int]
    classes: list[int]
    hover: list[str]
    note: str = ""


def project(x: np.ndarray, algorithm: str, seed: int = 0) -> tuple[np.ndarray, str]:
    """Project rows of `x` (N, D) to 2-D.

    Args:
        x: data points.
        algorithm: "PCA", "t-SNE" or "UMAP".
        seed: random state of t-SNE / UMAP.
    Returns:
        (points (N, 2), note); note is non-empty when the request was adapted (e.g. too few points
        for t-SNE or UMAP: PCA is used).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, 2)), "no points"
    if n < 3 or x.shape[1] < 2:
        pts = np.zeros((n, 2))
        pts[:, : min(2, x.shape[1])] = x[:, : min(2, x.shape[1])]
        return pts, "too few points to project; raw coordinates shown"
    note = ""
    if algorithm in ("t-SNE", "UMAP") and n < 6:
        algorithm, note = "PCA", f"only {n} points: PCA used instead"
    if algorithm == "PCA":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(x)
        ev = pca.explained_variance_ratio_
        note = note or f"explained variance {100 * ev[0]:.0f}% + {100 * ev[1]:.0f}%"
        return pca.transform(x), note
    if algorithm == "t-SNE":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
        return tsne.fit_transform(x), note or f"perplexity {perplexity:.0f}"
    if algorithm == "UMAP":
        import umap

        k = int(min(15, n - 1))
        reducer = umap.UMAP(n_components=2, n_neighbors=k, random_state=seed, n_jobs=1,
                            init="random" if n < 20 else "spectral")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "n_jobs overridden by random_state": intended
            pts = reducer.fit_transform(x)
        return np.asarray(pts), note or f"{k} neighbours"
    raise ValueError(f"unknown projection {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")


def activation_samples(run: Any, bench: Any, layer: int,
                       per_task: int) -> tuple[np.ndarray, list[int], list[int], list[str]]:
    """Hidden activations of `per_task` test images of every trained task, under that task's weights.

    Args:
        run: a `core.runs.Run`.
        bench: its `core.data.benchmarks.Benchmark` (same data config and seed).
        layer: index k of hidden layer `hidden.<k>`.
        per_task: test images per task (the first ones of the fixed test split).
    Returns:
        (activations (N, width), task of each row, global class of each row, hover text).
    """
    from core.analysis import hidden_activations

    feats, tasks, classes, hover = [], [], [], []
    p = run.config.mask.sparsity
    for j in range(min(run.tasks_done, len(bench.tasks))):
        x, y = bench.test_inputs(j)
        x, y = x[:per_task], y[:per_task]
        with _HOOK_LOCK:
            acts = hidden_activations(run.method, x, j, sparsity=p)
        if layer >= len(acts):
            raise ValueError(f"the target network has {len(acts)} hidden layer(s); layer {layer} does not exist")
        feats.append(acts[layer])
        cls = [int(bench.tasks[j].classes[int(c)]) for c in y]
        tasks += [j] * len(cls)
        classes += cls
        hover += [f"task {j} · class {c} · test sample {i}" for i, c in enumerate(cls)]
    if not feats:
        return np.zeros((0, 1), dtype=np.float32), [], [], []
    return np.concatenate(feats), tasks, classes, hover
