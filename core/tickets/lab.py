"""The winning-ticket lab: every analysis of `core.tickets` for one run, cached in its folder.

`analyze` computes them for a loaded run; `analyze_run` reads a run folder's tickets.json when it is
current (core/tickets/cache.py) and otherwise loads the run, analyses it and writes the cache.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from core.runs import Run, RunError, load_run
from core.tickets.cache import CACHE_VERSION, fingerprint, read_cache, write_cache
from core.tickets.settings import HEADER_SLACK, RANDOM_SEEDS, SWEEP_LEVELS, settings


def analyze(run: Run, data: str | None = None, seeds: int = RANDOM_SEEDS,
            levels: Sequence[float] = SWEEP_LEVELS) -> dict[str, Any]:
    """Every winning-ticket analysis of a loaded run, as JSON-ready data.

    Args:
        run: from `core.runs.load_run` (CPU).
        data: MNIST data path replacing the one in the run's config (`subnetworks.from_run`).
        seeds: random-control draws per task (`controls.mask_controls`).
        levels: sweep sparsities in percent (`sweep.sparsity_sweep`; the trained p is added).
    Returns:
        {"run": {"method", "benchmark", "tasks_done", "n_tasks", "sparsity" (trained p, HyperMask
         only, else None), "n_classes" (head width C), "final_row" (R[T−1, :] from metrics.json)},
         "cross_mask", "sweep", "controls", "drift", "inference": each a dict whose "reason" is
         None when the analysis applies to the method, else the reason it does not}, plus
        "seconds" (wall time of the analyses) and "data_seconds" (of rebuilding the task stream).
    Raises:
        RunError: the run has no completed task, damaged task_masks.safetensors, other data than the
            run's.
        core.data.sources.DataError: data missing or malformed.
    """
    import torch  # here, not at the top: a cache hit (`analyze_run`) imports no model code

    from core.tickets.controls import mask_controls
    from core.tickets.crossmask import cross_logits, cross_mask_matrix
    from core.tickets.drift import mask_drift
    from core.tickets.inference import task_inference
    from core.tickets.subnetworks import from_run
    from core.tickets.sweep import sparsity_sweep

    start = time.perf_counter()
    sub = from_run(run, data)
    data_seconds = time.perf_counter() - start
    start += data_seconds
    final_row = run.metrics["acc_matrix"][run.tasks_done - 1][: run.tasks_done]
    with torch.inference_mode():
        logits = cross_logits(sub)
        out = {
            "run": {"method": run.config.train.method, "benchmark": run.config.data.benchmark,
                    "tasks_done": run.tasks_done, "n_tasks": len(run.metrics["acc_matrix"]),
                    "sparsity": sub.sparsity if sub.kind == "masks" else None,
                    "n_classes": sub.bench.n_classes, "final_row": final_row},
            "cross_mask": cross_mask_matrix(sub, final_row, logits),
            "sweep": sparsity_sweep(sub, levels),
            "controls": mask_controls(sub, seeds),
            "drift": mask_drift(run),
            "inference": task_inference(sub, logits),
        }
    out.update(seconds=time.perf_counter() - start, data_seconds=data_seconds)
    return out


def check_file_sizes(path: str | Path) -> None:
    """Refuse, before they are read, tensor files larger than the run's configuration can fill:
    weights.safetensors ≤ 4 bytes per target and hypernetwork parameter, masks.safetensors ≤ 2 bytes
    per target parameter and task (float16), each plus `HEADER_SLACK`.

    Raises:
        RunError: naming the file and both sizes, or an unreadable config.json / metrics.json.
    """
    from core.methods import parameter_total, target_parameters
    from core.runs import read_config, read_metrics

    if not Path(path).is_dir():
        raise RunError(f"{path} is not a folder")
    cfg, data = read_config(path), read_metrics(path).get("data", {})
    try:
        shape, n_classes, n_tasks = tuple(int(v) for v in data["input_shape"]), int(data["n_classes"]), int(data["n_tasks"])
        n_target = target_parameters(cfg, shape, n_classes)  # type: ignore[arg-type]
        n_all = parameter_total(cfg, shape, n_classes, n_tasks) + n_target  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        raise RunError("metrics.json lacks data.input_shape / n_classes / n_tasks") from None
    for name, limit in (("weights.safetensors", 4 * n_all), ("masks.safetensors", 2 * n_tasks * n_target)):
        f = Path(path) / name
        size = f.stat().st_size if f.is_file() else 0
        if size > limit + HEADER_SLACK:
            raise RunError(f"{name} is {size:,} bytes, more than the {limit + HEADER_SLACK:,} a run of this "
                           "configuration can fill; not read")


def analyze_run(path: str | Path, data: str | None = None, seeds: int = RANDOM_SEEDS,
                levels: Sequence[float] = SWEEP_LEVELS, refresh: bool = False) -> dict[str, Any]:
    """`analyze` of run folder `path`, through its cache tickets.json.

    A current cache (same version, run-file fingerprint and settings) is returned without loading
    the run; otherwise the run's tensor files are checked against the sizes its configuration allows
    (`check_file_sizes`), it is loaded (`load_run`: JSON and safetensors only, nothing executed),
    analysed, and the cache written (cache.py has the format). `refresh` ignores any cache.

    Returns:
        `analyze`'s dict with "version", "fingerprint", "settings", "created", and, not stored in
        the file, "cache": "reused", "written" or why it was not written (a read-only folder).
    Raises:
        RunError: one line — a missing or damaged run file (named), or as `analyze`.
        core.data.sources.DataError: as `analyze`.
    """
    wanted = settings(seeds, levels)
    if not refresh:
        cached = read_cache(path, wanted)
        if cached is not None:
            return {**cached, "cache": "reused"}
    stamp = fingerprint(path)  # before reading: files replaced meanwhile leave a stale cache, not a wrong one
    check_file_sizes(path)
    result = {"version": CACHE_VERSION, "fingerprint": stamp, "settings": wanted,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              **analyze(load_run(path), data, seeds, levels)}
    problem = write_cache(path, result)
    return {**result, "cache": problem or "written"}


__all__ = ["analyze", "analyze_run", "check_file_sizes"]
