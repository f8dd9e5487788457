"""Data and architectures: what a landscape is built from.

The book's offline datasets and the papers' image datasets read from disk in their own formats
(:mod:`~lsl.data.datasets`, :mod:`~lsl.data.files`), and the networks the chapters train
(:mod:`~lsl.data.nets`, with a builder of a network landscape on a dataset).

Builds on the core only (:mod:`lsl.network`, :mod:`lsl.cache`).
"""

from lsl.data import datasets, files, nets

#: The modules of this family, in the order they build on each other.
MODULES = ('datasets', 'files', 'nets')
#: The families (besides the core) that this family may import (``tests/test_layers.py`` checks it).
BUILDS_ON: tuple[str, ...] = ()

__all__ = [*MODULES]
