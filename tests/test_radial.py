"""Tests for lsl.probes.radial: random unit directions, radial loss profiles, and tunnel widths against closed forms
on a quadratic landscape and against a brute-force search along each direction of a trained network."""

from __future__ import annotations

import math

import pytest
import torch

from lsl.data import datasets, nets
from lsl.probes.radial import RadialProfile, radial_profile, random_directions, tunnel_widths
from lsl.toy import WedgeLandscape
from lsl.training import families
from tests.reference import Quadratic
from lsl.settings import FAMILY_DEFAULTS

F64 = torch.float64


def test_random_directions_unit_norm_and_seeded():
    v = random_directions(50, 20, seed=3, dtype=F64)
    assert v.shape == (20, 50) and v.dtype == F64
    torch.testing.assert_close(v.norm(dim=1), torch.ones(20, dtype=F64), rtol=0, atol=1e-12)
    assert torch.equal(v, random_directions(50, 20, seed=3, dtype=F64))
    assert not torch.allclose(v, random_directions(50, 20, seed=4, dtype=F64))
    torch.manual_seed(123)
    assert torch.equal(v, random_directions(50, 20, seed=3, dtype=F64))  # global RNG is irrelevant
    assert random_directions(50, 2).dtype == torch.float32


def test_random_directions_are_nearly_orthogonal_in_high_dimension():
    v = random_directions(4000, 10, seed=0, dtype=F64)
    cos = v @ v.T - torch.eye(10, dtype=F64)
    assert float(cos.abs().max()) < 6 / math.sqrt(4000)
    # and not concentrated on any coordinate: the mean direction is small
    assert float(v.mean(0).norm()) < 3 / math.sqrt(10)


@pytest.mark.parametrize("D,k", [(0, 3), (3, 0)])
def test_random_directions_errors(D, k):
    with pytest.raises(ValueError, match="D >= 1 and k >= 1"):
        random_directions(D, k)


def test_radial_profile_equals_direct_evaluation():
    land = WedgeLandscape(20, 12, dtype=F64)
    gen = torch.Generator().manual_seed(1)
    theta = torch.randn(20, generator=gen, dtype=F64)
    radii = torch.tensor([0.0, 0.1, 0.5, 2.0, 0.3], dtype=F64)  # any order
    prof = radial_profile(land, theta, radii, n_directions=6, seed=2)
    dirs = random_directions(20, 6, seed=2, dtype=F64)
    assert prof.losses.shape == (6, 5)
    torch.testing.assert_close(prof.radii, radii)
    for k in range(6):
        for r in range(5):
            p = theta + radii[r] * dirs[k]
            ref = p.abs().sort().values[:8].norm()  # distance to the nearest wedge
            torch.testing.assert_close(prof.losses[k, r], ref, rtol=1e-12, atol=1e-14)
    # radius 0: every direction gives the base loss
    torch.testing.assert_close(prof.losses[:, 0], torch.full((6,), prof.base_loss, dtype=F64))
    assert prof.base_loss == pytest.approx(float(theta.abs().sort().values[:8].norm()))
    assert prof.theta_norm == pytest.approx(float(theta.norm()))


def test_radial_profile_with_explicit_directions():
    land = WedgeLandscape(4, 2, dtype=F64)
    theta = torch.tensor([3.0, 2.0, 0.0, 0.0], dtype=F64)
    dirs = torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=F64)
    prof = radial_profile(land, theta, [0.0, 1.0, 2.0], directions=dirs)
    # along e3 the loss is the offset r; along e1 the point stays on the wedge
    torch.testing.assert_close(prof.losses, torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]], dtype=F64))
    assert prof.base_loss == 0.0


def test_radial_profile_errors():
    land = WedgeLandscape(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="one centre point"):
        radial_profile(land, torch.zeros(2, 4, dtype=F64), [1.0])
    with pytest.raises(ValueError, match="D=4"):
        radial_profile(land, torch.zeros(4, dtype=F64), [1.0], directions=torch.zeros(2, 3, dtype=F64))


def test_width_interpolates_the_crossing():
    radii = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=F64)
    losses = torch.tensor([
        [0.0, 0.5, 1.5, 3.0],   # crosses 1.0 halfway between r=1 and r=2 -> 1.5
        [0.0, 0.2, 0.4, 0.6],   # never exceeds -> inf
        [2.0, 3.0, 4.0, 5.0],   # above at the first radius -> radii[0]
        [0.0, 0.0, 0.0, 1.75],  # crosses between r=2 and r=3 at 1/1.75 of the way
        [0.0, 1.0, 1.0, 1.2],   # equal to the threshold is not above it: crosses between r=2 and r=3 at 0
    ], dtype=F64)
    prof = RadialProfile(radii, losses, base_loss=0.0, theta_norm=4.0)
    w = prof.width(1.0)
    expected = torch.tensor([1.5, math.inf, 0.0, 2.0 + 1 / 1.75, 2.0], dtype=F64)
    torch.testing.assert_close(w, expected)
    torch.testing.assert_close(prof.angular_width(1.0), expected / 4.0)
    # a lower threshold: row 0 crosses 0.25 half way between r=0 and r=1
    assert float(prof.width(0.25)[0]) == pytest.approx(0.5)


