"""Winning-ticket lab (core/tickets): cross-mask matrix, sweep, controls, drift, entropy task
inference, the cache and `python -m core analyze` — on hand-built networks and tiny Split Digits runs."""

import json
import math
import os

import pytest
import torch

from core.cli import main
from core.config import DataConfig, HyperConfig, MaskConfig, RunConfig, TargetConfig, TrainConfig
from core.data.benchmarks import Benchmark, Task
from core.engine.loop import run_training
from core.methods import build_method
from core.models.target import build_target
from core.runs import TASK_MASKS_FILE, RunError, load_run
from core.tickets import (CACHE_FILE, analyze, analyze_run, class_incremental, cross_mask_matrix, infer_tasks,
                          mask_drift, random_support_mask, softmax_entropy, task_inference)
from core.tickets.controls import magnitude_mask, support_sizes
from core.tickets.subnetworks import Subnetworks
from tests.conftest import tiny_config


# ---- a hand-built two-task HyperMask: disjoint masks over one 4-4-2 MLP ---------------------------

def _two_feature_task(index: int, feature: int) -> Task:
    """Inputs (N, 1, 2, 2) whose only nonzero feature is `feature` (±1); label 1 where it is +1.
    Balanced: 8 test samples, 4 of each label."""
    signs = torch.tensor([1.0, -1.0] * 4)
    x = torch.zeros(8, 4)
    x[:, feature] = signs
    y = (signs > 0).long()
    x = x.view(8, 1, 2, 2)
    return Task(index, (2 * index, 2 * index + 1), x, y, x.clone(), y.clone())


def _hand_built() -> Subnetworks:
    """Target h = relu(W1 x), logits = W2 h: hidden units 0, 1 read feature 0 (task 0), units 2, 3
    feature 2 (task 1). The hypernetwork (no hidden layer, one-hot embeddings) emits o = 10 on task
    j's units and 0 elsewhere, so at p = 0 the masks |tanh(o)| are disjoint: task j's subnetwork sees
    nothing of the other task's inputs and outputs the constant head bias (0, 0) → always class 0."""
    cfg = RunConfig(target=TargetConfig(hidden=(4,)), hyper=HyperConfig(hidden=(), embedding_dim=2),
                    mask=MaskConfig(sparsity=0.0), train=TrainConfig(method="hypermask"))
    method = build_method(cfg, build_target(cfg.target, (1, 2, 2), 2), 2)
    with torch.no_grad():
        t = method.target
        t.hidden[0].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [-1, 0, 0, 0], [0, 0, 1, 0], [0, 0, -1, 0]]))
        t.hidden[0].bias.zero_()
        t.head.weight.copy_(torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 0]]))
        t.head.bias.zero_()
        hn = method.hypernet
        hn.embeddings.copy_(torch.eye(2))
        logits = []
        for units in ((0, 1), (2, 3)):
            o = {"hidden.0.weight": torch.zeros(4, 4), "hidden.0.bias": torch.zeros(4), "head.weight": torch.zeros(2, 4)}
            o["hidden.0.weight"][list(units)] = 10.0
            o["head.weight"][:, list(units)] = 10.0
            logits.append(torch.cat([v.flatten() for v in o.values()]))
        hn.layers[-1].weight.copy_(torch.stack(logits, 1))  # column j = task j's outputs
        hn.layers[-1].bias.zero_()
    bench = Benchmark("hand", [_two_feature_task(0, 0), _two_feature_task(1, 2)], (1, 2, 2), 2, "hand", "",
                      normalize=False)
    return Subnetworks(method, bench, 2, 0.0)


def test_disjoint_hand_set_masks_give_chance_off_the_diagonal() -> None:
    sub = _hand_built()
    m0, m1 = sub.masks(0), sub.masks(1)
    assert all(not ((m0[n] > 0) & (m1[n] > 0)).any() for n in m0)  # disjoint supports
    c = cross_mask_matrix(sub, final_row=[1.0, 1.0])
    assert c["matrix"] == [[1.0, 0.5], [0.5, 1.0]] and c["chance"] == 0.5 and c["diagonal_matches_r"] is True
    inf = task_inference(sub)  # the wrong subnetwork outputs (0, 0): maximal entropy, never chosen
    assert inf["task_accuracy"] == 1.0 and inf["cil_accuracy"] == 1.0 and inf["confusion"] == [[8, 0], [0, 8]]


