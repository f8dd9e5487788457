"""lsl: the computations behind the executable textbook on loss-landscape structure.

The central object is a :class:`~lsl.landscape.Landscape`: a scalar loss over a
flat parameter vector, implemented by the toy n-wedge model
(:class:`~lsl.toy.WedgeLandscape`) and by networks with data
(:class:`~lsl.network.NetworkLandscape`). Every experiment is a function of
a landscape, so it runs unchanged on both.

The package shows its architecture in its tree. The **core**, directly in ``lsl/``, is the
abstraction and its evaluation: :mod:`~lsl.landscape`, :mod:`~lsl.network` (with
:mod:`~lsl.network_checks`), :mod:`~lsl.toy`, :mod:`~lsl.stack`, :mod:`~lsl.batching`,
:mod:`~lsl.cache`, :mod:`~lsl.settings` and :mod:`~lsl.seeds` (the run-wide seed). Each family of methods is a subpackage whose
``__init__`` says what it is for, lists its modules (``MODULES``) and the families it may import
(``BUILDS_ON``): :mod:`lsl.data`, :mod:`lsl.training`, :mod:`lsl.curvature`, :mod:`lsl.probes`,
:mod:`lsl.subspaces`, :mod:`lsl.paths` and :mod:`lsl.ensembles`. A family imports only the core
and the families it builds on (``tests/test_layers.py`` checks it).

Around the computation, the book layer :mod:`lsl.book` (sizes per chapter and profile, a
chapter's set-up, glue, figures, widgets), which the core and the families never import;
``import lsl`` loads it only on first use of ``lsl.book``.
"""

import importlib

from lsl import arguments, batching, cache, landscape, network, network_checks, seeds, settings, stack, toy
from lsl import data, training, curvature, probes, subspaces, paths, ensembles
from lsl.landscape import FlatView, Landscape
from lsl.network import NetworkLandscape
from lsl.toy import WedgeLandscape

#: The core's modules: the landscape abstraction and its evaluation.
CORE = ("landscape", "network", "network_checks", "toy", "stack", "batching", "cache", "settings", "arguments",
        "seeds")
#: The families of methods (subpackages), each building only on the core and families before it.
FAMILIES = ("data", "training", "curvature", "probes", "subspaces", "paths", "ensembles")


def __getattr__(name: str):
    # The book layer (lsl.book: sizes per profile, set-up, figures, glue, widgets) is imported on first use,
    # so that ``import lsl`` loads neither matplotlib nor ipywidgets nor myst-nb.
    if name == "book":
        return importlib.import_module(".book", __name__)
    raise AttributeError(f"module 'lsl' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = ["Landscape", "NetworkLandscape", "FlatView", "WedgeLandscape", "CORE", "FAMILIES", "book", *CORE, *FAMILIES]
