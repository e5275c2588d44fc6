"""Continual-learning metrics over the accuracy matrix (hypermask.md §8).

R[i][j] is the test accuracy (fraction in [0, 1]) on task j after training task i; entries above the
diagonal are None (not yet seen) or absent (ragged lower-triangular rows are accepted). All functions are pure and take plain nested lists.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Sequence

Matrix = Sequence[Sequence[float | None]]


def _final_row(r: Matrix) -> tuple[int, Sequence[float | None]]:
    t = len(r)
    if t == 0:
        raise ValueError("the accuracy matrix is empty")
    for i, row in enumerate(r):
        if not i + 1 <= len(row) <= t:
            raise ValueError(f"accuracy matrix row {i} has {len(row)} entries, expected {i + 1} to {t}")
        for j in range(i + 1):
            if row[j] is None:
                raise ValueError(f"accuracy matrix entry R[{i}][{j}] on or below the diagonal is missing")
    if len(r[t - 1]) != t:
        raise ValueError(f"accuracy matrix last row has {len(r[t - 1])} entries, expected {t}")
    return t, r[t - 1]


def average_accuracy(r: Matrix) -> float:
    """ACC = (1/T) Σ_j R[T−1, j]: mean accuracy over all tasks after the last one."""
    t, last = _final_row(r)
    return sum(float(v) for v in last) / t  # type: ignore[arg-type]


def backward_transfer(r: Matrix) -> float | None:
    """BWT = (1/(T−1)) Σ_{j<T−1} (R[T−1, j] − R[j, j]) (Lopez-Paz & Ranzato, 2017).

    Negative values mean forgetting. None when T = 1.
    """
    t, last = _final_row(r)
    if t < 2:
        return None
    return sum(float(last[j]) - float(r[j][j]) for j in range(t - 1)) / (t - 1)  # type: ignore[arg-type]


def forgetting(r: Matrix) -> float | None:
    """F = mean over j < T−1 of max_{i<T−1} R[i, j] − R[T−1, j] (Chaudhry et al., 2018).

    Only rows i ≥ j (task j seen) enter the max. None when T = 1.
    """
    t, last = _final_row(r)
    if t < 2:
        return None
    per_task = [max(float(r[i][j]) for i in range(j, t - 1)) - float(last[j]) for j in range(t - 1)]  # type: ignore[arg-type]
    return sum(per_task) / (t - 1)


def forward_transfer(next_task_acc: Sequence[float], random_init_acc: Sequence[float]) -> float | None:
    """FWT = mean over i ≥ 1 of R[i−1, i] − b_i, where R[i−1, i] is task i evaluated with the model
    (embedding) of task i−1 and b_i the accuracy of the randomly initialised model (reference code).

    Args:
        next_task_acc: R[i−1, i] for i = 1 … (list index i−1).
        random_init_acc: b_i for every task i = 0 … T−1.
    """
    n = len(next_task_acc)
    if n == 0:
        return None
    return sum(next_task_acc[k] - random_init_acc[k + 1] for k in range(n)) / n


def summarize(r: Matrix, next_task_acc: Sequence[float] = (), random_init_acc: Sequence[float] = ()) -> dict[str, Any]:
    """All metrics of a (possibly partial) run: R of shape k×k for the k tasks done, padded by the
    caller if needed. Returns dict with avg_acc, bwt, forgetting, fwt (None where undefined)."""
    if len(r) == 0:
        return {"avg_acc": None, "bwt": None, "forgetting": None, "fwt": None}
    return {"avg_acc": average_accuracy(r), "bwt": backward_transfer(r), "forgetting": forgetting(r),
            "fwt": forward_transfer(list(next_task_acc)[: len(r) - 1], random_init_acc)
            if random_init_acc else None}


def matrix_csv(r: Matrix, decimals: int = 4) -> str:
    """The accuracy matrix R[i, j] as CSV text: a header row (`R[i, j]`, `task 0` … `task T−1`), then
    one row per trained task (`after task i`, then its accuracies); None (above the diagonal) is an
    empty cell. Values are rounded to `decimals` places: the float32 noise of a stored accuracy
    (0.9950000047683716) carries no information (a test set has at most ~10^4 images).

    Args:
        r: T rows of fractions in [0, 1] or None (ragged rows allowed).
        decimals: places after the point (the default keeps 0.01 % resolution).
    """
    n_cols = max((len(row) for row in r), default=0)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["R[i, j]", *(f"task {j}" for j in range(n_cols))])
    for i, row in enumerate(r):
        cells = ["" if v is None else repr(round(float(v), decimals)) for v in row]
        out.writerow([f"after task {i}", *cells, *[""] * (n_cols - len(row))])
    return buf.getvalue()
