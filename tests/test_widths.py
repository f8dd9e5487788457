"""Tests for the widths chapter's use of lsl.data.nets.network, lsl.training.families and lsl.probes.radial.tunnel_widths: the tunnel width of a network against a brute-force
per-direction search, the builder's chunk_size, and width families of convolutional networks."""

from __future__ import annotations

import pytest
import torch

from lsl.data import datasets, nets
from lsl.training import families
from lsl.probes.radial import random_directions, tunnel_widths

F64 = torch.float64


@pytest.fixture(scope="module")
def ds():
    return datasets.load("gaussian_mixture", n_train=60, n_test=30, n_classes=3, dim=5, separation=2.0, dtype=F64)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    return tmp_path


def _optimum(ds):
    build = nets.network(ds, "mlp", width=8, depth=2, activation="tanh", seed=1, dtype=F64)
    fam = families.train_family(build, "lr", [0.3], batch_size=10, target_loss=0.3, check_every=10, max_steps=3000,
                                cache=False)
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


def test_tunnel_widths_of_a_network_match_a_brute_force_search(ds):
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


def test_network_chunk_size_changes_nothing_but_speed(ds):
    plain = nets.network(ds, "mlp", width=8, depth=1, seed=0, dtype=F64)()
    chunked = nets.network(ds, "mlp", width=8, depth=1, seed=0, dtype=F64, chunk_size=3)()
    assert chunked.chunk_size == 3 and plain.chunk_size is None
    assert plain.fingerprint() == chunked.fingerprint()  # same cache entries
    pts = plain.theta0 + 0.1 * torch.randn(10, plain.D, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(chunked.loss(pts), plain.loss(pts))


def test_width_family_of_a_cnn_scales_its_channels():
    signals = datasets.load("mnist1d", n_train=64, n_test=32)
    build = nets.network(signals, "cnn1d", channels=(4, 8, 8), seed=0)
    for w, channels in ((2, (2, 4, 4)), (4, (4, 8, 8)), (8, (8, 16, 16))):
        land = build(width=w)
        ref = nets.make("cnn1d", signals.input_shape, signals.n_classes, seed=0, channels=channels)
        assert land.D == sum(p.numel() for p in ref.parameters())
        torch.testing.assert_close(land.theta0, land.theta_of(ref))
    # without explicit channels, the architecture's default ones are scaled
    default = nets.network(signals, "cnn1d", seed=0)
    ref = nets.make("cnn1d", signals.input_shape, signals.n_classes, seed=0, channels=(32, 64, 64))
    assert default(width=32).D == sum(p.numel() for p in ref.parameters())
    fam = families.train_family(build, "width", [2, 8], lr=0.05, batch_size=16, max_steps=5, cache=False)
    assert fam.landscapes[0].D < fam.landscapes[1].D and fam.all_reached
    with pytest.raises(ValueError, match="width"):
        build(width=0)