def test_entropy_inference_on_constructed_logits() -> None:
    # 3 tasks × 2 classes; true task 1 (global classes 2, 3). Sample a: task 1 is confident → right.
    # Sample b: task 2 is more confident than task 1 → inferred task 2, predicted its class 5.
    logits = torch.tensor([[[0.1, 0.0], [0.0, 0.2]],     # subnetwork 0: flat on both samples
                           [[0.0, 6.0], [2.0, 0.0]],     # subnetwork 1: a → local 1 (global 3)
                           [[0.5, 0.0], [0.0, 9.0]]])    # subnetwork 2: b → local 1 (global 5)
    assert infer_tasks(logits).tolist() == [1, 2]
    assert softmax_entropy(torch.zeros(2)).item() == pytest.approx(math.log(2))
    out = class_incremental([torch.zeros(3, 0, 2), logits, torch.zeros(3, 0, 2)],
                            [torch.zeros(0, dtype=torch.long), torch.tensor([1, 0]), torch.zeros(0, dtype=torch.long)],
                            [(0, 1), (2, 3), (4, 5)])
    assert out["task_accuracy"] == 0.5 and out["cil_accuracy"] == 0.5
    assert out["confusion"] == [[0, 0, 0], [0, 1, 1], [0, 0, 0]] and out["n_samples"] == 2
    # Shared classes (Permuted MNIST): the right digit counts even through another task's subnetwork.
    shared = class_incremental([logits[:, 1:]], [torch.tensor([1])], [(0, 1), (0, 1), (0, 1)])
    assert shared["task_accuracy"] == 0.0 and shared["cil_accuracy"] == 1.0


# ---- tiny trained runs -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two-task Split Digits runs of each method, saved (HyperMask with task_masks.safetensors)."""
    root = tmp_path_factory.mktemp("tickets")
    out = {}
    for method in ("hypermask", "finetune", "hnet"):
        res = run_training(tiny_config(method, iters=40), run_dir=root / method)
        assert res.error is None
        out[method] = root / method
    return out


def test_analyses_reproduce_the_final_row_of_r_exactly(runs) -> None:
    run = load_run(runs["hypermask"])
    r = analyze(run)
    final = run.metrics["acc_matrix"][-1]
    cm, sw, ctl = r["cross_mask"], r["sweep"], r["controls"]
    assert [cm["matrix"][i][i] for i in range(2)] == final and cm["diagonal_matches_r"] is True
    k = sw["levels"].index(30.0)
    assert [row[k] for row in sw["accuracy"]] == final  # the sweep at the trained p: bit for bit
    assert ctl["learned"] == final
    assert sw["levels"] == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99]
    zeros = [row[k] for row in sw["zero_fraction"]]
    assert all(0.29 <= z <= 0.31 for z in zeros) and all(row[-1] >= 0.98 for row in sw["zero_fraction"])
    assert len(ctl["random"][0]) == 5 and ctl["random_std"][0] >= 0
    assert ctl["random_mean"][0] == pytest.approx(sum(ctl["random"][0]) / 5)


def test_random_and_magnitude_controls_keep_the_learned_support_size(runs) -> None:
    run = load_run(runs["hypermask"])
    sub = Subnetworks(run.method, None, 2, 30.0)  # masks only: no test set needed
    learned, dense, w = sub.masks(1), sub.masks(1, 0.0), sub.target_weights()
    gen = torch.Generator().manual_seed(0)
    draws = [{n: random_support_mask(m, gen) for n, m in learned.items()} for _ in range(3)]
    for d in draws:
        assert support_sizes(d) == support_sizes(learned)
        for n, m in learned.items():  # the same kept values, elsewhere
            assert torch.equal(d[n][d[n] > 0].sort().values, m[m > 0].sort().values)
    assert not torch.equal(draws[0]["hidden.0.weight"], draws[1]["hidden.0.weight"])
    assert not torch.equal(draws[0]["hidden.0.weight"] > 0, learned["hidden.0.weight"] > 0)
    mag = {n: magnitude_mask(m, dense[n], w[n]) for n, m in learned.items()}
    assert support_sizes(mag) == support_sizes(learned)
    top = (w["hidden.0.weight"] * dense["hidden.0.weight"]).abs()
    kept = mag["hidden.0.weight"] > 0
    assert top[kept].min() >= top[~kept].max()  # the largest |W ⊙ M| entries


