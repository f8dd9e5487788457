"""Spectra along a training run: train once, then the top of the Hessian spectrum at each snapshot.

The experiments of Fort & Ganguli (outliers, gradient confinement, the curvature transient) all
have the same shape: train a network, keep its parameters every few steps, and compute the top
eigenvalues of the Hessian (with or without eigenvectors) at the start and at some of those
snapshots. :func:`spectra_along_run` does that in one call and returns a frozen
:class:`RunSpectra`: the steps, the points, the eigenvalues (and eigenvectors) at each, and the
end of the run. The training is :func:`lsl.training.trainer.train` (cached on disk with
``cache=True``), the eigenvalues :func:`lsl.curvature.hessian.top_eigenvalues`, so the numbers
are those of the plain loop::

    run = train(L, L.theta0, settings=settings, snapshot_every=every)
    points = [L.theta0, *run.snapshots]
    spectra = [top_eigenvalues(L, p, k) for p in points]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from lsl import arguments
from lsl.curvature import hessian
from lsl.landscape import Landscape
from lsl.settings import TrainSettings
from lsl.training import trainer

__all__ = ["RunSpectra", "spectra_along_run"]


@dataclass(frozen=True)
class RunSpectra:
    """The top of the Hessian spectrum at points along one training run (:func:`spectra_along_run`).

    Its tensors are on the device of the landscape whose curvature was computed.

    Attributes:
        steps: the training step of each point, in increasing order (``0`` is the start).
        points: the parameters at those steps, ``[n, D]``.
        eigenvalues: the top ``k`` eigenvalues at each point, descending, ``[n, k]``.
        eigenvectors: the matching unit eigenvectors ``[n, k, D]``, or ``None`` if not asked for.
        theta: the end of the run ``[D]`` (the last snapshot only if the run's length is a multiple
            of the snapshot interval).
    """

    steps: tuple[int, ...]
    points: torch.Tensor
    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor | None
    theta: torch.Tensor

    def __len__(self) -> int:
        return len(self.steps)

    def index(self, step: int) -> int:
        """The position of ``step`` in :attr:`steps`.

        Raises:
            ValueError: if the step was not measured, naming the steps that were.
        """
        if step not in self.steps:
            raise ValueError(f"step {step!r} was not measured; the measured steps are {list(self.steps)}")
        return self.steps.index(step)

    def select(self, steps: Sequence[int]) -> RunSpectra:
        """The same run restricted to some of its measured ``steps`` (in the order given).

        Raises:
            ValueError: if a step was not measured.
        """
        rows = [self.index(s) for s in arguments.integers("steps", steps, low=0)]
        return RunSpectra(tuple(self.steps[i] for i in rows), self.points[rows], self.eigenvalues[rows],
                          None if self.eigenvectors is None else self.eigenvectors[rows], self.theta)


def train_with_snapshots(caller: str, landscape: Landscape, settings: TrainSettings, *,
                         curvature: Landscape | None, theta0: torch.Tensor | None, every: int, cache: bool):
    """Train with a snapshot every ``every`` steps, for a probe that measures curvature along the run.

    Checks ``settings`` and that ``curvature`` (default: ``landscape`` itself) has the trained landscape's
    dimension; returns ``(curvature, start, run)``, with ``run`` the :class:`~lsl.training.trainer.TrainResult`.
    ``caller`` names the probe in the error messages.
    """
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"{caller}: settings must be a lsl.settings.TrainSettings, got {type(settings).__name__}")
    curvature = landscape if curvature is None else curvature
    if curvature.D != landscape.D:
        raise ValueError(f"the curvature landscape has D = {curvature.D}, the trained one D = {landscape.D}: "
                         "pass the same network (e.g. landscape.subset(n))")
    start = landscape.theta0 if theta0 is None else theta0
    run = trainer.train(landscape, start, settings=settings, snapshot_every=every, cache=cache)
    return curvature, start, run


def spectra_along_run(
    landscape: Landscape,
    k: int,
    *,
    settings: TrainSettings,
    snapshot_every: int,
    at: Sequence[int] | None = None,
    theta0: torch.Tensor | None = None,
    curvature: Landscape | None = None,
    eigenvectors: bool = False,
    tol: float = 1e-6,
    cache: bool = True,
) -> RunSpectra:
    """Train from ``theta0``, then the top ``k`` Hessian eigenvalues at the start and at the snapshots.

    Args:
        landscape: what to train (a network with data, or the toy model).
        k: how many eigenvalues at each point, ``1 <= k <= D``.
        settings: the optimiser settings of :func:`lsl.training.trainer.train` (``steps`` and ``lr``
            must be set).
        snapshot_every: keep the parameters every this many steps (``>= 1``).
        at: the steps at which to compute the spectrum, each ``0`` (the start) or a snapshot's step
            (default: the start and every snapshot).
        theta0: the start (default: the landscape's ``theta0``).
        curvature: the landscape whose Hessian is taken at each point (default: ``landscape``), e.g.
            ``landscape.subset(n)`` for the Hessian of the first ``n`` training examples.
        eigenvectors: also keep the eigenvectors (``[n, k, D]``; memory grows with ``k * D``).
        tol: the residual tolerance of :func:`lsl.curvature.hessian.top_eigenvalues`.
        cache: load the training run from / store it in :mod:`lsl.cache` (the spectra are recomputed).

    Returns:
        a :class:`RunSpectra`, its tensors on the curvature landscape's device.

    Raises:
        TypeError: if ``settings`` is not a :class:`~lsl.settings.TrainSettings`.
        ValueError: for ``k`` or ``snapshot_every`` out of range, or a step in ``at`` that is neither
            ``0`` nor a snapshot's step (the message lists the snapshot steps).
    """
    k = arguments.integer("k", k, low=1, high=landscape.D)
    snapshot_every = arguments.integer("snapshot_every", snapshot_every, low=1)
    eigenvectors = arguments.flag("eigenvectors", eigenvectors)
    tol = arguments.number("tol", tol, low=0.0, low_open=True)
    wanted = None if at is None else arguments.integers("at", at, low=0)
    curvature, start, run = train_with_snapshots("spectra_along_run", landscape, settings, curvature=curvature,
                                                 theta0=theta0, every=snapshot_every, cache=cache)
    by_step = {0: start, **dict(zip(run.snapshot_steps, run.snapshots if run.snapshots is not None else []))}
    steps = sorted(by_step) if wanted is None else wanted
    missing = [s for s in steps if s not in by_step]
    if missing:
        raise ValueError(f"no snapshot at step(s) {missing}: the run keeps steps {sorted(by_step)} "
                         f"(snapshot_every={snapshot_every}, steps={settings.steps})")
    points = [by_step[s] for s in steps]
    tops = [hessian.top_eigenvalues(curvature, p, k, tol=tol, eigenvectors=eigenvectors) for p in points]
    values = torch.stack([t[0] if eigenvectors else t for t in tops])
    vectors = torch.stack([t[1] for t in tops]) if eigenvectors else None
    return RunSpectra(tuple(steps), torch.stack(points), values, vectors, run.theta)
