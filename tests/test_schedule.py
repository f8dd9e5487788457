"""Tests for tests/schedule.py, the plugin that shares make test between the cores."""

from __future__ import annotations

from pathlib import Path

from tests import schedule

ROOT = Path(__file__).resolve().parent.parent


def test_every_file_named_first_exists():
    """A renamed chapter or test module would silently drop out of the order: each name must match a file."""
    for prefix in schedule.FIRST:
        assert (ROOT / prefix).exists(), f"tests/schedule.py FIRST names {prefix!r}, which is no file of the repository"


def test_long_files_first_and_the_rest_after_in_their_order():
    assert schedule.rank("tests/test_colab_install.py") == 0
    assert schedule.rank("book/connectors.ipynb") < schedule.rank("tests/test_smoke.py") < schedule.rank("book/toy_model.ipynb")
    assert schedule.rank("tests/test_trainer.py") == schedule.rank("tests/test_toy.py") == len(schedule.FIRST)


def test_worker_threads_share_the_cores():
    assert schedule.worker_threads(2, 2) == 1
    assert schedule.worker_threads(2, 16) == 8
    assert schedule.worker_threads(4, 2) == 1
    assert schedule.worker_threads(1, 2) == 2
