"""`python -m core sweep [SPEC] [--set F=V] [--axis F=V1,V2] [--out DIR] [--ray [ADDRESS]]` and
`python -m core reproduce BENCHMARK --data PATH --seeds 1-5`: argparse at the edge, `core.sweeps` below.

The whole sweep is checked before any trial runs: an unknown field, an empty axis, a value RunConfig
refuses, unreadable data or an unusable sweep folder end with one line on stderr and exit status 2.
Exit status 1: the sweep ran and some trial failed (the others are saved); 130: interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from core.sweeps.execute import LOCAL_RAY, SweepReport, run_sweep
from core.sweeps.fields import SpecError
from core.sweeps.reproduce import BENCHMARKS, paper_table, reproduce_spec
from core.sweeps.spec import SweepSpec, load_spec
from core.sweeps.summary import settings_markdown
from core.sweeps.folder import read_sweep


def _execution_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="the sweep folder (default: the spec's `out`, else sweeps/NAME); running the "
                   "same sweep into it again skips its finished trials and continues the others from their last "
                   "completed task")
    p.add_argument("--ray", nargs="?", const=LOCAL_RAY, metavar="ADDRESS",
                   help="run the trials as Ray tasks: on a local Ray started for the sweep, or on the cluster at "
                        "ADDRESS (its nodes must see the sweep folder); default: a local process pool")
    p.add_argument("--workers", type=int, help="trials at once on this machine (default: one per CPU core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--check", action="store_true", help="check the spec whole (fields, values, data, network "
                   "sizes) and list its trials with their states; run nothing")


def add_parsers(sub: Any) -> None:
    """Add the `sweep` and `reproduce` sub-commands to `python -m core`'s sub-parsers."""
    sw = sub.add_parser("sweep", help="seeds × settings × methods as one named sweep of ordinary runs, "
                        "summarised per setting as mean ± std over seeds (README: Sweeps)")
    sw.add_argument("spec", nargs="?", help="TOML spec: name, out, [base] (preset and fixed fields), [axes] (lists)")
    sw.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a fixed value, over the spec's [base] (e.g. --set iters=100 --set benchmark=split-digits)")
    sw.add_argument("--axis", action="append", default=[], metavar="FIELD=V1,V2",
                    help="an axis, over the spec's (e.g. --axis p=0,30,60 --axis seed=1-3 "
                         "--axis target.hidden=64x64,100x100)")
    sw.add_argument("--name", help="the sweep's name (default: the spec's, else its file name)")
    _execution_flags(sw)
    rp = sub.add_parser("reproduce", help="the paper's configuration over seeds as one sweep, and its table "
                        "(final-row accuracy, mean ± std)")
    rp.add_argument("benchmark", choices=BENCHMARKS)
    rp.add_argument("--data", required=True, help="full MNIST: Keras mnist.npz or a folder of the four IDX files")
    rp.add_argument("--seeds", default="1-5", help="e.g. 1-5 (the paper's) or 1,2,3")
    rp.add_argument("--iters", type=int, help="iterations per task (default: the paper's; fewer for a quick check)")
    _execution_flags(rp)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"{flag} {item!r}: expected FIELD=VALUE")
        out[key.strip()] = value.strip()
    return out


def _spec(a: argparse.Namespace) -> SweepSpec:
    if a.command == "reproduce":
        return reproduce_spec(a.benchmark, a.data, a.seeds, out=a.out, iters=a.iters)
    axes: dict[str, Any] = {k: v.split(",") for k, v in _pairs(a.axis, "--axis").items()}
    if a.spec is None and not axes and not a.set:
        raise SpecError("give a spec file, or --axis / --set flags (python -m core sweep --help)")
    return load_spec(a.spec, base=_pairs(a.set, "--set"), axes=axes, name=a.name, out=a.out)


def _fix_ray_spec(a: argparse.Namespace) -> None:
    """`sweep --ray spec.toml`: argparse gives the file to --ray; it is the spec, and Ray is local."""
    if getattr(a, "spec", "") is None and a.ray not in (None, LOCAL_RAY) and Path(a.ray).is_file():
        a.spec, a.ray = a.ray, LOCAL_RAY


def _report(a: argparse.Namespace, report: SweepReport) -> None:
    if a.command == "reproduce":
        print(paper_table(report.rows))
    else:
        print(settings_markdown(read_sweep(report.path), report.settings), end="")
    print(f"sweep folder: {report.path} — {report.total} trials: {report.skipped} finished before, "
          f"{report.finished} now, {len(report.failed)} failed (summary.md, summary.csv, trials.csv)")
    for name, error in report.failed.items():
        print(f"failed: {name}: {error}", file=sys.stderr)


def _check(spec: SweepSpec) -> int:
    """`--check`: what `run_sweep` checks before it runs anything, then the trials and their states."""
    from core.sweeps.execute import check_runnable
    from core.sweeps.folder import trial_state

    check_runnable(spec)
    for t in spec.trials:
        print(f"{t.name}: {trial_state(Path(spec.out) / t.name)[0]}")
    print(f"{len(spec.trials)} trials in {spec.out}; the spec is valid (nothing was run or written)")
    return 0


def main(a: argparse.Namespace) -> int:
    """Run `python -m core sweep` or `reproduce`; returns the exit status."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # like Ctrl-C: trials save what they finished
    _fix_ray_spec(a)
    try:
        if a.workers is not None and a.workers < 1:
            raise SpecError(f"--workers {a.workers}: must be at least 1")
        spec = _spec(a)
        if a.check:
            return _check(spec)
        report = run_sweep(spec, ray=a.ray, workers=a.workers, progress=not a.quiet)
    except ValueError as e:  # SpecError, SweepError, DataError, DeviceError, RunError
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        if e.name != "ray":
            raise
        print("error: --ray needs Ray, which is not installed here; pip install -r requirements.txt", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume (finished trials are skipped, the others "
              "continue from their last completed task)", file=sys.stderr)
        return 130
    _report(a, report)
    return 1 if report.failed else 0
