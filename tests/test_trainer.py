"""Tests for lsl.training.trainer: schedules, batched training of many models, seeding, the minibatch order, snapshots,
L2, errors, stopping on a non-finite loss, and the cache key of a run."""

from __future__ import annotations

import math

import pytest
import torch

import lsl
from lsl.data import nets
from lsl.data.nets import MLP
from lsl.ensembles import swa
from lsl.landscape import Landscape
from lsl.network import NetworkLandscape
from lsl.settings import FAMILY_DEFAULTS, ROWS_DEFAULTS, SNAPSHOT_DEFAULTS, TrainSettings
from lsl.toy import WedgeLandscape
from lsl.training import trainer
from lsl.training.trainer import (NonFiniteLossError, check_finite_losses, landscape_objective, lr_schedule, minibatch_order,
                                  minimize, train)

F64 = torch.float64


def tiny_net(dropout: float = 0.0, n: int = 24) -> NetworkLandscape:
    torch.manual_seed(0)
    model = MLP(3, 3, width=6, depth=1, activation="tanh", dropout=dropout).to(F64)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (n,), generator=gen)
    return NetworkLandscape(model, x, y)


def starts(land, B, seed=0, scale=0.5):
    gen = torch.Generator().manual_seed(seed)
    base = getattr(land, "theta0", torch.zeros(land.D, dtype=F64))
    return base + scale * torch.randn(B, land.D, generator=gen, dtype=F64)


def rel_close(a, b, rtol=1e-6):
    assert a.shape == b.shape
    err = float((a - b).norm() / b.norm().clamp_min(1e-300))
    assert err < rtol, f"relative difference {err:.3g} >= {rtol}"


# ---------------------------------------------------------------------------
# schedules


def test_constant_schedule():
    f = lr_schedule("constant", 0.3, 100)
    assert [f(s) for s in (0, 1, 50, 99, 100)] == [0.3] * 5


def test_cosine_schedule_endpoints_and_midpoint():
    f = lr_schedule("cosine", 1.0, 100, lr_min=0.1)
    assert f(0) == pytest.approx(1.0)
    assert f(50) == pytest.approx(0.55)
    assert f(100) == pytest.approx(0.1)
    assert f(25) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 4)))
    vals = [f(s) for s in range(101)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))  # monotone decay
    assert f(150) == pytest.approx(0.1)  # clamped past the end


def test_cyclic_schedule_restarts():
    f = lr_schedule("cyclic", 0.2, 100, lr_min=0.0, cycle_steps=10)
    for c in range(10):
        assert f(10 * c) == pytest.approx(0.2)  # restart at every cycle start
        assert f(10 * c + 5) == pytest.approx(0.1)
        assert f(10 * c + 9) == pytest.approx(0.1 * (1 + math.cos(math.pi * 0.9)))
    assert f(9) < f(8) < f(1)


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        (("linear", 0.1, 10), {}, r"unknown schedule 'linear'.*constant.*cosine.*cyclic"),
        (("cosine", 0.0, 10), {}, "lr > 0"),
        (("cosine", 0.1, 10), {"lr_min": 0.2}, "lr_min <= lr"),
        (("cosine", 0.1, 10), {"lr_min": -0.1}, "lr_min"),
        (("cyclic", 0.1, 10), {}, "cycle_steps"),
        (("cyclic", 0.1, 10), {"cycle_steps": 0}, "cycle_steps"),
    ],
)
def test_schedule_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_schedule(*args, **kwargs)


def test_training_records_the_schedule():
    land = WedgeLandscape(6, 3, dtype=F64)
    res = train(land, starts(land, 1)[0], settings=TrainSettings(steps=12, lr=0.1, schedule="cyclic", cycle_steps=4, lr_min=0.01))
    f = lr_schedule("cyclic", 0.1, 12, lr_min=0.01, cycle_steps=4)
    torch.testing.assert_close(res.lrs, torch.tensor([f(s) for s in range(12)]))
    assert res.losses.shape == (12,)


# ---------------------------------------------------------------------------
# batched training equals training each model alone


