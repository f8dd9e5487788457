"""Tests for lsl.subspaces.projections: dense and Fastfood random projections (orthonormal or nearly so, seeded, the
in-plane gradient), and the two kinds agreeing in distribution when hyperplanes are trained with them."""

from __future__ import annotations

import math

import pytest
import torch

from lsl.data.nets import MLP
from lsl.network import NetworkLandscape
from lsl.subspaces.hyperplanes import train_in_hyperplanes
from lsl.subspaces.projections import DenseProjection, FastfoodProjection, fwht, make_projection
from lsl.toy import WedgeLandscape
from tests.test_hyperplanes import tiny_net as small_net
from lsl.settings import SUBSPACE_DEFAULTS

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
            res = train_in_hyperplanes(toy, theta0, d, n_planes=6, settings=SUBSPACE_DEFAULTS.replace(steps=1500, lr=0.05, seed=d), projection=kind)
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
        res = train_in_hyperplanes(L, L.theta0, 4, n_planes=16, settings=SUBSPACE_DEFAULTS.replace(steps=150, lr=0.1, seed=1), projection=kind)
        accs[kind] = L.accuracy(res.theta, "test")
    m1, m2 = accs["dense"].mean(), accs["fastfood"].mean()
    se = math.sqrt((accs["dense"].var() + accs["fastfood"].var()).item() / 16)
    assert abs(m1 - m2) < 4 * se + 0.02, (accs["dense"], accs["fastfood"])


# ---------------------------------------------------------------------------
# DenseProjection


def test_projection_columns_orthonormal():
    proj = DenseProjection(50, 7, n_planes=3, seed=1, dtype=F64)
    assert proj.M.shape == (3, 50, 7)
    for M in proj.M:
        torch.testing.assert_close(M.T @ M, torch.eye(7, dtype=F64), rtol=0, atol=1e-10)
    full = DenseProjection(6, 6, seed=0, dtype=F64).M[0]  # d = D: an orthogonal matrix
    torch.testing.assert_close(full @ full.T, torch.eye(6, dtype=F64), rtol=0, atol=1e-10)


def test_projection_seeded():
    a = DenseProjection(30, 4, n_planes=2, seed=5, dtype=F64).M
    b = DenseProjection(30, 4, n_planes=2, seed=5, dtype=F64).M
    c = DenseProjection(30, 4, n_planes=2, seed=6, dtype=F64).M
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert not torch.allclose(a[0], a[1])  # planes within one draw differ
    torch.manual_seed(0)
    d = DenseProjection(30, 4, n_planes=2, seed=5, dtype=F64).M
    assert torch.equal(a, d)  # independent of the global RNG
    f32 = DenseProjection(30, 4, n_planes=2, seed=5).M
    assert f32.dtype == torch.float32
    torch.testing.assert_close(f32.double(), a, rtol=0, atol=1e-6)


@pytest.mark.parametrize("D,d", [(5, 6), (5, 0), (5, -2)])
def test_projection_bad_dimension(D, d):
    with pytest.raises(ValueError, match=r"1 <= d <= D=5"):
        DenseProjection(D, d)


def test_projection_bad_plane_count():
    with pytest.raises(ValueError, match="n_planes"):
        DenseProjection(5, 2, n_planes=0)


def test_to_full_and_restrict_are_matrix_products():
    proj = DenseProjection(20, 3, n_planes=2, seed=2, dtype=F64)
    phi = torch.randn(2, 3, dtype=F64)
    g = torch.randn(2, 20, dtype=F64)
    for p in range(2):
        torch.testing.assert_close(proj.to_full(phi)[p], proj.M[p] @ phi[p])
        torch.testing.assert_close(proj.restrict(g)[p], proj.M[p].T @ g[p])
    # moving by phi in the plane moves ||phi|| in parameter space
    torch.testing.assert_close(proj.to_full(phi).norm(dim=1), phi.norm(dim=1))


@pytest.mark.parametrize("kind", ["toy", "net"])
def test_dense_in_plane_gradient_is_the_restricted_gradient_plane_by_plane(kind):
    land = WedgeLandscape(15, 8, dtype=F64) if kind == "toy" else small_net()
    gen = torch.Generator().manual_seed(3)
    theta0 = torch.randn(land.D, generator=gen, dtype=F64) if kind == "toy" else land.theta0
    proj = DenseProjection(land.D, 4, n_planes=3, seed=4, dtype=F64)
    phi = (0.3 * torch.randn(3, 4, generator=gen, dtype=F64)).requires_grad_(True)
    theta = theta0 + proj.to_full(phi)
    (g_phi,) = torch.autograd.grad(land.loss(theta).sum(), phi)
    g_full = land.grad(theta.detach())
    torch.testing.assert_close(g_phi, proj.restrict(g_full), rtol=1e-10, atol=1e-12)
    for p in range(3):
        torch.testing.assert_close(g_phi[p], proj.M[p].T @ g_full[p], rtol=1e-10, atol=1e-12)
