"""Tests for lsl.ensembles.snapshots: the sweep against the loop over learning rates and seeds that the ensembles
chapter ran in its cells (bitwise), and the breakdown rule on made-up losses whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsl import settings
from lsl.data import datasets
from lsl.ensembles.averaging import compare_averages
from lsl.network import NetworkLandscape
from lsl.data.nets import MLP
from lsl.ensembles.snapshots import Breakdown, SnapshotSweep, find_breakdown, snapshot_sweep
from lsl.ensembles.swa import cyclic_snapshots, weight_average
from lsl.settings import SNAPSHOT_DEFAULTS

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("private_cache")   # tests/conftest.py


def tiny_net() -> NetworkLandscape:
    """A tanh MLP in float32 (the chapter's dtype: the sweep's float64 arrays hold float32 values)."""
    ds = datasets.load("gaussian_mixture", n_train=96, n_test=60, n_classes=3, dim=4)
    torch.manual_seed(0)
    model = MLP(4, 3, width=8, depth=1, activation="tanh")
    return NetworkLandscape(model, ds.x_train, ds.y_train, x_test=ds.x_test, y_test=ds.y_test)


def chapter_loop(L, L_loss, start, max_lrs, M, cycle_steps, momentum, batch_size):
    """The loop of book/ensembles.py before the sweep moved into lsl, as it was written there."""
    n_lr, S = len(max_lrs), start.shape[0]
    acc, nll, loss = (np.zeros((n_lr, S, M)) for _ in range(3))
    w_acc, w_nll, w_loss, p_acc, p_nll = (np.zeros((n_lr, S)) for _ in range(5))
    runs, non_finite = {}, False
    for i, lr in enumerate(max_lrs):
        run = cyclic_snapshots(L, start, cycles=M, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=cycle_steps, lr=lr, momentum=momentum, batch_size=batch_size, seed=1), cache=False)
        runs[lr], non_finite = run, non_finite or run.any_diverged
        for s in range(S):
            snaps = run.snapshots[:, s]
            cmp = compare_averages(L, snaps, "test")
            acc[i, s], nll[i, s] = cmp.members.member_accuracy.cpu(), cmp.members.member_nll.cpu()
            w_acc[i, s], w_nll[i, s], p_acc[i, s], p_nll[i, s] = (cmp.weight_accuracy, cmp.weight_nll,
                                                                  cmp.prediction_accuracy, cmp.prediction_nll)
            loss[i, s] = L_loss.loss(snaps).cpu()
            w_loss[i, s] = L_loss.loss(weight_average(snaps)).item()
    return dict(acc=acc, nll=nll, loss=loss, w_acc=w_acc, w_nll=w_nll, w_loss=w_loss, p_acc=p_acc, p_nll=p_nll,
                runs=runs, non_finite=non_finite)


def test_sweep_equals_the_chapters_loop_bitwise():
    L = tiny_net()
    L_loss = L.subset(40)
    gen = torch.Generator().manual_seed(3)
    start = L.theta0 + 0.3 * torch.randn(2, L.D, generator=gen)
    max_lrs = (0.05, 0.5, 20.0)  # the last one throws the tanh network far out
    ref = chapter_loop(L, L_loss, start, max_lrs, M=3, cycle_steps=4, momentum=0.9, batch_size=32)
    sweep = snapshot_sweep(L, start, max_lrs, cycles=3, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=4, momentum=0.9, batch_size=32, seed=1), loss_landscape=L_loss, cache=False)
    assert sweep.max_lrs == max_lrs and len(sweep.runs) == 3
    for field, key in (("accuracy", "acc"), ("nll", "nll"), ("loss", "loss"), ("weight_accuracy", "w_acc"),
                       ("weight_nll", "w_nll"), ("weight_loss", "w_loss"), ("prediction_accuracy", "p_acc"),
                       ("prediction_nll", "p_nll")):
        got = getattr(sweep, field)
        assert got.device.type == "cpu" and got.dtype == F64, field
        assert torch.equal(got, torch.from_numpy(ref[key])), field
        assert got.numpy().flags.c_contiguous
    for lr, run in zip(max_lrs, sweep.runs):
        assert torch.equal(run.snapshots, ref["runs"][lr].snapshots) and torch.equal(run.losses, ref["runs"][lr].losses)
    assert sweep.any_diverged == ref["non_finite"] and sweep.diverged.shape == (3, 2)
    # the derived numbers, as the chapter computed them from its arrays
    last_loss = ref["loss"][:, :, -1].mean(1)
    jensen = ref["w_loss"] - ref["loss"].mean(-1)
    assert np.array_equal(sweep.last_loss.numpy(), last_loss)
    assert np.array_equal(sweep.jensen_gap.numpy(), jensen)
    start_loss = L_loss.loss(start).mean().item()
    for factor in (0.4, 2.0, 1e9):  # broken at the first, at the last, nowhere
        broken = ~np.isfinite(last_loss) | (last_loss > factor * start_loss)
        i_break = int(np.argmax(broken))
        rule = sweep.breakdown(start_loss, factor)
        assert (rule.low, rule.stable, rule.at, rule.high) == (0, i_break - 1, i_break, min(i_break + 1, 2))
        assert np.array_equal(rule.broken.numpy(), broken)
        assert rule.reached == bool(broken.any()) and rule.starts_below == (not broken[0])


def test_one_starting_point_and_settings():
    L = tiny_net()
    sweep = snapshot_sweep(L, L.theta0, [0.1, 0.3], cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=3, batch_size=32, seed=2), cache=False)
    assert sweep.accuracy.shape == (2, 1, 2) and sweep.weight_loss.shape == (2, 1) and sweep.diverged.shape == (2, 1)
    for i, lr in enumerate((0.1, 0.3)):
        run = cyclic_snapshots(L, L.theta0, cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=3, lr=lr, batch_size=32, seed=2), cache=False)
        assert torch.equal(sweep.runs[i].snapshots, run.snapshots)
        cmp = compare_averages(L, run.snapshots, "test")
        assert torch.equal(sweep.accuracy[i, 0], cmp.members.member_accuracy.to(F64))
        assert float(sweep.prediction_nll[i, 0]) == cmp.prediction_nll
        assert torch.equal(sweep.loss[i, 0], L.loss(run.snapshots).to(F64))  # the loss landscape defaults to L
    # the learning rates are the sweep's: settings that give one as well are refused
    s = settings.SNAPSHOT_DEFAULTS.replace(lr=99.0, cycle_steps=3, batch_size=32, seed=2)
    with pytest.raises(ValueError, match="takes its learning rates as max_lrs"):
        snapshot_sweep(L, L.theta0, [0.1, 0.3], cycles=2, settings=s, cache=False)
    with pytest.raises(ValueError, match="max_lrs"):
        snapshot_sweep(L, L.theta0, [], cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=3))
    with pytest.raises(ValueError, match="cycles"):
        snapshot_sweep(L, L.theta0, [0.1], cycles=0, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=3))


# ---------------------------------------------------------------------------
# the breakdown rule, on made-up losses


def indices(rule: Breakdown) -> tuple[int, int, int, int]:
    return rule.low, rule.stable, rule.at, rule.high


def test_breakdown_rule_by_hand():
    # threshold 2 * 0.1 = 0.2: the third learning rate is the first above it
    rule = find_breakdown([0.1, 0.15, 0.3, 5.0, 7.0], 0.1, 2.0)
    assert indices(rule) == (0, 1, 2, 3) and rule.threshold == 0.2
    assert rule.broken.tolist() == [False, False, True, True, True] and rule.reached and rule.starts_below
    assert rule.last_loss.dtype == F64 and rule.last_loss.device.type == "cpu"
    # the first break counts, even if a larger learning rate recovers; a non-finite loss is a break
    assert indices(find_breakdown([0.1, float("nan"), 0.1], 0.1, 2.0)) == (0, 0, 1, 2)
    assert indices(find_breakdown(torch.tensor([0.1, 0.1, float("inf")]), 0.1, 2.0)) == (0, 1, 2, 2)  # high clamped
    # exactly at the threshold is not broken (the rule is "above")
    assert not find_breakdown([0.2], 0.1, 2.0).reached
    # the degenerate cases the chapter asserts away: no breakdown, or a breakdown at the first learning rate
    none = find_breakdown(np.array([0.1, 0.12]), 0.1, 2.0)
    assert not none.reached and none.starts_below and indices(none) == (0, -1, 0, 1)
    first = find_breakdown([9.0, 0.1], 0.1, 2.0)
    assert first.reached and not first.starts_below and indices(first) == (0, -1, 0, 1)
    with pytest.raises(ValueError):
        find_breakdown([], 0.1, 2.0)
    with pytest.raises(ValueError):
        find_breakdown([[0.1, 0.2]], 0.1, 2.0)


def test_sweep_breakdown_uses_the_mean_over_seeds_of_the_last_snapshots():
    n_lr, S, M = 3, 2, 3
    loss = torch.full((n_lr, S, M), 100.0, dtype=F64)  # only the last snapshots count
    loss[:, :, -1] = torch.tensor([[0.1, 0.3], [0.2, 0.4], [1.0, 3.0]], dtype=F64)  # means 0.2, 0.3, 2.0
    w_loss = torch.tensor([[67.0, 66.0], [70.0, 60.0], [0.0, 1.0]], dtype=F64)
    zeros = torch.zeros(n_lr, S, dtype=F64)
    sweep = SnapshotSweep(max_lrs=(0.1, 0.2, 0.4), runs=(), accuracy=loss, nll=loss, loss=loss, weight_accuracy=zeros,
                          weight_nll=zeros, weight_loss=w_loss, prediction_accuracy=zeros, prediction_nll=zeros,
                          diverged=torch.zeros(n_lr, S, dtype=torch.bool))
    torch.testing.assert_close(sweep.last_loss, torch.tensor([0.2, 0.3, 2.0], dtype=F64))
    # threshold 2 * 0.25 = 0.5: only the last learning rate is above it
    assert indices(sweep.breakdown(0.25, 2.0)) == (0, 1, 2, 2)
    # threshold 0.25: the second is the first above it
    assert indices(sweep.breakdown(0.25, 1.0)) == (0, 0, 1, 2)
    # the Jensen gap: the weight average's loss minus the snapshots' mean loss
    mean = (200.0 + loss[:, :, -1]) / 3
    torch.testing.assert_close(sweep.jensen_gap, w_loss - mean)
    assert not sweep.any_diverged