@pytest.mark.parametrize("optimizer,kwargs", [("adam", {}), ("sgd", {"momentum": 0.9})])
def test_batched_training_equals_individual_on_toy(optimizer, kwargs):
    land = WedgeLandscape(12, 6, dtype=F64)
    theta0 = starts(land, 4, seed=2, scale=1.0)
    batched = train(land, theta0, settings=TrainSettings(steps=60, lr=0.02, optimizer=optimizer, schedule="cosine", **kwargs))
    assert batched.theta.shape == (4, 12) and batched.losses.shape == (60, 4)
    for b in range(4):
        alone = train(land, theta0[b], settings=TrainSettings(steps=60, lr=0.02, optimizer=optimizer, schedule="cosine", **kwargs))
        assert alone.theta.shape == (12,)
        rel_close(batched.theta[b], alone.theta)
        rel_close(batched.losses[:, b], alone.losses)
    assert float(batched.losses[-1].sum()) < float(batched.losses[0].sum())


@pytest.mark.parametrize("optimizer,kwargs", [("adam", {}), ("sgd", {"momentum": 0.5})])
def test_batched_training_equals_individual_on_network(optimizer, kwargs):
    land = tiny_net()
    theta0 = starts(land, 2, seed=3)
    batched = train(land, theta0, settings=TrainSettings(steps=15, lr=0.05, optimizer=optimizer, l2=1e-3, **kwargs))
    for b in range(2):
        alone = train(land, theta0[b], settings=TrainSettings(steps=15, lr=0.05, optimizer=optimizer, l2=1e-3, **kwargs))
        rel_close(batched.theta[b], alone.theta)
    assert bool((land.loss(batched.theta) < land.loss(theta0)).all())


def test_sgd_step_matches_hand_computed_update():
    # one plain SGD step is theta - lr * grad; two steps with momentum follow the heavy-ball rule
    land = tiny_net()
    theta = starts(land, 1, seed=4)[0]
    g0 = land.grad(theta)
    res = train(land, theta, settings=TrainSettings(steps=1, lr=0.1, optimizer="sgd"))
    torch.testing.assert_close(res.theta, theta - 0.1 * g0)
    res2 = train(land, theta, settings=TrainSettings(steps=2, lr=0.1, optimizer="sgd", momentum=0.9))
    t1 = theta - 0.1 * g0
    t2 = t1 - 0.1 * (0.9 * g0 + land.grad(t1))
    torch.testing.assert_close(res2.theta, t2)


def test_train_does_not_modify_theta0():
    land = WedgeLandscape(5, 2, dtype=F64)
    theta0 = starts(land, 2)
    copy = theta0.clone()
    train(land, theta0, settings=TrainSettings(steps=5, lr=0.1))
    assert torch.equal(theta0, copy)


# ---------------------------------------------------------------------------
# seeding and minibatches


def test_same_seed_same_result_different_seed_different():
    land = tiny_net()
    theta0 = starts(land, 2, seed=5)
    a = train(land, theta0, settings=TrainSettings(steps=15, lr=0.05, batch_size=6, seed=7))
    b = train(land, theta0, settings=TrainSettings(steps=15, lr=0.05, batch_size=6, seed=7))
    c = train(land, theta0, settings=TrainSettings(steps=15, lr=0.05, batch_size=6, seed=8))
    assert torch.equal(a.theta, b.theta) and torch.equal(a.losses, b.losses)
    assert not torch.allclose(a.theta, c.theta)


def test_dropout_seeded():
    land = tiny_net(dropout=0.3)
    theta0 = land.theta0
    a = train(land, theta0, settings=TrainSettings(steps=5, lr=0.05, seed=1))
    b = train(land, theta0, settings=TrainSettings(steps=5, lr=0.05, seed=1))
    c = train(land, theta0, settings=TrainSettings(steps=5, lr=0.05, seed=2))
    assert torch.equal(a.theta, b.theta)
    assert not torch.equal(a.theta, c.theta)


def test_train_leaves_global_rng_alone():
    land = tiny_net(dropout=0.3)
    state = torch.get_rng_state()
    train(land, land.theta0, settings=TrainSettings(steps=3, lr=0.05, batch_size=5, seed=3))
    assert torch.equal(state, torch.get_rng_state())