def test_spread():
    prof = RadialProfile(torch.tensor([0.0, 1.0]), torch.tensor([[1.0, 2.0], [1.0, 4.0]]), 1.0, 1.0)
    torch.testing.assert_close(prof.spread(), torch.tensor([0.0, torch.tensor([2.0, 4.0]).std().item() / 3.0]))


def test_width_on_the_toy_model_scales_with_distance_to_the_wedge():
    # from a point on a wedge, the loss along a direction v is r * ||v_S||, so the width at threshold t
    # is t / ||v_S|| where S are the short coordinates (for small r)
    land = WedgeLandscape(30, 20, dtype=F64)
    theta = torch.zeros(30, dtype=F64)
    theta[:20] = 5.0 + torch.rand(20, generator=torch.Generator().manual_seed(0), dtype=F64)
    radii = torch.linspace(0, 1, 101, dtype=F64)
    prof = radial_profile(land, theta, radii, n_directions=8, seed=5)
    dirs = random_directions(30, 8, seed=5, dtype=F64)
    expected = 0.3 / dirs[:, 20:].norm(dim=1)
    torch.testing.assert_close(prof.width(0.3), expected, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(prof.angular_width(0.3), expected / theta.norm(), rtol=1e-8, atol=1e-10)


def test_radial_profile_chunking_does_not_change_values():
    import torch

    from lsl.probes.radial import radial_profile
    from lsl.toy import WedgeLandscape

    toy = WedgeLandscape(30, 20, dtype=torch.float64)
    theta = torch.randn(30, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    radii = torch.linspace(0, 2, 7)
    whole = radial_profile(toy, theta, radii, n_directions=9, seed=1)
    chunked = radial_profile(toy, theta, radii, n_directions=9, seed=1, max_elements=30 * 7 * 2)
    assert torch.equal(whole.losses, chunked.losses)


# ---------------------------------------------------------------------------
# tunnel widths on a quadratic landscape


def _quadratic(D=30, seed=0, c=0.3):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=F64))
    A = Q @ torch.diag(torch.logspace(-1, 1, D, dtype=F64)) @ Q.T
    return Quadratic(A, 2 * torch.randn(D, generator=g, dtype=F64), c)


def test_tunnel_widths_match_the_closed_form_on_a_quadratic():
    quads = [_quadratic(seed=0), _quadratic(seed=1, c=0.7)]
    thetas = [q.center for q in quads]
    K, rise = 12, 0.05
    radii = torch.linspace(0, 2.0, 4001, dtype=F64)
    tw = tunnel_widths(quads, thetas, n_directions=K, radii=radii, rise=rise, seed=4)
    u = random_directions(30, K, seed=4, dtype=F64)
    for i, q in enumerate(quads):
        curv = ((u @ q.A) * u).sum(1)  # u^T A u
        exact = (2 * rise / curv).sqrt()
        assert float(exact.max()) < 2.0
        torch.testing.assert_close(tw.widths[i], exact, rtol=0, atol=float(radii[1]))
        norm = float(q.center.norm())
        torch.testing.assert_close(tw.angular_widths[i], exact / norm, rtol=0, atol=float(radii[1]) / norm)
        assert float(tw.width[i]) == pytest.approx(float(exact.mean()), abs=float(radii[1]))
        assert float(tw.width_std[i]) == pytest.approx(float(exact.std()), abs=2 * float(radii[1]))
        assert float(tw.angular_width[i]) == pytest.approx(float(exact.mean()) / norm, abs=float(radii[1]) / norm)
        assert tw.base_losses[i] == pytest.approx(q.c) and tw.thresholds[i] == pytest.approx(q.c + rise)
        assert tw.theta_norms[i] == pytest.approx(norm)
    assert tw.escaped.tolist() == [0, 0]
    # the same threshold given as an absolute loss or a factor gives the same widths
    same = tunnel_widths(quads[0], thetas[0], n_directions=K, radii=radii, threshold=0.3 + rise, seed=4)
    torch.testing.assert_close(same.widths[0], tw.widths[0])
    same = tunnel_widths(quads[0], thetas[0], n_directions=K, radii=radii, factor=(0.3 + rise) / 0.3, seed=4)
    torch.testing.assert_close(same.widths[0], tw.widths[0])


def test_tunnel_widths_grid_grows_until_every_direction_crosses():
    q = _quadratic(seed=2)
    u = random_directions(30, 8, seed=0, dtype=F64)
    exact = (2 * 0.5 / ((u @ q.A) * u).sum(1)).sqrt()
    small = float(exact.min()) / 4
    stuck = tunnel_widths(q, q.center, n_directions=8, max_radius=small, n_radii=50, grow=0, rise=0.5)
    assert int(stuck.escaped[0]) == 8 and math.isinf(float(stuck.width[0]))
    grown = tunnel_widths(q, q.center, n_directions=8, max_radius=small, n_radii=400, grow=8, rise=0.5)
    assert int(grown.escaped[0]) == 0 and float(grown.max_radii[0]) > float(exact.max())
    torch.testing.assert_close(grown.widths[0], exact, rtol=0, atol=float(grown.max_radii[0]) / 399)


