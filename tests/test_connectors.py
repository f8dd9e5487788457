"""Tests for lsl.paths.connectors: the m-connectors of Section 4.3 between m + 1 optima."""

from __future__ import annotations

import math

import pytest
import torch

from lsl.paths import connectors, tunnels
from lsl.paths.connectors import (MConnectorResult, connector_points, evaluate_simplex, m_connector, m_connectors, simplex_grid,
                            train_simplex, train_simplices)
from tests.reference import CountingWedge
from tests.test_tunnels import _optima
from lsl.settings import SUBSPACE_DEFAULTS, TrainSettings

F64 = torch.float64


@pytest.fixture(scope="module")
def triple():
    return _optima(60, 45, 3, seed=1)


@pytest.mark.parametrize("m,r", [(1, 1), (1, 4), (2, 2), (2, 3), (3, 2), (4, 3)])
def test_simplex_grid(m, r):
    w = simplex_grid(m, r)
    assert w.shape == (math.comb(r + m, m), m + 1)
    torch.testing.assert_close(w[: m + 1], torch.eye(m + 1, dtype=F64))
    torch.testing.assert_close(w.sum(1), torch.ones(len(w), dtype=F64))
    assert bool((w >= 0).all()) and len({tuple(row) for row in (w * r).round().long().tolist()}) == len(w)


def test_connector_points_interpolates_the_mesh():
    """On a synthetic result, the connector is the piecewise-linear interpolation of its grid points."""
    m, r, D = 3, 3, 5
    w = simplex_grid(m, r)
    gen = torch.Generator().manual_seed(0)
    optima = torch.randn(m + 1, D, generator=gen, dtype=F64)
    # A function that is linear in w is reproduced exactly by piecewise-linear interpolation.
    A = torch.randn(m + 1, D, generator=gen, dtype=F64)
    res = MConnectorResult(optima, r, w, w @ optima, w @ A, torch.zeros(len(w)), torch.zeros(len(w)), 0)
    torch.testing.assert_close(connector_points(res, w), w @ A)
    e = -torch.rand(50, m + 1, generator=gen, dtype=F64).log()
    ws = e / e.sum(1, keepdim=True)
    torch.testing.assert_close(connector_points(res, ws), ws @ A)
    # A non-linear assignment is matched at the grid points, and along an edge it is the polyline.
    P = torch.randn(len(w), D, generator=gen, dtype=F64)
    res2 = MConnectorResult(optima, r, w, w @ optima, P, torch.zeros(len(w)), torch.zeros(len(w)), 0)
    torch.testing.assert_close(connector_points(res2, w), P)
    s = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    edge = torch.zeros(3, m + 1, dtype=F64)
    edge[:, 0], edge[:, 2] = 1 - s, s
    key = {tuple(row): k for k, row in enumerate((w * r).round().long().tolist())}
    node = lambda k0: P[key[(r - k0, 0, k0, 0)]]  # noqa: E731
    expected = torch.stack([(1 - 0.3) * node(0) + 0.3 * node(1), 0.5 * node(1) + 0.5 * node(2),
                            0.3 * node(2) + 0.7 * node(3)])
    torch.testing.assert_close(connector_points(res2, edge), expected)
    with pytest.raises(ValueError, match="barycentric"):
        connector_points(res2, torch.full((2, m + 1), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="shape"):
        connector_points(res2, torch.full((2, m), 0.5, dtype=F64))


def test_m_connector_on_toy(triple):
    land, optima = triple
    res = m_connector(land, optima, settings=SUBSPACE_DEFAULTS.replace(steps=300, lr=0.05), resolution=3)
    assert res.m == 2 and res.points.shape == (10, 60)
    torch.testing.assert_close(res.points[:3], optima)
    # The optimised points keep their barycentric coordinates: same projection onto the affine span.
    basis, _ = torch.linalg.qr((optima[1:] - optima[0]).T)
    proj = lambda x: (x - optima[0]) @ basis  # noqa: E731
    torch.testing.assert_close(proj(res.points), proj(res.straight), atol=1e-5, rtol=0)
    torch.testing.assert_close(res.straight, res.weights @ optima)
    inner = slice(3, None)
    assert bool((res.loss[inner] < res.straight_loss[inner]).all())
    assert float(res.loss.max()) < 1e-2 < float(res.straight_loss.max())
    ev = evaluate_simplex(land, res, n_random=150, n_edge=11, seed=1)
    assert ev.weights.shape == (150 + 3 * 11, 3) and ev.accuracy is None
    assert int(ev.random.sum()) == 150 and ev.edge[-1].tolist() == [1, 2]
    torch.testing.assert_close(ev.straight_loss, land.loss(ev.weights @ optima))
    torch.testing.assert_close(ev.loss, land.loss(connector_points(res, ev.weights)))
    # Connector points also keep their barycentric coordinates everywhere on the simplex.
    torch.testing.assert_close(proj(connector_points(res, ev.weights)), proj(ev.weights @ optima), atol=1e-5, rtol=0)
    assert float(ev.loss.max()) < float(ev.straight_loss.max())
    # Between mesh points the connector is only piecewise linear: on the non-convex wedges its loss
    # there is lower than the straight simplex's on average, but far from zero.
    assert float(ev.loss.mean()) < float(ev.straight_loss.mean())


def test_m_connector_errors(triple):
    land, optima = triple
    with pytest.raises(ValueError, match="at least 2 optima"):
        m_connector(land, optima[:1], settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="affinely dependent"):
        m_connector(land, torch.stack([optima[0], optima[1], 0.5 * (optima[0] + optima[1])]), settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="resolution"):
        m_connector(land, optima, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), resolution=1)
    res = m_connector(land, optima, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.01))
    with pytest.raises(ValueError, match="accuracy"):
        evaluate_simplex(land, res, split="test")
    with pytest.raises(ValueError, match="n_edge"):
        evaluate_simplex(land, res, n_edge=1)


