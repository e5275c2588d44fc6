"""`python -m core reproduce BENCHMARK --data PATH --seeds 1-5`: the paper's configuration (the `paper`
preset, hypermask.md §7) over seeds as one named sweep, and its table in the paper's form — the
final row of the accuracy matrix, R[T−1, j] for every task j, and its mean over tasks (ACC), each as
mean ± std over the seeds (hypermask.md §7: "Reference TIL metric").
"""

from __future__ import annotations

import statistics
from pathlib import Path

from core.sweeps.spec import SweepSpec, spec_from_dict
from core.sweeps.summary import TrialRow, mean_std

#: Benchmarks the paper reports and this engine implements.
BENCHMARKS = ("split-mnist", "permuted-mnist")


def reproduce_spec(benchmark: str, data: str, seeds: str | list[int], out: str | Path | None = None,
                   iters: int | None = None) -> SweepSpec:
    """The sweep of `benchmark`'s paper preset with HyperMask over `seeds` ("1-5" or a list) on `data`
    (full MNIST). `iters` shortens every task (a quick check; the sweep's name then says so, so a
    short sweep never mixes with the real one in one folder).

    Raises:
        core.sweeps.SpecError: an unknown benchmark, bad seeds or a value the paper preset refuses.
    """
    if benchmark not in BENCHMARKS:
        from core.sweeps.fields import SpecError

        raise SpecError(f"benchmark {benchmark!r} is not one of {', '.join(BENCHMARKS)}")
    base = {"preset": "paper", "benchmark": benchmark, "method": "hypermask", "data": data}
    if iters is not None:
        base["iters"] = iters
    name = f"reproduce-{benchmark}" + (f"-iters{iters}" if iters is not None else "")
    return spec_from_dict({"name": name, "base": base, "axes": {"seed": seeds}}, where="reproduce",
                          default_name=name, out=out)


def paper_table(rows: list[TrialRow]) -> str:
    """Markdown: R[T−1, j] for each task and ACC, mean ± std (sample std) over the finished seeds,
    in percent, with the seeds it covers."""
    done = [r for r in rows if r.state == "finished" and r.final_row]
    if not done:
        return "no seed has finished yet"
    n_tasks = max(len(r.final_row) for r in done)
    cells = []
    for j in range(n_tasks):
        xs = [r.final_row[j] for r in done if j < len(r.final_row) and r.final_row[j] is not None]
        cells.append(mean_std(statistics.fmean(xs) if xs else None, statistics.stdev(xs) if len(xs) >= 2 else None,
                              percent=True))
    accs = [r.values["acc"] for r in done if r.values.get("acc") is not None]
    acc = mean_std(statistics.fmean(accs) if accs else None, statistics.stdev(accs) if len(accs) >= 2 else None,
                   percent=True)
    head = [f"task {j}" for j in range(n_tasks)] + ["ACC (mean over tasks)"]
    seeds = ", ".join(str(r.seed) for r in done)
    return "\n".join([
        "| accuracy after the last task (%) | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
        "| HyperMask, mean ± std over seeds | " + " | ".join(cells + [acc]) + " |",
        "",
        f"{len(done)} of {len(rows)} seeds finished ({seeds}).",
    ])
