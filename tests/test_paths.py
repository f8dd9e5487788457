"""Tests for loss planes (lsl.probe), Bezier curves and m-connectors (lsl.connect)."""

from __future__ import annotations

import math

import pytest
import torch

from lsl.connect import (bezier_curve, bezier_points, connector_points, evaluate_simplex, linear_path, m_connector,
                         simplex_grid)
from lsl.probe import loss_plane
from lsl.toy import WedgeLandscape
from lsl.train import train

F64 = torch.float64


def _optima(D: int, n: int, k: int, seed: int = 0) -> tuple[WedgeLandscape, torch.Tensor]:
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(seed)
    theta = train(land, torch.randn(k, D, generator=gen, dtype=F64), steps=300, lr=0.05, schedule="cosine").theta
    assert bool((land.loss(theta) < 1e-3).all())
    return land, theta


@pytest.fixture(scope="module")
def pair():
    return _optima(40, 30, 2)


@pytest.fixture(scope="module")
def triple():
    return _optima(60, 45, 3, seed=1)


# -- loss_plane -----------------------------------------------------------------


def test_loss_plane_values_and_coordinates():
    land = WedgeLandscape(12, 6, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    a, b, c = torch.randn(3, 12, generator=gen, dtype=F64)
    plane = loss_plane(land, a, b, c, n=9, margin=0.3)
    assert plane.loss.shape == (9, 9) and plane.u.shape == (9,) and plane.v.shape == (9,)
    assert plane.accuracy is None and plane.basis.shape == (2, 12)
    torch.testing.assert_close(plane.basis @ plane.basis.T, torch.eye(2, dtype=F64))
    for i, j in [(0, 0), (3, 7), (8, 2), (4, 4)]:
        expected = land.loss(plane.point(plane.u[j], plane.v[i]))
        torch.testing.assert_close(plane.loss[i, j], expected)
    # a, b, c round-trip through coords / point and match the stored anchors.
    abc = torch.stack([a, b, c])
    xy = plane.coords(abc)
    torch.testing.assert_close(xy, plane.anchors)
    torch.testing.assert_close(plane.point(xy[:, 0], xy[:, 1]), abc)
    torch.testing.assert_close(xy[0], torch.zeros(2, dtype=F64))
    assert float(xy[1, 1]) == pytest.approx(0.0, abs=1e-12) and float(xy[1, 0]) > 0
    # The grid extends beyond the points by the margin.
    assert float(plane.u[0]) < float(xy[:, 0].min()) and float(plane.u[-1]) > float(xy[:, 0].max())
    assert float(plane.v[0]) < float(xy[:, 1].min()) and float(plane.v[-1]) > float(xy[:, 1].max())
    span = float(xy[:, 0].max() - xy[:, 0].min())
    assert float(plane.u[-1] - plane.u[0]) == pytest.approx(1.6 * span)


def test_loss_plane_chunked_evaluation_matches():
    land = WedgeLandscape(10, 4, dtype=F64)
    a, b, c = torch.randn(3, 10, generator=torch.Generator().manual_seed(3), dtype=F64)
    full = loss_plane(land, a, b, c, n=7)
    small = loss_plane(land, a, b, c, n=7, max_elements=25)  # 2 points per chunk
    torch.testing.assert_close(full.loss, small.loss)


def test_loss_plane_rejects_bad_input():
    land = WedgeLandscape(6, 3, dtype=F64)
    a = torch.zeros(6, dtype=F64)
    b = torch.ones(6, dtype=F64)
    c = torch.tensor([1.0, 0, 0, 0, 0, 0], dtype=F64)
    with pytest.raises(ValueError, match="collinear"):
        loss_plane(land, a, b, 2.5 * b)
    with pytest.raises(ValueError, match="same point"):
        loss_plane(land, a, a, c)
    with pytest.raises(ValueError, match="shape"):
        loss_plane(land, a, b, torch.zeros(5, dtype=F64))
    with pytest.raises(ValueError, match="single point"):
        loss_plane(land, a, b, torch.zeros(2, 6, dtype=F64))
    with pytest.raises(ValueError, match="n must be"):
        loss_plane(land, a, b, c, n=1)
    with pytest.raises(ValueError, match="margin"):
        loss_plane(land, a, b, c, margin=-0.1)
    with pytest.raises(ValueError, match="accuracy"):
        loss_plane(land, a, b, c, split="test")


# -- bezier_curve ---------------------------------------------------------------


def test_bezier_points_formula():
    a, m, b = torch.tensor([0.0, 0.0], dtype=F64), torch.tensor([1.0, 2.0], dtype=F64), torch.tensor([2.0, 0.0], dtype=F64)
    pts = bezier_points(a, m, b, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(pts, torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], dtype=F64))
    # With the control point at the midpoint the curve is the straight line.
    t = torch.linspace(0, 1, 5, dtype=F64)
    torch.testing.assert_close(bezier_points(a, 0.5 * (a + b), b, t), linear_path(a, b, 5))


def test_bezier_curve_lowers_barrier(pair):
    land, theta = pair
    res = bezier_curve(land, theta[0], theta[1], steps=300, lr=0.05, n_samples=4, n_points=41, eval_every=100)
    assert res.points.shape == (41, 40) and res.control.shape == (40,)
    torch.testing.assert_close(res.points[0], theta[0])
    torch.testing.assert_close(res.points[-1], theta[1])
    torch.testing.assert_close(res.loss, land.loss(res.points))
    assert res.line_barrier > 0.3
    assert res.barrier < 0.6 * res.line_barrier
    assert res.grad_evals == 300 * 4
    assert res.history_grad_evals.tolist() == [0, 400, 800, 1200]
    assert float(res.history_barrier[0]) == pytest.approx(res.line_barrier)
    assert float(res.history_barrier[-1]) == pytest.approx(res.barrier)