def test_train_simplex_lowers_the_loss_between_grid_points(triple):
    """Training the connector as a whole lowers the loss at random points of the simplex, keeps the optima and the geometry."""
    land, optima = triple
    res = m_connector(land, optima, settings=SUBSPACE_DEFAULTS.replace(steps=300, lr=0.05), resolution=2)
    whole = train_simplex(land, res, settings=SUBSPACE_DEFAULTS.replace(steps=400, lr=0.05, seed=0), n_samples=8)
    torch.testing.assert_close(whole.points[:3], optima)
    basis, _ = torch.linalg.qr((optima[1:] - optima[0]).T)
    proj = lambda x: (x - optima[0]) @ basis  # noqa: E731
    torch.testing.assert_close(proj(whole.points), proj(res.straight), atol=1e-8, rtol=0)
    torch.testing.assert_close(whole.loss, land.loss(whole.points))
    before = evaluate_simplex(land, res, n_random=300, n_edge=11, seed=5)
    after = evaluate_simplex(land, whole, n_random=300, n_edge=11, seed=5)  # other points than trained on
    assert float(after.loss[after.random].mean()) < 0.5 * float(before.loss[before.random].mean())
    assert float(after.loss.max()) < float(before.loss.max())
    same = train_simplex(land, res, settings=SUBSPACE_DEFAULTS.replace(steps=0, lr=0.05))
    torch.testing.assert_close(same.points, res.points)
    with pytest.raises(ValueError, match="n_samples"):
        train_simplex(land, res, settings=SUBSPACE_DEFAULTS.replace(steps=3, lr=0.05), n_samples=0)


