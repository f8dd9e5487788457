"""Paths between optima: lines, tunnels, Bezier curves, m-connectors, and alignment by permutation.

:mod:`~lsl.paths.tunnels` (straight lines, barriers, low-loss tunnels of Section 4.2, Bezier
curves), :mod:`~lsl.paths.connectors` (m-connectors, Section 4.3), :mod:`~lsl.paths.orthogonal`
(the optimiser both use: points moved inside the subspace orthogonal to given directions) and
:mod:`~lsl.paths.permutations` (the permutation symmetry of hidden units, weight matching, REPAIR) and
:mod:`~lsl.paths.stale_statistics` (the straight line between batch-norm networks with their statistics interpolated, not reset).

Builds on the core, :mod:`lsl.data` and :mod:`lsl.training`.
"""

from lsl.paths import orthogonal, tunnels, connectors, permutations, stale_statistics

#: The modules of this family, in the order they build on each other.
MODULES = ('orthogonal', 'tunnels', 'connectors', 'permutations', 'stale_statistics')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ('data', 'training')

__all__ = [*MODULES]
