"""Tests for lsl.subspaces.hyperplanes: random projections, training inside hyperplanes, the toy model's d_lim = D - n."""

from __future__ import annotations

import pytest
import torch

from lsl.data.nets import MLP
from lsl.network import NetworkLandscape
from lsl.subspaces import hyperplanes
from lsl.subspaces.hyperplanes import DimensionSweep, dimension_sweep, train_in_hyperplane, train_in_hyperplanes
from lsl.subspaces.projections import DenseProjection
from lsl.toy import WedgeLandscape
from lsl.training.trainer import NonFiniteLossError, minimize
from tests.reference import SquaredNorm

F64 = torch.float64


def tiny_net() -> NetworkLandscape:
    torch.manual_seed(0)
    model = MLP(3, 3, width=5, depth=1, activation="tanh").to(F64)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(20, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (20,), generator=gen)
    return NetworkLandscape(model, x, y)


def in_span_residual(delta: torch.Tensor, M: torch.Tensor) -> float:
    """Norm of the part of ``delta`` [D] outside the column span of ``M`` [D, d] (least squares, independent of M's orthonormality)."""
    coef = torch.linalg.lstsq(M, delta[:, None]).solution
    return float((delta[:, None] - M @ coef).norm())


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
def test_in_plane_gradient_is_restricted_full_gradient(kind):
    land = WedgeLandscape(15, 8, dtype=F64) if kind == "toy" else tiny_net()
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


# ---------------------------------------------------------------------------
# training inside hyperplanes


@pytest.mark.parametrize("kind", ["toy", "net"])
def test_train_in_hyperplane_stays_in_the_affine_plane(kind):
    land = WedgeLandscape(20, 12, dtype=F64) if kind == "toy" else tiny_net()
    theta0 = torch.randn(land.D, generator=torch.Generator().manual_seed(5), dtype=F64) if kind == "toy" else land.theta0
    d, seed = 4, 11
    theta = train_in_hyperplane(land, theta0, d, steps=60, lr=0.05, seed=seed)
    assert theta.shape == (land.D,)
    M = DenseProjection(land.D, d, n_planes=1, seed=seed, dtype=F64).M[0]
    delta = theta - theta0
    assert float(delta.norm()) > 1e-3  # it moved
    assert in_span_residual(delta, M) < 1e-10 * max(1.0, float(delta.norm()))
    # a different plane would not contain the displacement
    other = DenseProjection(land.D, d, n_planes=1, seed=seed + 1, dtype=F64).M[0]
    assert in_span_residual(delta, other) > 1e-3
    assert float(land.loss(theta)) < float(land.loss(theta0))


def test_train_in_hyperplanes_result_fields():
    land = WedgeLandscape(12, 6, dtype=F64)
    theta0 = torch.randn(12, generator=torch.Generator().manual_seed(6), dtype=F64)
    res = train_in_hyperplanes(land, theta0, 3, n_planes=4, steps=20, lr=0.05, seed=2)
    assert res.theta.shape == (4, 12) and res.phi.shape == (4, 3) and res.losses.shape == (20, 4)
    torch.testing.assert_close(res.theta, theta0 + torch.einsum("pDd,pd->pD", res.projection.M, res.phi))
    torch.testing.assert_close(res.initial_loss, land.loss(theta0).expand(4))
    torch.testing.assert_close(res.final_loss, land.loss(res.theta))
    # one offset per plane
    offsets = theta0 + torch.randn(4, 12, generator=torch.Generator().manual_seed(7), dtype=F64)
    res2 = train_in_hyperplanes(land, offsets, 3, n_planes=4, steps=5, lr=0.05, seed=2)
    torch.testing.assert_close(res2.initial_loss, land.loss(offsets))
    for p in range(4):
        assert in_span_residual(res2.theta[p] - offsets[p], res2.projection.M[p]) < 1e-10


