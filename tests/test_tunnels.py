"""Tests for lsl.paths.tunnels: straight paths, polylines, the low-loss tunnels of Section 4.2 and Bezier curves (the
latter against Adam written out with torch.optim.Adam)."""

from __future__ import annotations

import pytest
import torch

from lsl.paths import tunnels
from lsl.paths.tunnels import bezier_curve, bezier_points, build_tunnel, deviation_cosines, linear_path, path_losses, polyline, tunnel
from lsl.settings import TrainSettings, TUNNEL_DEFAULTS
from lsl.toy import WedgeLandscape
from lsl.training.trainer import NonFiniteLossError, train
from tests.reference import CountingWedge, SquaredNorm

F64 = torch.float64


def test_linear_path_endpoints_and_spacing():
    a = torch.tensor([1.0, -2.0, 3.0], dtype=F64)
    b = torch.tensor([4.0, 2.0, 3.0], dtype=F64)
    path = linear_path(a, b, 7)
    assert path.shape == (7, 3) and path.dtype == F64
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    steps = path[1:] - path[:-1]
    torch.testing.assert_close(steps, ((b - a) / 6).expand(6, 3))
    for k in range(7):
        torch.testing.assert_close(path[k], a + k / 6 * (b - a))
    assert linear_path(a, b).shape == (21, 3)
    two = linear_path(a, b, 2)
    assert torch.equal(two, torch.stack([a, b]))


def test_linear_path_errors():
    a = torch.zeros(3)
    with pytest.raises(ValueError, match="at least 2 points"):
        linear_path(a, a, 1)
    with pytest.raises(ValueError, match="same shape"):
        linear_path(a, torch.zeros(4))
    with pytest.raises(ValueError, match="same shape"):
        linear_path(torch.zeros(2, 3), torch.zeros(2, 3))


@pytest.mark.parametrize("K,per_segment", [(2, 1), (2, 10), (4, 3), (5, 10)])
def test_polyline_samples(K, per_segment):
    gen = torch.Generator().manual_seed(K)
    pts = torch.randn(K, 6, generator=gen, dtype=F64)
    s, samples = polyline(pts, per_segment)
    M = (K - 1) * per_segment + 1
    assert samples.shape == (M, 6) and s.shape == (M,)
    # every vertex is included, at positions k * per_segment
    for k in range(K):
        torch.testing.assert_close(samples[k * per_segment], pts[k], rtol=0, atol=1e-15)
    # samples inside segment k are on the segment, evenly spaced
    for k in range(K - 1):
        for j in range(per_segment + 1):
            w = j / per_segment
            torch.testing.assert_close(samples[k * per_segment + j], (1 - w) * pts[k] + w * pts[k + 1])
    torch.testing.assert_close(s, torch.linspace(0, 1, M, dtype=F64))
    assert float(s[0]) == 0.0 and float(s[-1]) == 1.0


def test_polyline_errors():
    with pytest.raises(ValueError, match="K >= 2"):
        polyline(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\[K, D\]"):
        polyline(torch.zeros(3))


def test_path_losses_equal_per_point_losses():
    land = WedgeLandscape(8, 4, dtype=F64)
    pts = torch.randn(4, 8, generator=torch.Generator().manual_seed(1), dtype=F64)
    s, loss = path_losses(land, pts, per_segment=5)
    _, samples = polyline(pts, 5)
    assert loss.shape == (16,) and s.shape == (16,)
    ref = torch.stack([samples[i].abs().sort().values[:4].norm() for i in range(16)])
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="D=8"):
        path_losses(land, torch.zeros(3, 7, dtype=F64))


def test_deviation_cosines():
    dev = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, 0.0]], dtype=F64)
    cos = deviation_cosines(dev)
    expected = torch.tensor([[1.0, 0, -1, 0], [0, 1, 0, 0], [-1, 0, 1, 0], [0, 0, 0, 0]], dtype=F64)
    torch.testing.assert_close(cos, expected)


# ---------------------------------------------------------------------------
# tunnels on the toy model


