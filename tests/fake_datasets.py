"""Small stand-ins for the paper datasets, written in their real on-disk formats (torchvision's layout).

The smoke run of the chapters (``tests/test_smoke.py``) reads MNIST, Fashion MNIST, CIFAR-10 and
CIFAR-100 through :func:`lsl.data.datasets.load` exactly as a reader's downloaded copies are read; these
functions write small files in the same formats under a data directory:

- ``MNIST/raw`` and ``FashionMNIST/raw``: IDX files (magic ``0 0 0x08 ndim``, big-endian ``int32``
  dimensions, ``uint8`` data): images ``[N, 28, 28]`` and labels ``[N]`` in ``0..9``. MNIST gets both
  the extracted files and their ``.gz`` (what torchvision leaves after a download), Fashion MNIST only
  the ``.gz`` files (as copied from the original site), so both of :mod:`lsl.data.datasets`'s readers run.
- ``cifar-10-batches-py``: ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, pickles (protocol 2,
  as the originals) of dicts with byte-string keys ``b"batch_label"``, ``b"labels"`` (a list of ints in
  ``0..9``), ``b"data"`` (``uint8`` ``[N, 3072]``, channel-major rows) and ``b"filenames"``; plus
  ``batches.meta``.
- ``cifar-100-python``: ``train`` and ``test`` with ``b"fine_labels"`` in ``0..99`` and
  ``b"coarse_labels"`` in ``0..19``; plus ``meta``.

The images are learnable: each class has its own random template and an image is its template plus
noise, so a network's loss falls in a few steps, as on the real data (early stopping at a target
loss and similar code paths are exercised). Nothing here claims to be the real data.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

#: Default sizes, those of the smoke scale (``tests/test_smoke.py`` and the scale ladder's smoke rung, whose
#: records must agree): 100 training examples (ten per class of the ten-class sets) and 40 test examples.
#: A smoke run only has to pass through the code, and most of its time goes into whole-set evaluations
#: (training to a target loss, full-data Hessians), which shrink with the set.
N_TRAIN = 100
N_TEST = 40


def write_idx(path: Path, array: np.ndarray, *, plain: bool = True, gz: bool = False) -> None:
    """Write a ``uint8`` array as an IDX file at ``path`` (``plain``) and/or ``path.gz`` (``gz``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    if plain:
        Path(path).write_bytes(raw)
    if gz:
        with gzip.open(f"{path}.gz", "wb") as fh:
            fh.write(raw)


def class_images(rng: np.random.Generator, labels: np.ndarray, shape: tuple[int, ...], n_classes: int,
                 templates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``uint8`` images of ``shape``: each label's template plus Gaussian noise, clipped to 0..255.

    A template is smooth: a 4 x 4 grid of random grey levels (per colour channel) blown up to the
    image, so that small networks with pooling learn the classes in a few hundred steps, as they
    would learn real images. ``shape`` is ``(H, W)`` (MNIST) or ``(3072,)`` (CIFAR's rows: 3 x 32 x 32).
    """
    if templates is None:
        channels, side = (3, 32) if shape == (3072,) else (1, shape[0])
        coarse = rng.uniform(40, 215, size=(n_classes, channels, 4, 4))
        block = -(-side // 4)
        full = coarse.repeat(block, axis=2).repeat(block, axis=3)[:, :, :side, :side]
        templates = full.reshape(n_classes, *shape)
    noise = rng.normal(0, 40, size=(len(labels), *shape))
    return np.clip(templates[labels] + noise, 0, 255).astype(np.uint8), templates


def write_mnist(root: Path, subdir: str = "MNIST", *, n_train: int = N_TRAIN, n_test: int = N_TEST,
                plain: bool = True, gz: bool = True, seed: int = 0) -> None:
    """An MNIST-like dataset in ``root/subdir/raw`` (``MNIST`` or ``FashionMNIST``)."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / subdir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    y_train, y_test = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    x_train, templates = class_images(rng, y_train, (28, 28), 10)
    x_test, _ = class_images(rng, y_test, (28, 28), 10, templates)
    for name, array in (("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                        ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)):
        write_idx(raw / name, array, plain=plain, gz=gz)


def _dump(path: Path, obj) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def write_cifar10(root: Path, *, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0) -> None:
    """A CIFAR-10-like dataset in ``root/cifar-10-batches-py`` (five training batches, one test batch)."""
    rng = np.random.default_rng(seed)
    directory = Path(root) / "cifar-10-batches-py"
    directory.mkdir(parents=True, exist_ok=True)
    y_train, y_test = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    x_train, templates = class_images(rng, y_train, (3072,), 10)
    x_test, _ = class_images(rng, y_test, (3072,), 10, templates)
    for i, rows in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        _dump(directory / f"data_batch_{i}", {
            b"batch_label": f"training batch {i} of 5".encode(), b"labels": [int(v) for v in y_train[rows]],
            b"data": x_train[rows], b"filenames": [f"fake_{j}.png".encode() for j in rows]})
    _dump(directory / "test_batch", {b"batch_label": b"testing batch 1 of 1", b"labels": [int(v) for v in y_test],
                                     b"data": x_test, b"filenames": [f"fake_t{j}.png".encode() for j in range(n_test)]})
    _dump(directory / "batches.meta", {b"num_cases_per_batch": n_train // 5, b"num_vis": 3072,
                                       b"label_names": [f"class{c}".encode() for c in range(10)]})


def write_cifar100(root: Path, *, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0) -> None:
    """A CIFAR-100-like dataset in ``root/cifar-100-python`` (``train``, ``test``, ``meta``)."""
    rng = np.random.default_rng(seed)
    directory = Path(root) / "cifar-100-python"
    directory.mkdir(parents=True, exist_ok=True)
    templates = None
    for name, n in (("train", n_train), ("test", n_test)):
        fine = rng.integers(0, 100, n)
        x, templates = class_images(rng, fine, (3072,), 100, templates)
        _dump(directory / name, {b"filenames": [f"fake_{j}.png".encode() for j in range(n)], b"batch_label": name.encode(),
                                 b"fine_labels": [int(v) for v in fine], b"coarse_labels": [int(v) // 5 for v in fine],
                                 b"data": x})
    _dump(directory / "meta", {b"fine_label_names": [f"fine{c}".encode() for c in range(100)],
                               b"coarse_label_names": [f"coarse{c}".encode() for c in range(20)]})


def write_all(root: Path, *, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0) -> Path:
    """Write all four paper datasets under ``root`` (a data directory for ``LSL_DATA_DIR``); returns ``root``."""
    root = Path(root)
    write_mnist(root, "MNIST", n_train=n_train, n_test=n_test, plain=True, gz=True, seed=seed)
    write_mnist(root, "FashionMNIST", n_train=n_train, n_test=n_test, plain=False, gz=True, seed=seed + 1)
    write_cifar10(root, n_train=n_train, n_test=n_test, seed=seed + 2)
    write_cifar100(root, n_train=n_train, n_test=n_test, seed=seed + 3)
    return root
