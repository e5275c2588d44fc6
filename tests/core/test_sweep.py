"""Sweeps (core/sweeps): a spec checked whole before anything runs, a 4-trial Split Digits demo sweep on
the local pool and through a local Ray (the same numbers), resume after a simulated kill (from the
killed trial's last completed task), and a failing trial that does not stop the others. Tasks are
shortened through the spec (iters)."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest

from core import events as ev
from core.cli import main
from core.engine.loop import run_training
from core.runs import claim_run_dir, load_run, read_events, read_metrics, summarize_run
from core.sweeps import load_spec, parse_seeds, read_sweep, run_sweep, trial_state

SPEC = """
name = "digits"
[base]
benchmark = "split-digits"
preset = "demo"
iters = 25
eval_every = 25
[axes]
p = [0, 30]
seeds = "1-2"
"""


def _spec_file(tmp: Path, text: str = SPEC) -> Path:
    path = tmp / "spec.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def pool_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 4-trial sweep, run once on the local pool (2 processes)."""
    tmp = tmp_path_factory.mktemp("sweep")
    report = run_sweep(load_spec(_spec_file(tmp), out=tmp / "pool"), workers=2, progress=False)
    assert report.failed == {} and report.finished == 4 and report.skipped == 0
    return report.path


def _accs(sweep_dir: Path) -> dict[str, float]:
    return {t.name: read_metrics(sweep_dir / t.name)["avg_acc"] for t in read_sweep(sweep_dir).trials}


@pytest.mark.parametrize("extra, named", [
    ('[axes]\nsparsty = [0, 30]\n', "'sparsty'"),  # unknown field
    ('[axes]\nbeta = []\n', "mask.beta"),  # empty axis
    ('[axes]\np = [30, 120]\n', "mask.sparsity=120"),  # a value RunConfig refuses
    ('[base]\nbenchmark = "split-digits"\nbatch_size = 0\n', "batch_size=0"),
    ('[axes]\nhidden = [[64]]\n', "ambiguous"),
    ('[base]\nlr = "fast"\n', "train.lr"),
    ('[axes]\nseed = "5-1"\n', "seeds '5-1'"),
    ('[bases]\n', "unknown key 'bases'"),
])
def test_bad_spec_is_refused_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture, extra: str,
                                                  named: str) -> None:
    spec = _spec_file(tmp_path, extra)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and named in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_spec_expands_trials_and_flags_override(tmp_path: Path) -> None:
    spec = load_spec(_spec_file(tmp_path), axes={"lambda": ["0.001", "0.01"]}, base={"iters": "10"})
    assert len(spec.trials) == 8 and spec.out == Path("sweeps/digits")
    first = spec.trials[0]
    assert first.name == "sparsity=0,lam=0.001,seed=1" and first.seed == 1
    assert first.config.mask.sparsity == 0.0 and first.config.mask.lam == 0.001
    assert first.config.train.iters_per_task == 10 and first.config.data.benchmark == "split-digits"
    assert [t.seed for t in spec.trials[:2]] == [1, 2]  # seeds vary fastest: a setting's trials side by side
    assert parse_seeds("1-3,7") == [1, 2, 3, 7]
    # a method axis goes through the preset: HNET gets its own regulariser settings
    hnet = load_spec(None, axes={"method": ["hypermask", "hnet"]}).trials[1].config
    assert hnet.train.method == "hnet" and hnet.mask.beta_norm == "hnet"