@pytest.fixture(scope="module")
def toy_tunnel():
    D, n = 40, 30
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    a = land.project(torch.randn(D, generator=gen, dtype=F64))
    b = land.project(torch.randn(D, generator=gen, dtype=F64))
    res = build_tunnel(land, a, b, n_points=11, settings=TUNNEL_DEFAULTS.replace(steps=150, lr=0.02))
    return land, a, b, res


def test_tunnel_endpoints_unchanged(toy_tunnel):
    land, a, b, res = toy_tunnel
    assert res.points.shape == (11, 40) and res.line.shape == (11, 40)
    assert torch.equal(res.points[0], a) and torch.equal(res.points[-1], b)
    torch.testing.assert_close(res.line, linear_path(a, b, 11))
    torch.testing.assert_close(res.t, torch.linspace(0, 1, 11, dtype=F64))
    torch.testing.assert_close(res.deviations, res.points[1:-1] - res.line[1:-1])


def test_tunnel_vertices_move_orthogonally_to_the_line(toy_tunnel):
    land, a, b, res = toy_tunnel
    u = (b - a) / (b - a).norm()
    dev = res.points[1:-1] - linear_path(a, b, 11)[1:-1]
    assert float(dev.norm(dim=1).min()) > 1e-2  # they did move
    torch.testing.assert_close(dev @ u, torch.zeros(9, dtype=F64), rtol=0, atol=1e-5)


def test_tunnel_lowers_the_loss(toy_tunnel):
    land, a, b, res = toy_tunnel
    vertex = land.loss(res.points[1:-1])
    line = land.loss(res.line[1:-1])
    assert bool((vertex < line).all())
    assert float(vertex.max()) < 0.01 * float(line.min())
    # dense losses recorded in the result are the landscape's losses along each polyline
    _, ll = path_losses(land, res.line, 10)
    _, tl = path_losses(land, res.points, 10)
    torch.testing.assert_close(res.line_loss, ll)
    torch.testing.assert_close(res.tunnel_loss, tl)
    assert res.tunnel_loss.shape == (10 * 10 + 1,)
    # barrier = max along the path minus the larger endpoint loss (both endpoints on wedges: 0)
    assert res.line_barrier == pytest.approx(float(ll.max()))
    assert res.tunnel_barrier == pytest.approx(float(tl.max()))
    assert res.tunnel_barrier < res.line_barrier
    assert res.cosines().shape == (9, 9)


def test_grad_evals_count_the_point_gradients_computed():
    """A tunnel spends steps * (n_points - 2) point-gradients, a Bezier curve steps * n_samples: counted by the
    landscape in its backward passes (the measurements along the paths, without gradients, do not count)."""
    land = CountingWedge(12, 8, dtype=F64)
    gen = torch.Generator().manual_seed(4)
    a = land.project(torch.randn(12, generator=gen, dtype=F64))
    b = land.project(torch.randn(12, generator=gen, dtype=F64))
    for n_points, steps in [(3, 4), (7, 5), (10, 1)]:
        land.point_gradients = 0
        res = build_tunnel(land, a, b, n_points=n_points, settings=TUNNEL_DEFAULTS.replace(steps=steps, lr=0.02))
        assert res.grad_evals == steps * (n_points - 2) == land.point_gradients
    land.point_gradients = 0
    res = build_tunnel(land, a, b, n_points=5, settings=TrainSettings(steps=6, lr=0.02))
    assert res.grad_evals == 6 * 3 == land.point_gradients
    assert build_tunnel(land, a, b, n_points=5, settings=TUNNEL_DEFAULTS.replace(steps=0, lr=0.02)).grad_evals == 0
    land.point_gradients = 0
    bez = bezier_curve(land, a, b, settings=TrainSettings(steps=6, lr=0.02), n_samples=3, eval_every=2)
    assert bez.grad_evals == 6 * 3 == land.point_gradients == int(bez.history_grad_evals[-1])


def test_tunnel_function_returns_the_points():
    land = WedgeLandscape(12, 8, dtype=F64)
    gen = torch.Generator().manual_seed(2)
    a = land.project(torch.randn(12, generator=gen, dtype=F64))
    b = land.project(torch.randn(12, generator=gen, dtype=F64))
    pts = tunnel(land, a, b, n_points=5, settings=TUNNEL_DEFAULTS.replace(steps=20, lr=0.02))
    assert pts.shape == (5, 12)
    assert torch.equal(pts[0], a) and torch.equal(pts[-1], b)
    assert tunnel(land, a, b, settings=TUNNEL_DEFAULTS.replace(steps=2, lr=0.02)).shape == (21, 12)


