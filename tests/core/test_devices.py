"""The device setting: resolution and refusal, a run on every device present with device-free files,
the device-side percentile, and the captured (CUDA graph) step against the eager one.

Each device test runs on the CPU everywhere and also on CUDA where `torch.cuda.is_available()`."""

import dataclasses

import numpy as np
import pytest
import torch

from core import devices
from core.runs import load_run
from core.config import TrainConfig
from core.data.benchmarks import CROP_PAD, BatchStream, make_benchmark
from core.engine.loop import check_run, run_training
from core.engine.step import TaskStep
from core.masks import percentile, semi_binary_mask
from core.methods import build_method
from core.models.target import build_target
from tests.conftest import DEVICES, tiny_config

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_auto_resolves_to_what_is_present() -> None:
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert devices.resolve_device("auto").type == want
    assert devices.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(devices.DeviceError, match="'tpu' is not one of auto, cpu, cuda"):
        devices.resolve_device("tpu")


def test_config_accepts_cuda_n_and_refuses_an_unknown_device() -> None:
    assert TrainConfig(device="cuda:1").device == "cuda:1"
    for bad in ("gpu", "CUDA", "", "cuda:", "cuda:x", 5, None):
        with pytest.raises(ValueError, match=r"device=.* is not one of auto, cpu, cuda, cuda:N"):
            TrainConfig(device=bad)  # type: ignore[arg-type]


def test_small_models_default_to_one_thread() -> None:
    """The demo presets' step is too small to share out: one thread, whatever the machine's load, so
    their figures repeat everywhere; the paper presets' step is large enough to use idle cores."""
    from core.data.benchmarks import stream_shape
    from core.methods import parameter_total
    from core.presets import make_config

    for bench in ("split-mnist", "permuted-mnist", "split-digits"):
        for method in ("hypermask", "finetune", "hnet"):
            cfg = make_config(bench, method, "demo")
            n = parameter_total(cfg, *stream_shape(cfg.data))
            assert n < devices.SMALL_STEP and devices.default_threads(n) == 1, (bench, method, n)
    cfg = make_config("split-mnist", "hypermask", "paper")
    assert parameter_total(cfg, *stream_shape(cfg.data)) == 475_202 + 12_359_715  # as built (train_speed)


@needs_no_cuda
def test_cuda_is_refused_before_a_folder_is_made(tmp_path, capsys) -> None:
    with pytest.raises(devices.DeviceError, match="device 'cuda' was asked for.*use device 'cpu' or 'auto'"):
        check_run(tiny_config(device="cuda"))
    from core.cli import main

    out = tmp_path / "run"
    assert main(["train", "--benchmark", "split-digits", "--device", "cuda", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "device 'cuda' was asked for" in err and not out.exists()


@pytest.mark.parametrize("device", DEVICES)
def test_a_run_trains_on_the_device_and_its_files_open_on_the_cpu(device: str, tmp_path) -> None:
    res = run_training(tiny_config(device=device, iters=40), run_dir=tmp_path / "run")
    assert res.error is None and res.metrics["device"].startswith(device)
    assert res.metrics["acc_matrix"][0][0] > 0.9
    assert next(res.method.target.parameters()).device.type == device
    run = load_run(tmp_path / "run")  # always onto the CPU
    assert run.method.device.type == "cpu" and run.metrics["acc_matrix"] == res.metrics["acc_matrix"]
    assert all(m.device.type == "cpu" for ms in run.masks.values() for m in ms.values())
    # the loaded weights give the same first-task accuracy on the CPU as the trained ones on the device
    x, y = res.benchmark.test_inputs(0)
    acc = float((run.method.predict(x.cpu(), 0, 30.0).argmax(1) == y.cpu()).float().mean())
    assert acc == pytest.approx(res.metrics["acc_matrix"][1][0], abs=0.02)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 2, 7, 1000, 313_600])
