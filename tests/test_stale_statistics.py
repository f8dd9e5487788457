"""Tests for lsl.paths.stale_statistics: the straight line between batch-norm networks with interpolated statistics.

References: a batch-norm MLP written out by hand (normalisation by given statistics), the landscape's own loss at
the endpoints (where the interpolated statistics are the endpoints' own) and on a network without batch norm (where
nothing is stale).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsl.data import nets
from lsl.network import NetworkLandscape
from lsl.paths import stale_statistics, tunnels

F64 = torch.float64


def bn_net(batchnorm=True, seed=0):
    gen = torch.Generator().manual_seed(10 + seed)
    x = torch.randn(50, 5, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (50,), generator=gen)
    xt = torch.randn(20, 5, generator=gen, dtype=F64)
    yt = torch.randint(0, 3, (20,), generator=gen)
    model = nets.make("mlp", (5,), 3, seed=seed, width=4, depth=1, batchnorm=batchnorm).to(F64)
    return NetworkLandscape(model, x, y, x_test=xt, y_test=yt)


def manual_loss(theta, L, mean, var, x, y):
    """Flatten, Linear(5, 4), BatchNorm1d(4) with the given statistics, ReLU, Linear(4, 3); cross-entropy."""
    p = L.view.unflatten(theta)
    h = x @ p["1.weight"].T + p["1.bias"]
    h = (h - mean) / torch.sqrt(var + 1e-5) * p["2.weight"] + p["2.bias"]
    z = torch.relu(h) @ p["4.weight"].T + p["4.bias"]
    return nn.functional.cross_entropy(z, y)


def two_points(L):
    gen = torch.Generator().manual_seed(1)
    return (L.theta0 + 0.4 * torch.randn(L.D, generator=gen, dtype=F64),
            L.theta0 + 0.4 * torch.randn(L.D, generator=gen, dtype=F64))


def test_stale_line_against_a_hand_written_network():
    L = bn_net()
    a, b = two_points(L)
    t = torch.tensor([0.0, 0.3, 0.5, 1.0], dtype=F64)
    stale = stale_statistics.stale_line_loss(L, a, b, t)
    stale_test = stale_statistics.stale_line_loss(L, a, b, t, split="test")
    h = lambda th: L.x @ L.view.unflatten(th)["1.weight"].T + L.view.unflatten(th)["1.bias"]
    ma, va = h(a).mean(0), h(a).var(0, unbiased=False)
    mb, vb = h(b).mean(0), h(b).var(0, unbiased=False)
    for k, ti in enumerate(t.tolist()):
        th = (1 - ti) * a + ti * b
        mean, var = (1 - ti) * ma + ti * mb, (1 - ti) * va + ti * vb
        assert stale[k] == pytest.approx(float(manual_loss(th, L, mean, var, L.x, L.y)), rel=1e-10)
        assert stale_test[k] == pytest.approx(float(manual_loss(th, L, mean, var, L.x_test, L.y_test)), rel=1e-10)
        stats = stale_statistics.interpolated_statistics(L, a, b, ti)
        assert torch.allclose(stats["2"][0], mean) and torch.allclose(stats["2"][1], var)
    # the reset line (the landscape's policy) agrees at the ends and differs in between
    reset = L.loss(tunnels.linear_path(a, b, 5))
    stale5 = stale_statistics.stale_line_loss(L, a, b, torch.linspace(0, 1, 5, dtype=F64))
    assert torch.allclose(stale5[[0, -1]], reset[[0, -1]], rtol=1e-10)
    assert not torch.allclose(stale5[1:-1], reset[1:-1], rtol=1e-6)


def test_without_batchnorm_nothing_is_stale():
    L = bn_net(batchnorm=False)
    a, b = two_points(L)
    assert stale_statistics.interpolated_statistics(L, a, b, 0.5) == {}
    assert torch.allclose(stale_statistics.stale_line_loss(L, a, b, torch.linspace(0, 1, 4, dtype=F64)),
                          L.loss(tunnels.linear_path(a, b, 4)), rtol=1e-10)


def test_bad_inputs():
    L = bn_net()
    a, b = two_points(L)
    with pytest.raises(ValueError, match="single points"):
        stale_statistics.stale_line_loss(L, torch.stack([a, a]), b, torch.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="one-dimensional"):
        stale_statistics.stale_line_loss(L, a, b, 0.5)
    with pytest.raises(ValueError, match="split"):
        stale_statistics.stale_line_loss(L, a, b, torch.linspace(0, 1, 3), split="val")