def test_tunnel_invalid_inputs():
    land = WedgeLandscape(6, 3, dtype=F64)
    a = torch.ones(6, dtype=F64)
    with pytest.raises(ValueError, match="same point"):
        build_tunnel(land, a, a.clone(), settings=TUNNEL_DEFAULTS.replace(steps=1))
    with pytest.raises(ValueError, match="n_points >= 3"):
        build_tunnel(land, a, -a, n_points=2, settings=TUNNEL_DEFAULTS.replace(steps=1))
    with pytest.raises(ValueError, match="D=6"):
        tunnel(land, a, torch.ones(5, dtype=F64), settings=TUNNEL_DEFAULTS.replace(steps=1))


def _tunnel_with(deviations: torch.Tensor):
    from lsl.paths.tunnels import TunnelResult

    K = deviations.shape[0] + 2
    empty = torch.zeros(3)
    return TunnelResult(points=torch.zeros(K, deviations.shape[1]), line=torch.zeros(K, deviations.shape[1]),
                        t=torch.linspace(0, 1, K), deviations=deviations, s=empty, line_loss=empty, tunnel_loss=empty,
                        grad_evals=0)


@pytest.mark.parametrize("interior", [4, 5, 9])
def test_half_cosines_match_a_loop_over_pairs(interior):
    dev = torch.randn(interior, 12, generator=torch.Generator().manual_seed(interior), dtype=torch.float64)
    h = interior // 2
    first, second = range(h), range(interior - h, interior)

    def cos(i, j):
        return float(dev[i] @ dev[j] / (dev[i].norm() * dev[j].norm()))

    within = [cos(i, j) for half in (first, second) for i in half for j in half if i != j]
    across = [cos(i, j) for i in first for j in second]
    got = _tunnel_with(dev).half_cosines()
    assert got == pytest.approx((sum(within) / len(within), sum(across) / len(across)), abs=1e-12)


def test_half_cosines_of_two_aligned_halves_and_too_short_tunnels():
    u, v = torch.eye(2, dtype=torch.float64)
    dev = torch.stack([u, 2 * u, 3 * v, v])                 # first half along u, second along v
    assert _tunnel_with(dev).half_cosines() == pytest.approx((1.0, 0.0))
    within, across = _tunnel_with(dev[1:3]).half_cosines()   # one vertex per half: no pair within a half
    assert within != within and across == pytest.approx(0.0)
    within, across = _tunnel_with(dev[:1]).half_cosines()    # no halves at all
    assert within != within and across != across


class _Labels:
    """A pretend network whose predicted labels at point k are a given row."""

    def __init__(self, rows):
        self.rows = torch.tensor(rows)

    def predict(self, points, split):
        return self.rows[points[:, 0].long()]


def test_label_hand_over_shares_by_hand():
    from lsl.paths.tunnels import label_hand_over

    # 4 examples, 5 points; A = [0,0,0,0], B = [1,1,1,1]; A's labels are all lost by the middle (point 2)
    rows = [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]
    points = torch.arange(5, dtype=torch.float64)[:, None].repeat(1, 3)
    got = label_hand_over(_Labels(rows), points, torch.linspace(0, 1, 5))
    assert got.agree_a.tolist() == [1.0, 0.5, 0.0, 0.0, 0.0] and got.agree_b.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert got.before_a == 1.0 and got.after_b == 0.0           # B's labels were all in place before the middle
    linear = [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    half = label_hand_over(_Labels(linear), points, torch.linspace(0, 1, 5))
    assert half.before_a == 0.5 and half.after_b == 0.5
    with pytest.raises(ValueError, match="same labels"):
        label_hand_over(_Labels([[0, 1]] * 5), points, torch.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="one entry per point"):
        label_hand_over(_Labels(rows), points, torch.linspace(0, 1, 4))
    with pytest.raises(ValueError, match="network landscape"):
        label_hand_over(WedgeLandscape(4, 2), points, torch.linspace(0, 1, 5))


# ---------------------------------------------------------------------------
# Bezier curves between two optima of the toy model (m-connectors: test_connectors.py)


def _optima(D: int, n: int, k: int, seed: int = 0) -> tuple[WedgeLandscape, torch.Tensor]:
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(seed)
    theta = train(land, torch.randn(k, D, generator=gen, dtype=F64), settings=TrainSettings(steps=300, lr=0.05, schedule="cosine")).theta
    assert bool((land.loss(theta) < 1e-3).all())
    return land, theta


@pytest.fixture(scope="module")
def pair():
    return _optima(40, 30, 2)


def test_bezier_points_formula():
    a, m, b = torch.tensor([0.0, 0.0], dtype=F64), torch.tensor([1.0, 2.0], dtype=F64), torch.tensor([2.0, 0.0], dtype=F64)
    pts = bezier_points(a, m, b, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(pts, torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], dtype=F64))
    # With the control point at the midpoint the curve is the straight line.
    t = torch.linspace(0, 1, 5, dtype=F64)
    torch.testing.assert_close(bezier_points(a, 0.5 * (a + b), b, t), linear_path(a, b, 5))


