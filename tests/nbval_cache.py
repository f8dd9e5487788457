"""A pytest plugin: execute each chapter once per ``make test``.

nbval runs every code cell of a chapter in a kernel and fails on any error
(``--nbval-lax``: the assertions in the cells carry the checks). This plugin
keeps the outputs nbval collected and, for every chapter whose cells all
passed, stores the executed notebook in the Jupyter Book execution cache
(``_build/.jupyter_cache``, see ``_config.yml``). The book build that follows
(``execute_notebooks: cache``) then finds each chapter already executed and
renders those outputs instead of running it again. A chapter that failed is
not stored, so the book build would execute it again and fail too: neither
check is weakened.

Load it with ``python -m pytest -p tests.nbval_cache --nbval-lax book/``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat

CACHE_PATH = Path(os.environ.get("LSL_JUPYTER_CACHE", "_build/.jupyter_cache"))

_state: dict[str, dict] = {}


def _record(item) -> dict:
    path = str(item.parent.fspath)
    return _state.setdefault(path, {"nb": item.parent.nb, "outputs": {}, "ok": True, "seconds": 0.0})


def pytest_runtest_makereport(item, call):
    """Remember each nbval cell's outputs and whether it passed."""
    if type(item).__name__ != "IPyNbCell" or call.when != "call":
        return
    rec = _record(item)
    rec["seconds"] += call.stop - call.start
    if call.excinfo is not None:
        rec["ok"] = False
        return
    rec["outputs"][id(item.cell)] = list(item.test_outputs or [])


def executed_notebook(rec: dict) -> nbformat.NotebookNode | None:
    """The notebook with nbval's outputs filled in, or ``None`` if a code cell has none recorded."""
    nb = rec["nb"]
    out = copy.deepcopy(nb)
    count = 0
    for cell, cell_copy in zip(nb.cells, out.cells):
        if cell.cell_type != "code":
            continue
        if id(cell) not in rec["outputs"]:
            return None
        count += 1
        cell_copy.execution_count = count
        outputs = []
        for o in rec["outputs"][id(cell)]:
            o = nbformat.from_dict(dict(o))
            if o.output_type == "execute_result":
                o.execution_count = count
            outputs.append(o)
        cell_copy.outputs = outputs
    return out


def pytest_sessionfinish(session, exitstatus):
    """Store every fully passed chapter in the Jupyter Book execution cache."""
    if not _state:
        return
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE_PATH))
    stored = []
    for path, rec in _state.items():
        if not rec["ok"]:
            continue
        nb = executed_notebook(rec)
        if nb is None:
            continue
        seconds = rec["seconds"]
        cache.cache_notebook_bundle(CacheBundleIn(nb, uri=path, data={"execution_seconds": seconds}),
                                    check_validity=True, overwrite=True)
        stored.append(f"{Path(path).name} ({seconds:.0f} s)")
    if stored:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"nbval_cache: stored executed chapters in {CACHE_PATH}: {', '.join(stored)}")
