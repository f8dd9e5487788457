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

Load it with ``python -m pytest -p tests.nbval_cache --nbval-lax book/``. Under pytest-xdist
(``make test``) each worker stores the chapters it ran, one worker at a time, and the controller
reports them.
"""

from __future__ import annotations

import copy
import fcntl
import os
from pathlib import Path

import nbformat
import pytest

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
    CACHE_PATH.mkdir(parents=True, exist_ok=True)
    # Under pytest-xdist every worker stores its own chapters: one at a time (the cache is one sqlite file).
    with open(CACHE_PATH / ".nbval_cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = _store()
    if not stored:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports (pytest_testnodedown)
        workeroutput["nbval_cache"] = stored
    else:
        _report(session.config, stored)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """On the xdist controller: report the chapters a worker stored."""
    stored = getattr(node, "workeroutput", {}).get("nbval_cache")
    if stored:
        _report(node.config, stored)


def _report(config, stored: list[str]) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"nbval_cache: stored executed chapters in {CACHE_PATH}: {', '.join(stored)}")


def _store() -> list[str]:
    """Store every fully passed chapter in the cache; their names and seconds."""
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
    return stored
