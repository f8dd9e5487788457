"""Subspaces: training inside random low-dimensional hyperplanes, and curvature restricted to them.

:mod:`~lsl.subspaces.projections` (random projections that span a hyperplane, dense or Fastfood),
:mod:`~lsl.subspaces.hyperplanes` (training inside them; the intrinsic dimension, Fort &
Jastrzebski's Section 4.1) and :mod:`~lsl.subspaces.goldilocks` (the Hessian restricted to random
planes; the Goldilocks zone).

Builds on the core, :mod:`lsl.training` and :mod:`lsl.curvature`.
"""

from lsl.subspaces import projections, hyperplanes, goldilocks

#: The modules of this family, in the order they build on each other.
MODULES = ('projections', 'hyperplanes', 'goldilocks')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ('training', 'curvature')

__all__ = [*MODULES]