def test_bezier_curve_lowers_barrier(pair):
    land, theta = pair
    res = bezier_curve(land, theta[0], theta[1], settings=TrainSettings(steps=300, lr=0.05), n_samples=4, n_points=41, eval_every=100)
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
    res = bezier_curve(land, theta[0], theta[1], settings=TrainSettings(steps=7, lr=0.01), n_samples=3)
    assert res.grad_evals == 21 and res.history_grad_evals.numel() == 0 and res.history_barrier.numel() == 0
    res0 = bezier_curve(land, theta[0], theta[1], settings=TrainSettings(steps=0, lr=0.01))
    torch.testing.assert_close(res0.control, 0.5 * (theta[0] + theta[1]))
    assert res0.grad_evals == 0 and res0.barrier == pytest.approx(res0.line_barrier)


def test_bezier_curve_errors(pair):
    land, theta = pair
    with pytest.raises(ValueError, match="same point"):
        bezier_curve(land, theta[0], theta[0], settings=TrainSettings(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="n_samples"):
        bezier_curve(land, theta[0], theta[1], settings=TrainSettings(steps=1, lr=0.1), n_samples=0)
    with pytest.raises(ValueError, match="single points"):
        bezier_curve(land, theta, theta[1], settings=TrainSettings(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="eval_every"):
        bezier_curve(land, theta[0], theta[1], settings=TrainSettings(steps=1, lr=0.1), eval_every=0)


def test_bezier_curve_stops_on_a_non_finite_loss():
    quad = SquaredNorm()
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        tunnels.bezier_curve(quad, torch.ones(3, dtype=F64), -torch.ones(3, dtype=F64), settings=TrainSettings(steps=2000, lr=30.0, optimizer="sgd", schedule="constant"))


def test_bezier_curve_is_adam_on_random_points_of_the_curve():
    """The control point is the one torch.optim.Adam reaches, written out here: at each step n_samples values of t
    drawn from a CPU generator seeded with the seed (one draw per step), the mean loss at the curve's points
    (1-t)^2 a + 2t(1-t) m + t^2 b, a step on m from the midpoint."""
    land = WedgeLandscape(12, 6, dtype=F64)
    gen = torch.Generator().manual_seed(2)
    a, b = torch.randn(2, 12, generator=gen, dtype=F64)
    steps, n_samples, seed, lr = 25, 3, 7, 0.05
    res = bezier_curve(land, a, b, settings=TrainSettings(steps=steps, lr=lr, seed=seed), n_samples=n_samples)
    control = (0.5 * (a + b)).clone().requires_grad_(True)
    opt = torch.optim.Adam([control], lr=lr)
    tgen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        t = torch.rand(n_samples, generator=tgen, dtype=F64)[:, None]
        points = (1 - t) ** 2 * a + 2 * t * (1 - t) * control + t**2 * b
        opt.zero_grad()
        land.loss(points).mean().backward()
        opt.step()
    torch.testing.assert_close(res.control, control.detach(), rtol=1e-12, atol=1e-12)
    assert float((res.control - 0.5 * (a + b)).norm()) > 0.1  # it moved
