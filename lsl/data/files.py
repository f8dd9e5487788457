"""The paper's image datasets on disk: where their files are, and how their formats are read.

MNIST, Fashion MNIST, CIFAR-10 and CIFAR-100 are read from torchvision's
on-disk layout under a data directory, without importing torchvision:

- ``MNIST/raw`` and ``FashionMNIST/raw``: IDX files (magic ``0 0 type ndim``,
  big-endian ``int32`` dimensions, then the data), plain or gzip-compressed;
- ``cifar-10-batches-py`` (``data_batch_1`` .. ``data_batch_5``, ``test_batch``)
  and ``cifar-100-python`` (``train``, ``test``): Python pickles of dicts with
  ``b"data"`` (``uint8`` rows of 3072, channel-major) and the labels.

The directory is the ``root`` argument, else the environment variable
``LSL_DATA_DIR``, else ``~/.cache/lsl/data`` (:func:`data_dir`). Fetch the files
once with :func:`lsl.data.datasets.download` (which needs torchvision and network access)
or copy them there. Missing files raise :class:`DatasetNotFoundError`; another
dataset is never substituted.

CIFAR files are Python pickles. They are read with a restricted unpickler that
can only rebuild numpy arrays, so a tampered file cannot run code.

This module returns the raw arrays (:func:`read`); :func:`lsl.data.datasets.load` takes
subsets, scales and standardises them into a :class:`lsl.data.datasets.Dataset`.
"""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["PAPER_DATASETS", "DatasetNotFoundError", "data_dir", "read"]

#: The image datasets of the paper, read from disk (see :func:`lsl.data.datasets.download`).
PAPER_DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist", "cifar10", "cifar100")

_PRETTY = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
}

# Directory of each paper dataset under the data root, as torchvision lays it out.
_SUBDIR = {
    "mnist": Path("MNIST", "raw"),
    "fashion_mnist": Path("FashionMNIST", "raw"),
    "cifar10": Path("cifar-10-batches-py"),
    "cifar100": Path("cifar-100-python"),
}

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

_CIFAR_FILES = {
    "cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]),
    "cifar100": (["train"], ["test"]),
}


