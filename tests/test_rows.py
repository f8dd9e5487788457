"""Tests for lsl.training.rows: row-wise SGD, each row with its own learning rate, L2, seed and stopping, against lone
runs of lsl.training.trainer.train; stopping at a target loss and on a non-finite loss, the first bad step named from
a reference run that records its losses. (The families trained on top of it: tests/test_families.py.)"""

from __future__ import annotations

import pytest
import torch

from lsl.data import datasets, nets
from lsl.training import families
from lsl.training.rows import train_rows
from lsl.training.trainer import NonFiniteLossError, train
from tests.reference import Quadratic, SquaredNorm
from tests.test_trainer import diverging_net
from lsl.settings import FAMILY_DEFAULTS, ROWS_DEFAULTS, TrainSettings

F64 = torch.float64


# ds and build: tests/conftest.py


def rel_close(a, b, rtol=1e-10):
    assert a.shape == b.shape
    err = float((a - b).norm() / b.norm().clamp_min(1e-300))
    assert err < rtol, f"relative difference {err:.3g} >= {rtol}"


def sgd(land, theta0, steps, **kw):
    """The independent reference: a lone run of lsl.training.trainer.train with constant-rate SGD."""
    return train(land, theta0, settings=TrainSettings(steps=steps, optimizer="sgd", schedule="constant", **kw)).theta


# ---------------------------------------------------------------------------
# row-wise SGD equals lone runs


@pytest.mark.parametrize("activation", ["tanh", "gelu"])  # written-out gradients; autograd through vmap
def test_per_row_seeds_follow_their_own_minibatch_orders(ds, activation):
    """seed=[...] gives each row its own minibatch order: each row is the lone run with its seed."""
    land = nets.network(ds, "mlp", width=6, depth=1, activation=activation, seed=0, dtype=F64)()
    starts = torch.stack([land.theta0, land.theta0 + 0.1])
    res = train_rows(land, starts, settings=ROWS_DEFAULTS.replace(batch_size=8, steps=40), lrs=[0.1, 0.2], seeds=[3, 5])
    refs = [sgd(land, starts[0], 40, lr=0.1, batch_size=8, seed=3), sgd(land, starts[1], 40, lr=0.2, batch_size=8, seed=5)]
    for b in range(2):
        rel_close(res.theta[b], refs[b])
    same = sgd(land, starts[1], 40, lr=0.2, batch_size=8, seed=3)
    assert float((same - refs[1]).norm()) > 1e-3  # the seed of the minibatch order matters
    with pytest.raises(ValueError, match="one per row"):
        train_rows(land, starts, settings=ROWS_DEFAULTS.replace(lr=0.1, batch_size=8, steps=2), seeds=[1, 2, 3])


def test_per_row_lr_equals_separate_sgd_runs(build):
    land = build()
    lrs = [0.05, 0.3]
    res = train_rows(land, torch.stack([land.theta0] * 2), settings=ROWS_DEFAULTS.replace(batch_size=8, steps=40, seed=3), lrs=lrs)
    refs = [sgd(land, land.theta0, 40, lr=a, batch_size=8, seed=3) for a in lrs]
    for b in range(2):
        rel_close(res.theta[b], refs[b])
    assert float((refs[0] - refs[1]).norm()) > 1e-2  # the rows really differ
    assert res.steps.tolist() == [40, 40] and not res.reached.any() and not res.diverged.any()
    # through train_family: the same, member by member
    fam = families.train_family(land, "lr", lrs, settings=FAMILY_DEFAULTS.replace(batch_size=8, steps=40, seed=3), cache=False, stack=True)
    for m, ref in zip(fam, refs):
        rel_close(m.theta, ref)
        assert m.steps == 40 and m.reached is None and not m.capped


def test_per_row_lr_and_l2_with_momentum(build):
    land = build()
    res = train_rows(land, torch.stack([land.theta0] * 2), settings=ROWS_DEFAULTS.replace(momentum=0.9, batch_size=16, steps=25, seed=2), lrs=[0.02, 0.1], l2s=[0.5, 0.0])
    rel_close(res.theta[0], sgd(land, land.theta0, 25, lr=0.02, l2=0.5, momentum=0.9, batch_size=16, seed=2))
    rel_close(res.theta[1], sgd(land, land.theta0, 25, lr=0.1, momentum=0.9, batch_size=16, seed=2))