class Recorder(Landscape):
    """A landscape with data that records which examples each evaluation used."""

    def __init__(self, n_train: int):
        self.D, self.device, self.dtype, self.n_train = 2, torch.device("cpu"), F64, n_train
        self.seen: list[list[int]] = []

    def _loss_batch(self, theta, *, idx=None, train=False):
        assert train
        self.seen.append(sorted(idx.tolist()) if idx is not None else None)
        return (theta**2).sum(-1)


def test_minibatches_are_epochwise_permutations_dropping_the_ragged_batch():
    rec = Recorder(10)
    obj = landscape_objective(rec, batch_size=3, seed=0)
    theta = torch.zeros(2, dtype=F64)
    for _ in range(9):  # three epochs of three batches each
        obj(theta)
    assert all(len(b) == 3 for b in rec.seen)
    for e in range(3):
        epoch = rec.seen[3 * e : 3 * e + 3]
        flat = sum(epoch, [])
        assert len(set(flat)) == 9 and set(flat) <= set(range(10))  # disjoint within the epoch
    assert rec.seen[:3] != rec.seen[3:6]  # reshuffled between epochs
    full = Recorder(10)
    landscape_objective(full)(theta)
    assert full.seen == [None]


class OrderRecorder(Landscape):
    """A landscape with ``n`` examples that records the minibatch indices (as given) it is asked for."""

    def __init__(self, n: int):
        self.D, self.device, self.dtype, self.n_train = 2, torch.device("cpu"), F64, n
        self.seen: list[torch.Tensor] = []

    def _loss_batch(self, theta, *, idx=None, train=False):
        self.seen.append(idx)
        return (theta**2).sum(-1)


@pytest.mark.parametrize("n, bs", [(11, 3), (10, 5), (7, 7), (5, 4)])
def test_minibatch_order_is_a_seeded_permutation_per_epoch_cut_into_full_batches(n, bs):
    """Each epoch takes every example at most once (all of them when bs divides n), in batches of exactly bs; the
    order is that of a plain loop drawing torch.randperm(n) once per epoch from a CPU generator seeded with the seed,
    read by slicing (floor(n / bs) batches, the n % bs examples left over are not used); landscape_objective hands
    the landscape the same indices, on its device."""
    seed, epochs = 4, 3
    per_epoch = n // bs
    next_batch = minibatch_order(OrderRecorder(n), bs, seed=seed)
    got = [next_batch() for _ in range(epochs * per_epoch + 1)]  # three epochs and the first batch of a fourth
    gen = torch.Generator().manual_seed(seed)
    for e in range(epochs + 1):
        perm = torch.randperm(n, generator=gen)
        epoch = got[e * per_epoch : (e + 1) * per_epoch]
        flat = [int(i) for idx in epoch for i in idx]
        assert len(set(flat)) == len(flat) and set(flat) <= set(range(n))
        if e < epochs and n % bs == 0:
            assert sorted(flat) == list(range(n))
        for k, idx in enumerate(epoch):
            assert idx.dtype == torch.long and idx.tolist() == perm[k * bs : (k + 1) * bs].tolist()
    rec = OrderRecorder(n)
    obj = landscape_objective(rec, batch_size=bs, seed=seed)
    for _ in got:
        obj(torch.zeros(2, dtype=F64))
    assert all(i.device == rec.device and torch.equal(i, j) for i, j in zip(rec.seen, got))
    assert minibatch_order(rec, None)() is None  # the full batch


def test_minibatch_loss_is_the_loss_on_that_subset():
    land = tiny_net()
    obj = landscape_objective(land, batch_size=8, seed=0)
    theta = land.theta0
    gen = torch.Generator(device="cpu").manual_seed(0)
    perm = torch.randperm(land.n_train, generator=gen).split(8)
    for batch in perm:
        torch.testing.assert_close(obj(theta), torch.nn.functional.cross_entropy(
            land.logits(theta, land.x[batch]), land.y[batch]))


# ---------------------------------------------------------------------------
# snapshots and L2