def test_bezier_curve_accounting_without_history(pair):
    land, theta = pair
    res = bezier_curve(land, theta[0], theta[1], steps=7, lr=0.01, n_samples=3)
    assert res.grad_evals == 21 and res.history_grad_evals.numel() == 0 and res.history_barrier.numel() == 0
    res0 = bezier_curve(land, theta[0], theta[1], steps=0, lr=0.01)
    torch.testing.assert_close(res0.control, 0.5 * (theta[0] + theta[1]))
    assert res0.grad_evals == 0 and res0.barrier == pytest.approx(res0.line_barrier)


def test_bezier_curve_errors(pair):
    land, theta = pair
    with pytest.raises(ValueError, match="same point"):
        bezier_curve(land, theta[0], theta[0], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="n_samples"):
        bezier_curve(land, theta[0], theta[1], steps=1, lr=0.1, n_samples=0)
    with pytest.raises(ValueError, match="single points"):
        bezier_curve(land, theta, theta[1], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="eval_every"):
        bezier_curve(land, theta[0], theta[1], steps=1, lr=0.1, eval_every=0)


# -- m-connectors ---------------------------------------------------------------


@pytest.mark.parametrize("m,r", [(1, 1), (1, 4), (2, 2), (2, 3), (3, 2), (4, 3)])
def test_simplex_grid(m, r):
    w = simplex_grid(m, r)
    assert w.shape == (math.comb(r + m, m), m + 1)
    torch.testing.assert_close(w[: m + 1], torch.eye(m + 1, dtype=F64))
    torch.testing.assert_close(w.sum(1), torch.ones(len(w), dtype=F64))
    assert bool((w >= 0).all()) and len({tuple(row) for row in (w * r).round().long().tolist()}) == len(w)


def test_connector_points_interpolates_the_mesh():
    """On a synthetic result, the connector is the piecewise-linear interpolation of its grid points."""
    from lsl.connect import MConnectorResult

    m, r, D = 3, 3, 5
    w = simplex_grid(m, r)
    gen = torch.Generator().manual_seed(0)
    optima = torch.randn(m + 1, D, generator=gen, dtype=F64)
    # A function that is linear in w is reproduced exactly by piecewise-linear interpolation.
    A = torch.randn(m + 1, D, generator=gen, dtype=F64)
    res = MConnectorResult(optima, r, w, w @ optima, w @ A, torch.zeros(len(w)), torch.zeros(len(w)))
    torch.testing.assert_close(connector_points(res, w), w @ A)
    e = -torch.rand(50, m + 1, generator=gen, dtype=F64).log()
    ws = e / e.sum(1, keepdim=True)
    torch.testing.assert_close(connector_points(res, ws), ws @ A)
    # A non-linear assignment is matched at the grid points, and along an edge it is the polyline.
    P = torch.randn(len(w), D, generator=gen, dtype=F64)
    res2 = MConnectorResult(optima, r, w, w @ optima, P, torch.zeros(len(w)), torch.zeros(len(w)))
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
    res = m_connector(land, optima, steps=300, lr=0.05, resolution=3)
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
        m_connector(land, optima[:1], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="affinely dependent"):
        m_connector(land, torch.stack([optima[0], optima[1], 0.5 * (optima[0] + optima[1])]), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="resolution"):
        m_connector(land, optima, steps=1, lr=0.1, resolution=1)
    res = m_connector(land, optima, steps=1, lr=0.01)
    with pytest.raises(ValueError, match="accuracy"):
        evaluate_simplex(land, res, split="test")
    with pytest.raises(ValueError, match="n_edge"):
        evaluate_simplex(land, res, n_edge=1)


def test_train_simplex_lowers_the_loss_between_grid_points(triple):
    """Training the connector as a whole lowers the loss at random points of the simplex, keeps the optima and the geometry."""
    from lsl.connect import train_simplex

    land, optima = triple
    res = m_connector(land, optima, steps=300, lr=0.05, resolution=2)
    whole = train_simplex(land, res, steps=400, lr=0.05, n_samples=8, seed=0)
    torch.testing.assert_close(whole.points[:3], optima)
    basis, _ = torch.linalg.qr((optima[1:] - optima[0]).T)
    proj = lambda x: (x - optima[0]) @ basis  # noqa: E731
    torch.testing.assert_close(proj(whole.points), proj(res.straight), atol=1e-8, rtol=0)
    torch.testing.assert_close(whole.loss, land.loss(whole.points))
    before = evaluate_simplex(land, res, n_random=300, n_edge=11, seed=5)
    after = evaluate_simplex(land, whole, n_random=300, n_edge=11, seed=5)  # other points than trained on
    assert float(after.loss[after.random].mean()) < 0.5 * float(before.loss[before.random].mean())
    assert float(after.loss.max()) < float(before.loss.max())
    same = train_simplex(land, res, steps=0, lr=0.05)
    torch.testing.assert_close(same.points, res.points)
    with pytest.raises(ValueError, match="n_samples"):
        train_simplex(land, res, steps=3, lr=0.05, n_samples=0)
