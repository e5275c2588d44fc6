"""HyperMask regularisers (hypermask.md §4)."""

import pytest
import torch

from core.config import HyperConfig, MaskConfig, RunConfig, TargetConfig
from core.methods.base import regulariser_weight
from core.methods.hypermask import HyperMask
from core.models.target import build_target


def _method(**mask: object) -> HyperMask:
    cfg = RunConfig(target=TargetConfig(hidden=(8,)), hyper=HyperConfig(hidden=(6,), embedding_dim=4),
                    mask=MaskConfig(**{"sparsity": 30.0, "beta": 0.1, "lam": 0.01, **mask}))  # type: ignore[arg-type]
    torch.manual_seed(0)
    return HyperMask(cfg, build_target(cfg.target, (1, 4, 4), 2), n_tasks=4)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 1, 4, 4, generator=g), torch.randint(0, 2, (8,), generator=g)


def test_regularisers_zero_at_task_start_then_grow() -> None:
    hm = _method()
    x, y = _batch()
    hm.begin_task(2)
    first = hm.losses(x, y, 2, 30.0)
    assert first["r_hnet"].detach().item() < 1e-10 and float(first["r_target"].detach()) == 0.0  # equal up to rounding
    opt = torch.optim.SGD(hm.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        hm.losses(x, y, 2, 30.0)["ce"].backward()  # CE alone moves Θ, e_2 and W
        opt.step()
    later = hm.losses(x, y, 2, 30.0)
    assert float(later["r_hnet"].detach()) > 0.0 and float(later["r_target"].detach()) > 0.0


def test_no_regularisers_on_task_zero_and_when_weights_zero() -> None:
    x, y = _batch()
    hm = _method()
    hm.begin_task(0)
    out = hm.losses(x, y, 0, 30.0)
    assert float(out["r_hnet"]) == 0.0 and float(out["r_target"]) == 0.0
    hm0 = _method(beta=0.0, lam=0.0)
    hm0.begin_task(1)
    with torch.no_grad():
        hm0.target.hidden[0].weight.add_(1.0)
        hm0.hypernet.layers[0].weight.add_(1.0)  # type: ignore[union-attr]
    out = hm0.losses(x, y, 1, 30.0)
    assert float(out["r_hnet"]) == 0.0 and float(out["r_target"]) == 0.0
    assert torch.isclose(out["total"], out["ce"])


def test_r_target_masked_and_pure_values() -> None:
    x, y = _batch()
    for variant in ("masked", "pure"):
        hm = _method(l1=variant, lam=1.0)
        hm.begin_task(1)
        with torch.no_grad():
            hm.target.hidden[0].weight.add_(0.5)
        m = hm.masks(1, 30.0)["hidden.0.weight"]
        n = hm.target.hidden[0].weight.numel()
        want = float((0.5 * m).sum()) if variant == "masked" else 0.5 * n
        assert float(hm.losses(x, y, 1, 30.0)["r_target"].detach()) == pytest.approx(want, rel=1e-4)


def test_r_hnet_value_and_normalisation() -> None:
    x, y = _batch()
    for norm, factor in (("reference", 1 / 3), ("hnet", 1.0)):
        hm = _method(beta_norm=norm, beta=1.0)
        hm.begin_task(3)
        with torch.no_grad():
            hm.hypernet.layers[-1].bias.add_(0.1)  # type: ignore[union-attr]
        n_out = hm.hypernet.n_out  # type: ignore[union-attr]
        # every old output moved by exactly 0.1: (1/t) Σ_j ‖Δ‖² = 0.01·N_out
        want = factor * 0.01 * n_out
        assert float(hm.losses(x, y, 3, 30.0)["r_hnet"].detach()) == pytest.approx(want, rel=1e-3)
    assert regulariser_weight(0.5, 0, "reference") == 0.5
    assert regulariser_weight(0.5, 4, "reference") == 0.125
    assert regulariser_weight(0.5, 4, "hnet") == 0.5