# ---------------------------------------------------------------------------
# stopping: a target loss, non-finite losses (the first bad step read off a lone run that records its losses), errors


def test_divergence_is_flagged():
    quad = Quadratic(torch.diag(torch.tensor([1.0, 10.0], dtype=F64)), torch.tensor([1.0, 2.0], dtype=F64))
    res = train_rows(quad, torch.zeros(2, 2, dtype=F64), settings=ROWS_DEFAULTS.replace(steps=2000), lrs=[0.1, 1.0], target_loss=1e-6, check_every=1,
                     nonfinite="record")
    assert res.reached.tolist() == [True, False] and res.diverged.tolist() == [False, True]
    assert int(res.steps[1]) < 2000


def test_train_rows_on_a_layer_stack_names_the_first_non_finite_step():
    """train_rows looks at the minibatch losses between checks only at the next check, and still names the first bad step."""
    land = diverging_net()
    assert land.backprop_by_hand
    recorded = train(land, land.theta0, settings=TrainSettings(lr=10.0, optimizer="sgd", steps=30), nonfinite="record").losses
    first = int((~torch.isfinite(recorded)).nonzero()[0, 0])
    assert 0 < first < 25
    with pytest.raises(NonFiniteLossError, match=rf"row 1 of 2 became non-finite at step {first} ") as info:
        train_rows(land, land.theta0.expand(2, -1), settings=ROWS_DEFAULTS.replace(steps=30), lrs=[1e-3, 10.0], check_every=25)
    assert (info.value.step, info.value.row, info.value.lr) == (first, 1, 10.0)


def test_train_rows_names_the_row_the_step_and_its_learning_rate():
    quad = SquaredNorm()
    lrs = [0.5, 3.0]   # row 1: |1 - lr| = 2, so theta doubles each step and overflows to inf
    ref = train(quad, torch.ones(3, dtype=F64), settings=TrainSettings(steps=2000, lr=lrs[1], optimizer="sgd"), nonfinite="record").losses
    first = int((~torch.isfinite(ref)).nonzero()[0, 0])
    with pytest.raises(NonFiniteLossError, match=rf"row 1 of 2 became non-finite at step {first} .*"
                                                 rf"learning rate 3") as info:
        train_rows(quad, torch.ones(2, 3, dtype=F64), settings=ROWS_DEFAULTS.replace(steps=2000), lrs=lrs, check_every=50)
    assert (info.value.step, info.value.row, info.value.lr) == (first, 1, 3.0)
    res = train_rows(quad, torch.ones(2, 3, dtype=F64), settings=ROWS_DEFAULTS.replace(steps=2000), lrs=lrs, check_every=50, nonfinite="record")
    assert res.diverged.tolist() == [False, True]


def test_train_rows_errors(build):
    land = build()
    with pytest.raises(ValueError, match="one per row"):
        train_rows(land, torch.stack([land.theta0] * 3), lrs=[0.1, 0.2])
    with pytest.raises(ValueError, match="> 0"):
        train_rows(land, land.theta0, settings=ROWS_DEFAULTS.replace(lr=0.0))


def test_train_rows_equals_lone_runs_when_rows_stop_at_different_checks():
    ds = datasets.load("gaussian_mixture", n_train=40, n_test=10, n_classes=3, dim=4, separation=2.0, dtype=F64)
    land = nets.network(ds, "mlp", width=5, depth=1, activation="tanh", seed=0, dtype=F64)()
    lrs, l2s = [0.5, 0.1, 0.2], [0.01, 0.0, 0.0]  # the L2 row is the fast one: after it stops, no row has L2
    res = train_rows(land, torch.stack([land.theta0] * 3), settings=ROWS_DEFAULTS.replace(batch_size=8, steps=400, seed=1), lrs=lrs, l2s=l2s, target_loss=0.4,
                     check_every=5)
    steps = res.steps.tolist()
    assert bool(res.reached.all()) and steps[0] < steps[2] < steps[1]  # rows stopped at different checks
    for b in range(3):
        lone = train(land, land.theta0, settings=TrainSettings(steps=steps[b], lr=lrs[b], l2=l2s[b], optimizer="sgd", schedule="constant", batch_size=8, seed=1)).theta
        torch.testing.assert_close(res.theta[b], lone, rtol=1e-12, atol=1e-12)
