"""Tests for lsl.paths.orthogonal: optimisation inside the affine subspace orthogonal to given directions."""

from __future__ import annotations

import pytest
import torch

from lsl.paths.orthogonal import optimize_orthogonal
from lsl.toy import WedgeLandscape
from tests.test_hyperplanes import tiny_net
from lsl.settings import SUBSPACE_DEFAULTS

F64 = torch.float64


@pytest.mark.parametrize("m", [1, 3])
def test_optimize_orthogonal_keeps_the_constrained_component(m):
    land = WedgeLandscape(16, 8, dtype=F64)
    gen = torch.Generator().manual_seed(8)
    points = torch.randn(5, 16, generator=gen, dtype=F64)
    directions = torch.randn(m, 16, generator=gen, dtype=F64)
    out = optimize_orthogonal(land, points, directions if m > 1 else directions[0], settings=SUBSPACE_DEFAULTS.replace(steps=80, lr=0.05))
    assert out.shape == (5, 16)
    U = torch.linalg.svd(directions.T, full_matrices=False).U  # an independent orthonormal basis
    torch.testing.assert_close((out - points) @ U, torch.zeros(5, m, dtype=F64), rtol=0, atol=1e-6)
    # the displacement is orthogonal to each raw direction too
    torch.testing.assert_close((out - points) @ directions.T, torch.zeros(5, m, dtype=F64), rtol=0, atol=1e-6)
    assert bool((land.loss(out) < land.loss(points)).all())
    assert float(land.loss(out).max()) < 0.5 * float(land.loss(points).min())


def test_optimize_orthogonal_single_point_on_a_network():
    land = tiny_net()
    direction = torch.randn(land.D, generator=torch.Generator().manual_seed(9), dtype=F64)
    out = optimize_orthogonal(land, land.theta0, direction, settings=SUBSPACE_DEFAULTS.replace(steps=30, lr=0.05))
    assert out.shape == (1, land.D)
    assert abs(float((out[0] - land.theta0) @ direction)) < 1e-6 * float(direction.norm())
    assert float(land.loss(out[0])) < float(land.loss(land.theta0))


def test_optimize_orthogonal_per_point_directions_equal_separate_runs():
    land = WedgeLandscape(16, 8, dtype=F64)
    gen = torch.Generator().manual_seed(10)
    points = torch.randn(3, 16, generator=gen, dtype=F64)
    sets = [torch.randn(m, 16, generator=gen, dtype=F64) for m in (1, 2, 4)]
    together = optimize_orthogonal(land, points, sets, settings=SUBSPACE_DEFAULTS.replace(steps=60, lr=0.05))
    for k, d in enumerate(sets):
        alone = optimize_orthogonal(land, points[k], d, settings=SUBSPACE_DEFAULTS.replace(steps=60, lr=0.05))[0]
        torch.testing.assert_close(together[k], alone, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close((together[k] - points[k]) @ d.T, torch.zeros(len(d), dtype=F64), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="one set of directions per point"):
        optimize_orthogonal(land, points, sets[:2], settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.05))


def test_optimize_orthogonal_stops_each_point_at_the_target_loss():
    land = WedgeLandscape(16, 8, dtype=F64)
    gen = torch.Generator().manual_seed(11)
    points = 3 * torch.randn(4, 16, generator=gen, dtype=F64)
    direction = torch.randn(16, generator=gen, dtype=F64)
    kw = dict(settings=SUBSPACE_DEFAULTS.replace(steps=60, lr=0.05, schedule="constant"))
    free = optimize_orthogonal(land, points, direction, **kw)
    start, end = land.loss(points), land.loss(free)
    target = float((0.3 * start + 0.7 * end).max())  # every point passes it
    assert bool((end < target).all()) and bool((start > target).all())
    stopped = optimize_orthogonal(land, points, direction, target_loss=target, check_every=1, **kw)
    loss = land.loss(stopped)
    assert bool((loss <= target).all())
    # stopped at the first step below the target: the step before was still above it
    for k in (0, 3):  # brute force on two of the points
        steps_needed = next(t for t in range(1, 61) if float(land.loss(
            optimize_orthogonal(land, points[k], direction, settings=SUBSPACE_DEFAULTS.replace(steps=t, lr=0.05, schedule="constant"))[0])) <= target)
        if steps_needed > 1:
            before = optimize_orthogonal(land, points[k], direction, settings=SUBSPACE_DEFAULTS.replace(steps=steps_needed - 1, lr=0.05, schedule="constant"))[0]
            assert float(land.loss(before)) > target
        again = optimize_orthogonal(land, points[k], direction, settings=SUBSPACE_DEFAULTS.replace(steps=steps_needed, lr=0.05, schedule="constant"))[0]
        torch.testing.assert_close(stopped[k], again, rtol=1e-9, atol=1e-9)
    # an unreachable target runs all steps
    torch.testing.assert_close(optimize_orthogonal(land, points, direction, target_loss=-1.0, **kw), free)


def test_optimize_orthogonal_takes_one_target_loss_per_point():
    """A [K] tensor of targets stops each point at its own: the same as optimising each point alone with its target."""
    land = WedgeLandscape(16, 8, dtype=F64)
    gen = torch.Generator().manual_seed(12)
    points = 3 * torch.randn(3, 16, generator=gen, dtype=F64)
    direction = torch.randn(16, generator=gen, dtype=F64)
    kw = dict(settings=SUBSPACE_DEFAULTS.replace(steps=60, lr=0.05, schedule="constant"), check_every=1)
    start, end = land.loss(points), land.loss(optimize_orthogonal(land, points, direction, settings=SUBSPACE_DEFAULTS.replace(steps=60, lr=0.05, schedule="constant")))
    targets = 0.5 * start + 0.5 * end                                   # a different target for every point
    stopped = optimize_orthogonal(land, points, direction, target_loss=targets, **kw)
    for k in range(3):
        alone = optimize_orthogonal(land, points[k], direction, target_loss=float(targets[k]), **kw)[0]
        torch.testing.assert_close(stopped[k], alone, rtol=1e-9, atol=1e-9)
        assert float(land.loss(stopped[k])) <= float(targets[k])
    with pytest.raises(ValueError, match="one target per point"):
        optimize_orthogonal(land, points, direction, target_loss=targets[:2], **kw)
