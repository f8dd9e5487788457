"""Training inside, or outside, the top Hessian eigenspace: Song, Ahn & Yun's Dom-SGD and Bulk-SGD.

Gur-Ari et al. (2018) and Fort & Ganguli (2019) found that the gradient lies mostly in the span of the
top few (about ``C``) Hessian eigenvectors. Song, Ahn & Yun (2025) asked whether training happens there:
*Dom-SGD* projects every step onto that span, *Bulk-SGD* projects it out. :func:`top_subspace` is the
subspace as a :class:`lsl.training.trainer.StepProjection` for the ordinary trainer (the top ``k``
eigenvectors by Lanczos, recomputed every few steps), and :func:`projected_runs` trains plain, Dom and
Bulk from the same start with the same minibatches and measures the gradient's share in the subspace
along the plain run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lsl import arguments
from lsl.curvature import hessian, spectrum
from lsl.landscape import Landscape
from lsl.settings import TrainSettings
from lsl.training import trainer

__all__ = ["top_subspace", "ProjectedRuns", "projected_runs"]


def top_subspace(landscape: Landscape, k: int, *, keep: str = "onto", every: int = 1,
                 curvature: Landscape | None = None, tol: float = 1e-3, seed: int = 0) -> trainer.StepProjection:
    """The span of the top ``k`` Hessian eigenvectors, recomputed every ``every`` steps, as a step projection.

    Pass it as ``project=`` to :func:`lsl.training.trainer.train`: ``keep="onto"`` trains with every
    step projected onto the span (Dom-SGD), ``keep="out"`` with the span projected out (Bulk-SGD).

    Args:
        landscape: the landscape whose Hessian is taken (e.g. the trained network, or ``net.subset(n)``).
        k: how many eigenvectors, ``1 <= k <= D``.
        keep: ``"onto"`` or ``"out"``.
        every: recompute the eigenvectors every this many steps.
        curvature: the landscape whose Hessian is taken, if not ``landscape``.
        tol: the residual tolerance of :func:`lsl.curvature.hessian.top_eigenvalues`.
        seed: seeds Lanczos's start vectors.
    """
    curvature = landscape if curvature is None else curvature
    k = arguments.integer("k", k, low=1, high=curvature.D)

    def basis(x: torch.Tensor, step: int) -> torch.Tensor:
        return hessian.top_eigenvalues(curvature, x, k, eigenvectors=True, tol=tol, seed=seed)[1]

    return trainer.StepProjection(basis, every=every, keep=keep)


@dataclass(frozen=True)
class ProjectedRuns:
    """Plain training beside Dom (steps projected onto the top eigenspace) and Bulk (projected out) (:func:`projected_runs`).

    Attributes:
        runs: ``{"plain": ..., "dom": ..., "bulk": ...}``, each a :class:`lsl.training.trainer.TrainResult`.
        losses: the full-batch training loss (eval mode) at the start and at the end of each run, ``{name: (start, end)}``.
        fractions: the share of the full-batch gradient's ``|g|^2`` in the top ``k`` eigenspace at each recomputation
            point of the plain run (the start first).
        steps: the steps of those points.
        k: the subspace's dimension.
    """

    runs: dict
    losses: dict
    fractions: tuple[float, ...]
    steps: tuple[int, ...]
    k: int

    def progress(self, name: str) -> float:
        """How far run ``name`` lowered the training loss, as a share of the plain run's drop (1: as far as plain)."""
        start, end = self.losses[name]
        p_start, p_end = self.losses["plain"]
        return (start - end) / (p_start - p_end)


def projected_runs(landscape: Landscape, k: int, *, settings: TrainSettings, every: int,
                   theta0: torch.Tensor | None = None, curvature: Landscape | None = None,
                   tol: float = 1e-3) -> ProjectedRuns:
    """Train plainly, with every step projected onto the top ``k`` Hessian eigenspace, and with it projected out.

    The three runs start at the same point with the same settings (hence the same minibatches); the
    subspace is recomputed every ``every`` steps at the run's current point (:func:`top_subspace`). Along
    the plain run, at the same steps, the share of the full-batch gradient in the top ``k`` eigenspace
    (:func:`lsl.curvature.spectrum.subspace_fraction`) says how aligned the gradient is.

    Args:
        landscape: a network with data (or the toy model).
        k: the subspace's dimension (Song et al.: the number of classes).
        settings: the optimiser settings of all three runs.
        every: steps between recomputations of the subspace (and snapshots of the plain run).
        theta0: the start (default: the landscape's ``theta0``).
        curvature: the landscape whose Hessian is taken (default: ``landscape``).
        tol: the residual tolerance of the eigenvectors.

    Returns:
        a :class:`ProjectedRuns`.
    """
    curvature = landscape if curvature is None else curvature
    start = landscape.theta0 if theta0 is None else theta0
    every = arguments.integer("every", every, low=1)
    runs = {"plain": trainer.train(landscape, start, settings=settings, snapshot_every=every)}
    for keep, name in (("onto", "dom"), ("out", "bulk")):
        runs[name] = trainer.train(landscape, start, settings=settings,
                                   project=top_subspace(landscape, k, keep=keep, every=every, curvature=curvature, tol=tol))
    plain = runs["plain"]
    points = [start, *(plain.snapshots[:-1] if plain.snapshots is not None else [])]
    steps = (0, *plain.snapshot_steps[:-1])
    fractions = tuple(spectrum.subspace_fraction(
        curvature.grad(p), hessian.top_eigenvalues(curvature, p, k, eigenvectors=True, tol=tol)[1]) for p in points)
    start_loss = float(landscape.loss(start))
    losses = {name: (start_loss, float(landscape.loss(r.theta))) for name, r in runs.items()}
    return ProjectedRuns(runs, losses, fractions, steps, k)
