"""NetworkLandscape evaluates large batches of points on a CPU in chunks (speed only): the values are
those of one call over all points and of a loop over the points; the chunk follows the number of
examples (the CPU budget of lsl.batching); an explicit chunk_size wins and dropout masks are left alone."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lsl import batching
from lsl.data import datasets, nets
from lsl.network import NetworkLandscape

F64 = torch.float64


@pytest.fixture(scope="module")
def land():
    ds = datasets.load("gaussian_mixture", n_train=50, n_test=20, n_classes=3, dim=4, dtype=F64)
    model = nets.make("mlp", ds.input_shape, ds.n_classes, seed=0, width=6, depth=2, activation="tanh").double()
    return NetworkLandscape(model, ds.x_train, ds.y_train, x_test=ds.x_test, y_test=ds.y_test)


def test_chunk_follows_the_number_of_examples(land, monkeypatch):
    with batching.use("cpu", point_examples=200):
        assert land._vmap_chunk(50, 99) == 4 and land._vmap_chunk(1000, 99) == 1 and land._vmap_chunk(10, 99) == 20
        assert land._vmap_chunk(10, 20) is None  # every point fits in one call
        assert land._vmap_chunk(50, 99, random=True) is None  # dropout masks: never re-chunked
        monkeypatch.setattr(land, "chunk_size", 3)
        assert land._vmap_chunk(50, 99) == 3  # an explicit chunk_size wins


def test_chunked_values_equal_one_call_and_a_loop(land, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    points = land.theta0 + 0.3 * torch.randn(11, land.D, generator=gen, dtype=F64)
    with batching.use("cpu", point_examples=10**9):  # one call
        one_loss, one_logits = land.loss(points), land.logits(points)
    cpu = dataclasses.replace(batching.BUDGETS["cpu"], point_examples=120)  # calls of 2 points (50 examples each)
    monkeypatch.setitem(batching.BUDGETS, "cpu", cpu)
    assert land._vmap_chunk(land.n_train, len(points)) == 2
    torch.testing.assert_close(land.loss(points), one_loss, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(land.logits(points), one_logits, rtol=1e-14, atol=1e-14)
    loop = torch.stack([land.loss(p) for p in points])
    torch.testing.assert_close(land.loss(points), loop, rtol=1e-12, atol=1e-12)
    # gradients through the chunked loss are those of the points one by one
    x = points.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(land.loss(x).sum(), x)
    torch.testing.assert_close(g, torch.stack([land.grad(p) for p in points]), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(land.accuracy(points, "test"), torch.stack([land.accuracy(p, "test") for p in points]))
