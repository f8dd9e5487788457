"""A Sphinx extension for the book: a student edition, without the exercises' solutions.

``LSL_EDITION=student`` (or ``lsl_edition = "student"`` in the Sphinx config) builds the book without
the solutions: every admonition whose title starts with "Solution" (the chapters write them as
``{admonition} Solution`` with ``:class: dropdown``) is removed, in notebooks and Markdown pages alike,
and the number removed is logged. The default edition (``full``) keeps them, folded away.

Build a student edition into its own folder, so that it never mixes with the full one::

    LSL_EDITION=student .venv/bin/jupyter-book build . --path-output _build/student

(the chapters' executed outputs come from the execution cache when the sources have not changed).
"""

from __future__ import annotations

import os

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

EDITIONS = ("full", "student")


def is_solution(node: nodes.Node) -> bool:
    """An admonition titled "Solution ..." (any case)."""
    if not isinstance(node, nodes.admonition):
        return False
    titles = [c for c in node.children if isinstance(c, nodes.title)]
    return bool(titles) and titles[0].astext().strip().lower().startswith("solution")


def drop_solutions(app, doctree) -> None:
    """``doctree-read``: in the student edition, remove every solution admonition of the document."""
    edition = app.config.lsl_edition
    if edition not in EDITIONS:
        from sphinx.errors import ConfigError

        raise ConfigError(f"lsl_edition (LSL_EDITION) must be one of {', '.join(EDITIONS)}, got {edition!r}")
    if edition != "student":
        return
    solutions = [n for n in doctree.findall(nodes.admonition) if is_solution(n)]
    for node in solutions:
        node.parent.remove(node)
    if solutions:
        logger.info(f"student edition: removed {len(solutions)} solutions from {app.env.docname}")


def setup(app):
    app.add_config_value("lsl_edition", os.environ.get("LSL_EDITION", "full").strip().lower() or "full", "env")
    app.connect("doctree-read", drop_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
