"""Run folders: round trip, atomic per-task saves, versions, bad folders, bundles, the one claiming rule."""

import json
import zipfile
from io import BytesIO

import pytest
import torch

from core.runs import (LOCK_FILE, RunError, check_out_dir, check_tensor_files, claim_run_dir, delete_run,
                       export_bundle, import_bundle, list_runs, load_run, new_run_dir)
from core import events as ev
from core.config import FORMAT_VERSION
from core.engine.loop import run_training
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs") / "r1"
    res = run_training(tiny_config(iters=20), run_dir=d)
    return d, res


def test_round_trip_identical_predictions(saved) -> None:
    d, res = saved
    run = load_run(d)
    assert run.config == res.method.cfg and run.tasks_done == 2
    x, _ = res.benchmark.test_inputs(1)
    for t in (0, 1):
        assert torch.equal(run.method.predict(x, t, 30.0), res.method.predict(x, t, 30.0))
    assert set(run.masks) == {0, 1} and "hidden.0.weight" in run.masks[1]
    assert json.loads((d / "metrics.json").read_text())["acc_matrix"] == res.metrics["acc_matrix"]
    assert isinstance(run.events()[-1], ev.RunFinished)


def test_files_present_and_json_metrics(saved) -> None:
    d, _ = saved
    for name in ("config.json", "metrics.json", "events.jsonl", "weights.safetensors", "masks.safetensors"):
        assert (d / name).is_file(), name
    m = json.loads((d / "metrics.json").read_text())
    assert {"acc_matrix", "avg_acc", "bwt", "forgetting"} <= set(m)
    assert not list(d.glob("*.tmp"))


def test_interrupted_run_keeps_completed_tasks(tmp_path) -> None:
    calls = {"n": 0}

    def stop_in_task_1() -> bool:
        calls["n"] += 1
        return calls["n"] > 25  # task 0 has 20 steps

    d = tmp_path / "r"
    run_training(tiny_config(iters=20), should_stop=stop_in_task_1, run_dir=d)
    run = load_run(d)
    assert run.tasks_done == 1 and run.metrics["status"] == "stopped"
    assert run.metrics["acc_matrix"][1] == [None, None]


def test_keyboard_interrupt_saves_a_stopped_run(tmp_path) -> None:
    calls = {"n": 0}

    def interrupt_in_task_1() -> bool:
        calls["n"] += 1
        if calls["n"] > 25:
            raise KeyboardInterrupt
        return False

    d = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        run_training(tiny_config(iters=20), should_stop=interrupt_in_task_1, run_dir=d)
    run = load_run(d)
    assert run.tasks_done == 1 and run.metrics["status"] == "stopped"
    assert isinstance(run.events()[-1], ev.RunFinished)


def test_newer_format_says_which_version(saved, tmp_path) -> None:
    d, _ = saved
    bad = tmp_path / "newer"
    bad.mkdir()
    for f in d.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((bad / "config.json").read_text())
    cfg["format_version"] = FORMAT_VERSION + 1
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunError, match=f"format {FORMAT_VERSION + 1}"):
        load_run(bad)


@pytest.mark.parametrize("damage", ["garbage_config", "missing_weights", "garbage_weights", "pickle_weights",
                                    "string_bwt", "acc_out_of_range", "tasks_done_too_big", "wrong_shape_weights",
                                    "missing_masks", "wrong_shape_masks"])
def test_damaged_runs_raise_run_error(saved, tmp_path, damage: str) -> None:
    d, _ = saved
    bad = tmp_path / damage
    bad.mkdir()
    for f in d.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    if damage == "garbage_config":
        (bad / "config.json").write_text("{not json")
    elif damage == "missing_weights":
        (bad / "weights.safetensors").unlink()
    elif damage == "garbage_weights":
        (bad / "weights.safetensors").write_bytes(b"\x00" * 40)
    elif damage == "pickle_weights":
        torch.save({"a": torch.zeros(2)}, bad / "weights.safetensors")  # a pickle in disguise
    elif damage == "wrong_shape_weights":
        from safetensors.torch import load_file, save_file
        w = load_file(str(bad / "weights.safetensors"))
        w["target.hidden.0.weight"] = torch.zeros(3, 3)
        save_file(w, str(bad / "weights.safetensors"))
    elif damage == "missing_masks":
        (bad / "masks.safetensors").unlink()
    elif damage == "wrong_shape_masks":  # the right names, tensors of shape (3,)
        from safetensors.torch import load_file, save_file
        masks = load_file(str(bad / "masks.safetensors"))
        save_file({k: torch.ones(3, dtype=v.dtype) for k, v in masks.items()}, str(bad / "masks.safetensors"))
    else:
        m = json.loads((bad / "metrics.json").read_text())
        if damage == "string_bwt":
            m["bwt"] = "x"
        elif damage == "acc_out_of_range":
            m["acc_matrix"][1][0] = 7.5
        else:
            m["tasks_done"] = 9
        (bad / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(RunError) as e:
        load_run(bad)
    assert "\n" not in str(e.value)
    if damage == "wrong_shape_masks":
        assert "has shape (3,)" in str(e.value)
    if damage in ("garbage_weights", "pickle_weights"):  # a damaged file, not a mismatched network
        assert "weights.safetensors is not a valid safetensors file" in str(e.value), str(e.value)
        assert "does not fit" not in str(e.value)
        assert check_tensor_files(bad) == [str(e.value)]  # the Runs page's header check says the same
    if damage == "missing_weights":
        assert str(e.value) == "weights.safetensors is missing"
    if damage == "wrong_shape_weights":
        assert "does not fit the configured networks" in str(e.value) and not check_tensor_files(bad)


def test_list_runs_marks_unreadable(saved, tmp_path) -> None:
    d, _ = saved
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "config.json").write_text("[1, 2]")
    rows = {r.name: r for r in list_runs(d.parent)} | {r.name: r for r in list_runs(tmp_path)}
    assert rows["r1"].error is None and rows["r1"].avg_acc is not None
    assert rows["foreign"].error and "JSON object" in rows["foreign"].error