def test_snapshots_shape_steps_and_values():
    land = WedgeLandscape(8, 4, dtype=F64)
    theta0 = starts(land, 3, seed=6)
    res = train(land, theta0, settings=TrainSettings(steps=10, lr=0.05), snapshot_every=4)
    assert res.snapshot_steps == [4, 8, 10]  # every 4 steps, and at the end
    assert res.snapshots.shape == (3, 3, 8)
    torch.testing.assert_close(res.snapshots[-1], res.theta, rtol=0, atol=0)
    for k, step in enumerate(res.snapshot_steps):
        # constant schedule: the snapshot after `step` steps is a run of `step` steps
        shorter = train(land, theta0, settings=TrainSettings(steps=step, lr=0.05))
        torch.testing.assert_close(res.snapshots[k], shorter.theta, rtol=1e-12, atol=1e-14)
    single = train(land, theta0[0], settings=TrainSettings(steps=6, lr=0.05), snapshot_every=2)
    assert single.snapshots.shape == (3, 8) and single.snapshot_steps == [2, 4, 6]
    assert train(land, theta0, settings=TrainSettings(steps=5, lr=0.05)).snapshots is None


def test_l2_objective_and_shrinkage():
    land = WedgeLandscape(6, 3, dtype=F64)
    theta = starts(land, 4, seed=7)
    obj = landscape_objective(land, l2=0.3)
    torch.testing.assert_close(obj(theta), land.loss(theta) + 0.15 * (theta**2).sum(1))
    net = tiny_net()
    theta0 = net.theta0 + 0.5
    plain = train(net, theta0, settings=TrainSettings(steps=15, lr=0.05))
    decayed = train(net, theta0, settings=TrainSettings(steps=15, lr=0.05, l2=0.5))
    assert float(decayed.theta.norm()) < float(plain.theta.norm())


def test_minimize_projects_after_each_step():
    # minimise ||x - c||^2 on the unit sphere: the answer is c / ||c||
    c = torch.tensor([3.0, -4.0, 0.0], dtype=F64)

    def normalize(x):
        x.div_(x.norm())

    res = minimize(lambda x, step: ((x - c) ** 2).sum(), torch.tensor([1.0, 0.0, 0.0], dtype=F64),
                   settings=TrainSettings(steps=100, lr=0.1, optimizer="sgd"), after_step=normalize)
    torch.testing.assert_close(res.theta, c / c.norm(), rtol=1e-8, atol=1e-8)
    assert float(res.theta.norm()) == pytest.approx(1.0)


# ---------------------------------------------------------------------------
# errors


def test_batch_size_on_a_landscape_without_data():
    land = WedgeLandscape(5, 2)
    with pytest.raises(ValueError, match="no data"):
        train(land, torch.zeros(5), settings=TrainSettings(steps=1, lr=0.1, batch_size=2))


@pytest.mark.parametrize("bs", [0, -1, 25, 1000])
def test_bad_batch_sizes(bs):
    land = tiny_net(n=24)
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, 24\]"):
        train(land, land.theta0, settings=TrainSettings(steps=1, lr=0.1, batch_size=bs))


def test_unknown_optimizer_and_schedule():
    land = WedgeLandscape(5, 2)
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'.*adam.*sgd"):
        train(land, torch.ones(5), settings=TrainSettings(steps=1, lr=0.1, optimizer="rmsprop"))
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        train(land, torch.ones(5), settings=TrainSettings(steps=1, lr=0.1, schedule="step"))


def test_other_errors():
    land = WedgeLandscape(5, 2)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        train(land, torch.ones(5), settings=TrainSettings(steps=-1, lr=0.1))
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        train(land, torch.ones(5), settings=TrainSettings(steps=1, lr=0.1, l2=-1.0))
    with pytest.raises(ValueError, match="D=5"):
        train(land, torch.ones(4), settings=TrainSettings(steps=1, lr=0.1))
    res = train(land, torch.ones(5), settings=TrainSettings(steps=0, lr=0.1))
    assert res.losses.numel() == 0 and torch.equal(res.theta, torch.ones(5))


# ---------------------------------------------------------------------------
# training stops on a non-finite loss (issue 15, item 3), with an error naming the step and the learning rate:
# the first non-finite step is read off the losses of the same run made with nonfinite="record" (or off an
# objective built to fail at a known step)


