"""Sharpness along a training run: the top Hessian eigenvalue at checkpoints, against the edge of stability 2/η.

Gradient descent with learning rate ``η`` on a quadratic of curvature ``λ`` multiplies the distance to
the minimum by ``1 - ηλ`` at every step, so it converges if and only if ``λ < 2/η``
(:func:`quadratic_gd_factor`). Cohen et al. (2021) found that full-batch gradient descent on a neural
network drives its *sharpness*, the top eigenvalue of the Hessian, up to that threshold (progressive
sharpening) and then keeps it there (the edge of stability) while the loss goes on falling, not
monotonically. :func:`sharpness_along_run` trains once with :func:`lsl.training.trainer.train` and
measures the sharpness at the start and every few steps by Lanczos
(:func:`lsl.curvature.hessian.top_eigenvalues`); the frozen :class:`SharpnessRun` holds it beside the
learning rate at each checkpoint and the loss at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lsl import arguments
from lsl.curvature import hessian
from lsl.landscape import Landscape
from lsl.settings import TrainSettings
from lsl.probes.trajectory import train_with_snapshots

__all__ = ["SharpnessRun", "sharpness_along_run", "quadratic_gd_factor"]


def quadratic_gd_factor(curvature: float, lr: float) -> float:
    """How much one gradient-descent step shrinks the distance to the minimum of a quadratic: ``|1 - lr * curvature|``.

    On ``f(x) = curvature / 2 * x**2`` a step is ``x -> (1 - lr * curvature) x``, so ``t`` steps multiply
    ``|x|`` by this factor to the power ``t``: gradient descent converges when it is below 1, that is
    when ``0 < curvature < 2 / lr``, and diverges when ``curvature > 2 / lr``. Along each eigenvector of a
    quadratic's Hessian the same holds with its eigenvalue.

    Args:
        curvature: the second derivative (an eigenvalue of the Hessian).
        lr: the learning rate, ``> 0``.
    """
    lr = arguments.number("lr", lr, low=0.0, low_open=True)
    return abs(1.0 - lr * float(curvature))


@dataclass(frozen=True)
class SharpnessRun:
    """The sharpness along one training run (:func:`sharpness_along_run`).

    Attributes:
        steps: the checkpoints, in increasing order (``0`` is the start, the last one the end of the run).
        sharpness: the top Hessian eigenvalue at each checkpoint, ``[n]`` (float64, on the CPU).
        lrs: the learning rate of the step taken from each checkpoint (at the end of the run: of the last step), ``[n]``.
        losses: the training objective at every step, before the step (``losses[t]`` at the parameters after
            ``t`` steps; for full-batch training without dropout, the training loss), ``[steps]`` (on the CPU).
        points: the parameters at the checkpoints, ``[n, D]`` (on the landscape's device).
        theta: the end of the run ``[D]``.
    """

    steps: tuple[int, ...]
    sharpness: torch.Tensor
    lrs: torch.Tensor
    losses: torch.Tensor
    points: torch.Tensor
    theta: torch.Tensor

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def edge(self) -> torch.Tensor:
        """The edge of stability ``2 / lr`` at each checkpoint, ``[n]``."""
        return 2.0 / self.lrs

    @property
    def ratio(self) -> torch.Tensor:
        """The sharpness over the edge of stability, ``sharpness * lr / 2``, at each checkpoint (1 is the edge), ``[n]``."""
        return self.sharpness * self.lrs / 2.0

    def after(self, step: int) -> "SharpnessRun":
        """The same run restricted to the checkpoints at or after ``step`` (the losses of those steps too)."""
        keep = [i for i, s in enumerate(self.steps) if s >= step]
        return SharpnessRun(tuple(self.steps[i] for i in keep), self.sharpness[keep], self.lrs[keep],
                            self.losses[step:], self.points[keep], self.theta)


def sharpness_along_run(
    landscape: Landscape,
    *,
    settings: TrainSettings,
    every: int,
    theta0: torch.Tensor | None = None,
    curvature: Landscape | None = None,
    tol: float = 1e-4,
    seed: int = 0,
    cache: bool = True,
) -> SharpnessRun:
    """Train from ``theta0``, then the top Hessian eigenvalue at the start and every ``every`` steps.

    The run is :func:`lsl.training.trainer.train` with ``settings`` (full batch unless
    ``settings.batch_size`` is set: the edge of stability is a statement about full-batch gradient
    descent, ``optimizer="sgd"`` without momentum); the sharpness at each checkpoint is
    :func:`lsl.curvature.hessian.top_eigenvalues` with ``k = 1``, so the numbers are those of the loop::

        run = train(L, theta0, settings=settings, snapshot_every=every)
        sharpness = [top_eigenvalues(L, p, 1)[0] for p in [theta0, *run.snapshots]]

    Args:
        landscape: what to train (a network with data, or the toy model).
        settings: the optimiser settings (``steps`` and ``lr`` must be set).
        every: a checkpoint every this many steps (``>= 1``); the end of the run is always one.
        theta0: the start (default: the landscape's ``theta0``).
        curvature: the landscape whose Hessian is taken (default: ``landscape``), e.g. ``landscape.subset(n)``.
        tol: the residual tolerance of the Lanczos iteration, relative to the eigenvalue.
        seed: seeds Lanczos's start vectors.
        cache: load the training run from / store it in :mod:`lsl.cache` (the sharpness is recomputed).

    Returns:
        a :class:`SharpnessRun`.

    Raises:
        TypeError: if ``settings`` is not a :class:`~lsl.settings.TrainSettings`.
        ValueError: for ``every`` out of range, a missing ``steps`` or ``lr``, or a curvature landscape of
            another dimension.
    """
    every = arguments.integer("every", every, low=1)
    tol = arguments.number("tol", tol, low=0.0, low_open=True)
    curvature, start, run = train_with_snapshots("sharpness_along_run", landscape, settings, curvature=curvature,
                                                 theta0=theta0, every=every, cache=cache)
    steps = (0, *run.snapshot_steps)
    points = torch.stack([start.to(run.theta.dtype), *(run.snapshots if run.snapshots is not None else [])])
    tops = [float(hessian.top_eigenvalues(curvature, p, 1, tol=tol, seed=seed)[0]) for p in points]
    lrs = run.lrs.to(torch.float64)
    at = [lrs[min(s, len(lrs) - 1)].item() if len(lrs) else float(settings.lr) for s in steps]
    return SharpnessRun(steps, torch.tensor(tops, dtype=torch.float64), torch.tensor(at, dtype=torch.float64),
                        run.losses.detach().cpu(), points, run.theta)
