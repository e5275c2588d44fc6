"""Semi-binary masks (hypermask.md §2–3)."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from core.config import HyperConfig, MaskConfig, RunConfig, TargetConfig
from core.masks import apply_masks, masks_from_logits, percentile, ramped_sparsity, semi_binary_mask
from core.methods.hypermask import HyperMask
from core.models.target import OUTPUT_BIAS, build_target


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 4097])
@pytest.mark.parametrize("p", [0.0, 12.5, 30.0, 50.0, 99.9])
def test_percentile_matches_numpy_linear(n: int, p: float) -> None:
    x = torch.randn(n, generator=torch.Generator().manual_seed(n))
    assert float(percentile(x, p)) == pytest.approx(np.percentile(x.numpy(), p), abs=1e-6)


def test_percentile_with_ties_matches_numpy() -> None:
    x = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 5.0])
    for p in [0, 10, 40, 50, 70, 99]:
        assert float(percentile(x, p)) == pytest.approx(np.percentile(x.numpy(), p))


@pytest.mark.parametrize("p", [10.0, 30.0, 75.0])
def test_requested_sparsity_reached_per_tensor(p: float) -> None:
    g = torch.Generator().manual_seed(0)
    logits = {"a": torch.randn(200, 300, generator=g), "b": 3 * torch.randn(50, generator=g)}
    for name, m in masks_from_logits(logits, p).items():
        frac_zero = float((m == 0).float().mean())
        assert frac_zero == pytest.approx(p / 100, abs=1.5 / m.numel() + 1e-3), name
        assert float(m.min()) >= 0.0 and float(m.max()) < 1.0


def test_kept_entries_keep_continuous_value() -> None:
    o = torch.randn(1000)
    m = semi_binary_mask(o, 30.0)
    kept = m > 0
    assert torch.allclose(m[kept], torch.tanh(o[kept]).abs())
    assert len(torch.unique(m[kept])) > 100  # semi-binary: not just 0/1


def test_dense_mask_at_p_zero() -> None:
    o = torch.randn(100)
    assert torch.equal(semi_binary_mask(o, 0.0), torch.tanh(o).abs())


def test_bad_sparsity_raises() -> None:
    with pytest.raises(ValueError, match="100"):
        semi_binary_mask(torch.randn(3), 100.0)


def test_adaptive_ramp_only_in_task_zero() -> None:
    assert ramped_sparsity(30, 0, 0, 100, True) == pytest.approx(0.3)
    assert ramped_sparsity(30, 0, 99, 100, True) == pytest.approx(30)
    assert ramped_sparsity(30, 1, 0, 100, True) == 30
    assert ramped_sparsity(30, 0, 0, 100, False) == 30


def test_more_than_2_pow_24_entries() -> None:
    n = 2**24 + 3
    o = torch.randn(n, generator=torch.Generator().manual_seed(3))
    with pytest.raises(RuntimeError):
        torch.quantile(o.abs(), 0.3)  # the limit we work around
    m = semi_binary_mask(o, 30.0)
    assert float((m == 0).float().mean()) == pytest.approx(0.30, abs=1e-4)


def _small_hypermask() -> HyperMask:
    cfg = RunConfig(target=TargetConfig(hidden=(8,)), hyper=HyperConfig(hidden=(6,), embedding_dim=4),
                    mask=MaskConfig(sparsity=30))
    torch.manual_seed(0)
    return HyperMask(cfg, build_target(cfg.target, (1, 4, 4), 3), n_tasks=3)


def test_output_bias_unmasked_and_all_else_masked() -> None:
    hm = _small_hypermask()
    masks = hm.masks(0, 30.0)
    names = {n for n, _ in hm.target.named_parameters()}
    assert set(masks) == names - {OUTPUT_BIAS}
    w = hm.weights(0, 30.0)
    assert torch.equal(w[OUTPUT_BIAS], hm.target.head.bias)


def test_all_ones_mask_equals_plain_forward() -> None:
    hm = _small_hypermask()
    x = torch.randn(5, 1, 4, 4)
    params = dict(hm.target.named_parameters())
    ones = {n: torch.ones_like(p) for n, p in params.items() if n != OUTPUT_BIAS}
    out = functional_call(hm.target, apply_masks(params, ones), (x,))
    assert torch.allclose(out, hm.target(x))


def test_gradients_reach_hypernetwork_and_embedding() -> None:
    hm = _small_hypermask()
    x, y = torch.randn(6, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    hm.begin_task(1)
    hm.losses(x, y, 1, 30.0)["total"].backward()
    assert hm.hypernet is not None
    for layer in hm.hypernet.layers:
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    g = hm.hypernet.embeddings.grad
    assert g is not None and g[1].abs().sum() > 0 and g[2].abs().sum() == 0
    assert hm.target.hidden[0].weight.grad is not None


@pytest.mark.parametrize("seed", range(6))
def test_fast_cpu_threshold_equals_the_definition(seed: int) -> None:
    """The CPU mask keeps x > nextafter(τ) (one vectorised `threshold`): exactly the entries with
    r ≥ τ, ties at τ included, with their values and gradients."""
    o = torch.randn(37, 53, generator=torch.Generator().manual_seed(seed)) * (seed + 1)
    if seed % 2 == 0:
        o = torch.round(o)  # many equal values, some exactly at τ
    for p in (10.0, 30.0, 50.0, 99.0):
        a = o.clone().requires_grad_(True)
        b = o.clone().requires_grad_(True)
        r = torch.tanh(b).abs()
        ref = r * (r >= percentile(r, p)).to(r.dtype)
        got = semi_binary_mask(a, p)
        assert torch.equal(got, ref)
        (got * torch.arange(got.numel()).view_as(got)).sum().backward()
        (ref * torch.arange(ref.numel()).view_as(ref)).sum().backward()
        assert torch.equal(a.grad, b.grad)