def nan_at(step_bad: int, row: int | None = None):
    """An objective whose loss is NaN at step ``step_bad`` (in ``row`` only, for a batch) and a quadratic otherwise."""

    def objective(x, step):
        loss = (x * x).sum(-1)
        if step >= step_bad:
            mask = torch.zeros_like(loss, dtype=torch.bool)
            if row is None:
                mask = torch.ones_like(mask)
            else:
                mask[row] = True
            loss = torch.where(mask, loss * float("nan"), loss)
        return loss

    return objective


def test_minimize_names_the_step_and_the_learning_rate():
    steps, lr = 40, 0.3
    with pytest.raises(NonFiniteLossError) as info:
        minimize(nan_at(17), torch.ones(3, dtype=F64), settings=TrainSettings(steps=steps, lr=lr, optimizer="sgd", schedule="cosine"))
    err = info.value
    expected_lr = lr_schedule("cosine", lr, steps)(17)
    assert err.step == 17 and err.row is None and err.lr == pytest.approx(expected_lr, rel=1e-12)
    assert f"at step 17 " in str(err) and f"learning rate {expected_lr:g}" in str(err)


def test_minimize_names_the_row_of_a_batch():
    with pytest.raises(NonFiniteLossError, match=r"at step 5 .*for model 2 of 4") as info:
        minimize(nan_at(5, row=2), torch.ones(4, 3, dtype=F64), settings=TrainSettings(steps=20, lr=0.1))
    assert (info.value.step, info.value.row) == (5, 2)


def test_minimize_records_when_asked():
    res = minimize(nan_at(5, row=2), torch.ones(4, 3, dtype=F64), settings=TrainSettings(steps=20, lr=0.1), nonfinite="record")
    finite = torch.isfinite(res.losses)
    assert res.losses.shape == (20, 4) and bool(finite[:5].all()) and not bool(finite[5:, 2].any())
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        minimize(nan_at(5), torch.ones(3, dtype=F64), settings=TrainSettings(steps=2, lr=0.1), nonfinite="ignore")


def test_check_finite_losses_per_row_learning_rates():
    losses = torch.tensor([[1.0, 1.0], [1.0, float("inf")], [float("nan"), float("inf")]])
    with pytest.raises(NonFiniteLossError) as info:
        check_finite_losses(losses, torch.tensor([0.1, 0.7]), first_step=10)
    assert (info.value.step, info.value.row, info.value.lr) == (11, 1, pytest.approx(0.7))
    check_finite_losses(torch.ones(3, 2), [0.1, 0.1, 0.1])  # finite: no error


