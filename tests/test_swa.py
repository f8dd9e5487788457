"""Tests for lsl.ensembles.swa against independent references: torch.optim.swa_utils (AveragedModel, update_bn),
batch-norm statistics by hand, ordinary runs stopped at each cycle's end, and lsl.training.trainer.lr_schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsl.data import datasets
from lsl.ensembles.averaging import compare_averages
from lsl.network import NetworkLandscape
from lsl.data.nets import MLP
from lsl.ensembles.swa import cyclic_snapshots, has_batchnorm, swa_landscape, swa_model, weight_average
from lsl.training.trainer import lr_schedule, train
from tests.test_averaging import Quadratic, mixture_net, random_members
from lsl.settings import SNAPSHOT_DEFAULTS, TrainSettings

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("private_cache")   # tests/conftest.py


# ---------------------------------------------------------------------------
# weight averaging and batch norm


def test_weight_average_of_copies_is_the_copy_and_matches_averaged_model():
    land = mixture_net()
    theta = random_members(land, 1)[0]
    torch.testing.assert_close(weight_average(torch.stack([theta, theta])), theta)
    thetas = random_members(land, 3, seed=5)
    avg = weight_average(thetas)
    torch.testing.assert_close(avg, (thetas[0] + thetas[1] + thetas[2]) / 3)
    # independent reference: torch's AveragedModel fed the same members as modules
    module = MLP(4, 3, width=8, depth=1, activation="tanh").to(F64)
    swa = torch.optim.swa_utils.AveragedModel(module)
    for t in thetas:
        with torch.no_grad():
            for name, value in land.view.unflatten(t).items():
                module.get_parameter(name).copy_(value)
        swa.update_parameters(module)
    ref = land.view.flatten(dict(swa.module.named_parameters()))
    torch.testing.assert_close(avg, ref.detach())
    # [M, B, D]: M snapshots of B runs average to [B, D]
    assert weight_average(thetas.view(3, 1, -1).expand(3, 2, -1)).shape == (2, land.D)
    with pytest.raises(ValueError):
        weight_average(theta)


def test_swa_without_batchnorm_leaves_everything_unchanged():
    land = mixture_net()
    theta = random_members(land, 1)[0]
    assert not has_batchnorm(land)
    assert swa_landscape(land, theta) is land
    model = swa_model(land, theta)
    torch.testing.assert_close(model(land.x_test), land.logits(theta, land.x_test))


def bn_net() -> NetworkLandscape:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2)).to(F64)
    gen = torch.Generator().manual_seed(3)
    x = 2.0 + torch.randn(40, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 2, (40,), generator=gen)
    return NetworkLandscape(model, x, y, x_test=x[:10], y_test=y[:10])


def test_swa_with_batchnorm_follows_the_one_policy():
    land = bn_net()
    assert has_batchnorm(land) and has_batchnorm(land.model)
    theta = random_members(land, 1, seed=4)[0]
    # the landscape evaluates the average with the training data's statistics at the average: itself
    assert swa_landscape(land, theta) is land
    with pytest.raises(ValueError, match="policy"):
        swa_landscape(land, theta, land.x)
    # reference: the statistics of the first layer's outputs at theta, by hand (biased variance, as the policy)
    p = land.view.unflatten(theta)
    h = land.x @ p["0.weight"].T + p["0.bias"]
    z = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5) * p["1.weight"] + p["1.bias"]
    logits = torch.tanh(z) @ p["3.weight"].T + p["3.bias"]
    torch.testing.assert_close(land.logits(theta), logits)
    # the landscape's stored statistics are untouched (fresh BN: mean 0, var 1)
    torch.testing.assert_close(land.buffers["1.running_mean"], torch.zeros(5, dtype=F64))
    # the module of the policy: its eval() outputs are the landscape's, on the training and the test split
    model = swa_model(land, theta)
    torch.testing.assert_close(model[1].running_mean, h.mean(0))
    torch.testing.assert_close(model[1].running_var, h.var(0, unbiased=False))
    torch.testing.assert_close(model(land.x), logits)
    torch.testing.assert_close(model(land.x_test), land.logits(theta, land.x_test))
    # statistics on other inputs, for use outside lsl: update_bn's cumulative average weighs batches
    # equally (the mean of batch means and of unbiased batch variances)
    model = swa_model(land, theta, land.x, batch_size=20)
    torch.testing.assert_close(model[1].running_mean, h.mean(0))
    torch.testing.assert_close(model[1].running_var, 0.5 * (h[:20].var(0) + h[20:].var(0)))
    whole = swa_model(land, theta, [land.x])  # an iterable of batches
    torch.testing.assert_close(whole[1].running_var, h.var(0, unbiased=True))
    # the comparison evaluates the weight average under the policy
    cmp = compare_averages(land, torch.stack([theta, theta]), "train")
    assert cmp.weight_accuracy == pytest.approx(float(land.accuracy(theta)))


# ---------------------------------------------------------------------------
# cyclic snapshots


def test_cyclic_snapshots_at_cycle_ends_follow_the_schedule():
    land = mixture_net()
    run = cyclic_snapshots(land, land.theta0, cycles=3, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=5, lr=0.2, lr_min=0.01, batch_size=32), cache=False)
    assert run.snapshots.shape == (3, land.D) and run.cycles == 3 and run.steps == 15
    assert run.snapshot_steps == [5, 10, 15]
    f = lr_schedule("cyclic", 0.2, 15, lr_min=0.01, cycle_steps=5)
    torch.testing.assert_close(run.lrs, torch.tensor([f(s) for s in range(15)]))
    # the snapshots are the parameters of an ordinary run stopped at each cycle's end
    for k in range(3):
        ref = train(land, land.theta0, settings=TrainSettings(steps=5 * (k + 1), lr=0.2, lr_min=0.01, optimizer="sgd", momentum=0.9, schedule="cyclic", cycle_steps=5, batch_size=32))
        torch.testing.assert_close(run.snapshots[k], ref.theta)
    # the learning rate is at its lowest on the step that precedes each snapshot
    assert all(float(run.lrs[s - 1]) == pytest.approx(float(run.lrs[s - 5 : s].min())) for s in run.snapshot_steps)
    assert not run.any_diverged and int(run.diverged_at) == -1
    torch.testing.assert_close(run.cycle_end_losses, run.losses[[4, 9, 14]])
    assert run.epochs == pytest.approx(15 / 3)  # 96 examples, batches of 32


def test_cyclic_snapshots_batched_runs_and_cache(tmp_path):
    land = mixture_net()
    theta0 = random_members(land, 2, seed=3)
    run = cyclic_snapshots(land, theta0, cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=4, lr=0.1, batch_size=32), cache=True)
    assert run.snapshots.shape == (2, 2, land.D) and run.diverged.shape == (2,)
    alone = cyclic_snapshots(land, theta0[1], cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=4, lr=0.1, batch_size=32), cache=False)
    torch.testing.assert_close(run.snapshots[:, 1], alone.snapshots)
    again = cyclic_snapshots(land, theta0, cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=4, lr=0.1, batch_size=32), cache=True)
    assert torch.equal(again.snapshots, run.snapshots)


def test_divergence_is_reported_not_raised():
    # a ReLU net in float32 overflows at a huge learning rate (a tanh net saturates and stays finite)
    ds = datasets.load("gaussian_mixture", n_train=96, n_test=60, n_classes=3, dim=4)
    torch.manual_seed(0)
    land = NetworkLandscape(MLP(4, 3, width=8, depth=2, activation="relu"), ds.x_train, ds.y_train)
    run = cyclic_snapshots(land, land.theta0, cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=10, lr=1e4, batch_size=32), cache=False)
    assert run.any_diverged and bool(run.diverged)
    assert 0 <= int(run.diverged_at) < 20
    assert not bool(torch.isfinite(run.losses[int(run.diverged_at)]))
    assert bool(torch.isfinite(run.losses[: int(run.diverged_at)]).all())
    # the toy model, full batch: a stable and an unstable step size
    quad = Quadratic(D=3)
    ok = cyclic_snapshots(quad, torch.zeros(3, dtype=F64), cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=20, lr=1e-3, batch_size=None), cache=False)
    assert not ok.any_diverged
    bad = cyclic_snapshots(quad, torch.zeros(2, 3, dtype=F64), cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=200, lr=1e3, batch_size=None), cache=False)
    assert bad.diverged.tolist() == [True, True]
    with pytest.raises(ValueError, match="cycles"):
        cyclic_snapshots(quad, torch.zeros(3, dtype=F64), cycles=0, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=5, lr=0.1, batch_size=None))