def test_tunnel_widths_errors():
    q = _quadratic(D=5)
    with pytest.raises(ValueError, match="exactly one"):
        tunnel_widths(q, q.center)
    with pytest.raises(ValueError, match="exactly one"):
        tunnel_widths(q, q.center, rise=0.1, factor=2.0)


# ---------------------------------------------------------------------------
# tunnel widths of a trained network, against a brute-force search along each direction


@pytest.fixture(scope="module")
def ds():
    return datasets.load("gaussian_mixture", n_train=60, n_test=30, n_classes=3, dim=5, separation=2.0, dtype=F64)


def _optimum(ds):
    build = nets.network(ds, "mlp", width=8, depth=2, activation="tanh", seed=1, dtype=F64)
    fam = families.train_family(build, "lr", [0.3], settings=FAMILY_DEFAULTS.replace(batch_size=10, steps=3000), target_loss=0.3, check_every=10, cache=False)
    assert fam.all_reached
    return fam.landscapes[0], fam.thetas[0]


def _first_crossing(land, theta, u, threshold, r_max, tol):
    """Brute force, one point at a time: walk out in small steps until the loss exceeds the threshold, then bisect."""
    step = r_max / 400
    lo, hi = 0.0, None
    r = step
    while r <= r_max:
        if float(land.loss(theta + r * u)) > threshold:
            hi = r
            break
        lo, r = r, r + step
    assert hi is not None, "the ray never crossed the threshold"
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if float(land.loss(theta + mid * u)) > threshold:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def test_tunnel_widths_of_a_network_match_a_brute_force_search(ds, private_cache):
    land, theta = _optimum(ds)
    K, rise = 6, 0.25
    norm = float(theta.norm())
    radii = torch.linspace(0, 1.5 * norm, 1501, dtype=F64)
    tw = tunnel_widths(land, theta, n_directions=K, radii=radii, rise=rise, seed=7)
    base = float(land.loss(theta))
    assert float(tw.base_losses[0]) == pytest.approx(base, rel=1e-12)
    assert float(tw.thresholds[0]) == pytest.approx(base + rise, rel=1e-12)
    dirs = random_directions(land.D, K, seed=7, dtype=F64)
    h = float(radii[1])
    for k in range(K):
        ref = _first_crossing(land, theta, dirs[k], base + rise, float(radii[-1]), tol=1e-9)
        # linear interpolation between grid points: within one grid spacing of the exact crossing
        assert abs(float(tw.widths[0, k]) - ref) < h, (k, float(tw.widths[0, k]), ref)
    torch.testing.assert_close(tw.angular_widths[0], tw.widths[0] / norm)
    assert float(tw.width[0]) == pytest.approx(float(tw.widths[0].mean()))
    # the default grid (max_angle, n_radii, grow) agrees with the fine grid to its own resolution
    coarse = tunnel_widths(land, theta, n_directions=K, max_angle=0.6, n_radii=13, rise=rise, seed=7)
    step = float(coarse.max_radii[0]) / 12
    assert int(coarse.escaped[0]) == 0
    assert float((coarse.widths[0] - tw.widths[0]).abs().max()) < step


def test_angular_sweep_equals_the_plain_loop(ds, private_cache):
    """angular_sweep: one family per hyperparameter (train_family) and its tunnel widths, as in a loop."""
    from lsl.probes.radial import AngularSweep, angular_sweep
    from lsl.settings import FAMILY_DEFAULTS

    build = nets.network(ds, "mlp", width=6, depth=1, activation="tanh", seed=0, dtype=F64)
    sweeps = {"lr": [0.2, 0.4], "width": [4, 8]}
    settings = FAMILY_DEFAULTS.replace(steps=300, lr=0.2, batch_size=20)
    probe = dict(n_directions=4, rise=0.2, max_angle=1.0, n_radii=12)
    got = angular_sweep(build, sweeps, settings=settings, target_loss=0.6, check_every=20, cache=False, **probe)
    assert isinstance(got, AngularSweep) and list(got.angles) == ["lr", "width"]
    for h, values in sweeps.items():
        fam = families.train_family(build, h, values, settings=settings, target_loss=0.6, check_every=20, cache=False)
        ref = tunnel_widths(fam.landscapes, fam.thetas, **probe)
        assert got.values[h] == tuple(values)
        assert all(torch.equal(x, y) for x, y in zip(got.families[h].thetas, fam.thetas))
        assert torch.equal(got.widths[h].angular_widths, ref.angular_widths)
        assert (got.angles[h] == ref.angular_width.numpy()).all() and got.angles[h].shape == (2,)
    with pytest.raises(TypeError, match="TrainSettings"):
        angular_sweep(build, sweeps, settings={"lr": 0.1}, target_loss=0.6)
    with pytest.raises(ValueError, match="non-empty mapping"):
        angular_sweep(build, {}, target_loss=0.6)
    with pytest.raises(ValueError, match="check_every must be"):
        angular_sweep(build, sweeps, target_loss=0.6, check_every=0)