def diverging_net() -> NetworkLandscape:
    """A float32 ReLU network with the squared loss: with lr = 10 its loss overflows within a few steps."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 4, generator=gen, dtype=F64), torch.randint(0, 3, (40,), generator=gen)
    model = nets.make("mlp", (4,), 3, width=5, depth=2, activation="relu", seed=0)
    return NetworkLandscape(model, x.float(), y, loss="mse")


DIVERGE = dict(settings=TrainSettings(steps=30, lr=10.0, optimizer="sgd", momentum=0.9))


def test_train_on_a_network_stops_at_the_first_non_finite_step():
    land = diverging_net()
    recorded = train(land, land.theta0, nonfinite="record", **DIVERGE).losses
    bad = (~torch.isfinite(recorded)).nonzero()
    assert bad.numel(), "the reference run should diverge"
    first = int(bad[0, 0])
    with pytest.raises(NonFiniteLossError, match=rf"at step {first} .*learning rate 10\b") as info:
        train(land, land.theta0, **DIVERGE)
    assert info.value.step == first and info.value.lr == 10.0


def test_train_raises_on_a_cached_diverged_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LSL_CACHE", "1")
    land = diverging_net()
    kw = dict(DIVERGE, cache=True)
    recorded = train(land, land.theta0, nonfinite="record", **kw)
    assert not bool(torch.isfinite(recorded.losses).all()) and len(list(tmp_path.glob("*.pt"))) == 1
    with pytest.raises(NonFiniteLossError, match="loaded from the cache"):
        train(land, land.theta0, **kw)


def test_minimize_until_stops_early():

    run = minimize(lambda x, step: (x ** 2).sum(), torch.tensor([3.0]), settings=TrainSettings(steps=100, lr=0.1, optimizer="sgd"), until=lambda x, done: done == 7, snapshot_every=5)
    assert len(run.losses) == 7
    assert run.snapshot_steps == [5, 7]
    torch.testing.assert_close(run.theta, torch.tensor([3.0 * 0.8 ** 7]))


def test_the_cache_key_of_train_is_the_one_of_before(monkeypatch, tmp_path):
    """The key of a run given settings= is the one of the keywords, built from the same names and values as before
    the settings object."""
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    net = tiny_net()
    keys = []

    def cached(key, compute, **kw):
        keys.append(key)
        return {k: v.to(kw.get("device")) for k, v in compute().items()}

    monkeypatch.setattr(lsl.cache, "cached", cached)
    trainer.train(net, net.theta0, settings=TrainSettings(steps=3, lr=0.1, batch_size=16), cache=True)
    trainer.train(net, net.theta0, settings=TrainSettings(steps=3, lr=0.1, batch_size=16), cache=True)
    assert keys[0] == keys[1]
    assert keys[0]["settings"] == {"steps": 3, "lr": 0.1, "optimizer": "adam", "schedule": "constant", "lr_min": 0.0,
                                   "cycle_steps": None, "momentum": 0.0, "batch_size": 16, "l2": 0.0,
                                   "snapshot_every": None, "seed": 0}
    assert [type(v) for v in keys[0]["settings"].values()] == [int, float, str, str, float, type(None), float, int,
                                                              float, type(None), int]
    # the snapshots of a cyclic run: the key train had when cyclic_snapshots passed keywords
    swa.cyclic_snapshots(net, net.theta0, cycles=2, settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=2, lr=0.05, batch_size=16))
    assert keys[-1]["settings"] == {"steps": 4, "lr": 0.05, "optimizer": "sgd", "schedule": "cyclic", "lr_min": 0.0,
                                    "cycle_steps": 2, "momentum": 0.9, "batch_size": 16, "l2": 0.0,
                                    "snapshot_every": 2, "seed": 0}


# ---------------------------------------------------------------------------
# training from a non-finite point says so, instead of blaming the learning rate (issue 31, item 3)


def test_training_from_a_non_finite_point_names_it():
    from lsl.training import families
    from lsl.training.rows import train_rows
    from lsl.training.trainer import minimize, train
    from tests.reference import SquaredNorm

    quad = SquaredNorm(D=4)
    start = torch.ones(4, dtype=F64)
    start[2] = float("nan")
    told = r"theta0 has non-finite entries at \[2\] \(1 of 4: NaN\); training cannot start from a non-finite point"
    for call in (lambda: train(quad, start, settings=TrainSettings(steps=5, lr=0.1)),
                 lambda: train(quad, start, settings=TrainSettings(steps=5, lr=0.1), cache=True),
                 lambda: train_rows(quad, start, settings=ROWS_DEFAULTS.replace(lr=0.1, steps=5)),
                 lambda: families.train_family(quad, "lr", [0.1], theta0=start, settings=FAMILY_DEFAULTS.replace(steps=5), cache=False)):
        with pytest.raises(ValueError, match=told) as info:
            call()
        assert "lower the learning rate" not in str(info.value).lower()
    rows = torch.ones(2, 4, dtype=F64)
    rows[1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"theta0 has non-finite entries at \[\(1, 0\)\] \(1 of 8: inf\)"):
        train(quad, rows, settings=TrainSettings(steps=5, lr=0.1))
    with pytest.raises(ValueError, match=r"x0 has non-finite entries at \[2\]"):
        minimize(lambda x, step: (x * x).sum(), start, settings=TrainSettings(steps=5, lr=0.1))


# ---------------------------------------------------------------------------
# projected steps (Song, Ahn & Yun's Dom-SGD and Bulk-SGD)


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_projecting_onto_the_whole_space_changes_nothing(optimizer, momentum):
    land = tiny_net()
    s = TrainSettings(steps=30, lr=0.05, optimizer=optimizer, momentum=momentum, batch_size=8)
    plain = train(land, land.theta0, settings=s, snapshot_every=10)
    eye = torch.eye(land.D, dtype=F64)
    for keep, basis in (("onto", lambda x, step: eye), ("out", lambda x, step: eye[:0])):
        projected = train(land, land.theta0, settings=s, snapshot_every=10,
                          project=trainer.StepProjection(basis, every=3, keep=keep))
        # the only difference is the rounding of x + (x' - x): a few units in the last place per step
        rel_close(projected.theta, plain.theta, rtol=1e-12)
        rel_close(projected.snapshots, plain.snapshots, rtol=1e-12)
        rel_close(projected.losses, plain.losses, rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_projecting_onto_nothing_stops_training(optimizer):
    land = tiny_net()
    empty = trainer.StepProjection(lambda x, step: torch.zeros(0, land.D, dtype=F64), keep="onto")
    run = train(land, land.theta0, settings=TrainSettings(steps=20, lr=0.1, optimizer=optimizer), project=empty)
    assert torch.equal(run.theta, land.theta0)
    assert torch.equal(run.losses, run.losses[:1].expand(20))   # the loss never moves


@pytest.mark.parametrize("keep", ["onto", "out"])
def test_a_fixed_subspace_holds_the_displacement(keep):
    land = tiny_net()
    gen = torch.Generator().manual_seed(3)
    V = torch.linalg.qr(torch.randn(land.D, 5, generator=gen, dtype=F64)).Q.T        # 5 orthonormal rows
    calls = []

    def basis(x, step):
        calls.append(step)
        return V

    s = TrainSettings(steps=25, lr=0.05, optimizer="adam", batch_size=8)
    run = train(land, land.theta0, settings=s, snapshot_every=5, project=trainer.StepProjection(basis, every=10, keep=keep))
    assert calls == [0, 10, 20]
    for point in [*run.snapshots, run.theta]:
        d = point - land.theta0
        inside = V.T @ (V @ d)
        rest = d - inside if keep == "onto" else inside          # what must be zero
        assert float(rest.norm()) < 1e-12 * max(float(d.norm()), 1.0)
        assert float(d.norm()) > 1e-3                           # and it moved
    assert not torch.equal(run.theta, train(land, land.theta0, settings=s).theta)


def test_projected_sgd_step_is_the_projected_gradient_step():
    land = tiny_net()
    gen = torch.Generator().manual_seed(4)
    V = torch.linalg.qr(torch.randn(land.D, 3, generator=gen, dtype=F64)).Q.T
    lr = 0.2
    run = train(land, land.theta0, settings=TrainSettings(steps=1, lr=lr, optimizer="sgd"),
                project=trainer.StepProjection(lambda x, step: V))
    g = land.grad(land.theta0)
    rel_close(run.theta, land.theta0 - lr * V.T @ (V @ g), rtol=1e-12)


def test_step_projection_errors():
    land = tiny_net()
    s = TrainSettings(steps=2, lr=0.1)
    with pytest.raises(ValueError, match="every"):
        trainer.StepProjection(lambda x, step: x[None], every=0)
    with pytest.raises(ValueError, match="keep"):
        trainer.StepProjection(lambda x, step: x[None], keep="in")
    with pytest.raises(TypeError, match="callable"):
        trainer.StepProjection(torch.eye(3))
    with pytest.raises(ValueError, match="orthonormal"):
        train(land, land.theta0, settings=s, project=trainer.StepProjection(lambda x, step: 2 * torch.eye(land.D, dtype=F64)[:2]))
    with pytest.raises(ValueError, match=r"\[k, D\]"):
        train(land, land.theta0, settings=s, project=trainer.StepProjection(lambda x, step: torch.eye(3, dtype=F64)))
    with pytest.raises(ValueError, match="cache"):
        train(land, land.theta0, settings=s, cache=True, project=trainer.StepProjection(lambda x, step: x[None]))
    with pytest.raises(ValueError, match="one point"):
        train(land, starts(land, 2), settings=s, project=trainer.StepProjection(lambda x, step: x[None]))
    with pytest.raises(TypeError, match="StepProjection"):
        train(land, land.theta0, settings=s, project=lambda x, step: x[None])
