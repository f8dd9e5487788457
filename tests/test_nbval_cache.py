"""The nbval run stores each fully passing chapter in the Jupyter Book cache, and only those."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbval")
jupyter_cache = pytest.importorskip("jupyter_cache")

ROOT = Path(__file__).resolve().parent.parent


def _notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def test_passing_chapters_are_cached_failing_ones_are_not(tmp_path):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    _notebook(good, ["x = 6 * 7\nprint(x)", "x"])
    _notebook(bad, ["y = 1", "assert y == 2, 'the claim does not hold'"])
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "LSL_JUPYTER_CACHE": str(cache_dir)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.nbval_cache", "--nbval-lax", "--nbval-current-env",
         "-q", "-p", "no:cacheprovider", str(good), str(bad)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr          # the failing chapter fails the run
    stored = re.search(r"nbval_cache: stored executed chapters in \S+: (.*)", run.stdout)
    assert stored and "good.ipynb" in stored.group(1) and "bad.ipynb" not in stored.group(1), run.stdout

    cache = jupyter_cache.get_cache(str(cache_dir))
    record = cache.match_cache_notebook(nbformat.read(good, as_version=4))   # matched by code, as the book build does
    _, merged = cache.merge_match_into_notebook(nbformat.read(good, as_version=4))
    code = [c for c in merged.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2]
    assert code[0].outputs[0]["text"] == "42\n"
    assert code[1].outputs[0]["data"]["text/plain"] == "42"
    assert record.data["execution_seconds"] >= 0
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(bad, as_version=4))
