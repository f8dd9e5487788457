"""Probes: the loss of a landscape around a point, along chosen or random directions.

:mod:`~lsl.probes.radial` (radial profiles along random directions and the radial tunnel widths of
Fort & Jastrzebski's Section 4.4) and :mod:`~lsl.probes.planes` (loss planes through three points
or along chosen directions: filter-normalised, Hessian eigenvectors, a trajectory's principal
components), :mod:`~lsl.probes.lines` (the loss along straight and random paths: the line from
initialisation, random detours between optima, radial motion), :mod:`~lsl.probes.trajectory` (the
top of the Hessian spectrum at the snapshots of a training run), :mod:`~lsl.probes.sharpness` (the top
eigenvalue along a run against the edge of stability 2/η) and :mod:`~lsl.probes.hessian_subspace`
(training with every step projected onto the top Hessian eigenspace, or with it projected out).

Builds on the core, :mod:`lsl.training` (runs to probe along, families to sweep) and
:mod:`lsl.curvature` (planes along Hessian eigenvectors, spectra along a run).
"""

from lsl.probes import radial, planes, lines, trajectory, sharpness, hessian_subspace

#: The modules of this family, in the order they build on each other.
MODULES = ('radial', 'planes', 'lines', 'trajectory', 'sharpness', 'hessian_subspace')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ('training', 'curvature')

__all__ = [*MODULES]
