"""Tests for lsl.subspaces.hyperplanes: training inside random hyperplanes (one or several, of one or several
dimensions), the toy model's d_lim = D - n, dimension sweeps and the intrinsic dimension's bookkeeping. The projections
themselves: tests/test_projections.py."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from lsl.data.nets import MLP
from lsl.network import NetworkLandscape
from lsl.subspaces import hyperplanes
from lsl.subspaces.hyperplanes import DimensionSweep, dimension_sweep, intrinsic_dimension, train_in_hyperplane, train_in_hyperplanes
from lsl.subspaces.projections import DenseProjection
from lsl.toy import WedgeLandscape
from lsl.training.trainer import NonFiniteLossError
from tests.reference import SquaredNorm
from lsl.settings import SUBSPACE_DEFAULTS

F64 = torch.float64


def tiny_net() -> NetworkLandscape:
    torch.manual_seed(0)
    model = MLP(3, 3, width=5, depth=1, activation="tanh").to(F64)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(20, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (20,), generator=gen)
    return NetworkLandscape(model, x, y)


def net_with_a_test_split(seed: int = 0) -> NetworkLandscape:
    """A depth-2 tanh MLP on 30 examples, its training set doubling as the test set."""
    torch.manual_seed(seed)
    model = MLP(4, 3, width=6, depth=2, activation="tanh").to(F64)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(30, 4, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (30,), generator=gen)
    return NetworkLandscape(model, x, y, x_test=x, y_test=y)


def in_span_residual(delta: torch.Tensor, M: torch.Tensor) -> float:
    """Norm of the part of ``delta`` [D] outside the column span of ``M`` [D, d] (least squares, independent of M's orthonormality)."""
    coef = torch.linalg.lstsq(M, delta[:, None]).solution
    return float((delta[:, None] - M @ coef).norm())


# ---------------------------------------------------------------------------
# training inside hyperplanes


@pytest.mark.parametrize("kind", ["toy", "net"])
def test_train_in_hyperplane_stays_in_the_affine_plane(kind):
    land = WedgeLandscape(20, 12, dtype=F64) if kind == "toy" else tiny_net()
    theta0 = torch.randn(land.D, generator=torch.Generator().manual_seed(5), dtype=F64) if kind == "toy" else land.theta0
    d, seed = 4, 11
    theta = train_in_hyperplane(land, theta0, d, settings=SUBSPACE_DEFAULTS.replace(steps=60, lr=0.05, seed=seed))
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
    res = train_in_hyperplanes(land, theta0, 3, n_planes=4, settings=SUBSPACE_DEFAULTS.replace(steps=20, lr=0.05, seed=2))
    assert res.theta.shape == (4, 12) and res.phi.shape == (4, 3) and res.losses.shape == (20, 4)
    torch.testing.assert_close(res.theta, theta0 + torch.einsum("pDd,pd->pD", res.projection.M, res.phi))
    torch.testing.assert_close(res.initial_loss, land.loss(theta0).expand(4))
    torch.testing.assert_close(res.final_loss, land.loss(res.theta))
    # one offset per plane
    offsets = theta0 + torch.randn(4, 12, generator=torch.Generator().manual_seed(7), dtype=F64)
    res2 = train_in_hyperplanes(land, offsets, 3, n_planes=4, settings=SUBSPACE_DEFAULTS.replace(steps=5, lr=0.05, seed=2))
    torch.testing.assert_close(res2.initial_loss, land.loss(offsets))
    for p in range(4):
        assert in_span_residual(res2.theta[p] - offsets[p], res2.projection.M[p]) < 1e-10


def test_train_in_hyperplanes_errors():
    land = WedgeLandscape(10, 5, dtype=F64)
    with pytest.raises(ValueError, match=r"1 <= d <= D=10"):
        train_in_hyperplanes(land, torch.ones(10, dtype=F64), 11, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="n_planes=3"):
        train_in_hyperplanes(land, torch.ones(2, 10, dtype=F64), 2, n_planes=3, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="one point"):
        train_in_hyperplane(land, torch.ones(2, 10, dtype=F64), 2, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1))


