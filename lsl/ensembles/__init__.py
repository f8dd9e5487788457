"""Ensembles: weight averaging against prediction averaging.

:mod:`~lsl.ensembles.swa` (cyclic snapshots and their weight average), :mod:`~lsl.ensembles.averaging`
(prediction averaging, its comparison with weight averaging, diversity, deep ensembles) and
:mod:`~lsl.ensembles.snapshots` (the sweep of the cyclic schedule's largest learning rate and
where training breaks down).

Builds on the core, :mod:`lsl.data`, :mod:`lsl.training` and :mod:`lsl.paths` (barriers along lines).
"""

from lsl.ensembles import swa, averaging, snapshots

#: The modules of this family, in the order they build on each other.
MODULES = ('swa', 'averaging', 'snapshots')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ('data', 'training', 'paths')

__all__ = [*MODULES]
