"""Tests for lsl.landscape: the flat-vector view of a module's parameters and the base class's default derivatives.

References: the module's own parameters (their names, shapes, values and storage), and a function with a known
gradient and Hessian.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsl.landscape import FlatView, Landscape

F64 = torch.float64


def test_flatview_round_trip_and_shared_storage():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(12, 4))
    view = FlatView.from_module(model)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    assert view.names == list(params)
    assert view.D == sum(p.numel() for p in params.values()) == 2 * 3 * 9 + 3 + 12 * 4 + 4
    flat = view.flatten(params)
    assert flat.shape == (view.D,)
    back = view.unflatten(flat)
    assert list(back) == list(params)
    for k in params:
        assert back[k].shape == params[k].shape
        assert torch.equal(back[k], params[k])
        assert back[k].data_ptr() >= flat.data_ptr()  # a view into flat
    # views share storage: writing into the flat vector shows up in the views
    flat[view.block("2.bias")] = 7.0
    assert torch.equal(back["2.bias"], torch.full((4,), 7.0))
    back["0.weight"].zero_()
    assert torch.equal(flat[view.block("0.weight")], torch.zeros(54))
    # the layout is registration order, contiguous
    assert view.block("0.weight") == slice(0, 54)
    assert view.block("0.bias") == slice(54, 57)


def test_flatview_batched_unflatten():
    view = FlatView(["a", "b"], [(2, 3), (4,)])
    flat = torch.arange(5 * 10, dtype=F64).reshape(5, 10)
    parts = view.unflatten(flat)
    assert parts["a"].shape == (5, 2, 3) and parts["b"].shape == (5, 4)
    for i in range(5):
        assert torch.equal(parts["a"][i], flat[i, :6].reshape(2, 3))
        assert torch.equal(parts["b"][i], flat[i, 6:])
    parts["b"][2, 0] = -1.0
    assert flat[2, 6] == -1.0


def test_flatview_errors():
    view = FlatView(["a", "b"], [(2, 3), (4,)])
    with pytest.raises(ValueError, match="D=10"):
        view.unflatten(torch.zeros(9))
    with pytest.raises(KeyError, match="b"):
        view.flatten({"a": torch.zeros(2, 3)})
    with pytest.raises(KeyError, match="known"):
        view.block("c")
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        FlatView.from_module(frozen)


def test_flatview_skips_frozen_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    model[0].weight.requires_grad_(False)
    view = FlatView.from_module(model)
    assert view.names == ["0.bias", "1.weight", "1.bias"]
    assert view.D == 4 + 8 + 2


def test_base_landscape_default_derivatives():
    """The base class's grad/hvp/hessian (double backward) on a quadratic with known Hessian."""

    class Quadratic(Landscape):
        def __init__(self, A):
            self.A, self.D, self.device, self.dtype = A, A.shape[0], A.device, A.dtype

        def _loss_batch(self, theta, **_):
            return 0.5 * torch.einsum("bi,ij,bj->b", theta, self.A, theta) + theta.pow(3).sum(-1)

    gen = torch.Generator().manual_seed(0)
    B = torch.randn(6, 6, generator=gen, dtype=F64)
    A = B @ B.T
    q = Quadratic(A)
    theta = torch.randn(6, generator=gen, dtype=F64)
    torch.testing.assert_close(q.grad(theta), A @ theta + 3 * theta**2)
    H = A + torch.diag(6 * theta)
    v = torch.randn(6, generator=gen, dtype=F64)
    torch.testing.assert_close(q.hvp(theta, v), H @ v)
    torch.testing.assert_close(q.hessian(theta), H)
    thetas = torch.randn(3, 6, generator=gen, dtype=F64)
    torch.testing.assert_close(q.grad(thetas), thetas @ A + 3 * thetas**2)
