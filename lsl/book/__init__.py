"""The book layer: what the chapters need around the computation.

- :mod:`~lsl.book.profiles`: the active profile (``quick``, ``paper``, ``smoke``) and
  :func:`~lsl.book.profiles.check_at_scale`, the chapters' assertion of a paper's claim;
- :mod:`~lsl.book.sizes`: every chapter's sizes in ``quick`` and ``paper``; :mod:`~lsl.book.smoke`:
  the rule that derives the ``smoke`` scale from ``paper``;
- :mod:`~lsl.book.runtime`: a chapter's set-up (device, profile, figure style), :func:`setup`;
- :mod:`~lsl.book.report`: numbers, verdicts and figures glued into the chapter's text (:func:`glue`);
- :mod:`~lsl.book.plots`: the figure helpers (they take arrays and results, never a landscape);
- :mod:`~lsl.book.explore`: figures with sliders (``ipywidgets``), loaded on first use.

A chapter opens with::

    import lsl.book
    P, cfg, device = lsl.book.setup("tunnels")

and imports what it uses, e.g. ``from lsl.book import check_at_scale, glue, plots, report``.

The computational core (every module directly in :mod:`lsl`) never imports this package
(``tests/test_layers.py`` checks it), so ``import lsl`` loads neither matplotlib nor ipywidgets
nor myst-nb; importing :mod:`lsl.book` loads matplotlib.
"""

import importlib

from . import plots, profiles, report, runtime
from .profiles import check_at_scale
from .report import glue
from .runtime import setup

#: The modules of the book layer.
MODULES = ("profiles", "sizes", "smoke", "runtime", "report", "plots", "explore")


def __getattr__(name: str):
    if name == "explore":  # ipywidgets: only the chapters that show sliders need it
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lsl.book' has no attribute {name!r}")


__all__ = ["MODULES", "check_at_scale", "explore", "glue", "plots", "profiles", "report", "runtime", "setup"]
