"""A pytest plugin: how ``make test`` shares its tests between the machine's cores (pytest-xdist).

``make test`` runs ``pytest -n <workers> --dist loadfile --no-loadscope-reorder -p tests.schedule``:

* **What stays together: a file.** The cells of a chapter (``book/*.ipynb``) run in order in one
  kernel, and a test module's module-scoped fixtures (the fresh environment of the install tests,
  the smoke test's fake datasets) are built once, so each file runs on one worker.
  (``--dist loadgroup`` could split the smoke runs by chapter, but with pytest 9 and pytest-xdist
  3.8 it does not keep a group together: xdist renames the test ids in a way pytest 9 ignores.)
* **What goes first: the long files.** A free worker takes the next file, so this plugin puts the
  files that take longest first (:data:`FIRST`, measured on 2 cores) and the short ones fill in
  at the end, where they keep both workers busy. The install tests go first of all: they mostly
  wait for pip, which leaves the other worker the cores.
* **Threads.** Two workers that each use every core would fight over them (PyTorch's threads spin
  while they wait), so each worker, and the kernels and processes it starts, uses
  ``cores // workers`` threads (at least one): ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and
  ``torch.set_num_threads``. A test that needs several threads (``test_connectors``' determinism
  test) sets them itself.

Without ``-n`` (``python -m pytest tests``) the plugin changes only the order.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: the files that go first, longest first (seconds on 2 cores, Dec 2026: the install tests ~150 mostly
#: waiting for pip, the smoke runs 190, the chapters 100-170, the device checks 80); the rest keep their order
FIRST = ("tests/test_colab_install.py", "book/connectors.ipynb", "tests/test_smoke.py", "book/hyperplanes.ipynb",
         "book/local_geometry.ipynb", "book/widths.ipynb", "book/ensembles.ipynb", "tests/test_devices.py", "book/")


def file_of(item: pytest.Item) -> str:
    """The item's file, relative to the root of the repository."""
    path = Path(str(item.fspath)).resolve()
    try:
        return path.relative_to(Path(str(item.config.rootpath)).resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def rank(name: str) -> int:
    """Where a file goes: its place in :data:`FIRST` (a prefix matches), or after all of them."""
    for i, prefix in enumerate(FIRST):
        if name.startswith(prefix):
            return i
    return len(FIRST)


def pytest_collection_modifyitems(session, config, items):
    """Put the long files first (a stable sort: the tests of a file, and a chapter's cells, keep their order)."""
    items.sort(key=lambda item: rank(file_of(item)))


def worker_threads(workers: int, cores: int) -> int:
    """Threads per worker: the cores shared out between the workers, at least one each."""
    return max(1, cores // max(1, workers))


def pytest_configure(config):
    """In a worker: share the cores out (the environment of its kernels and subprocesses, and torch itself)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return
    threads = str(worker_threads(int(workers), len(os.sched_getaffinity(0))))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads
    import torch

    torch.set_num_threads(int(threads))
