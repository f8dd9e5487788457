"""Tests for lsl.toy: the n-wedge model against a brute-force distance to every wedge."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lsl.paths.tunnels import polyline
from lsl.toy import WedgeLandscape

F64 = torch.float64


def brute_force_loss(theta: torch.Tensor, D: int, n: int) -> torch.Tensor:
    """Distance of each row of ``theta`` [B, D] to the nearest of all C(D, n) axis-aligned n-wedges.

    Projecting onto the wedge spanned by the axes ``S`` zeroes every other
    coordinate, so the distance is the norm of the coordinates outside ``S``.
    """
    best = torch.full((theta.shape[0],), math.inf, dtype=theta.dtype)
    for axes in itertools.combinations(range(D), n):
        proj = torch.zeros_like(theta)
        proj[:, list(axes)] = theta[:, list(axes)]
        best = torch.minimum(best, (theta - proj).norm(dim=1))
    return best


def generic_point(D: int, n: int, gen: torch.Generator, gap: float = 1e-3) -> torch.Tensor:
    """A random point whose s-th and (s+1)-th smallest magnitudes are well separated (no tie nearby)."""
    s = D - n
    while True:
        theta = torch.randn(D, generator=gen, dtype=F64)
        mags = theta.abs().sort().values
        if mags[s] - mags[s - 1] > gap and mags[0] > gap:
            return theta


@pytest.mark.parametrize("D,n", [(2, 1), (3, 1), (4, 2), (5, 2), (6, 3), (7, 4), (8, 1), (8, 7)])
def test_loss_matches_brute_force_distance(D, n):
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(D * 100 + n)
    gauss = torch.randn(150, D, generator=gen, dtype=F64) * 3
    # integer points have many tied magnitudes and exact zeros
    ties = torch.randint(-2, 3, (50, D), generator=gen).to(F64)
    theta = torch.cat([gauss, ties])
    ref = brute_force_loss(theta, D, n)
    got = land.loss(theta)
    assert got.shape == (200,)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


def test_batched_loss_equals_per_point_loss():
    land = WedgeLandscape(9, 4, dtype=F64)
    theta = torch.randn(17, 9, generator=torch.Generator().manual_seed(1), dtype=F64)
    batched = land.loss(theta)
    single = torch.stack([land.loss(t) for t in theta])
    assert land.loss(theta[0]).dim() == 0
    torch.testing.assert_close(batched, single, rtol=0, atol=0)


def test_float32_loss_matches_brute_force():
    land = WedgeLandscape(6, 2)  # float32 default
    theta = torch.randn(40, 6, generator=torch.Generator().manual_seed(2))
    assert land.loss(theta).dtype == torch.float32
    torch.testing.assert_close(land.loss(theta).double(), brute_force_loss(theta.double(), 6, 2), rtol=1e-5, atol=1e-6)


def test_loss_zero_on_a_wedge_and_gradient_zero_there():
    land = WedgeLandscape(7, 3, dtype=F64)
    gen = torch.Generator().manual_seed(3)
    for _ in range(10):
        theta = torch.zeros(7, dtype=F64)
        axes = torch.randperm(7, generator=gen)[:3]
        theta[axes] = torch.randn(3, generator=gen, dtype=F64)
        assert float(land.loss(theta)) == 0.0
        g = land.grad(theta)
        assert torch.isfinite(g).all()
        assert torch.equal(g, torch.zeros_like(g))
    # a point on a lower-dimensional face (fewer than n nonzeros) too
    face = torch.tensor([0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=F64)
    assert float(land.loss(face)) == 0.0
    assert torch.equal(land.grad(face), torch.zeros(7, dtype=F64))
    # and the origin
    assert torch.equal(land.grad(torch.zeros(7, dtype=F64)), torch.zeros(7, dtype=F64))


def test_gradient_matches_central_finite_differences():
    D, n = 10, 6
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(4)
    eps = 1e-6
    for _ in range(8):
        theta = generic_point(D, n, gen)
        fd = torch.empty(D, dtype=F64)
        for i in range(D):
            e = torch.zeros(D, dtype=F64)
            e[i] = eps
            fd[i] = (land.loss(theta + e) - land.loss(theta - e)) / (2 * eps)
        torch.testing.assert_close(land.grad(theta), fd, rtol=1e-6, atol=1e-8)


def test_gradient_closed_form_on_short_coordinates():
    land = WedgeLandscape(8, 5, dtype=F64)
    theta = generic_point(8, 5, torch.Generator().manual_seed(5))
    short = theta.abs().argsort()[:3]
    L = theta[short].norm()
    expected = torch.zeros(8, dtype=F64)
    expected[short] = theta[short] / L
    torch.testing.assert_close(land.grad(theta), expected, rtol=1e-12, atol=1e-14)


def test_batched_gradient_equals_per_point_gradient():
    land = WedgeLandscape(8, 5, dtype=F64)
    gen = torch.Generator().manual_seed(6)
    theta = torch.stack([generic_point(8, 5, gen) for _ in range(5)])
    torch.testing.assert_close(land.grad(theta), torch.stack([land.grad(t) for t in theta]), rtol=0, atol=0)


def test_hvp_matches_finite_differences_of_gradient():
    D, n = 9, 4
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(7)
    eps = 1e-6
    for _ in range(5):
        theta = generic_point(D, n, gen, gap=1e-2)
        v = torch.randn(D, generator=gen, dtype=F64)
        fd = (land.grad(theta + eps * v) - land.grad(theta - eps * v)) / (2 * eps)
        torch.testing.assert_close(land.hvp(theta, v), fd, rtol=1e-5, atol=1e-7)
        # a batch of vectors gives the stacked single products
        V = torch.randn(3, D, generator=gen, dtype=F64)
        torch.testing.assert_close(land.hvp(theta, V), torch.stack([land.hvp(theta, u) for u in V]))


def test_autograd_hessian_equals_closed_form_and_its_spectrum():
    D, n = 12, 7
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(8)
    for _ in range(4):
        theta = generic_point(D, n, gen)
        H_auto = land.hessian(theta)
        H = land.hessian_closed_form(theta)
        assert H.shape == (D, D)
        torch.testing.assert_close(H_auto, H, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(H, H.T)
        L = float(brute_force_loss(theta[None], D, n)[0])
        eig = torch.linalg.eigvalsh(H)
        expected = torch.tensor([0.0] * (n + 1) + [1.0 / L] * (D - n - 1), dtype=F64)
        torch.testing.assert_close(eig, expected, rtol=1e-10, atol=1e-10)


def test_hessian_closed_form_undefined_on_a_wedge():
    land = WedgeLandscape(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="undefined"):
        land.hessian_closed_form(torch.tensor([1.0, 2.0, 0.0, 0.0], dtype=F64))
    with pytest.raises(ValueError, match="single point"):
        land.hessian_closed_form(torch.ones(2, 4, dtype=F64))


def test_short_and_long_indices_and_project():
    land = WedgeLandscape(5, 2, dtype=F64)
    theta = torch.tensor([0.5, -3.0, 0.1, 2.0, -0.2], dtype=F64)
    assert set(land.short_indices(theta).tolist()) == {0, 2, 4}
    assert set(land.long_indices(theta).tolist()) == {1, 3}
    torch.testing.assert_close(land.project(theta), torch.tensor([0.0, -3.0, 0.0, 2.0, 0.0], dtype=F64))
    # the distance to the projection is the loss
    torch.testing.assert_close((theta - land.project(theta)).norm(), land.loss(theta))
    assert land.s == 3


@pytest.mark.parametrize("D,n", [(6, 3), (20, 12), (30, 5)])
def test_connector_has_zero_loss_along_the_polyline(D, n):
    land = WedgeLandscape(D, n, dtype=F64)
    gen = torch.Generator().manual_seed(D + n)
    for _ in range(5):
        a = torch.randn(D, generator=gen, dtype=F64)
        b = torch.randn(D, generator=gen, dtype=F64)
        verts = land.connector(a, b)
        assert verts.shape == (4, D)
        torch.testing.assert_close(verts[0], land.project(a))
        torch.testing.assert_close(verts[-1], land.project(b))
        _, samples = polyline(verts, per_segment=25)
        assert samples.shape == (3 * 25 + 1, D)
        # independent check: every sample lies on some wedge (at most n nonzero coordinates)
        assert int((samples != 0).sum(1).max()) <= n
        assert float(land.loss(samples).abs().max()) == 0.0


def test_straight_line_between_wedges_has_positive_loss():
    # sanity: the connector is needed; a straight line usually leaves the wedges
    land = WedgeLandscape(6, 2, dtype=F64)
    a = torch.tensor([1.0, 1.0, 0, 0, 0, 0], dtype=F64)
    b = torch.tensor([0, 0, 0, 0, 1.0, 1.0], dtype=F64)
    mid = 0.5 * (a + b)
    torch.testing.assert_close(land.loss(mid), brute_force_loss(mid[None], 6, 2)[0])
    assert float(land.loss(mid)) > 0.5
    _, samples = polyline(land.connector(a, b), per_segment=10)
    assert float(land.loss(samples).max()) == 0.0


@pytest.mark.parametrize(
    "D,n,match",
    [
        (5, 5, r"1 <= n < D.*\[1, 4\]"),
        (5, 7, r"1 <= n < D.*\[1, 4\]"),
        (5, 0, r"1 <= n < D.*\[1, 4\]"),
        (5, -1, r"1 <= n < D"),
        (1, 1, r"D must be at least 2"),
        (0, 1, r"D must be at least 2"),
    ],
)
def test_invalid_sizes_rejected_with_allowed_range(D, n, match):
    with pytest.raises(ValueError, match=match):
        WedgeLandscape(D, n)


@pytest.mark.parametrize("D,n", [(5.0, 2), (5, 2.0), ("5", 2), (None, 2)])
def test_non_integer_sizes_rejected(D, n):
    with pytest.raises(TypeError, match="must be integers"):
        WedgeLandscape(D, n)


def test_wrong_width_batch_rejected_mentioning_D():
    land = WedgeLandscape(5, 2)
    with pytest.raises(ValueError, match="D=5"):
        land.loss(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="D=5"):
        land.loss(torch.zeros(6))
    with pytest.raises(ValueError, match="D=5"):
        land.loss(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="D=5"):
        land.grad(torch.zeros(4))


def test_non_tensor_rejected():
    land = WedgeLandscape(5, 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        land.loss([0.0] * 5)
    with pytest.raises(TypeError, match="floating-point"):
        land.loss(torch.zeros(5, dtype=torch.long))


def test_repr_names_sizes():
    assert "D=5" in repr(WedgeLandscape(5, 2)) and "n=2" in repr(WedgeLandscape(5, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_loss_on_cuda_equals_cpu():
    theta = torch.randn(64, 30, generator=torch.Generator().manual_seed(9), dtype=F64)
    cpu = WedgeLandscape(30, 20, dtype=F64)
    gpu = WedgeLandscape(30, 20, dtype=F64, device="cuda")
    out = gpu.loss(theta.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), cpu.loss(theta), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gpu.grad(theta.cuda()).cpu(), cpu.grad(theta), rtol=1e-12, atol=1e-12)


def _short_directions_brute_force(theta, n, delta):
    """Intersect every wedge (every n-subset of axes) within delta of theta; count the missing axes."""
    D = theta.numel()
    shared = set(range(D))
    found = False
    for S in itertools.combinations(range(D), n):
        outside = [i for i in range(D) if i not in S]
        if theta[outside].norm() < delta:
            shared &= set(S)
            found = True
    assert found
    return D - len(shared)


@pytest.mark.parametrize("D,n", [(6, 3), (7, 5), (5, 1)])
def test_short_directions_match_brute_force_over_all_wedges(D, n):
    gen = torch.Generator().manual_seed(D * 10 + n)
    land = WedgeLandscape(D, n, dtype=torch.float64)
    for _ in range(40):
        theta = torch.randn(D, generator=gen, dtype=torch.float64)
        k = int(torch.randint(0, n + 1, (1,), generator=gen))           # k big coordinates, the rest tiny
        small = torch.randperm(D, generator=gen)[: D - k]
        theta[small] *= 10.0 ** float(torch.randint(-4, -1, (1,), generator=gen))
        delta = float(land.loss(theta)) + 0.05
        assert land.short_directions(theta, delta) == _short_directions_brute_force(theta, n, delta)


def test_short_directions_on_a_wedge_and_at_an_intersection():
    land = WedgeLandscape(40, 30, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    a = land.project(torch.randn(40, generator=gen, dtype=torch.float64) + 3 * torch.sign(torch.randn(40, generator=gen)))
    b = land.project(torch.randn(40, generator=gen, dtype=torch.float64) + 3 * torch.sign(torch.randn(40, generator=gen)))
    assert land.short_directions(a, 0.1) == land.s
    shared = set(land.long_indices(a).tolist()) & set(land.long_indices(b).tolist())
    corner = land.connector(a, b)[1]                      # a with the coordinates outside both wedges zeroed
    assert land.short_directions(corner, 0.1) == 40 - len(shared)
    batch = land.short_directions(torch.stack([a, corner]), 0.1)
    assert batch.tolist() == [land.s, 40 - len(shared)]


def test_short_directions_need_a_point_on_the_low_loss_set():
    land = WedgeLandscape(6, 3)
    with pytest.raises(ValueError, match="from the nearest wedge"):
        land.short_directions(torch.ones(6), 0.1)
    with pytest.raises(ValueError, match="delta must be a positive"):
        land.short_directions(torch.zeros(6), 0.0)