def test_controls_of_dense_masks_say_so(runs) -> None:
    from core.tickets import from_run, mask_controls

    sub = from_run(load_run(runs["hypermask"]))
    dense = mask_controls(Subnetworks(sub.method, sub.bench, 2, 0.0), seeds=1)  # p = 0: every entry kept
    assert dense["note"] and dense["magnitude"] == dense["learned"]
    assert all(f == 1.0 for row in dense["support_fraction"] for f in row)
    assert mask_controls(sub, seeds=1)["note"] is None


def test_drift_of_a_new_run_and_of_a_run_without_snapshots(runs, tmp_path) -> None:
    run = load_run(runs["hypermask"])
    d = mask_drift(run)
    assert d["reason"] is None and d["layers"] == ["hidden.0.weight", "hidden.0.bias", "head.weight"]
    assert d["jaccard"][1] == [1.0, 1.0, 1.0] and d["mean_abs_change"][1] == [0.0, 0.0, 0.0]  # the last task
    assert all(0 <= v <= 1 for v in d["jaccard"][0]) and any(v > 0 for v in d["mean_abs_change"][0])
    old = tmp_path / "old"
    old.mkdir()
    for f in runs["hypermask"].iterdir():
        if f.name not in (TASK_MASKS_FILE, CACHE_FILE):
            (old / f.name).write_bytes(f.read_bytes())
    assert mask_drift(load_run(old))["reason"].startswith("this run predates per-task mask snapshots")


def test_which_analyses_apply_to_fine_tuning_and_hnet(runs) -> None:
    ft = analyze(load_run(runs["finetune"]))
    for key in ("cross_mask", "sweep", "controls", "drift"):
        assert ft[key]["reason"] and "fine-tuning" in ft[key]["reason"], key
    assert ft["cross_mask"]["matrix"] is None and ft["sweep"]["accuracy"] is None
    inf = ft["inference"]
    assert inf["task_accuracy"] is None and "no task identity to infer" in inf["reason"]
    assert inf["cil_accuracy"] is None and "task-local labels" in inf["cil_reason"]  # split tasks: 2-way head
    run = load_run(runs["hnet"])
    hn = analyze(run)
    assert hn["cross_mask"]["reason"] is None and hn["cross_mask"]["diagonal_matches_r"] is True
    assert [hn["cross_mask"]["matrix"][i][i] for i in range(2)] == run.metrics["acc_matrix"][-1]
    assert hn["inference"]["task_accuracy"] is not None and "HNET" in hn["sweep"]["reason"]


def test_loop_writes_snapshots_and_task_inference(runs) -> None:
    m = json.loads((runs["hypermask"] / "metrics.json").read_text())
    ti = m["task_inference"]
    assert sum(map(sum, ti["confusion"])) == ti["n_samples"] == sum(m["data"]["test_sizes"])
    assert ti["task_accuracy"] == analyze(load_run(runs["hypermask"]))["inference"]["task_accuracy"]
    from safetensors import safe_open
    with safe_open(str(runs["hypermask"] / TASK_MASKS_FILE), framework="pt") as h:
        assert sorted(h.keys()) == sorted(f"task{j}/{n}" for j in (0, 1)
                                          for n in ("hidden.0.weight", "hidden.0.bias", "head.weight"))


