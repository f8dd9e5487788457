"""A Sphinx extension for the book: MathJax served from the book itself, so that every page renders offline.

Jupyter Book loads MathJax 3 from a CDN by default; a reader without internet (a locked-down lab, a train)
would see raw LaTeX on every page. This extension points ``mathjax_path`` at a copy inside the built book,
``_static/mathjax/es5/tex-mml-chtml.js``, and copies MathJax's ``es5`` folder (its components and fonts,
which it loads on demand) there from the ``mathjax`` package of ``django-static-mathjax`` (in the book's
``book`` extra; it is only that copy of MathJax and needs no Django). The browser check
(``tests/browser_check.py``) fails on any request to another host, MathJax's included.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

#: Where the page loads MathJax from, relative to the built book's ``_static`` folder.
MATHJAX_PATH = "mathjax/es5/tex-mml-chtml.js"


def mathjax_source() -> Path | None:
    """The installed MathJax 3 (the folder that holds ``es5/``), or ``None``."""
    spec = importlib.util.find_spec("mathjax")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / "static" / "mathjax"
        if (path / "es5" / "tex-mml-chtml.js").is_file():
            return path
    return None


def _configure(app, config) -> None:
    if mathjax_source() is None:
        raise ExtensionError("MathJax 3 is not installed: pip install django-static-mathjax (the book extra "
                             "has it); the book serves MathJax itself so that its pages render offline")
    config.mathjax_path = MATHJAX_PATH


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_source() / "es5"
    target = Path(app.outdir) / "_static" / "mathjax" / "es5"
    if not (target / "tex-mml-chtml.js").is_file():
        shutil.copytree(source, target, dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _configure, priority=900)   # after Jupyter Book's own settings
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
