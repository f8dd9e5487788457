"""Bad data get a clear error when a NetworkLandscape is built; training whose loss becomes non-finite
stops with an error naming the step and the learning rate (issue 15, item 3).

The references are independent: the first non-finite step of a run is read off the losses of the same
run made with ``nonfinite="record"`` (or off an objective built to fail at a known step), and values
accepted with a callable loss are compared with the loss written out by hand."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from lsl.data import nets
from lsl.paths import tunnels
from lsl.subspaces import hyperplanes
from lsl.training import families
from lsl.landscape import Landscape
from lsl.network import NetworkLandscape
from lsl.training.rows import train_rows
from lsl.training.trainer import NonFiniteLossError, check_finite_losses, lr_schedule, minimize, train

F64 = torch.float64
N, IN, C = 20, 4, 3


def mlp(in_features=IN, classes=C):
    return nets.make("mlp", (in_features,), classes, width=5, depth=1, activation="tanh", seed=0).to(F64)


def data(n=N, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, IN, generator=gen, dtype=F64), torch.randint(0, C, (n,), generator=gen)


# ---------------------------------------------------------------------------
# inputs the model cannot take


def test_wrong_input_width_names_the_shape_and_the_first_layer():
    x, y = data()
    with pytest.raises(ValueError) as info:
        NetworkLandscape(mlp(), torch.randn(N, IN + 3, dtype=F64), y)
    msg = str(info.value)
    assert f"({N}, {IN + 3})" in msg and f"in_features={IN}" in msg and f"takes {IN} features" in msg
    assert "training inputs" in msg


def test_wrong_channels_for_a_cnn_name_the_channels():
    model = nets.make("cnn1d", (40,), C, seed=0)
    y = torch.zeros(6, dtype=torch.long)
    with pytest.raises(ValueError, match=r"\(6, 2, 3, 40\).*Conv1d.*C=1 channels"):
        NetworkLandscape(model, torch.randn(6, 2, 3, 40), y)
    NetworkLandscape(model, torch.randn(6, 40), y)  # the shapes it takes are accepted
    NetworkLandscape(model, torch.randn(6, 1, 40), y)


def test_test_inputs_are_checked_too():
    x, y = data()
    with pytest.raises(ValueError, match=r"test inputs.*\(5, 7\).*in_features=4"):
        NetworkLandscape(mlp(), x, y, x_test=torch.randn(5, 7, dtype=F64), y_test=y[:5])


# ---------------------------------------------------------------------------
# labels


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_float_labels_are_rejected_for_the_built_in_losses(loss):
    x, y = data()
    with pytest.raises(ValueError, match=rf"{loss} loss takes integer class labels.*float64"):
        NetworkLandscape(mlp(), x, y.to(F64), loss=loss)


def test_bool_labels_are_rejected():
    x, y = data()
    with pytest.raises(ValueError, match="integer class indices.*bool"):
        NetworkLandscape(mlp(), x, y > 0)


@pytest.mark.parametrize("shift, lo, hi", [(1, 1, C), (-1, -1, C - 2)])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_labels_outside_the_classes_are_rejected(shift, lo, hi, loss):
    x, _ = data()
    y = torch.arange(N) % C + shift
    bad = int(((y < 0) | (y >= C)).sum())
    with pytest.raises(ValueError, match=re.escape(f"in [0, {C}) for a model with {C} outputs; {bad} of {N} are "
                                                    f"outside (min {lo}, max {hi})")):
        NetworkLandscape(mlp(), x, y, loss=loss)


def test_test_labels_outside_the_classes_are_rejected():
    x, y = data()
    with pytest.raises(ValueError, match=r"test labels must be class indices in \[0, 3\)"):
        NetworkLandscape(mlp(), x, y, x_test=x[:4], y_test=torch.tensor([0, 1, 2, 3]))


def test_labels_of_the_wrong_shape_are_rejected():
    x, y = data()
    with pytest.raises(ValueError, match=r"one class index per example, shape \[N\]; got \(20, 2\)"):
        NetworkLandscape(mlp(), x, torch.stack([y, y], 1))


def test_every_valid_label_is_accepted_and_int32_labels_become_long():
    x, _ = data()
    y = (torch.arange(N) % C).to(torch.int32)  # 0 and C - 1 both present
    land = NetworkLandscape(mlp(), x, y)
    assert land.y.dtype == torch.long and torch.equal(land.y, y.long())


def test_a_callable_loss_takes_other_targets():
    """A regression loss on float targets [N, C]: accepted, kept as floats, and the loss is the one written out."""
    x, _ = data()
    target = torch.randn(N, C, generator=torch.Generator().manual_seed(3), dtype=F64)
    land = NetworkLandscape(mlp(), x, target, loss=lambda out, t: ((out - t) ** 2).mean())
    assert land.y.dtype == F64 and torch.equal(land.y, target)
    model = mlp()
    with torch.no_grad():
        ref = ((model(x) - target) ** 2).mean()
    torch.testing.assert_close(land.loss(land.theta0), ref, rtol=1e-12, atol=1e-14)


def test_a_callable_loss_that_cannot_take_the_targets_is_rejected():
    x, _ = data()
    with pytest.raises(ValueError, match=r"cannot take the model's outputs \(8, 3\) and the training targets "
                                         r"\(shape \(20, 2\)"):
        NetworkLandscape(mlp(), x, torch.randn(N, 2, dtype=F64), loss=lambda out, t: ((out - t) ** 2).mean())
    with pytest.raises(ValueError, match=r"must return a scalar tensor.*shape \(8, 3\)"):
        NetworkLandscape(mlp(), x, torch.randn(N, C, dtype=F64), loss=lambda out, t: (out - t) ** 2)


# ---------------------------------------------------------------------------
# empty and non-finite data


def test_empty_data_are_rejected():
    x, y = data()
    with pytest.raises(ValueError, match=r"training data are empty \(inputs of shape \(0, 4\)\)"):
        NetworkLandscape(mlp(), x[:0], y[:0])
    with pytest.raises(ValueError, match=r"test data are empty"):
        NetworkLandscape(mlp(), x, y, x_test=x[:0], y_test=y[:0])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_inputs_are_rejected(value):
    x, y = data()
    bad = x.clone()
    bad[[3, 11], 2] = value
    with pytest.raises(ValueError, match=r"training inputs hold non-finite values .* in 2 of 20 examples "
                                         r"\(the first: \[3, 11\]\)"):
        NetworkLandscape(mlp(), bad, y)
    with pytest.raises(ValueError, match=r"test inputs hold non-finite values"):
        NetworkLandscape(mlp(), x, y, x_test=bad, y_test=y)


def test_a_bad_example_beyond_the_trial_batch_is_still_found():
    """The trial forward sees the first few examples; the finiteness and label checks see all of them."""
    x, y = data()
    assert N > NetworkLandscape.TRIAL_EXAMPLES
    bad = x.clone()
    bad[-1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"the first: \[19\]"):
        NetworkLandscape(mlp(), bad, y)
    y_bad = y.clone()
    y_bad[-1] = C
    with pytest.raises(ValueError, match=r"1 of 20 are outside"):
        NetworkLandscape(mlp(), x, y_bad)


# ---------------------------------------------------------------------------
# training stops on a non-finite loss


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
        minimize(nan_at(17), torch.ones(3, dtype=F64), steps=steps, lr=lr, optimizer="sgd", schedule="cosine")
    err = info.value
    expected_lr = lr_schedule("cosine", lr, steps)(17)
    assert err.step == 17 and err.row is None and err.lr == pytest.approx(expected_lr, rel=1e-12)
    assert f"at step 17 " in str(err) and f"learning rate {expected_lr:g}" in str(err)


def test_minimize_names_the_row_of_a_batch():
    with pytest.raises(NonFiniteLossError, match=r"at step 5 .*for model 2 of 4") as info:
        minimize(nan_at(5, row=2), torch.ones(4, 3, dtype=F64), steps=20, lr=0.1)
    assert (info.value.step, info.value.row) == (5, 2)


def test_minimize_records_when_asked():
    res = minimize(nan_at(5, row=2), torch.ones(4, 3, dtype=F64), steps=20, lr=0.1, nonfinite="record")
    finite = torch.isfinite(res.losses)
    assert res.losses.shape == (20, 4) and bool(finite[:5].all()) and not bool(finite[5:, 2].any())
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        minimize(nan_at(5), torch.ones(3, dtype=F64), steps=2, lr=0.1, nonfinite="ignore")


def test_check_finite_losses_per_row_learning_rates():
    losses = torch.tensor([[1.0, 1.0], [1.0, float("inf")], [float("nan"), float("inf")]])
    with pytest.raises(NonFiniteLossError) as info:
        check_finite_losses(losses, torch.tensor([0.1, 0.7]), first_step=10)
    assert (info.value.step, info.value.row, info.value.lr) == (11, 1, pytest.approx(0.7))
    check_finite_losses(torch.ones(3, 2), [0.1, 0.1, 0.1])  # finite: no error


def diverging_net() -> NetworkLandscape:
    """A float32 ReLU network with the squared loss: with lr = 10 its loss overflows within a few steps."""
    x, y = data(40)
    model = nets.make("mlp", (IN,), C, width=5, depth=2, activation="relu", seed=0)
    return NetworkLandscape(model, x.float(), y, loss="mse")


DIVERGE = dict(steps=30, lr=10.0, optimizer="sgd", momentum=0.9)


def test_train_on_a_network_stops_at_the_first_non_finite_step():
    land = diverging_net()
    recorded = train(land, land.theta0, nonfinite="record", **DIVERGE).losses
    bad = (~torch.isfinite(recorded)).nonzero()
    assert bad.numel(), "the reference run should diverge"
    first = int(bad[0, 0])
    with pytest.raises(NonFiniteLossError, match=rf"at step {first} .*learning rate 10\b") as info:
        train(land, land.theta0, **DIVERGE)
    assert info.value.step == first and info.value.lr == 10.0


def test_train_rows_on_a_layer_stack_names_the_first_non_finite_step():
    """train_rows looks at the minibatch losses between checks only at the next check, and still names the first bad step."""
    land = diverging_net()
    assert land.backprop_by_hand
    kw = dict(optimizer="sgd", steps=30)
    recorded = train(land, land.theta0, lr=10.0, nonfinite="record", **kw).losses
    first = int((~torch.isfinite(recorded)).nonzero()[0, 0])
    assert 0 < first < 25
    with pytest.raises(NonFiniteLossError, match=rf"row 1 of 2 became non-finite at step {first} ") as info:
        train_rows(land, land.theta0.expand(2, -1), lr=[1e-3, 10.0], check_every=25, max_steps=30)
    assert (info.value.step, info.value.row, info.value.lr) == (first, 1, 10.0)


def test_train_raises_on_a_cached_diverged_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LSL_CACHE", "1")
    land = diverging_net()
    kw = dict(DIVERGE, cache=True)
    recorded = train(land, land.theta0, nonfinite="record", **kw)
    assert not bool(torch.isfinite(recorded.losses).all()) and len(list(tmp_path.glob("*.pt"))) == 1
    with pytest.raises(NonFiniteLossError, match="loaded from the cache"):
        train(land, land.theta0, **kw)


class Quadratic(Landscape):
    """``0.5 * a * ||theta||^2``: plain SGD diverges for ``lr > 2 / a``."""

    def __init__(self, a: float = 1.0, D: int = 3):
        self.a, self.D, self.device, self.dtype = a, D, torch.device("cpu"), F64

    def _loss_batch(self, theta, **kwargs):
        return 0.5 * self.a * (theta * theta).sum(-1)

    def fingerprint(self) -> dict:
        return {"kind": "quadratic", "a": self.a, "D": self.D}


def test_train_rows_names_the_row_the_step_and_its_learning_rate():
    quad = Quadratic()
    lrs = [0.5, 3.0]   # row 1: |1 - lr| = 2, so theta doubles each step and overflows to inf
    ref = train(quad, torch.ones(3, dtype=F64), steps=2000, lr=lrs[1], optimizer="sgd", nonfinite="record").losses
    first = int((~torch.isfinite(ref)).nonzero()[0, 0])
    with pytest.raises(NonFiniteLossError, match=rf"row 1 of 2 became non-finite at step {first} .*"
                                                 rf"learning rate 3") as info:
        train_rows(quad, torch.ones(2, 3, dtype=F64), lr=lrs, check_every=50, max_steps=2000)
    assert (info.value.step, info.value.row, info.value.lr) == (first, 1, 3.0)
    res = train_rows(quad, torch.ones(2, 3, dtype=F64), lr=lrs, check_every=50, max_steps=2000,
                     nonfinite="record")
    assert res.diverged.tolist() == [False, True]


def test_train_family_raises_and_records(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    quad = Quadratic()
    theta0 = torch.ones(3, dtype=F64)
    with pytest.raises(NonFiniteLossError, match="learning rate 3"):
        families.train_family(quad, "lr", [0.5, 3.0], theta0=theta0, max_steps=2000, check_every=100)
    fam = families.train_family(quad, "lr", [0.5, 3.0], theta0=theta0, max_steps=2000, check_every=100,
                                nonfinite="record")
    assert [m.diverged for m in fam] == [False, True]
    with pytest.raises(NonFiniteLossError, match=r"lr=3.0 \(loaded from the cache\) diverged"):
        families.train_family(quad, "lr", [0.5, 3.0], theta0=theta0, max_steps=2000, check_every=100)


def test_hyperplane_and_curve_trainers_stop_too():
    quad = Quadratic()
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        hyperplanes.train_in_hyperplane(quad, torch.ones(3, dtype=F64), 2, steps=2000, lr=3.0, optimizer="sgd",
                                     schedule="constant")
    with pytest.raises(NonFiniteLossError, match="learning rate"):
        tunnels.bezier_curve(quad, torch.ones(3, dtype=F64), -torch.ones(3, dtype=F64), steps=2000, lr=30.0,
                             optimizer="sgd", schedule="constant")


# ---------------------------------------------------------------------------
# training from a non-finite point says so, instead of blaming the learning rate (issue 31, item 3)


def test_training_from_a_non_finite_point_names_it():
    quad = Quadratic(D=4)
    start = torch.ones(4, dtype=F64)
    start[2] = float("nan")
    told = r"theta0 has non-finite entries at \[2\] \(1 of 4: NaN\); training cannot start from a non-finite point"
    for call in (lambda: train(quad, start, steps=5, lr=0.1),
                 lambda: train(quad, start, steps=5, lr=0.1, cache=True),
                 lambda: train_rows(quad, start, lr=0.1, max_steps=5),
                 lambda: families.train_family(quad, "lr", [0.1], theta0=start, max_steps=5, cache=False)):
        with pytest.raises(ValueError, match=told) as info:
            call()
        assert "lower the learning rate" not in str(info.value).lower()
    rows = torch.ones(2, 4, dtype=F64)
    rows[1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"theta0 has non-finite entries at \[\(1, 0\)\] \(1 of 8: inf\)"):
        train(quad, rows, steps=5, lr=0.1)
    with pytest.raises(ValueError, match=r"x0 has non-finite entries at \[2\]"):
        minimize(lambda x, step: (x * x).sum(), start, steps=5, lr=0.1)