def test_toy_model_intrinsic_dimension_is_D_minus_n():
    """Fort & Jastrzebski Sec. 3.2: a random plane of dimension d >= D - n reaches the wedges, d < D - n does not."""
    D, n = 30, 20
    land = WedgeLandscape(D, n, dtype=F64)
    theta0 = torch.randn(D, generator=torch.Generator().manual_seed(0), dtype=F64)
    above = train_in_hyperplanes(land, theta0, 15, n_planes=4, settings=SUBSPACE_DEFAULTS.replace(steps=300, lr=0.05, seed=1))
    below = train_in_hyperplanes(land, theta0, 5, n_planes=4, settings=SUBSPACE_DEFAULTS.replace(steps=300, lr=0.05, seed=1))
    rel_above = above.final_loss / above.initial_loss
    rel_below = below.final_loss / below.initial_loss
    assert float(rel_above.max()) < 1e-3, rel_above
    assert float(rel_below.min()) > 1e-2, rel_below


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
    sweep = dimension_sweep(land, theta0, [2, 10], n_planes=3, settings=SUBSPACE_DEFAULTS.replace(steps=250, lr=0.05, seed=0), tol=1e-3)
    assert sweep.d.tolist() == [2, 10]
    assert sweep.rel_loss.shape == (2, 3) and sweep.success.shape == (2, 3)
    assert torch.equal(sweep.success, sweep.rel_loss < 1e-3)
    assert sweep.success[1].all() and not sweep.success[0].any()
    assert sweep.threshold() == 10


def test_train_in_hyperplane_stops_on_a_non_finite_loss():
    quad = SquaredNorm()
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        hyperplanes.train_in_hyperplane(quad, torch.ones(3, dtype=F64), 2, settings=SUBSPACE_DEFAULTS.replace(steps=2000, lr=3.0, optimizer="sgd", schedule="constant"))


# ---------------------------------------------------------------------------
# several planes at once, the step normalisation, the intrinsic dimension's bookkeeping


def test_planes_of_several_dimensions_trained_together_match_separate_runs():
    L = net_with_a_test_split()
    proj = DenseProjection(L.D, 6, n_planes=2, seed=0, dtype=F64)
    both = train_in_hyperplanes(L, L.theta0, [3, 6], n_planes=2, settings=SUBSPACE_DEFAULTS.replace(steps=20, lr=0.01), projection=proj)
    assert (both.phi[0, 3:] == 0).all()
    # plane 0 alone: the first three columns of the same matrix
    sub = DenseProjection(L.D, 3, n_planes=1, seed=0, dtype=F64)
    sub.M = proj.M[:1, :, :3].clone()
    alone = train_in_hyperplanes(L, L.theta0, 3, n_planes=1, settings=SUBSPACE_DEFAULTS.replace(steps=20, lr=0.01), projection=sub)
    torch.testing.assert_close(both.theta[0], alone.theta[0], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(both.dims, torch.tensor([3, 6]))


def test_normalize_step_moves_theta_by_lr_in_every_plane():
    L = net_with_a_test_split()
    res = train_in_hyperplanes(L, L.theta0, [1, 9], n_planes=2, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.01, schedule="constant"), projection="dense", normalize_step=True)
    step = (res.theta - L.theta0).norm(dim=1)
    # one Adam step changes each active coordinate of psi by lr, i.e. theta by lr * sqrt(d) / sqrt(d) = lr
    torch.testing.assert_close(step, torch.full((2,), 0.01, dtype=F64), rtol=1e-3, atol=0)


def test_intrinsic_dimension_bookkeeping():
    L = net_with_a_test_split()
    res = intrinsic_dimension(L, L.theta0, [2, 8, 4], n_planes=2, settings=SUBSPACE_DEFAULTS.replace(steps=5, lr=0.05), reference=0.5,
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