class DatasetNotFoundError(FileNotFoundError):
    """A paper dataset's files are not in the data directory.

    The message names the dataset, the directory that was searched, the missing
    files, and how to get them there.
    """


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The directory that holds the paper datasets.

    Args:
        root: an explicit directory; wins over everything else.

    Returns:
        ``root`` if given, else ``LSL_DATA_DIR`` if set, else ``~/.cache/lsl/data``.
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("LSL_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lsl" / "data"


def read(name: str, root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw arrays of a paper dataset, read from its files in torchvision's layout.

    Args:
        name: the canonical name, one of :data:`PAPER_DATASETS` (:func:`lsl.data.datasets.load` also takes aliases).
        root: the data directory (default: :func:`data_dir`).

    Returns:
        ``(x_train, y_train, x_test, y_test)`` in file order: images ``uint8``
        ``[N, C, H, W]`` (``C = 1``, ``28 x 28`` for MNIST and Fashion MNIST;
        ``C = 3``, ``32 x 32`` for CIFAR) and integer labels ``[N]`` (CIFAR-100's fine labels).

    Raises:
        ValueError: if ``name`` is not a paper dataset, or a file is malformed.
        DatasetNotFoundError: if files are missing.
        pickle.UnpicklingError: if a CIFAR file names anything but numpy arrays.
    """
    if name not in PAPER_DATASETS:
        raise ValueError(f"unknown paper dataset {name!r}; choose one of {', '.join(PAPER_DATASETS)}")
    reader = _read_mnist if name in ("mnist", "fashion_mnist") else _read_cifar
    return reader(name, data_dir(root))


def _not_found(key: str, root: Path, missing: list[str]) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{key} ({_PRETTY[key]}) not found: looked in {root / _SUBDIR[key]} and these files are missing: "
        f"{', '.join(missing)}. To get them, run lsl.data.datasets.download({key!r}, root={str(root)!r}) "
        "on a machine with network access (needs torchvision: pip install torchvision), "
        "or copy the files there (torchvision's layout), or set LSL_DATA_DIR to a directory that holds them."
    )


# ---------------------------------------------------------------------------
# MNIST and Fashion MNIST: IDX files


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse an IDX file (plain or gzip): magic ``0 0 type ndim``, big-endian int32 dims, data."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = bytearray(fh.read())  # writable, so torch.from_numpy does not warn
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    if raw[3] != ndim:
        raise ValueError(f"{path}: expected an IDX file with {ndim} dimensions, it has {raw[3]}")
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dt = np.dtype(_IDX_DTYPES[raw[2]])
    if len(raw) != header + int(np.prod(dims)) * dt.itemsize:
        raise ValueError(f"{path}: size {len(raw)} bytes does not match its header dims {dims}")
    return np.frombuffer(raw, dtype=dt, offset=header).reshape(dims)


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_mnist(key: str, root: Path) -> tuple[np.ndarray, ...]:
    directory = root / _SUBDIR[key]
    paths = {k: _find(directory, f) for k, f in _IDX_FILES.items()}
    missing = [f"{_IDX_FILES[k]}[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise _not_found(key, root, missing)
    x_train, x_test = _read_idx(paths["x_train"], 3), _read_idx(paths["x_test"], 3)
    y_train, y_test = _read_idx(paths["y_train"], 1), _read_idx(paths["y_test"], 1)
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if x.dtype != np.uint8 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise ValueError(f"{directory}: {split} files hold images {x.shape} {x.dtype} and labels {y.shape}; "
                             "expected uint8 [N, 28, 28] and [N]")
    return x_train[:, None], y_train, x_test[:, None], y_test


# ---------------------------------------------------------------------------
# CIFAR-10 and CIFAR-100: pickles, read by an unpickler that rebuilds numpy arrays only


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The only globals a dataset pickle may name: what numpy needs to rebuild arrays."""
    import codecs

    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    for prefix in ("numpy.core", "numpy._core"):  # pickles written by numpy 1.x and 2.x
        allowed[(f"{prefix}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{prefix}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{prefix}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else.

    The array constructor it hands out refuses an array larger than the file (``max_bytes``): a pickle
    can call ``numpy.ndarray(shape)`` directly, which would allocate uninitialised memory of any size.
    """

    ALLOWED = _allowed_globals()

    def __init__(self, file, *, max_bytes: int, **kwargs):
        super().__init__(file, **kwargs)
        limit = int(max_bytes)

        class BoundedArray(np.ndarray):
            def __new__(cls, shape, dtype=float, *args, **kw):
                dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
                n = int(np.prod([int(d) for d in dims], dtype=object)) * np.dtype(dtype).itemsize
                if n > limit:
                    raise pickle.UnpicklingError(
                        f"the file asks for an array of {n} bytes {dims}, more than the {limit} bytes it holds: "
                        "it is damaged or not a dataset file; download it again")
                return super().__new__(cls, dims, dtype, *args, **kw)

        self._array = BoundedArray

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("numpy", "ndarray"):
            return self._array
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy arrays are allowed in dataset files"
            ) from None


def _read_pickle(path: Path) -> Any:
    with open(path, "rb") as fh:
        try:
            return _ArrayUnpickler(fh, encoding="bytes", max_bytes=path.stat().st_size).load()
        except pickle.UnpicklingError as exc:
            raise pickle.UnpicklingError(f"{path}: {exc}") from exc


def _read_cifar_batches(paths: list[Path], label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for path in paths:
        batch = _read_pickle(path)
        if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
            raise ValueError(f"{path}: expected a dict with keys b'data' and {label_key!r}")
        x = np.asarray(batch[b"data"])
        y = np.asarray(batch[label_key], dtype=np.int64)
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or y.shape != (len(x),):
            raise ValueError(f"{path}: data is {x.dtype} {x.shape}, labels {y.shape}; expected uint8 [N, 3072] and [N]")
        xs.append(x.reshape(-1, 3, 32, 32))  # rows are channel-major: 1024 red, 1024 green, 1024 blue
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _read_cifar(key: str, root: Path) -> tuple[np.ndarray, ...]:
    directory = root / _SUBDIR[key]
    train_files, test_files = _CIFAR_FILES[key]
    missing = [f for f in train_files + test_files if not (directory / f).is_file()]
    if missing:
        raise _not_found(key, root, missing)
    label_key = b"labels" if key == "cifar10" else b"fine_labels"
    x_train, y_train = _read_cifar_batches([directory / f for f in train_files], label_key)
    x_test, y_test = _read_cifar_batches([directory / f for f in test_files], label_key)
    return x_train, y_train, x_test, y_test
