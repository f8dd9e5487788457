"""Curvature: the Hessian and its parts as matrix-free operators, and what is measured with them.

:mod:`~lsl.curvature.matrix_free` (a symmetric matrix seen through its products),
:mod:`~lsl.curvature.lanczos` (Krylov iterations on such an operator), :mod:`~lsl.curvature.hessian`
(the Hessian, its Gauss-Newton term G and the rest H - G of a landscape, their top eigenvalues),
:mod:`~lsl.curvature.spectrum` (the eigenvalue density, the outliers, gradient confinement),
:mod:`~lsl.curvature.short_directions`, :mod:`~lsl.curvature.trace_estimators`,
:mod:`~lsl.curvature.linear_operators` (the operators for SciPy and other tools, minibatch products)
and :mod:`~lsl.curvature.logit_gradients` (the logit gradients behind Fort & Ganguli's explanation) and
:mod:`~lsl.curvature.blocks` (how block-diagonal the Hessian is, by output unit).

Builds on the core only: curvature never trains.
"""

from lsl.curvature import matrix_free, lanczos, hessian, spectrum, short_directions, linear_operators, trace_estimators, logit_gradients, blocks

#: The modules of this family, in the order they build on each other.
MODULES = ('matrix_free', 'lanczos', 'hessian', 'spectrum', 'short_directions', 'linear_operators', 'trace_estimators', 'logit_gradients', 'blocks')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ()

__all__ = [*MODULES]