def test_percentile_with_a_tensor_p_matches_numpy(device: str, n: int) -> None:
    x = torch.rand(n, generator=torch.Generator().manual_seed(n))
    for p in (0.0, 12.5, 30.0, 99.0, 100.0):
        want = np.percentile(x.numpy(), p)
        got = percentile(x.to(device), torch.tensor(p, device=device))
        assert got.device.type == device and float(got) == pytest.approx(want, rel=1e-6, abs=1e-7)
        assert float(percentile(x.to(device), p)) == pytest.approx(want, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_mask_with_a_tensor_sparsity_equals_the_number(device: str) -> None:
    o = torch.randn(40, 30, generator=torch.Generator().manual_seed(0)).to(device)
    for p in (0.0, 30.0, 90.0):
        assert torch.equal(semi_binary_mask(o, torch.tensor(p, device=device)), semi_binary_mask(o, p))


def test_batches_are_the_same_on_every_device() -> None:
    streams = [BatchStream(100, 32, torch.Generator().manual_seed(5), d, CROP_PAD) for d in DEVICES]
    for _ in range(7):  # crosses two epoch boundaries
        batches = [s.next() for s in streams]
        for idx, off in batches:
            assert idx.shape == (32,) and off is not None and off.shape == (2, 32)
            assert int(off.min()) >= 0 and int(off.max()) <= 2 * CROP_PAD
        assert all(torch.equal(b[0].cpu(), batches[0][0]) and torch.equal(b[1].cpu(), batches[0][1]) for b in batches)


def test_without_crop_the_batch_order_is_one_randperm_per_epoch() -> None:
    """Runs without augmentation draw exactly what they drew before the device change (the shipped
    runs stay reproducible)."""
    gen, ref = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    s = BatchStream(10, 4, gen)
    perm = torch.randperm(10, generator=ref)
    assert torch.equal(s.next()[0], perm[:4]) and torch.equal(s.next()[0], perm[4:8])
    assert torch.equal(s.next()[0], torch.randperm(10, generator=ref)[:4])


def _method_and_bench(cfg, device):
    bench = make_benchmark(cfg.data, cfg.train.seed).to(torch.device(device))
    torch.manual_seed(cfg.train.seed)
    method = build_method(cfg, build_target(cfg.target, bench.input_shape, bench.n_classes), len(bench.tasks))
    return method.to(torch.device(device)), bench


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method_name", ["hypermask", "hnet", "finetune"])
def test_captured_step_equals_the_eager_step(device: str, method_name: str) -> None:
    """On CUDA the step is captured as a CUDA graph (with p ramping through a device buffer in task
    0); it must train exactly as the eager step does. On the CPU both are the eager step."""
    cfg = tiny_config(method=method_name, device=device)
    cfg = cfg.replace(data=dataclasses.replace(cfg.data, benchmark="split-digits"))
    runs = []
    for capture in (True, False):
        method, bench = _method_and_bench(cfg, device)
        gen = torch.Generator().manual_seed(3)
        for task in (0, 1):
            method.begin_task(task)
            step = TaskStep(method, bench, task, 1e-2, capture=capture, ramp=task == 0)
            stream = bench.batches(task, 16, gen)
            for i in range(8):
                losses = step(*stream.next(), 30.0 * (i + 1) / 8 if task == 0 else 30.0)
            assert set(losses) == {"total", "ce", "r_hnet", "r_target"}
            if capture and device == "cuda":
                assert step.graph is not None  # captured, not fallen back
        runs.append({k: v.detach().cpu() for k, v in method.state_tensors().items()})
    for k in runs[0]:
        torch.testing.assert_close(runs[0][k], runs[1][k], rtol=1e-4, atol=1e-5, msg=k)


def test_default_threads_are_the_idle_cores() -> None:
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert 1 <= devices.idle_cores(0.05) <= cores and 1 <= devices.default_threads() <= cores