def test_claim_run_dir_refuses_file_and_existing_run(saved, tmp_path) -> None:
    d, _ = saved
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(RunError, match="is a file"):
        claim_run_dir(f)
    with pytest.raises(RunError, match="already holds a run"):
        claim_run_dir(d)
    assert (d / "weights.safetensors").exists()


def test_bundle_round_trip_and_checks(saved, tmp_path) -> None:
    d, _ = saved
    data = export_bundle(d)
    dest = import_bundle(data, tmp_path / "imported")
    assert load_run(dest).tasks_done == 2
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("evil.pkl", b"cos\nsystem\n")
    with pytest.raises(RunError, match="unexpected file"):
        import_bundle(buf.getvalue(), tmp_path / "imported")
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # a folder-prefixed bundle with one member that climbs out
        for name in ("config.json", "metrics.json", "../../evil2"):
            z.writestr(f"run/{name}", "{}")
    with pytest.raises(RunError, match=r"\['run/\.\./\.\./evil2'\] point outside the run folder"):
        import_bundle(buf.getvalue(), tmp_path / "imported")
    with pytest.raises(RunError, match="not a zip"):
        import_bundle(b"hello", tmp_path / "imported")
    with pytest.raises(RunError, match="limit"):
        import_bundle(data, tmp_path / "imported", max_bytes=100)
    assert len(list((tmp_path / "imported").iterdir())) == 1  # the failed imports left nothing


def test_delete_run_only_inside_root(saved, tmp_path) -> None:
    d, _ = saved
    with pytest.raises(RunError):
        delete_run(d, tmp_path)
    assert d.exists()


def test_a_run_that_failed_before_its_first_task_says_so(tmp_path) -> None:
    """A run that died while building its networks leaves only events.jsonl: the runs list shows
    its error (not "config.json is missing"), and the CLI's --out check names it too."""
    from core.runs import check_out_dir, summarize_run

    d = tmp_path / "early"
    d.mkdir()
    lines = [{"kind": "run_started", "config": {}, "run_dir": str(d), "n_tasks": 5, "iters_per_task": 10, "info": {}},
             {"kind": "run_failed", "message": "RuntimeError: can't allocate memory", "traceback": ""}]
    (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    s = summarize_run(d)
    assert s.error == "the run failed before its first task: RuntimeError: can't allocate memory"
    with pytest.raises(RunError, match=r"failed before its first task \(RuntimeError: can't allocate memory\)"):
        check_out_dir(d)
    (d / "events.jsonl").write_text(json.dumps(lines[0]) + "\n")  # no failure recorded: as before
    assert "config.json" in summarize_run(d).error


def test_one_claiming_rule_for_cli_and_app_folders(tmp_path) -> None:
    """The CLI's --out (claim_run_dir) and the app's generated folders (new_run_dir) are claimed the
    same way: created, with an exclusive lock file; a second claim is refused; the training worker
    accepts a folder that holds only the claim, and nothing else."""
    out = claim_run_dir(tmp_path / "cli-run")
    assert [f.name for f in out.iterdir()] == [LOCK_FILE]
    with pytest.raises(RunError, match="not empty|already writing"):
        claim_run_dir(out)
    cfg = tiny_config()
    a, b = new_run_dir(tmp_path / "app", cfg), new_run_dir(tmp_path / "app", cfg)
    assert a != b and (a / LOCK_FILE).exists() and (b / LOCK_FILE).exists()
    assert check_out_dir(a, "run_dir", claimed=True) == a
    with pytest.raises(RunError, match="not empty"):
        check_out_dir(a, "run_dir")  # unclaimed use of a claimed folder
    (a / "stray.txt").write_text("x")
    with pytest.raises(RunError, match="not empty"):
        check_out_dir(a, "run_dir", claimed=True)


@pytest.mark.parametrize("config", [b"{not json", b"\xff\xfe", b"[]", b"[" * 100_000])
def test_a_bundle_with_a_malformed_config_is_one_line(config: bytes, tmp_path) -> None:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", config)
        z.writestr("metrics.json", b"{}")
    with pytest.raises(RunError, match="config.json in the bundle") as e:
        import_bundle(buf.getvalue(), tmp_path / "runs")
    assert "\n" not in str(e.value) and not (tmp_path / "runs").exists()


def test_runs_without_masks_are_not_reported_damaged(tmp_path) -> None:
    """Fine-tuning and HNET write no masks file: nothing is missing; a HyperMask run without it is."""
    from pathlib import Path

    pre = Path(__file__).resolve().parents[2] / "pretrained"
    assert check_tensor_files(pre / "split-digits-finetune") == []
    assert check_tensor_files(pre / "split-mnist-hnet") == []
    assert check_tensor_files(pre / "split-digits-hypermask") == []
