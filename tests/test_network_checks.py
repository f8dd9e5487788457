"""Tests for lsl.network_checks: bad data get a clear error when a NetworkLandscape is built (issue 15, item 3).

Each error is asked for by building a landscape from data made wrong on purpose (inputs the model cannot take, labels
that are no class indices, empty or non-finite data) and must name what is wrong and what the model expects; values
accepted with a callable loss are compared with the loss written out by hand. The checks are also called directly,
their answers written out here from the documented rules. (The device policy, ``resolve_device``:
tests/test_devices.py.)
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from lsl import network_checks
from lsl.data import nets
from lsl.network import NetworkLandscape

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
# the checks called directly


def test_check_targets_makes_labels_long_and_keeps_other_targets_in_the_landscapes_dtype():
    cpu = torch.device("cpu")
    labels = network_checks.check_targets(torch.tensor([0, 2, 1], dtype=torch.int32), builtin=True,
                                          loss_name="cross_entropy", device=cpu, dtype=F64)
    assert labels.dtype == torch.long and labels.tolist() == [0, 2, 1]
    target = torch.rand(3, 2)
    kept = network_checks.check_targets(target, builtin=False, loss_name="custom", device=cpu, dtype=F64)
    assert kept.dtype == F64 and torch.equal(kept, target.double())
    with pytest.raises(ValueError, match="integer class indices, got a tensor of dtype torch.complex64"):
        network_checks.check_targets(torch.zeros(3, dtype=torch.complex64), builtin=False, loss_name="custom",
                                     device=cpu, dtype=F64)
    with pytest.raises(ValueError, match=r"the mse loss takes integer class labels, but the labels are torch.float32 "
                                         r"\(e.g. \[0.5, 1.0\]\)"):
        network_checks.check_targets(torch.tensor([0.5, 1.0]), builtin=True, loss_name="mse", device=cpu, dtype=F64)


def test_describe_first_layer_names_the_first_layer_with_parameters():
    linear = network_checks.describe_first_layer(nn.Sequential(nn.Flatten(), nn.Linear(7, 3)))
    assert linear.startswith("its first layer (1) is Linear(in_features=7") and "takes 7 features per example" in linear
    conv = network_checks.describe_first_layer(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
    assert "takes inputs [N, C, H, W] with C=3 channels" in conv
    assert "[N, C, L] with C=2" in network_checks.describe_first_layer(nn.Conv1d(2, 4, 3))
    norm = network_checks.describe_first_layer(nn.Sequential(nn.LayerNorm(5), nn.Linear(5, 2)))
    assert norm.startswith("its first layer with parameters is 0: LayerNorm")
    assert network_checks.describe_first_layer(nn.ReLU()) == "it is ReLU"


def test_check_split_runs_the_trial_forward_pass_on_the_first_examples_only():
    seen = []

    def forward(x):
        seen.append(x.shape[0])
        return torch.zeros(x.shape[0], C, dtype=x.dtype)

    kw = dict(criterion=nn.functional.cross_entropy, loss_name="cross_entropy", builtin=True, model=nn.Linear(IN, C))
    x, y = data()
    network_checks.check_split("training", x, y, forward=forward, **kw)
    assert seen == [network_checks.TRIAL_EXAMPLES] and N > network_checks.TRIAL_EXAMPLES
    network_checks.check_split("test", x[:3], y[:3], forward=forward, **kw)
    assert seen[-1] == 3
    with pytest.raises(ValueError, match=r"the cross_entropy loss needs logits \[N, C\]; the model gives \(8,\) for 8 "
                                         r"training examples"):
        network_checks.check_split("training", x, y, forward=lambda x: torch.zeros(x.shape[0]), **kw)
