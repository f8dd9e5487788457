"""Probes: the loss of a landscape around a point, along chosen or random directions.

:mod:`~lsl.probes.radial` (radial profiles along random directions and the radial tunnel widths of
Fort & Jastrzebski's Section 4.4) and :mod:`~lsl.probes.planes` (loss planes through three points
or along chosen directions: filter-normalised, Hessian eigenvectors, a trajectory's principal
components) and :mod:`~lsl.probes.lines` (the loss along straight and random paths: the line from
initialisation, random detours between optima, radial motion).

Builds on the core and :mod:`lsl.curvature` (planes along Hessian eigenvectors).
"""

from lsl.probes import radial, planes, lines

#: The modules of this family, in the order they build on each other.
MODULES = ('radial', 'planes', 'lines')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ('curvature',)

__all__ = [*MODULES]