def test_check_lists_the_trials_of_flags_alone_and_writes_nothing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    argv = ["sweep", "--set", "benchmark=split-digits", "--axis", "p=0,30", "--axis", "seed=1-2,5", "--out", str(out)]
    assert main([*argv, "--check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["sparsity=0,seed=1: pending", "sparsity=0,seed=2: pending", "sparsity=0,seed=5: pending"]
    assert lines[-1].startswith("6 trials in") and not out.exists()


def test_local_pool_sweep_gives_ordinary_runs_and_a_summary(pool_sweep: Path) -> None:
    names = [t.name for t in read_sweep(pool_sweep).trials]
    assert names == ["sparsity=0,seed=1", "sparsity=0,seed=2", "sparsity=30,seed=1", "sparsity=30,seed=2"]
    for name in names:  # every trial is a run folder the app's pages open
        s = summarize_run(pool_sweep / name)
        assert s.error is None and s.status == "finished" and s.tasks_done == 5
    run = load_run(pool_sweep / names[2])
    assert run.config.mask.sparsity == 30.0 and run.config.train.iters_per_task == 25
    assert run.metrics["device"] == "cpu (1 thread)"
    df = pd.read_csv(pool_sweep / "summary.csv")
    assert list(df["sparsity"]) == [0, 30] and list(df["seeds_done"]) == [2, 2]
    accs = _accs(pool_sweep)
    for p, row in zip((0, 30), df.itertuples()):
        xs = [accs[f"sparsity={p},seed={s}"] for s in (1, 2)]
        assert row.acc_mean == pytest.approx(statistics.fmean(xs))
        assert row.acc_std == pytest.approx(statistics.stdev(xs))
        assert 0.5 < row.acc_mean <= 1.0  # learned far above chance on 2-class tasks
        ti = [read_metrics(pool_sweep / f"sparsity={p},seed={s}")["task_inference"]["task_accuracy"] for s in (1, 2)]
        assert row.task_acc_mean == pytest.approx(statistics.fmean(ti))
        assert row.ms_per_iter_mean > 0 and row.wall_s_mean > 0
    md = (pool_sweep / "summary.md").read_text()
    assert f"| 30 | 2/2 | {100 * df.acc_mean[1]:.1f} ± {100 * df.acc_std[1]:.1f} |" in md
    assert len(pd.read_csv(pool_sweep / "trials.csv")) == 4


def test_ray_sweep_matches_the_local_pool(pool_sweep: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    report = run_sweep(load_spec(_spec_file(tmp_path), out=tmp_path / "ray"), ray="local", workers=2,
                       progress=False)
    assert report.failed == {} and report.finished == 4
    assert _accs(report.path) == _accs(pool_sweep)  # one thread per trial: the same numbers bit for bit
    assert sorted(p.name for p in report.path.iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in pool_sweep.iterdir() if not p.name.startswith("."))


def test_resume_after_a_simulated_kill(pool_sweep: Path, tmp_path: Path) -> None:
    """A sweep killed mid-way: two trials finished, one killed after its first task (metrics.json still
    "running"), one never started. Re-running skips the finished ones, continues the killed one from its
    saved task (not recomputed) and runs the last; every number equals the uninterrupted sweep's."""
    folder = tmp_path / "killed"
    shutil.copytree(pool_sweep, folder)
    spec = load_spec(_spec_file(tmp_path), out=folder)
    killed, never = folder / "sparsity=0,seed=2", folder / "sparsity=30,seed=1"
    shutil.rmtree(killed)
    shutil.rmtree(never)
    done: list[ev.TaskFinished] = []
    cfg = next(t.config for t in spec.trials if t.name == killed.name)
    run_training(cfg, emit=lambda e: done.append(e) if isinstance(e, ev.TaskFinished) else None,
                 should_stop=lambda: bool(done), run_dir=claim_run_dir(killed))
    m = json.loads((killed / "metrics.json").read_text())
    assert m["tasks_done"] == 1
    (killed / "metrics.json").write_text(json.dumps({**m, "status": "running"}))  # as kill -9 leaves it
    assert trial_state(killed)[0] == "interrupted" and trial_state(never)[0] == "pending"
    kept = {n: (folder / n / "metrics.json").stat().st_mtime_ns for n in ("sparsity=0,seed=1", "sparsity=30,seed=2")}
    report = run_sweep(spec, workers=2, progress=False)
    assert (report.skipped, report.finished, report.failed) == (2, 2, {})
    assert {n: (folder / n / "metrics.json").stat().st_mtime_ns for n in kept} == kept  # not recomputed
    finished = [e for e in read_events(killed) if isinstance(e, ev.TaskFinished)]
    assert [e.task for e in finished] == [0, 1, 2, 3, 4] and finished[0] == done[0]  # task 0 kept, not redone
    assert _accs(folder) == _accs(pool_sweep)


def test_a_failing_trial_is_recorded_and_the_others_finish(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = _spec_file(tmp_path, '[base]\nbenchmark = "split-digits"\niters = 5\ntasks = 2\n'
                                '[axes]\nbeta = [0.001, 1e300]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "2", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "failed: beta=1e+300: TrainingDiverged" in captured.err
    assert trial_state(out / "beta=0.001") == ("finished", None)
    state, error = trial_state(out / "beta=1e+300")
    assert state == "failed" and "diverged" in error
    df = pd.read_csv(out / "summary.csv")
    assert list(df["seeds_failed"]) == [0, 1] and pd.isna(df["acc_mean"][1])
    assert "| 1e+300 | 0/1 (1 failed) | — |" in captured.out


def test_another_sweep_in_the_same_folder_is_refused(pool_sweep: Path, capsys: pytest.CaptureFixture) -> None:
    spec = _spec_file(pool_sweep.parent, SPEC.replace("iters = 25", "iters = 26"))
    assert main(["sweep", str(spec), "--out", str(pool_sweep), "--quiet"]) == 2
    assert "holds another sweep" in capsys.readouterr().err
