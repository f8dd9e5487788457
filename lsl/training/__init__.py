"""Training on a landscape: one model, many models as rows of one tensor, families of models.

:mod:`~lsl.training.trainer` trains one point (optimisers, learning-rate schedules, snapshots, the
cache of trained optima); :mod:`~lsl.training.rows` trains ``B`` models at once to a target loss,
each with its own learning rate and L2 strength; :mod:`~lsl.training.families` trains families of
optima that differ in one hyperparameter, at a matched training loss. Every trainer takes a
:class:`lsl.settings.TrainSettings`.

Builds on the core only.
"""

from lsl.training import trainer, rows, families

#: The modules of this family, in the order they build on each other.
MODULES = ('trainer', 'rows', 'families')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ()

__all__ = [*MODULES]
