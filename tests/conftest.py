"""Fixtures shared by several test files: a private disk cache, a small data set and a network builder on it.

A file that needs the cache for every test says so once, ``pytestmark = pytest.mark.usefixtures("private_cache")``;
a file may still define a fixture of the same name (its own ``ds``) to override these.
"""

from __future__ import annotations

import pytest
import torch

from lsl.data import datasets, nets


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """The disk cache (:mod:`lsl.cache`) in a fresh temporary folder, switched on, without progress bars; its path."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LSL_CACHE_DIR", str(folder))
    monkeypatch.setenv("LSL_CACHE", "1")
    monkeypatch.setenv("LSL_PROGRESS", "0")
    return folder


@pytest.fixture(scope="module")
def ds():
    """Three Gaussian classes in 4 dimensions, 48 training and 30 test examples, in float64."""
    return datasets.load("gaussian_mixture", n_train=48, n_test=30, n_classes=3, dim=4, separation=2.0, dtype=torch.float64)


@pytest.fixture
def build(ds):
    """A builder of a one-layer tanh MLP of width 6 on :func:`ds` (:func:`lsl.data.nets.network`), in float64."""
    return nets.network(ds, "mlp", width=6, depth=1, activation="tanh", seed=0, dtype=torch.float64)
