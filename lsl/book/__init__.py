"""The book layer: what the chapters need around the computation.

- :mod:`~lsl.book.profiles`: the profiles (``quick``, ``paper``, ``smoke``), each with
  :meth:`~lsl.book.profiles.Profile.check_at_scale`, the chapters' assertion of a paper's claim;
- :mod:`~lsl.book.sizes`: every chapter's sizes in ``quick`` and ``paper``; :mod:`~lsl.book.smoke`:
  the rule that derives the ``smoke`` scale from ``paper``;
- :mod:`~lsl.book.cases`: the robust cases (other data sets and activations) a chapter repeats its
  experiment on, each with its data loaded and a builder of the chapter's network on it;
- :mod:`~lsl.book.runtime`: a chapter's set-up (device, profile, figure style), :func:`setup`;
- :mod:`~lsl.book.report`: numbers, verdicts and figures glued into the chapter's text (:func:`glue`);
- :mod:`~lsl.book.verdicts`: the one rule that decides a verdict from the criterion declared in
  ``claims.yml`` (shipped with the package) and the chapter's measurements;
- :mod:`~lsl.book.ladder`: the scale ladder, the scale-sensitive chapters run at every rung (profile) and run
  seed, their verdicts written as records (``make records``); :mod:`~lsl.book.scale`: the page on scale's
  reader of those records (trends by the criterion declared in ``claims.yml``);
- :mod:`~lsl.book.plots`: the figure helpers (they take arrays and results, never a landscape);
- :mod:`~lsl.book.explore`: figures with sliders (``ipywidgets``), loaded on first use.

A chapter opens with::

    import lsl.book
    P, cfg, device = lsl.book.setup("tunnels")

and imports what it uses, e.g. ``from lsl.book import glue, plots, report``; a claim that holds only
at a chapter's real scale is asserted with ``P.check_at_scale(condition, claim)``.

The computational core (every module directly in :mod:`lsl`) never imports this package
(``tests/test_layers.py`` checks it), so ``import lsl`` loads neither matplotlib nor ipywidgets
nor myst-nb; importing :mod:`lsl.book` loads matplotlib.
"""

import importlib

from . import plots, profiles, report, runtime, verdicts
from .report import glue
from .runtime import setup

#: The modules of the book layer.
MODULES = ("profiles", "sizes", "smoke", "cases", "runtime", "verdicts", "report", "plots", "explore", "ladder",
           "scale")


def __getattr__(name: str):
    if name == "explore":  # ipywidgets: only the chapters that show sliders need it
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lsl.book' has no attribute {name!r}")


__all__ = ["MODULES", "explore", "glue", "plots", "profiles", "report", "runtime", "setup"]
