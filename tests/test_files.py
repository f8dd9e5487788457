"""Tests for lsl.data.files: reading the paper datasets from files written here in their real on-disk formats (IDX,
gzip'd IDX, CIFAR pickles), the refusal of pickles that would run code, and the error that says where a missing
dataset was looked for.

The standardisation and subsets built on these files are lsl.data.datasets' (tests/test_datasets.py).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from lsl.data import datasets, files


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Keep the cache and the data directory inside tmp_path."""
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LSL_CACHE", raising=False)
    monkeypatch.setenv("LSL_DATA_DIR", str(tmp_path / "no-data-here"))


# ---------------------------------------------------------------------------
# helpers that write the real on-disk formats (tests/test_datasets.py uses them too)


def write_idx(path, array: np.ndarray, *, gz: bool = False) -> None:
    """Write a uint8 array as an IDX file: magic 0 0 0x08 ndim, big-endian int32 dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    if gz:
        with gzip.open(f"{path}.gz", "wb") as fh:
            fh.write(raw)
    else:
        with open(path, "wb") as fh:
            fh.write(raw)


def make_mnist(root, subdir="MNIST", n_train=20, n_test=10, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    raw = root / subdir / "raw"
    raw.mkdir(parents=True)
    # random images: any transposition or reordering of pixels would not round-trip
    x_train = rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8)
    y_train = rng.integers(0, 10, size=n_train, dtype=np.uint8)
    y_test = rng.integers(0, 10, size=n_test, dtype=np.uint8)
    write_idx(raw / "train-images-idx3-ubyte", x_train, gz=gz)
    write_idx(raw / "train-labels-idx1-ubyte", y_train, gz=gz)
    write_idx(raw / "t10k-images-idx3-ubyte", x_test, gz=gz)
    write_idx(raw / "t10k-labels-idx1-ubyte", y_test, gz=gz)
    return x_train, y_train, x_test, y_test


def cifar_images(rng, n):
    """Rows of 3072 uint8 in CIFAR order (1024 red, 1024 green, 1024 blue); channels differ in range."""
    red = rng.integers(0, 100, size=(n, 1024))
    green = rng.integers(100, 200, size=(n, 1024))
    blue = rng.integers(50, 256, size=(n, 1024))
    return np.concatenate([red, green, blue], axis=1).astype(np.uint8)


def make_cifar10(root, per_batch=4, n_test=6, seed=0):
    rng = np.random.default_rng(seed)
    directory = root / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    xs, ys = [], []
    for i in range(1, 6):
        x, y = cifar_images(rng, per_batch), [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(directory / f"data_batch_{i}", "wb") as fh:
            pickle.dump({b"batch_label": b"training batch", b"data": x, b"labels": y}, fh)
        xs.append(x)
        ys += y
    x_test, y_test = cifar_images(rng, n_test), [int(v) for v in rng.integers(0, 10, n_test)]
    with open(directory / "test_batch", "wb") as fh:
        pickle.dump({b"data": x_test, b"labels": y_test}, fh, protocol=2)  # protocol 2 uses _codecs.encode
    return np.concatenate(xs), np.array(ys), x_test, np.array(y_test)


def make_cifar100(root, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    directory = root / "cifar-100-python"
    directory.mkdir(parents=True)
    out = []
    for name, n in (("train", n_train), ("test", n_test)):
        x, fine = cifar_images(rng, n), [int(v) for v in rng.integers(0, 100, n)]
        coarse = [v // 5 for v in fine]
        with open(directory / name, "wb") as fh:
            pickle.dump({b"data": x, b"fine_labels": fine, b"coarse_labels": coarse}, fh, protocol=5)
        out += [x, np.array(fine)]
    return tuple(out)


# ---------------------------------------------------------------------------
# reading the files


def test_data_files_read_returns_the_written_arrays(tmp_path, monkeypatch):
    """lsl.data.files.read gives the files' raw arrays in file order: uint8 images [N, C, H, W] and the labels."""
    x_train, y_train, x_test, y_test = make_mnist(tmp_path, subdir="FashionMNIST", gz=True)
    got = files.read("fashion_mnist", tmp_path)
    for have, want in zip(got, (x_train[:, None], y_train, x_test[:, None], y_test)):
        assert have.dtype == np.uint8 and np.array_equal(have, want)
    cx_train, cy_train, cx_test, cy_test = make_cifar100(tmp_path)
    monkeypatch.setenv("LSL_DATA_DIR", str(tmp_path))  # the default root is data_dir()
    xa, ya, xb, yb = files.read("cifar100")
    assert xa.dtype == np.uint8 and xa.shape == (12, 3, 32, 32) and np.array_equal(xa, cx_train.reshape(-1, 3, 32, 32))
    assert np.array_equal(ya, cy_train) and np.array_equal(xb.reshape(5, -1), cx_test) and np.array_equal(yb, cy_test)
    assert files.data_dir() == tmp_path and files.data_dir("~/x") == Path.home() / "x"
    with pytest.raises(ValueError, match="unknown paper dataset 'digits'"):
        files.read("digits")


def test_idx_bad_magic(tmp_path):
    make_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x01\x02\x08\x01" + path.read_bytes()[4:])
    with pytest.raises(ValueError, match="magic"):
        datasets.load("mnist", root=tmp_path)


def test_missing_paper_dataset(tmp_path):
    with pytest.raises(files.DatasetNotFoundError) as info:
        datasets.load("cifar10", root=tmp_path)
    msg = str(info.value)
    assert "cifar10" in msg and "CIFAR-10" in msg
    assert str(tmp_path / "cifar-10-batches-py") in msg
    assert "download" in msg and "pip install torchvision" in msg and "LSL_DATA_DIR" in msg
    assert isinstance(info.value, FileNotFoundError)

    # the default root comes from LSL_DATA_DIR (set to a missing dir by the fixture)
    with pytest.raises(files.DatasetNotFoundError, match="no-data-here"):
        datasets.load("mnist")
    # a partial copy is reported, not silently completed
    make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(files.DatasetNotFoundError, match="data_batch_4"):
        datasets.load("cifar10", root=tmp_path)


class _EvilSystem:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvilEval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import builtins

        return (builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("evil", [_EvilSystem, _EvilEval])
def test_malicious_pickle_is_refused(tmp_path, evil):
    make_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_2", "wb") as fh:
        pickle.dump({b"data": evil(marker), b"labels": [0]}, fh)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        datasets.load("cifar10", root=tmp_path)
    assert not marker.exists()
