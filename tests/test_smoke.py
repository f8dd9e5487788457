"""Every chapter runs the paper profile's code paths at the smoke scale, on a CPU.

``LSL_PROFILE=smoke`` is the ``paper`` profile shrunk by a rule (:func:`lsl.book.profiles.derive_smoke`):
the same datasets, architectures and optimisers, tiny counts. The paper datasets are replaced by small
files in their real on-disk formats (:mod:`tests.fake_datasets`), written into a temporary
``LSL_DATA_DIR``; trained models go to a temporary ``LSL_CACHE_DIR`` of their own, so nothing is
shared with the ``quick`` profile's cache. Each ``book/*.ipynb`` (a new chapter too) is executed with
nbclient in a fresh kernel, from ``book/``, on the CPU. A claim that holds only at the real scale is
skipped by :meth:`lsl.book.profiles.Profile.check_at_scale`, which prints which claim and why: the test shows those
lines, and checks that every such line names its claim.

Each chapter's wall time is printed (``pytest -s`` or the captured output of a failure shows it).

The verdicts a chapter records at this scale are compared with the committed ones in
``book/verdicts/smoke/<chapter>.json``, by the rule the book build applies to the ``quick`` profile
(``_ext/scorecard.py``): a changed verdict fails until the record is updated in the same commit
(``LSL_RECORD_VERDICTS=1`` writes it), unless it is borderline.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from tests import fake_datasets

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
SKIPPED = re.compile(r"^\[smoke\] not checked: (?P<claim>.+?) \(a claim that holds only", re.M)
#: seconds a single cell may take before the run is abandoned (the whole book takes well under this)
CELL_TIMEOUT = 300


@pytest.fixture(scope="module")
def smoke_env(tmp_path_factory):
    """Fake paper datasets and a fresh cache, shared by the chapters of one session."""
    data_dir = fake_datasets.write_all(tmp_path_factory.mktemp("smoke_data"))   # the smoke scale's sizes
    return {
        "LSL_PROFILE": "smoke",
        "LSL_DEVICE": "cpu",
        "LSL_DATA_DIR": str(data_dir),
        "LSL_CACHE_DIR": str(tmp_path_factory.mktemp("smoke_cache")),
        "LSL_PROGRESS": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MPLBACKEND": "Agg",
    }


def execute(path: Path, env: dict[str, str], monkeypatch) -> "nbformat.NotebookNode":  # noqa: F821
    """Run a copy of the notebook at ``path`` in a fresh kernel with ``env``; the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    for key, value in env.items():  # the kernel inherits this process's environment
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
    return "".join(parts)


def verdict_records(nb) -> dict[str, dict]:
    """``{claim: record}`` of the verdicts an executed notebook recorded (``lsl.book.report.verdict``)."""
    from lsl.book.report import VERDICT_PREFIX

    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = ((out.get("metadata") or {}).get("scrapbook") or {}).get("name", "")
            if name.startswith(VERDICT_PREFIX):
                text = next(v for k, v in out["data"].items() if k.endswith("text/plain"))  # myst-nb's glue mime type
                found[name[len(VERDICT_PREFIX):]] = json.loads(ast.literal_eval(text))
    return found


def scorecard_extension():
    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import scorecard
    finally:
        sys.path.remove(str(ROOT / "_ext"))
    return scorecard


def test_there_are_chapters():
    assert len(CHAPTERS) >= 6, "expected every chapter of the book under book/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_at_smoke_scale(path, smoke_env, monkeypatch, capsys):
    t0 = time.perf_counter()
    nb = execute(path, smoke_env, monkeypatch)
    seconds = time.perf_counter() - t0
    text = outputs_text(nb)
    assert "profile smoke" in text, "the set-up line should report the smoke profile"
    skipped = SKIPPED.findall(text)
    with capsys.disabled():
        print(f"\n[smoke] {path.stem}: {seconds:.1f} s, {len(skipped)} claim(s) not checked at this scale")
        for claim in skipped:
            print(f"    not checked: {claim}")
    assert all(claim.strip("'\" ") for claim in skipped), "every skipped claim must say what it claims"
    records = verdict_records(nb)
    if records:
        scorecard = scorecard_extension()
        listed = {c["id"]: c for c in scorecard.load_claims(ROOT / "lsl" / "book" / "claims.yml")}
        scorecard.compare_records({f"book/{path.stem}": records}, listed, ROOT / "book" / "verdicts" / "smoke",
                                  write=os.environ.get("LSL_RECORD_VERDICTS") == "1")
