"""Tests for lsl.probes.trajectory: spectra along a training run equal the plain loop (train, then the top
eigenvalues at the start and at each snapshot), on a tiny network."""

from __future__ import annotations

import pytest
import torch

from lsl.curvature import hessian
from lsl.data import datasets, nets
from lsl.probes.trajectory import RunSpectra, spectra_along_run
from lsl.settings import TrainSettings
from lsl.training import trainer

F64 = torch.float64
SETTINGS = TrainSettings(steps=30, lr=0.05, batch_size=16)
pytestmark = pytest.mark.usefixtures("private_cache")   # tests/conftest.py


@pytest.fixture(scope="module")
def net():
    ds = datasets.load("gaussian_mixture", n_train=40, n_test=20, n_classes=3, dim=4, separation=2.0, dtype=F64)
    return nets.network(ds, "mlp", width=5, depth=1, seed=0, dtype=F64)()


def plain_loop(net, k, every, eigenvectors, curvature=None):
    run = trainer.train(net, net.theta0, settings=SETTINGS, snapshot_every=every)
    steps = [0, *run.snapshot_steps]
    points = [net.theta0, *run.snapshots]
    tops = [hessian.top_eigenvalues(curvature or net, p, k, tol=1e-8, eigenvectors=eigenvectors) for p in points]
    return run, steps, points, tops


@pytest.mark.parametrize("cache", [False, True])
def test_spectra_along_run_equals_the_plain_loop(net, cache):
    run, steps, points, tops = plain_loop(net, 4, 10, True)
    got = spectra_along_run(net, 4, settings=SETTINGS, snapshot_every=10, eigenvectors=True, tol=1e-8, cache=cache)
    assert isinstance(got, RunSpectra) and len(got) == 4
    assert got.steps == tuple(steps) == (0, 10, 20, 30)
    assert torch.equal(got.points, torch.stack(points))
    assert torch.equal(got.theta, run.theta)
    assert torch.equal(got.eigenvalues, torch.stack([ev for ev, _ in tops]))
    assert torch.equal(got.eigenvectors, torch.stack([v for _, v in tops]))
    with pytest.raises(Exception):
        got.steps = ()                                                   # frozen


def test_spectra_at_chosen_steps_on_a_subset_and_select(net):
    sub = net.subset(20)
    _, steps, points, tops = plain_loop(net, 2, 5, False, curvature=sub)
    got = spectra_along_run(net, 2, settings=SETTINGS, snapshot_every=5, at=[0, 15, 30], curvature=sub, tol=1e-8)
    assert got.steps == (0, 15, 30) and got.eigenvectors is None
    for row, step in enumerate(got.steps):
        assert torch.equal(got.eigenvalues[row], tops[steps.index(step)])
        assert torch.equal(got.points[row], points[steps.index(step)])
    part = got.select([30, 0])
    assert part.steps == (30, 0) and torch.equal(part.eigenvalues, got.eigenvalues[[2, 0]])
    assert got.index(15) == 1
    with pytest.raises(ValueError, match="not measured"):
        got.select([5])


def test_spectra_along_run_refuses_bad_arguments(net):
    with pytest.raises(TypeError, match="TrainSettings"):
        spectra_along_run(net, 2, settings=dict(steps=10, lr=0.1), snapshot_every=5)
    with pytest.raises(ValueError, match="k must be"):
        spectra_along_run(net, 0, settings=SETTINGS, snapshot_every=5)
    with pytest.raises(ValueError, match="snapshot_every must be"):
        spectra_along_run(net, 2, settings=SETTINGS, snapshot_every=0)
    with pytest.raises(ValueError, match=r"no snapshot at step\(s\) \[7\]"):
        spectra_along_run(net, 2, settings=SETTINGS, snapshot_every=5, at=[0, 7], cache=False)
    with pytest.raises(ValueError, match="D = "):
        other = nets.network(datasets.load("gaussian_mixture", n_train=10, n_classes=3, dim=4, dtype=F64), "mlp",
                             width=3, depth=1, dtype=F64)()
        spectra_along_run(net, 2, settings=SETTINGS, snapshot_every=5, curvature=other)
