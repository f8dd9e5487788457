"""Tests of lsl.probes.lines against plain loops and the toy model's exact answers."""

import math

import pytest
import torch

from lsl.probes import lines
from lsl.toy import WedgeLandscape


@pytest.fixture(scope="module")
def toy():
    return WedgeLandscape(40, 30)


def test_line_losses_match_a_loop_and_end_at_the_ends(toy):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(toy.D, generator=g), torch.randn(toy.D, generator=g)
    got = lines.line_losses(toy, a, b, 11)
    want = torch.stack([toy.loss((1 - t) * a + t * b) for t in torch.linspace(0, 1, 11)])
    assert torch.allclose(got, want, atol=1e-6)
    batch = lines.line_losses(toy, torch.stack([a, b]), torch.stack([b, a]), 11)
    assert torch.allclose(batch[0], got, atol=1e-6) and torch.allclose(batch[1], got.flip(0), atol=1e-6)


def test_largest_rise_is_zero_for_a_falling_sequence_and_the_climb_otherwise():
    assert lines.largest_rise(torch.tensor([3.0, 2.0, 2.0, 1.0])).item() == 0.0
    assert lines.largest_rise(torch.tensor([3.0, 1.0, 2.5, 0.5])).item() == pytest.approx(1.5)
    seq = torch.rand(5, 9, generator=torch.Generator().manual_seed(1))
    want = torch.tensor([max(row[i] - min(row[: i + 1]) for i in range(9)) for row in seq])
    assert torch.allclose(lines.largest_rise(seq), want)
    with pytest.raises(ValueError, match="finite"):
        lines.largest_rise(torch.tensor([1.0, math.nan]))


def test_relative_rise_is_the_rise_over_the_fall_and_zero_on_a_convex_quadratic():
    assert lines.relative_rise(torch.tensor([4.0, 1.0, 2.5, 0.0])).item() == pytest.approx(1.5 / 4.0)
    # a convex quadratic falls monotonically along the line from any point to its minimum: exactly zero
    g = torch.Generator().manual_seed(4)
    a, start, centre = torch.rand(30, generator=g) + 0.1, torch.randn(30, generator=g), torch.randn(30, generator=g)
    t = torch.linspace(0, 1, 51)[:, None]
    path = (0.5 * a * (start + t * (centre - start) - centre) ** 2).sum(1)
    assert lines.relative_rise(path).item() == 0.0
    with pytest.raises(ValueError, match="below their first"):
        lines.relative_rise(torch.tensor([1.0, 2.0]))


def test_farther_share_counts_pairs_like_a_loop():
    d = torch.rand(12, generator=torch.Generator().manual_seed(5))
    d[3] = d[7]                                            # a tie between a flagged and an unflagged item
    f = torch.tensor([0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0], dtype=torch.bool)
    pairs = [(i, j) for i in range(12) for j in range(12) if f[i] and not f[j]]
    want = sum(1.0 if d[i] > d[j] else 0.5 if d[i] == d[j] else 0.0 for i, j in pairs) / len(pairs)
    assert lines.farther_share(d, f) == pytest.approx(want)
    assert lines.farther_share(d, torch.zeros(12, dtype=torch.bool)) == 0.5
    assert lines.farther_share([1.0, 2.0], [False, True]) == 1.0


def test_the_line_from_a_point_to_its_projection_on_a_wedge_falls_monotonically(toy):
    # toy model: the loss is the distance to the nearest wedge; moving straight to the projection never climbs
    theta = torch.randn(toy.D, generator=torch.Generator().manual_seed(2))
    path = lines.line_losses(toy, theta, toy.project(theta), 41)
    assert lines.largest_rise(path).item() <= 1e-6 and path[-1].item() <= 1e-6


def test_random_paths_agree_with_a_loop_and_a_zero_detour_is_the_line(toy):
    g = torch.Generator().manual_seed(3)
    a, b = toy.project(torch.randn(toy.D, generator=g)), toy.project(torch.randn(toy.D, generator=g))
    rp = lines.random_paths(toy, a, b, n_paths=4, n_points=6, detour=1.0, seed=5)
    from lsl.probes.radial import random_directions
    dirs = random_directions(toy.D, 4, seed=5)
    for k in range(4):
        m = (a + b) / 2 + (b - a).norm() / 2 * dirs[k]
        pts = [(1 - t) * a + t * m for t in torch.linspace(0, 1, 6)] + [(1 - t) * m + t * b for t in torch.linspace(0, 1, 6)[1:]]
        want = torch.stack([toy.loss(p) for p in pts])
        assert torch.allclose(rp.losses[k], want, atol=1e-5)
        assert rp.barriers[k].item() == pytest.approx((want.max() - torch.maximum(want[0], want[-1])).item(), abs=1e-5)
    straight = lines.random_paths(toy, a, b, n_paths=3, n_points=6, detour=0.0)
    assert torch.allclose(straight.barriers, torch.full((3,), straight.line_barrier), atol=1e-5)
    assert 0.0 <= rp.share_above(0.0) <= 1.0 and rp.share_above(-1.0) == 1.0


def test_radial_cosine_is_one_outwards_minus_one_inwards_and_small_for_a_random_move():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(4))
    assert lines.radial_cosine(x, 2 * x).item() == pytest.approx(1.0, abs=1e-6)
    assert lines.radial_cosine(x, 0.5 * x).item() == pytest.approx(-1.0, abs=1e-6)
    r = torch.randn(1000, generator=torch.Generator().manual_seed(5))
    assert abs(lines.radial_cosine(x, x + r).item()) < 5 / math.sqrt(1000)
    with pytest.raises(ValueError, match="origin"):
        lines.radial_cosine(torch.zeros(3), torch.ones(3))


@pytest.mark.parametrize("kwargs, match", [({"n_points": 1}, "n_points"), ({"n_paths": 0}, "n_paths"),
                                           ({"detour": -1.0}, "detour"), ({"detour": math.nan}, "detour")])
def test_random_paths_refuses_bad_settings(toy, kwargs, match):
    a = torch.zeros(toy.D)
    with pytest.raises((ValueError, TypeError), match=match):
        lines.random_paths(toy, a, a + 1, **kwargs)
