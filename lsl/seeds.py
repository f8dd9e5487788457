"""The run-wide seed: one number that shifts every seed an experiment uses, for independent repeats of a run.

Every random draw in ``lsl`` (a network's initialisation, a data set's generation or subset, the order of
minibatches, a random projection, random directions, a tunnel's or a connector's start) is seeded by a
``seed`` argument, so that a chapter gives the same numbers on every run. To repeat a whole run
independently (the rungs of the scale ladder, :mod:`lsl.book.ladder`, run each of their sizes with
two run seeds), each of those seeds goes through :func:`shifted`, which adds :data:`STRIDE` times the
run seed. Run seed 0, the default, changes nothing: ``shifted(s) == s``.

The run seed is set for the process with :func:`set_run` (:func:`lsl.book.setup` does it from the
environment variable ``LSL_SEED``); the core never reads the environment itself::

    lsl.seeds.set_run(1)     # every seed s becomes s + 10_007
"""

from __future__ import annotations

__all__ = ["STRIDE", "set_run", "run", "shifted"]

#: How far apart two run seeds put the seeds of one experiment (a prime larger than any seed a chapter uses,
#: so that the seeds of run 1 never coincide with those of run 0).
STRIDE = 10_007

_RUN = 0


def set_run(seed: int) -> None:
    """Set the run seed of this process (0: every seed as written).

    Raises:
        ValueError: for a negative or non-integer run seed.
    """
    global _RUN
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"the run seed must be a non-negative integer, got {seed!r}")
    _RUN = int(seed)


def run() -> int:
    """The run seed of this process (0 unless :func:`set_run` set another)."""
    return _RUN


def shifted(seed: int) -> int:
    """``seed`` shifted by the run seed: ``seed + STRIDE * run()`` (``seed`` itself in run 0)."""
    return int(seed) + STRIDE * _RUN