def test_train_in_hyperplanes_errors():
    land = WedgeLandscape(10, 5, dtype=F64)
    with pytest.raises(ValueError, match=r"1 <= d <= D=10"):
        train_in_hyperplanes(land, torch.ones(10, dtype=F64), 11, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="n_planes=3"):
        train_in_hyperplanes(land, torch.ones(2, 10, dtype=F64), 2, n_planes=3, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="one point"):
        train_in_hyperplane(land, torch.ones(2, 10, dtype=F64), 2, steps=1, lr=0.1)


def test_toy_model_intrinsic_dimension_is_D_minus_n():
    """Fort & Jastrzebski Sec. 3.2: a random plane of dimension d >= D - n reaches the wedges, d < D - n does not."""
    D, n = 30, 20
    land = WedgeLandscape(D, n, dtype=F64)
    theta0 = torch.randn(D, generator=torch.Generator().manual_seed(0), dtype=F64)
    above = train_in_hyperplanes(land, theta0, 15, n_planes=4, steps=300, lr=0.05, seed=1)
    below = train_in_hyperplanes(land, theta0, 5, n_planes=4, steps=300, lr=0.05, seed=1)
    rel_above = above.final_loss / above.initial_loss
    rel_below = below.final_loss / below.initial_loss
    assert float(rel_above.max()) < 1e-3, rel_above
    assert float(rel_below.min()) > 1e-2, rel_below


def test_minimize_until_stops_early():

    run = minimize(lambda x, step: (x ** 2).sum(), torch.tensor([3.0]), steps=100, lr=0.1,
                   optimizer="sgd", until=lambda x, done: done == 7, snapshot_every=5)
    assert len(run.losses) == 7
    assert run.snapshot_steps == [5, 7]
    torch.testing.assert_close(run.theta, torch.tensor([3.0 * 0.8 ** 7]))


# ---------------------------------------------------------------------------
# dimension sweeps


def test_dimension_sweep_threshold_logic():
    d = torch.tensor([2, 4, 8, 16])
    rel = torch.tensor([[0.9, 0.8, 0.7, 0.6],
                        [1e-5, 0.5, 0.5, 0.5],     # 1/4 succeed
                        [1e-5, 1e-5, 0.5, 0.5],    # 2/4
                        [1e-5, 1e-5, 1e-5, 1e-5]])  # 4/4
    sweep = DimensionSweep(d, rel, rel < 1e-4, 1e-4)
    torch.testing.assert_close(sweep.success_fraction, torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert sweep.threshold() == 8
    assert sweep.threshold(0.25) == 4
    assert sweep.threshold(0.2) == 4
    assert sweep.threshold(0.75) == 16
    assert sweep.threshold(1.0) == 16
    never = DimensionSweep(d, rel, torch.zeros(4, 4, dtype=torch.bool), 1e-4)
    assert never.threshold() is None
    # the first success counts even if a larger d fails (no monotonicity assumed)
    bumpy = DimensionSweep(d, rel, torch.tensor([[False] * 4, [True] * 4, [False] * 4, [True] * 4]), 1e-4)
    assert bumpy.threshold() == 4


def test_dimension_sweep_on_the_toy_model():
    D, n = 16, 10
    land = WedgeLandscape(D, n, dtype=F64)
    theta0 = torch.randn(D, generator=torch.Generator().manual_seed(1), dtype=F64)
    sweep = dimension_sweep(land, theta0, [2, 10], n_planes=3, steps=250, lr=0.05, tol=1e-3, seed=0)
    assert sweep.d.tolist() == [2, 10]
    assert sweep.rel_loss.shape == (2, 3) and sweep.success.shape == (2, 3)
    assert torch.equal(sweep.success, sweep.rel_loss < 1e-3)
    assert sweep.success[1].all() and not sweep.success[0].any()
    assert sweep.threshold() == 10


def test_train_in_hyperplane_stops_on_a_non_finite_loss():
    quad = SquaredNorm()
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        hyperplanes.train_in_hyperplane(quad, torch.ones(3, dtype=F64), 2, steps=2000, lr=3.0, optimizer="sgd",
                                        schedule="constant")
