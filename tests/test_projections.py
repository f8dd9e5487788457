"""Tests for lsl.subspaces.projections (dense and Fastfood random projections) and the bookkeeping of lsl.subspaces.hyperplanes that uses them."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from lsl.network import NetworkLandscape
from lsl.data.nets import MLP
from lsl.subspaces.projections import DenseProjection, FastfoodProjection, fwht, make_projection
from lsl.subspaces.hyperplanes import intrinsic_dimension, train_in_hyperplanes
from lsl.toy import WedgeLandscape

F64 = torch.float64
KINDS = [DenseProjection, FastfoodProjection]


def tiny_net(seed: int = 0) -> NetworkLandscape:
    torch.manual_seed(seed)
    model = MLP(4, 3, width=6, depth=2, activation="tanh").to(F64)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(30, 4, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (30,), generator=gen)
    return NetworkLandscape(model, x, y, x_test=x, y_test=y)


def sylvester(n: int) -> torch.Tensor:
    """The Sylvester-Hadamard matrix built by the definition H_{ij} = (-1)^{popcount(i & j)} (independent of fwht)."""
    i = torch.arange(n)
    bits = torch.tensor([[bin(a & b).count("1") for b in range(n)] for a in range(n)])
    return (1 - 2 * (bits % 2)).to(F64) + 0 * i[:, None]


@pytest.mark.parametrize("L", [1, 2, 4, 32, 256])
def test_fwht_is_hadamard_product(L):
    x = torch.randn(3, L, dtype=F64)
    torch.testing.assert_close(fwht(x, max_factor=8), x @ sylvester(L), rtol=0, atol=1e-10)
    torch.testing.assert_close(fwht(fwht(x)) / L, x, rtol=0, atol=1e-10)


def test_fwht_rejects_other_lengths():
    with pytest.raises(ValueError, match="power-of-two"):
        fwht(torch.zeros(2, 6))


@pytest.mark.parametrize("cls", KINDS)
def test_restrict_is_the_transpose_of_to_full(cls):
    proj = cls(50, 7, n_planes=3, seed=1, dtype=F64)
    M = proj.matrix()                        # [P, D, d] built from to_full
    assert M.shape == (3, 50, 7)
    phi, g = torch.randn(3, 7, dtype=F64), torch.randn(3, 50, dtype=F64)
    torch.testing.assert_close(proj.to_full(phi), torch.einsum("pDd,pd->pD", M, phi), rtol=0, atol=1e-10)
    torch.testing.assert_close(proj.restrict(g), torch.einsum("pDd,pD->pd", M, g), rtol=0, atol=1e-10)
    # extra batch dimension [P, K, d]
    phik = torch.randn(3, 4, 7, dtype=F64)
    torch.testing.assert_close(proj.to_full(phik), torch.einsum("pDd,pkd->pkD", M, phik), rtol=0, atol=1e-10)


@pytest.mark.parametrize("cls", KINDS)
def test_seeded_and_independent_of_global_rng(cls):
    a = cls(40, 5, n_planes=2, seed=3, dtype=F64).matrix()
    torch.manual_seed(123)
    b = cls(40, 5, n_planes=2, seed=3, dtype=F64).matrix()
    c = cls(40, 5, n_planes=2, seed=4, dtype=F64).matrix()
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert not torch.allclose(a[0], a[1])


def test_fastfood_columns_unit_norm_on_average_and_nearly_orthogonal():
    D, d = 3000, 60
    M = FastfoodProjection(D, d, n_planes=4, seed=0, dtype=F64).matrix()
    norms2 = (M * M).sum(1)                  # [P, d]
    assert abs(norms2.mean().item() - 1) < 0.05
    gram = M.transpose(1, 2) @ M
    off = gram[:, ~torch.eye(d, dtype=torch.bool)]
    # a random unit vector pair in R^D has cosine ~ N(0, 1/D); allow a wide margin
    assert off.abs().max() < 6 / math.sqrt(D)
    assert off.pow(2).mean().sqrt() < 2 / math.sqrt(D)
    # the dense projection is exactly orthonormal
    Md = DenseProjection(D, d, n_planes=2, seed=0, dtype=F64).M
    torch.testing.assert_close(Md.transpose(1, 2) @ Md, torch.eye(d, dtype=F64).expand(2, d, d), rtol=0, atol=1e-10)


def test_fastfood_power_of_two_and_full_dimension():
    proj = FastfoodProjection(64, 64, seed=0, dtype=F64)
    M = proj.matrix()[0]
    # D = L and d = D: c * H G Pi H B has columns of norm sqrt(L ||G||^2) * c = 1 exactly when D = L
    torch.testing.assert_close(M.norm(dim=0), torch.ones(64, dtype=F64), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["dense", "fastfood"])
def test_in_plane_gradient_is_restricted_full_gradient(kind):
    L = tiny_net()
    proj = make_projection(kind, L.D, 5, n_planes=2, seed=2, dtype=F64)
    phi = (0.1 * torch.randn(2, 5, dtype=F64)).requires_grad_(True)
    theta = L.theta0 + proj.to_full(phi)
    (g_phi,) = torch.autograd.grad(L.loss(theta).sum(), phi)
    g_full = L.grad(theta.detach())
    torch.testing.assert_close(g_phi, proj.restrict(g_full), rtol=1e-9, atol=1e-12)


def test_make_projection_checks_instances_and_names():
    proj = FastfoodProjection(20, 3, n_planes=2)
    assert make_projection(proj, 20, 3, n_planes=2) is proj
    with pytest.raises(ValueError, match="expected"):
        make_projection(proj, 20, 4, n_planes=2)
    with pytest.raises(ValueError, match="unknown projection"):
        make_projection("sparse-ish", 20, 3)
    with pytest.raises(ValueError, match="1 <= d <= D=20"):
        FastfoodProjection(20, 21)


def test_dense_and_fastfood_agree_in_distribution_on_the_toy_model():
    """Success of random planes on the wedge model is decided by d vs D - n, whatever the kind of M."""
    D, n = 40, 28
    toy = WedgeLandscape(D, n, dtype=F64)
    theta0 = torch.randn(D, generator=torch.Generator().manual_seed(0), dtype=F64)
    for d, expect in ((D - n - 4, False), (D - n + 3, True)):
        for kind in ("dense", "fastfood"):
            res = train_in_hyperplanes(toy, theta0, d, n_planes=6, steps=1500, lr=0.05, seed=d, projection=kind)
            ok = (res.final_loss / res.initial_loss < 1e-4)
            assert bool(ok.all()) if expect else not bool(ok.any()), (kind, d, res.final_loss / res.initial_loss)


def test_dense_and_fastfood_agree_in_distribution_on_a_network():
    """Same accuracy distribution (means within a few standard errors) on a small classification task."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(5)
    centres = 2.0 * torch.randn(3, 8, generator=gen)
    y = torch.randint(0, 3, (300,), generator=gen)
    x = centres[y] + torch.randn(300, 8, generator=gen)
    L = NetworkLandscape(MLP(8, 3, width=16, depth=1), x[:200], y[:200], x_test=x[200:], y_test=y[200:])
    accs = {}
    for kind in ("dense", "fastfood"):
        res = train_in_hyperplanes(L, L.theta0, 4, n_planes=16, steps=150, lr=0.1, seed=1, projection=kind)
        accs[kind] = L.accuracy(res.theta, "test")
    m1, m2 = accs["dense"].mean(), accs["fastfood"].mean()
    se = math.sqrt((accs["dense"].var() + accs["fastfood"].var()).item() / 16)
    assert abs(m1 - m2) < 4 * se + 0.02, (accs["dense"], accs["fastfood"])