def test_grad_evals_count_the_point_gradients_computed():
    """m_connector spends steps * (P - m - 1) point-gradients (every grid point but the optima, every step),
    train_simplex steps * n_samples (its random points): counted by the landscape in its backward passes."""
    _, optima = _optima(20, 12, 4, seed=2)
    land = CountingWedge(20, 12, dtype=F64)
    for m, r, steps in [(1, 4, 7), (2, 3, 5), (3, 2, 6)]:
        land.point_gradients = 0
        res = m_connector(land, optima[: m + 1], settings=SUBSPACE_DEFAULTS.replace(steps=steps, lr=0.01), resolution=r)
        P = math.comb(r + m, m)
        assert res.grad_evals == steps * (P - m - 1) == land.point_gradients
        for n_samples, faces in [(3, True), (5, False)]:
            land.point_gradients = 0
            whole = train_simplex(land, res, settings=SUBSPACE_DEFAULTS.replace(steps=steps + 2, lr=0.01), n_samples=n_samples, faces=faces)
            assert whole.grad_evals == (steps + 2) * n_samples == land.point_gradients
    assert m_connector(land, optima[:2], settings=SUBSPACE_DEFAULTS.replace(steps=0, lr=0.01)).grad_evals == 0
    assert train_simplex(land, res, settings=SUBSPACE_DEFAULTS.replace(steps=0, lr=0.01)).grad_evals == 0




def test_train_simplex_gives_the_same_bits_every_run():
    """Two runs of train_simplex on two threads give the same connector, bit for bit.

    Before, the points were gathered as ``pts[idx]``, whose backward pass adds into shared rows with
    atomic adds when the work is split between threads (at least 32768 values: here 32 points x 6
    vertices x 200 coordinates); the order of those adds changed from run to run and a few hundred steps
    turned the last bit into other digits (the tunnels chapter's connector numbers moved between runs)."""
    from lsl.toy import WedgeLandscape
    from lsl.training.trainer import train

    land = WedgeLandscape(200, 150)
    optima = train(land, torch.randn(6, 200, generator=torch.Generator().manual_seed(1)), settings=TrainSettings(steps=300, lr=0.05)).theta
    res = m_connector(land, optima, settings=SUBSPACE_DEFAULTS.replace(steps=100, lr=0.01), resolution=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = [train_simplex(land, res, settings=SUBSPACE_DEFAULTS.replace(steps=100, lr=0.01, seed=3), n_samples=32).points for _ in range(2)]
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(runs[0], runs[1])


def test_m_connectors_and_train_simplices_batch_what_the_single_calls_do():
    """Several connectors (m = 1, 2, 3) built and trained as one batch are those built one by one:
    m_connectors against m_connector, and connector k of train_simplices against train_simplex with
    seed + k (the toy model has no minibatches), up to rounding; the single calls are the batch of one."""
    land, optima = _optima(40, 20, 4, seed=2)
    simplices = [optima[: m + 1] for m in (1, 2, 3)]
    batch = m_connectors(land, simplices, settings=SUBSPACE_DEFAULTS.replace(steps=40, lr=0.01), resolution=3)
    trained = train_simplices(land, batch, settings=SUBSPACE_DEFAULTS.replace(steps=40, lr=0.01, seed=5), n_samples=6)
    for k, (corners, b, t) in enumerate(zip(simplices, batch, trained)):
        one = m_connector(land, corners, settings=SUBSPACE_DEFAULTS.replace(steps=40, lr=0.01), resolution=3)
        assert one.weights.equal(b.weights) and b.grad_evals == one.grad_evals
        torch.testing.assert_close(b.points, one.points, rtol=1e-5, atol=1e-5)
        alone = train_simplex(land, b, settings=SUBSPACE_DEFAULTS.replace(steps=40, lr=0.01, seed=5 + k), n_samples=6)
        torch.testing.assert_close(t.points, alone.points, rtol=1e-5, atol=1e-5)
        assert t.grad_evals == alone.grad_evals == 40 * 6
        assert not t.points.equal(b.points)                                   # it did train
    with pytest.raises(TypeError, match="list of simplices"):
        m_connectors(land, optima, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.01))
    with pytest.raises(ValueError, match="simplices\\[1\\]"):
        m_connectors(land, [optima[:2], optima[:1]], settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.01))
    with pytest.raises(TypeError, match="MConnectorResult"):
        train_simplices(land, [optima], settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.01))