def _copy(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        if f.name != CACHE_FILE:
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


@pytest.mark.parametrize("name, damage, needle", [
    ("masks.safetensors", "truncate", "masks.safetensors is not a valid safetensors file"),
    ("masks.safetensors", "delete", "masks.safetensors is missing"),
    ("weights.safetensors", "truncate", "weights.safetensors is not a valid safetensors file"),
    (TASK_MASKS_FILE, "truncate", f"{TASK_MASKS_FILE} is not a valid safetensors file"),
    (TASK_MASKS_FILE, "inflate", f"{TASK_MASKS_FILE} is "),
    ("weights.safetensors", "inflate", "weights.safetensors is "),
    ("masks.safetensors", "inflate", "masks.safetensors is "),
])
def test_damaged_or_missing_tensor_files_name_the_file(runs, tmp_path, capsys, name, damage, needle) -> None:
    d = _copy(runs["hypermask"], tmp_path / "r")
    f = d / name
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "inflate":  # larger than the run's configuration can fill: refused unread
        f.write_bytes(f.read_bytes() + b"\0" * (3 << 20))
    else:
        f.unlink()
    with pytest.raises(RunError) as e:
        analyze_run(d)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert damage != "inflate" or "not read" in str(e.value)
    assert main(["analyze", str(d)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and not (d / CACHE_FILE).exists()


def test_cache_is_reused_and_recomputed_when_weights_change(runs, tmp_path, monkeypatch) -> None:
    d = _copy(runs["hypermask"], tmp_path / "r")
    first = analyze_run(d)
    assert first["cache"] == "written" and (d / CACHE_FILE).is_file()
    stored = json.loads((d / CACHE_FILE).read_text())
    assert stored["version"] == 2 and stored["fingerprint"]["weights.safetensors"][0] == (d / "weights.safetensors").stat().st_size
    assert "cache" not in stored
    import core.tickets.lab as lab

    def no_load(path):
        raise AssertionError("a current cache must not load the run")

    monkeypatch.setattr(lab, "load_run", no_load)
    second = analyze_run(d)
    assert second["cache"] == "reused" and second["cross_mask"] == first["cross_mask"]
    st = (d / "weights.safetensors").stat()
    os.utime(d / "weights.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched, same content
    assert analyze_run(d)["cache"] == "reused"  # (a clone of a shipped run: new file times)
    data = bytearray((d / "weights.safetensors").read_bytes())
    data[-1] ^= 1  # weights replaced (the size unchanged)
    (d / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(AssertionError):
        analyze_run(d)
    monkeypatch.undo()
    assert analyze_run(d)["cache"] == "written" and analyze_run(d)["cache"] == "reused"
    assert analyze_run(d, seeds=2)["cache"] == "written"  # other settings: computed anew
    (d / CACHE_FILE).write_text("{not json")
    assert analyze_run(d, seeds=2)["cache"] == "written"


def test_cli_analyze_prints_the_summary(runs, capsys) -> None:
    assert main(["analyze", str(runs["hypermask"]), "--refresh", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "C[i, j] (%)" in out and "diagonal = R[T−1, i]: yes" in out and "random (mean ± std, 2 seeds)" in out
    assert "task-identity inference by lowest entropy" in out and "saved as tickets.json" in out
    assert main(["analyze", str(runs["finetune"])]) == 0
    assert "cross-mask accuracy: not defined" in capsys.readouterr().out
    # from the cache: a --data given anyway is not read, and the user is told so
    assert main(["analyze", str(runs["hypermask"]), "--seeds", "2", "--data", "/no/such/loop"]) == 0
    said = capsys.readouterr()
    assert "read from tickets.json" in said.out and said.err.startswith("note: --data /no/such/loop was not read")


@pytest.mark.parametrize("args, needle", [
    (["/nonexistent/run"], "is not a folder"),
    (["NOT_A_RUN"], "cannot analyze"),  # a folder without the run's files: named, with what is missing
    (["RUN", "--seeds", "0"], "--seeds 0"),
    (["RUN", "--threads", "0"], "--threads 0"),
    (["RUN", "--data", "/nonexistent/mnist.npz"], "/nonexistent/mnist.npz"),
])
def test_cli_analyze_bad_input(runs, tmp_path, capsys, args, needle) -> None:
    # Split Digits ignores --data: give it a Split MNIST folder by config so the path is read
    d = _copy(runs["hypermask"], tmp_path / "r")
    if "--data" in args:
        cfg = json.loads((d / "config.json").read_text())
        cfg["config"]["data"]["benchmark"] = "split-mnist"
        (d / "config.json").write_text(json.dumps(cfg))
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    named = {"RUN": str(d), "NOT_A_RUN": str(empty)}
    assert main(["analyze", *[named.get(a, a) for a in args], "--refresh"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    if args == ["NOT_A_RUN"]:
        assert f"{empty}: config.json is missing" in err


def test_data_other_than_the_runs_is_refused(runs, tmp_path) -> None:
    d = _copy(runs["hypermask"], tmp_path / "r")
    m = json.loads((d / "metrics.json").read_text())
    m["data"]["sha256"] = "0" * 64
    (d / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(RunError, match="is not the data this run was trained on"):
        analyze_run(d)