def test_planes_of_several_dimensions_trained_together_match_separate_runs():
    L = tiny_net()
    proj = DenseProjection(L.D, 6, n_planes=2, seed=0, dtype=F64)
    both = train_in_hyperplanes(L, L.theta0, [3, 6], n_planes=2, steps=20, lr=0.01, projection=proj)
    assert (both.phi[0, 3:] == 0).all()
    # plane 0 alone: the first three columns of the same matrix
    sub = DenseProjection(L.D, 3, n_planes=1, seed=0, dtype=F64)
    sub.M = proj.M[:1, :, :3].clone()
    alone = train_in_hyperplanes(L, L.theta0, 3, n_planes=1, steps=20, lr=0.01, projection=sub)
    torch.testing.assert_close(both.theta[0], alone.theta[0], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(both.dims, torch.tensor([3, 6]))


def test_normalize_step_moves_theta_by_lr_in_every_plane():
    L = tiny_net()
    res = train_in_hyperplanes(L, L.theta0, [1, 9], n_planes=2, steps=1, lr=0.01, schedule="constant",
                               projection="dense", normalize_step=True)
    step = (res.theta - L.theta0).norm(dim=1)
    # one Adam step changes each active coordinate of psi by lr, i.e. theta by lr * sqrt(d) / sqrt(d) = lr
    torch.testing.assert_close(step, torch.full((2,), 0.01, dtype=F64), rtol=1e-3, atol=0)


def test_intrinsic_dimension_bookkeeping():
    L = tiny_net()
    res = intrinsic_dimension(L, L.theta0, [2, 8, 4], n_planes=2, steps=5, lr=0.05, reference=0.5,
                              projection="dense", max_batch=4)
    assert res.d.tolist() == [2, 4, 8]
    assert res.accuracy.shape == (3, 2) and res.final_loss.shape == (3, 2)
    res = dataclasses.replace(res, accuracy=torch.tensor([[0.1, 0.2], [0.5, 0.3], [0.6, 0.6]]))  # results are frozen
    assert res.d_int_grid() == 8
    # mean 0.4 at d=4, 0.6 at d=8: 0.45 reached a quarter of the way in log d
    assert math.isclose(res.d_int(), math.exp(math.log(4) + 0.25 * math.log(2)), rel_tol=1e-6)
    draws = res.d_int_draws()
    torch.testing.assert_close(draws, torch.tensor([2 ** 1.875, 4 * 2 ** 0.5]), rtol=1e-5, atol=0)
    centre, factor = res.d_int_spread()
    assert math.isclose(centre, math.sqrt(2 ** 1.875 * 4 * 2 ** 0.5), rel_tol=1e-5) and factor > 1
    # spread between draws: sample variances 0.005, 0.02, 0 at the three d -> sqrt of their mean
    assert math.isclose(res.draw_spread(), math.sqrt((0.005 + 0.02 + 0.0) / 3), rel_tol=1e-5)
    assert math.isclose(res.rise(), 0.6 - 0.15, rel_tol=1e-5)
    res = dataclasses.replace(res, accuracy=res.accuracy[:, :1])
    with pytest.raises(ValueError, match="n_planes >= 2"):
        res.draw_spread()
