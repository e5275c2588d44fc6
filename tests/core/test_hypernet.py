"""Hypernetwork outputs match the target's tensors; chunking; the CNN target under masks."""

import math

import pytest
import torch

from core.config import HyperConfig, MaskConfig, RunConfig, TargetConfig
from core.methods.hnet import HNet
from core.methods.hypermask import HyperMask
from core.models.hypernet import HyperNetwork
from core.models.target import OUTPUT_BIAS, build_target, maskable_shapes


@pytest.mark.parametrize("chunk", [None, 64])
def test_output_keys_and_shapes_equal_target(chunk) -> None:
    target = build_target(TargetConfig(hidden=(12, 7)), (1, 5, 5), 3)
    shapes = maskable_shapes(target)
    hn = HyperNetwork(shapes, n_tasks=4, cfg=HyperConfig(hidden=(9,), embedding_dim=6, chunk_size=chunk))
    out = hn([0, 3])
    assert out.shape == (2, sum(math.prod(s) for s in shapes.values()))
    parts = hn.split(out[1])
    assert list(parts) == list(shapes) and OUTPUT_BIAS not in parts
    assert all(parts[k].shape == shapes[k] for k in shapes)
    assert hn.embeddings.shape == (4, 6)
    with pytest.raises(ValueError, match="outside"):
        hn(4)


def test_chunked_hypernetwork_is_much_smaller() -> None:
    target = build_target(TargetConfig(hidden=(100, 100)), (1, 28, 28), 10)
    shapes = maskable_shapes(target)
    full = HyperNetwork(shapes, 10, HyperConfig(hidden=(25, 25), embedding_dim=24))
    chunked = HyperNetwork(shapes, 10, HyperConfig(hidden=(25, 25), embedding_dim=24, chunk_size=4096))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(chunked) * 10 < count(full)
    assert chunked.chunk_embeddings is not None and chunked.chunk_embeddings.shape[0] == math.ceil(full.n_out / 4096)


def test_hnet_generates_every_target_tensor_with_sane_scale() -> None:
    cfg = RunConfig(target=TargetConfig(hidden=(32,)), hyper=HyperConfig(hidden=(10,), embedding_dim=8))
    torch.manual_seed(0)
    m = HNet(cfg, build_target(cfg.target, (1, 28, 28), 2), n_tasks=3)
    w = m.weights(1, 0.0)
    assert set(w) == {n for n, _ in m.target.named_parameters()}
    rms = w["hidden.0.weight"].pow(2).mean().sqrt().item()
    default = m.target.hidden[0].weight.pow(2).mean().sqrt().item()
    assert rms == pytest.approx(default, rel=0.3)  # starts like PyTorch's own initialisation


def test_cnn_target_trains_through_masks() -> None:
    cfg = RunConfig(target=TargetConfig(arch="cnn", channels=(4, 8), hidden=(16,)),
                    hyper=HyperConfig(hidden=(8,), embedding_dim=4), mask=MaskConfig(sparsity=50))
    torch.manual_seed(0)
    m = HyperMask(cfg, build_target(cfg.target, (1, 8, 8), 2), n_tasks=2)
    masks = m.masks(0, 50.0)
    assert masks["convs.0.weight"].shape == (4, 1, 3, 3)
    m.begin_task(0)
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])
    m.losses(x, y, 0, 50.0)["total"].backward()
    assert m.target.convs[0].weight.grad is not None
    assert m.predict(x, 1, 50.0).shape == (4, 2)


@pytest.mark.parametrize("chunk", [None, 40])
def test_parameter_count_matches_the_built_network(chunk: int | None) -> None:
    from core.models.hypernet import parameter_count

    cfg = HyperConfig(hidden=(7, 5), embedding_dim=6, chunk_size=chunk, chunk_emb_dim=3)
    shapes = {"a": torch.Size([10, 12]), "b": torch.Size([10])}
    h = HyperNetwork(shapes, n_tasks=4, cfg=cfg)
    assert parameter_count(130, 4, cfg) == sum(p.numel() for p in h.parameters())


def test_a_hypernetwork_too_large_to_build_is_refused_before_allocation() -> None:
    from core.models.hypernet import MAX_PARAMETERS

    cfg = HyperConfig(hidden=(100_000, 100_000), embedding_dim=8)
    with pytest.raises(ValueError, match=r"10,101,001,016 parameters: it generates 1,000 numbers .*hidden layers \(100000, 100000\)"):
        HyperNetwork({"w": torch.Size([100, 10])}, n_tasks=2, cfg=cfg)
    assert MAX_PARAMETERS >= 206_000_000  # the paper's Permuted MNIST hypernetwork still fits


@pytest.mark.parametrize("batch", [1, 5])
def test_wide_output_layer_gradients_equal_linear(batch: int, monkeypatch) -> None:
    """The chunked backward of the output layer (used on the CPU from WIDE_OUTPUT outputs on) gives
    nn.Linear's gradients, with a remainder slice after the chunks (101 = 8 · 12 + 5)."""
    from torch.nn import functional as F

    import core.models.hypernet as hn

    monkeypatch.setattr(hn, "WIDE_OUTPUT", 10)
    g = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, 7, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(101, 7, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(101, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(hn.WideOutputLinear.apply, (x, w, b))
    up = torch.randn(batch, 101, dtype=torch.float64, generator=g)
    mine = torch.autograd.grad(hn.WideOutputLinear.apply(x, w, b), (x, w, b), up)
    ref = torch.autograd.grad(F.linear(x, w, b), (x, w, b), up)
    for a, r in zip(mine, ref):
        torch.testing.assert_close(a, r)
