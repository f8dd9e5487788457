"""lsl: the computations behind the executable textbook on loss-landscape structure.

The central object is a :class:`~lsl.landscape.Landscape`: a scalar loss over a
flat parameter vector, implemented by the toy n-wedge model
(:class:`~lsl.toy.WedgeLandscape`) and by networks with data
(:class:`~lsl.landscape.NetworkLandscape`). Every experiment is a function of
a landscape, so it runs unchanged on both.

Modules: :mod:`~lsl.landscape`, :mod:`~lsl.stack`, :mod:`~lsl.toy`, :mod:`~lsl.data`,
:mod:`~lsl.nets`, :mod:`~lsl.train`, :mod:`~lsl.subspace`, :mod:`~lsl.projections`,
:mod:`~lsl.curvature`, :mod:`~lsl.logits`, :mod:`~lsl.spectrum`, :mod:`~lsl.connect`,
:mod:`~lsl.probe`, :mod:`~lsl.planes`, :mod:`~lsl.operators`, :mod:`~lsl.permute`, :mod:`~lsl.sweep`, :mod:`~lsl.ensembles`, :mod:`~lsl.profiles`, :mod:`~lsl.runtime`,
:mod:`~lsl.cache`, :mod:`~lsl.plots`, :mod:`~lsl.report`, :mod:`~lsl.explore`.
"""

from . import (cache, connect, curvature, data, ensembles, explore, landscape, logits, nets, operators, permute, planes, probe,
               profiles, projections, report, runtime, spectrum, stack, subspace, sweep, toy, train)
from .landscape import FlatView, Landscape, NetworkLandscape
from .toy import WedgeLandscape

__version__ = "0.1.0"

__all__ = [
    "Landscape", "NetworkLandscape", "FlatView", "WedgeLandscape",
    "cache", "connect", "curvature", "data", "ensembles", "explore", "landscape", "logits", "nets", "operators", "permute", "planes", "probe", "profiles",
    "projections", "report", "runtime", "spectrum", "stack", "subspace", "sweep", "toy", "train",
]
