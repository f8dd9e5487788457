"""Every chapter is an output-free .ipynb paired with a py:percent twin, and the two agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))


def _strip_version(text: str) -> str:
    return re.sub(r"^#\s+jupytext_version: .*$", "", text, flags=re.M)


def test_there_are_chapters():
    assert CHAPTERS, f"no chapters found in {BOOK}"


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_pair_in_sync(nb_path: Path):
    py_path = nb_path.with_suffix(".py")
    assert py_path.exists(), f"{nb_path.name} has no py:percent twin; run `make sync`"
    nb = jupytext.read(nb_path)
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", f"{nb_path.name} is not paired with py:percent"
    expected = jupytext.writes(nb, fmt="py:percent")
    assert _strip_version(expected) == _strip_version(py_path.read_text()), (
        f"{nb_path.name} and {py_path.name} differ: edit one, then run `make sync` (jupytext --sync)"
    )


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_committed_without_outputs(nb_path: Path):
    cells = json.loads(nb_path.read_text())["cells"]
    dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{nb_path.name}: cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_no_markdown_twin(nb_path: Path):
    assert not nb_path.with_suffix(".md").exists(), "a .md twin makes Sphinx warn about duplicate documents"
