"""`python -m core train`: clear errors before training, a short real run, the printed summary."""

import json

import pytest

from core.cli import build_parser, config_from_args, main
from core.config import parse_sizes


@pytest.mark.parametrize("args, needle", [
    (["--sparsity", "100"], "sparsity p=100"),
    (["--sparsity", "-1"], "sparsity p=-1"),
    (["--iters", "-5"], "--iters -5"),
    (["--lr", "0"], "--lr 0"),
    (["--tasks", "9"], "--tasks 9"),
    (["--data", "/nonexistent/mnist.npz", "--benchmark", "split-mnist"], "/nonexistent/mnist.npz"),
    (["--beta", "inf"], "--beta inf"),
    (["--lam", "nan"], "--lam nan"),
    (["--seed", "99999999999999999999"], "--seed 99999999999999999999"),
    (["--data", "/tmp/some.npz"], "split-digits always uses"),
    (["--threads", "0"], "--threads 0"),
    (["--threads", "100000"], "--threads 100000"),
])
def test_bad_values_fail_before_training(tmp_path, capsys, args, needle) -> None:
    out = tmp_path / "run"
    code = main(["train", "--benchmark", "split-digits", "--out", str(out), "--quiet", *args]
                if "--benchmark" not in args else ["train", "--out", str(out), "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1
    assert not (out / "config.json").exists()


@pytest.mark.parametrize("bad", ["-10", "10,-3", "1,,2", "\u0663", "abc", "0"])
def test_hidden_sizes_are_parsed_strictly(tmp_path, capsys, bad: str) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "--benchmark", "split-digits", f"--hidden={bad}", "--out", str(tmp_path / "r")])
    assert e.value.code == 2 and not (tmp_path / "r").exists()


@pytest.mark.parametrize("text", ["64,32", "64, 32", "64 32", " 64 ,32 "])
def test_hidden_sizes_accept_commas_or_spaces(text: str) -> None:
    """"64 64" is two layers (it once became one layer of 6464 units in the app's form)."""
    assert parse_sizes(text) == (64, 32)
    assert config_from_args(build_parser().parse_args(["train", "--hidden", text, "--out", "x"])).target.hidden == (64, 32)


def test_empty_or_nonempty_out_is_refused(tmp_path, capsys) -> None:
    assert main(["train", "--benchmark", "split-digits", "--out", "", "--quiet"]) == 2
    assert "--out is empty" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "--benchmark", "split-digits", "--out", str(tmp_path), "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "notes.txt").read_text() == "mine"


def test_unknown_benchmark_is_refused(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "--benchmark", "cifar-7", "--out", str(tmp_path / "r")])
    assert e.value.code == 2 and "cifar-7" in capsys.readouterr().err


def test_out_that_is_a_file_or_a_run(tmp_path, capsys) -> None:
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    assert main(["train", "--benchmark", "split-digits", "--out", str(f), "--quiet"]) == 2
    assert "is a file" in capsys.readouterr().err and f.read_text() == "keep me"


def test_overrides_reach_config() -> None:
    a = build_parser().parse_args(["train", "--out", "x", "--preset", "paper", "-p", "12.5", "--beta", "0.5",
                                   "--lam", "0", "--hidden", "64,32", "--hnet-hidden", "10", "--chunk-size", "500",
                                   "--iters", "7", "--batch-size", "16", "--embedding-dim", "5", "--tasks", "3"])
    cfg = config_from_args(a)
    assert cfg.mask.sparsity == 12.5 and cfg.mask.beta == 0.5 and cfg.mask.lam == 0
    assert cfg.target.hidden == (64, 32) and cfg.hyper.hidden == (10,) and cfg.hyper.chunk_size == 500
    assert cfg.train.iters_per_task == 7 and cfg.train.batch_size == 16 and cfg.hyper.embedding_dim == 5
    assert cfg.data.n_tasks == 3 and cfg.data.augment  # paper Split MNIST keeps its random crop


def test_short_run_prints_matrix_and_saves(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["train", "--benchmark", "split-digits", "--method", "finetune", "--iters", "20",
                 "--tasks", "2", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0 and "R[i, j]" in text and "ACC" in text and "BWT" in text
    m = json.loads((out / "metrics.json").read_text())
    assert m["tasks_done"] == 2 and f"ACC {100 * m['avg_acc']:.1f} %" in text


def test_a_too_large_hypernetwork_is_refused_before_the_folder_is_made(tmp_path, capsys) -> None:
    out = tmp_path / "r"
    assert main(["train", "--benchmark", "split-digits", "--hnet-hidden", "100000,100000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the hypernetwork would have" in err and "--out" not in err and not out.exists()


def test_watch_follows_a_run_training_elsewhere_to_its_end(tmp_path, capsys) -> None:
    """`python -m core watch RUN` reads the run folder as it is written (here by a run training on
    another thread) and prints the same results as the run itself."""
    import threading

    from core.engine.loop import run_training
    from core.runs import claim_run_dir
    from tests.conftest import tiny_config

    folder = claim_run_dir(tmp_path / "r")
    trainer = threading.Thread(target=run_training, args=(tiny_config(iters=200, n_tasks=3),),
                               kwargs=dict(run_dir=folder), daemon=True)
    trainer.start()
    assert main(["watch", str(folder), "--quiet"]) == 0
    trainer.join(60)
    out = capsys.readouterr().out
    metrics = json.loads((folder / "metrics.json").read_text())
    assert f"ACC {100 * metrics['avg_acc']:.1f} %" in out and "after i=2" in out and "run finished" in out


def test_watch_refuses_what_is_not_a_run(tmp_path, capsys) -> None:
    assert main(["watch", str(tmp_path / "missing")]) == 2
    assert main(["watch", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'missing'} is not a folder",
                   f"error: {tmp_path} holds no run (no events.jsonl, and no run has claimed it)"]


@pytest.mark.parametrize("damage", ["empty", "cut short", "garbage", "no metrics"])
def test_watch_ends_on_a_finished_run_whose_log_lost_its_end(tmp_path, capsys, monkeypatch, damage) -> None:
    """No process trains the run and its events.jsonl will never get a result event: one line, exit 2
    (it used to wait forever)."""
    import shutil
    from pathlib import Path

    from core import cli_runs

    folder = tmp_path / "run"
    shutil.copytree(Path(__file__).resolve().parents[2] / "pretrained" / "split-digits-hypermask", folder)
    log = folder / "events.jsonl"
    if damage == "empty":
        log.write_bytes(b"")
    elif damage == "cut short":
        log.write_text("".join(log.read_text().splitlines(keepends=True)[:5]))
    else:
        log.write_bytes(bytes(range(256)) * 64)
    if damage == "no metrics":
        (folder / "metrics.json").unlink()
        monkeypatch.setattr(cli_runs, "START_GRACE_S", 0.5)  # a run being started gets 30 s to claim its folder
    assert main(["watch", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    said = "metrics.json cannot be read" if damage == "no metrics" else "metrics.json says 'finished'"
    assert err == (f"error: no process trains the run in {folder} and its events.jsonl has no result event "
                   f"({said}): the log is damaged or cut short\n")
