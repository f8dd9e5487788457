"""lsl: the computations behind the executable textbook on loss-landscape structure.

The central object is a :class:`~lsl.landscape.Landscape`: a scalar loss over a
flat parameter vector, implemented by the toy n-wedge model
(:class:`~lsl.toy.WedgeLandscape`) and by networks with data
(:class:`~lsl.network.NetworkLandscape`). Every experiment is a function of
a landscape, so it runs unchanged on both.

Modules: :mod:`~lsl.landscape`, :mod:`~lsl.network`, :mod:`~lsl.network_checks`, :mod:`~lsl.batching`, :mod:`~lsl.stack`, :mod:`~lsl.toy`, :mod:`~lsl.data`, :mod:`~lsl.data_files`,
:mod:`~lsl.nets`, :mod:`~lsl.settings`, :mod:`~lsl.train`, :mod:`~lsl.rows`, :mod:`~lsl.families`, :mod:`~lsl.subspace`,
:mod:`~lsl.projections`, :mod:`~lsl.goldilocks`,
:mod:`~lsl.matrix_free`, :mod:`~lsl.lanczos`, :mod:`~lsl.curvature`, :mod:`~lsl.logits`, :mod:`~lsl.spectrum`, :mod:`~lsl.short_directions`, :mod:`~lsl.connect`, :mod:`~lsl.connectors`, :mod:`~lsl.orthogonal`,
:mod:`~lsl.probe`, :mod:`~lsl.planes`, :mod:`~lsl.operators`, :mod:`~lsl.trace_estimators`, :mod:`~lsl.permute`, :mod:`~lsl.swa`, :mod:`~lsl.ensembles`,
:mod:`~lsl.snapshot_sweep`, :mod:`~lsl.cache`.

Two layers: the computational core (every module above) and the book layer, the subpackage
:mod:`lsl.book` (sizes per chapter and profile, a chapter's set-up, glue, figures, widgets), which the
chapters use around the computation. The core never imports the book layer (``tests/test_layers.py``),
and ``import lsl`` loads it only on first use of ``lsl.book``.
"""

import importlib

from . import (batching, cache, connect, connectors, curvature, data, data_files, ensembles, families, goldilocks, lanczos, landscape,
               logits, matrix_free, nets, network, network_checks, operators, orthogonal, permute, planes, probe, projections, rows, settings, short_directions,
               snapshot_sweep, spectrum, stack, subspace, swa, toy, trace_estimators, train)
from .landscape import FlatView, Landscape
from .network import NetworkLandscape
from .toy import WedgeLandscape


def __getattr__(name: str):
    # The book layer (lsl.book: sizes per profile, set-up, figures, glue, widgets) is imported on first use,
    # so that ``import lsl`` loads neither matplotlib nor ipywidgets nor myst-nb.
    if name == "book":
        return importlib.import_module(".book", __name__)
    raise AttributeError(f"module 'lsl' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Landscape", "NetworkLandscape", "FlatView", "WedgeLandscape",
    "batching", "book", "cache", "connect", "connectors", "curvature", "data", "data_files", "ensembles", "families", "goldilocks", "lanczos", "landscape", "logits", "matrix_free", "nets",
    "network", "network_checks", "operators", "orthogonal", "permute", "planes", "probe", "projections", "rows", "settings",
    "short_directions", "snapshot_sweep", "spectrum", "stack", "subspace", "swa", "toy", "trace_estimators", "train",
]
