"""Tests for loss planes (lsl.probes.radial) and Bezier curves (lsl.paths.tunnels); m-connectors are tested in test_connectors.py."""

from __future__ import annotations

import pytest
import torch

from lsl.paths.tunnels import bezier_curve, bezier_points, linear_path
from lsl.probes.planes import loss_plane
from lsl.toy import WedgeLandscape
from lsl.training.trainer import train

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
