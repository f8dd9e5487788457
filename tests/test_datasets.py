"""Tests for lsl.data.datasets: offline datasets, the paper datasets loaded (standardised, subsets) from files in their
real formats, and error paths. The file readers themselves: tests/test_files.py."""

from __future__ import annotations

import pickle
import random
import sys

import numpy as np
import pytest
import torch

from lsl.data import datasets, files
from tests.test_files import make_cifar10, make_cifar100, make_mnist


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Keep the cache and the data directory inside tmp_path."""
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LSL_CACHE", raising=False)
    monkeypatch.setenv("LSL_DATA_DIR", str(tmp_path / "no-data-here"))


def standardise_like_train(x_train_u8, x_u8, channel_axis=1):
    """Expected inputs: scale to [0, 1], then per-channel standardise with training stats (ddof=0)."""
    axes = tuple(a for a in range(x_train_u8.ndim) if a != channel_axis)
    tr = x_train_u8.astype(np.float64) / 255
    mean, std = tr.mean(axis=axes, keepdims=True), tr.std(axis=axes, keepdims=True)
    return (x_u8.astype(np.float64) / 255 - mean) / std


# ---------------------------------------------------------------------------
# offline datasets


def test_available_and_constants():
    assert datasets.available() == list(datasets.OFFLINE_DATASETS + files.PAPER_DATASETS)
    assert set(files.PAPER_DATASETS) == {"mnist", "fashion_mnist", "cifar10", "cifar100"}
    assert "mnist1d" in datasets.OFFLINE_DATASETS


def test_mnist1d_shapes_determinism_and_global_rng(monkeypatch):
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.get_state(), random.getstate()
    torch_before = torch.random.get_rng_state()

    ds = datasets.load("mnist1d")
    assert (ds.n_train, ds.n_test, ds.n_classes, ds.input_shape) == (4000, 1000, 10, (40,))
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert set(ds.y_train.unique().tolist()) == set(range(10))
    # standardised with one scalar from the training set
    assert abs(ds.x_train.mean().item()) < 1e-5 and abs(ds.x_train.std(unbiased=False).item() - 1) < 1e-4

    # the global RNGs are untouched, even though mnist1d reseeds them internally
    np_after = np.random.get_state()
    assert np_after[0] == np_before[0] and np.array_equal(np_after[1], np_before[1]) and np_after[2:] == np_before[2:]
    assert random.getstate() == py_before
    assert torch.equal(torch.random.get_rng_state(), torch_before)

    # deterministic: regenerating without the cache gives the same data
    monkeypatch.setenv("LSL_CACHE", "0")
    again = datasets.load("mnist1d")
    assert torch.equal(again.x_train, ds.x_train) and torch.equal(again.y_test, ds.y_test)
    monkeypatch.delenv("LSL_CACHE")

    # smaller requests are subsets of the standard split, train and test disjoint
    small = datasets.load("mnist1d", n_train=300, n_test=100, dtype=torch.float64)
    assert small.x_train.dtype == torch.float64
    assert torch.equal(small.y_train, ds.y_train[:300]) and torch.equal(small.y_test, ds.y_test[-100:])

    other = datasets.load("mnist1d", seed=1, n_train=300, n_test=100)
    assert not torch.equal(other.y_train, small.y_train)


def test_digits():
    ds = datasets.load("digits")
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.n_classes) == (1437, 360, (64,), 10)
    for y in (ds.y_train, ds.y_test):
        assert y.dtype == torch.int64 and y.min() >= 0 and y.max() <= 9
    # scaled to [0, 1] by /16, not standardised
    both = torch.cat([ds.x_train, ds.x_test])
    assert both.min() == 0 and both.max() == 1
    assert torch.allclose(both * 16, (both * 16).round())

    again = datasets.load("Digits", seed=0)
    assert torch.equal(again.x_train, ds.x_train) and torch.equal(again.y_test, ds.y_test)
    assert not torch.equal(datasets.load("digits", seed=1).y_test, ds.y_test)

    # train and test are disjoint and together are the whole dataset
    from sklearn.datasets import load_digits

    full = torch.as_tensor(load_digits().data, dtype=torch.float32) / 16
    rows = {tuple(r.tolist()) for r in full}
    train_rows = [tuple(r.tolist()) for r in ds.x_train]
    test_rows = [tuple(r.tolist()) for r in ds.x_test]
    assert set(train_rows) <= rows and set(test_rows) <= rows
    # (digits has a few duplicate images; compare by multiset size instead of set overlap)
    assert len(train_rows) + len(test_rows) == len(full)
    assert torch.equal(torch.cat([ds.x_train, ds.x_test]).sum(0), full.sum(0))

    small = datasets.load("digits", n_train=100, n_test=50, flatten=False)
    assert small.x_train.shape == (100, 1, 8, 8) and small.input_shape == (1, 8, 8)


@pytest.mark.parametrize("C", [2, 5, 20])
def test_gaussian_mixture(C):
    ds = datasets.load("gaussian_mixture", n_classes=C)
    assert ds.n_classes == C and ds.input_shape == (20,)
    assert (ds.n_train, ds.n_test) == (200 * C, 100 * C)
    assert torch.equal(ds.y_train.bincount(minlength=C), torch.full((C,), 200))
    assert torch.equal(ds.y_test.bincount(minlength=C), torch.full((C,), 100))
    # standardised per feature with training statistics
    assert ds.x_train.mean(0).abs().max() < 1e-5
    assert (ds.x_train.std(0, unbiased=False) - 1).abs().max() < 1e-4

    again = datasets.load("Mixture", n_classes=C)
    assert torch.equal(again.x_train, ds.x_train) and torch.equal(again.y_test, ds.y_test)
    assert not torch.equal(datasets.load("mixture", n_classes=C, seed=1).x_train, ds.x_train)

    # learnable: a nearest-class-mean rule fit on train is far above chance on test
    means = torch.stack([ds.x_train[ds.y_train == c].mean(0) for c in range(C)])
    acc = (torch.cdist(ds.x_test, means).argmin(1) == ds.y_test).float().mean().item()
    assert acc > 0.6  # chance is 1 / C


def test_gaussian_mixture_options_and_rng():
    state = torch.random.get_rng_state()
    ds = datasets.load("gaussian-mixture", n_classes=3, dim=7, separation=5.0, noise=0.5, n_train=31, n_test=10)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert ds.x_train.shape == (31, 7) and ds.y_train.bincount().tolist() == [11, 10, 10]
    # the test set does not depend on n_train (it is not standardised identically, so compare labels)
    assert torch.equal(datasets.load("mixture", n_classes=3, dim=7, n_train=50, n_test=10).y_test, ds.y_test)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        datasets.load("mixture", n_classes=1)
    with pytest.raises(TypeError, match="allowed options: n_classes, dim, separation, noise"):
        datasets.load("mixture", classes=3)


def test_dataset_to_and_repr():
    ds = datasets.load("mixture", n_classes=2, n_train=10, n_test=4)
    d64 = ds.to(dtype=torch.float64)
    assert d64.x_train.dtype == torch.float64 and d64.y_train.dtype == torch.int64
    assert ds.x_train.dtype == torch.float32  # original unchanged
    with pytest.raises(TypeError):
        ds.to(dtype=torch.int32)
    text = repr(ds)
    assert "gaussian_mixture" in text and "n_train=10" in text and len(text) < 200


# ---------------------------------------------------------------------------
# paper datasets from files written in their real formats


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name,subdir", [("mnist", "MNIST"), ("Fashion-MNIST", "FashionMNIST")])
def test_mnist_idx_files(tmp_path, name, subdir, gz):
    x_train, y_train, x_test, y_test = make_mnist(tmp_path, subdir=subdir, gz=gz)
    ds = datasets.load(name, root=tmp_path)
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.n_classes) == (20, 10, (1, 28, 28), 10)
    assert ds.y_train.tolist() == y_train.tolist() and ds.y_test.tolist() == y_test.tolist()
    # pixel order and standardisation with training statistics (also for the test set)
    want_train = standardise_like_train(x_train[:, None], x_train[:, None])
    want_test = standardise_like_train(x_train[:, None], x_test[:, None])
    assert np.allclose(ds.x_train.numpy(), want_train, atol=1e-5)
    assert np.allclose(ds.x_test.numpy(), want_test, atol=1e-5)
    assert abs(ds.x_train.mean().item()) < 1e-5 and abs(ds.x_test.mean().item()) > 1e-3


def test_mnist_subsets_and_env_root(tmp_path, monkeypatch):
    x_train, y_train, _, y_test = make_mnist(tmp_path)
    monkeypatch.setenv("LSL_DATA_DIR", str(tmp_path))
    ds = datasets.load("mnist", n_train=8, n_test=3, seed=4, flatten=True)
    assert ds.x_train.shape == (8, 784) and ds.input_shape == (784,)
    # the subset is a seeded choice of the written examples, identical on reload
    again = datasets.load("mnist", n_train=8, n_test=3, seed=4, flatten=True)
    assert torch.equal(ds.x_train, again.x_train) and torch.equal(ds.y_test, again.y_test)
    # each chosen image is one of the written ones (matched by per-image z-scores, which the
    # dataset-wide affine standardisation leaves unchanged), distinct, in file order, with its label
    def zscore(a):
        a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
        return (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)

    written, chosen = zscore(x_train), zscore(ds.x_train.double().numpy())
    idx = [int(np.argmin(np.abs(written - row).max(1))) for row in chosen]
    assert all(np.abs(written[i] - row).max() < 1e-4 for i, row in zip(idx, chosen))
    assert idx == sorted(set(idx))
    assert ds.y_train.tolist() == y_train[idx].tolist()
    with pytest.raises(ValueError, match="n_train=21 is more than the 20 available"):
        datasets.load("mnist", n_train=21)


def test_cifar10_pickles(tmp_path):
    x_train, y_train, x_test, y_test = make_cifar10(tmp_path)
    ds = datasets.load("CIFAR-10", root=tmp_path)
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.n_classes) == (20, 6, (3, 32, 32), 10)
    assert ds.y_train.tolist() == y_train.tolist() and ds.y_test.tolist() == y_test.tolist()
    # rows are [1024 red | 1024 green | 1024 blue], each row-major 32x32
    want_train = standardise_like_train(x_train.reshape(-1, 3, 32, 32), x_train.reshape(-1, 3, 32, 32))
    want_test = standardise_like_train(x_train.reshape(-1, 3, 32, 32), x_test.reshape(-1, 3, 32, 32))
    assert np.allclose(ds.x_train.numpy(), want_train, atol=1e-5)
    assert np.allclose(ds.x_test.numpy(), want_test, atol=1e-5)
    # one pixel by hand: image 3, green channel, row 5, column 7
    g = x_train[3, 1024 + 5 * 32 + 7] / 255
    green = x_train[:, 1024:2048] / 255
    assert ds.x_train[3, 1, 5, 7].item() == pytest.approx((g - green.mean()) / green.std(), abs=1e-5)
    # per-channel statistics of the training set are exactly standardised
    assert ds.x_train.mean(dim=(0, 2, 3)).abs().max() < 1e-5
    assert (ds.x_train.std(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-4

    sub = datasets.load("cifar10", root=tmp_path, n_train=7, n_test=2, seed=3)
    assert sub.x_train.shape == (7, 3, 32, 32) and set(sub.y_train.tolist()) <= set(y_train.tolist())


def test_cifar100_pickles(tmp_path):
    x_train, y_train, x_test, y_test = make_cifar100(tmp_path)
    ds = datasets.load("cifar100", root=tmp_path, device="cpu", dtype=torch.float64)
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.n_classes) == (12, 5, (3, 32, 32), 100)
    assert ds.x_train.dtype == torch.float64
    assert ds.y_train.tolist() == y_train.tolist() and ds.y_test.tolist() == y_test.tolist()
    want_test = standardise_like_train(x_train.reshape(-1, 3, 32, 32), x_test.reshape(-1, 3, 32, 32))
    assert np.allclose(ds.x_test.numpy(), want_test, atol=1e-10)


def test_unknown_name_and_bad_sizes():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*mnist1d.*cifar100"):
        datasets.load("imagenet")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_train must be a positive int"):
            datasets.load("digits", n_train=bad)
    with pytest.raises(ValueError, match="n_test must be a positive int"):
        datasets.load("mixture", n_test=0)
    with pytest.raises(ValueError, match="n_train <= 1437"):
        datasets.load("digits", n_train=1500)
    with pytest.raises(ValueError, match="seed must be in"):
        datasets.load("digits", seed=-1)
    with pytest.raises(TypeError, match="allowed options: flatten"):
        datasets.load("digits", flaten=False)
    with pytest.raises(TypeError, match="allowed options: none"):
        datasets.load("mnist1d", dim=3)


def test_download_without_torchvision(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ImportError, match="pip install torchvision"):
        datasets.download("mnist", root=tmp_path)
    with pytest.raises(ValueError, match="only for the paper datasets"):
        datasets.download("digits")


# ---------------------------------------------------------------------------
# the small stand-ins of the smoke run (tests/fake_datasets.py) are read like the real files


def test_fake_paper_datasets_load_with_the_real_shapes_and_label_ranges(tmp_path):
    from tests import fake_datasets

    root = fake_datasets.write_all(tmp_path / "data", n_train=50, n_test=20)
    # torchvision's layout: MNIST extracted and gzip'd, Fashion MNIST gzip'd only, CIFAR pickles
    assert (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert (root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()
    assert not (root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()
    assert (root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").is_file()
    assert {p.name for p in (root / "cifar-10-batches-py").iterdir()} == {
        *(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"}
    assert {p.name for p in (root / "cifar-100-python").iterdir()} == {"train", "test", "meta"}
    with open(root / "cifar-100-python" / "train", "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (50, 3072)
    assert all(c == f // 5 for f, c in zip(batch[b"fine_labels"], batch[b"coarse_labels"]))
    expected = {"mnist": ((1, 28, 28), 10), "fashion_mnist": ((1, 28, 28), 10),
                "cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100)}
    for name, (shape, n_classes) in expected.items():
        ds = datasets.load(name, root=root)
        assert (ds.n_train, ds.n_test, ds.input_shape, ds.n_classes) == (50, 20, shape, n_classes), name
        assert ds.y_train.dtype == torch.int64 and 0 <= int(ds.y_train.min()) and int(ds.y_train.max()) < n_classes
    # the images carry their class (a template per class), so a network can learn them: class means differ
    ds = datasets.load("cifar10", root=root)
    means = torch.stack([ds.x_train[ds.y_train == c].mean(0) for c in ds.y_train.unique()])
    assert torch.cdist(means.flatten(1), means.flatten(1)).fill_diagonal_(float("inf")).min() > 1.0
