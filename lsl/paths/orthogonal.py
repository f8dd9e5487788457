"""Optimising points inside the affine subspace orthogonal to given directions.

The step shared by the paths between optima: a tunnel (:mod:`lsl.paths.tunnels`;
Fort & Jastrzebski, Section 4.2) optimises each division point of the line
between two optima inside the ``(D-1)``-dimensional hyperplane normal to the
line; an m-connector (:mod:`lsl.paths.connectors`; Section 4.3) optimises points inside
the ``(D-m)``-dimensional subspace orthogonal to a simplex. :func:`optimize_orthogonal` does both: a point
moves by ``(I - U U^T) z``, with ``U`` an orthonormal basis of the directions, so its
component along them never changes. Many points are optimised at once, as one batch.
"""

from __future__ import annotations

from typing import Callable

import torch

from lsl.landscape import Landscape
from lsl.settings import check_settings, SUBSPACE_DEFAULTS, trainer, TrainSettings
from lsl.training.trainer import landscape_objective, minimize

__all__ = ["optimize_orthogonal"]

#: Up to this many runs of points sharing a set of directions, the projection is one matrix product per run;
#: beyond, one batched product over all points (every point with its own, zero-padded basis).
_MAX_RUNS = 64


def _orthogonal_projector(landscape: Landscape, directions, K: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``z -> z`` minus its component along the directions (shared ``[m, D]``, or one set per point)."""
    if isinstance(directions, torch.Tensor):
        directions = landscape.check_theta(directions, "directions")
        if directions.dim() == 1:
            directions = directions.unsqueeze(0)
        basis, _ = torch.linalg.qr(directions.T)  # [D, m], orthonormal columns
        return lambda z: z - (z @ basis) @ basis.T
    sets = list(directions)
    if len(sets) != K:
        raise ValueError(f"give one set of directions per point: {len(sets)} sets for {K} points")
    bases, done = [], {}  # the basis of a set given for many points (a simplex's grid points) is computed once
    for k, d in enumerate(sets):
        if id(d) not in done:
            checked = landscape.check_theta(d, f"directions[{k}]")
            done[id(d)] = torch.linalg.qr((checked.unsqueeze(0) if checked.dim() == 1 else checked).T)[0]
        bases.append(done[id(d)])
    # consecutive points with the same set (the grid points of one simplex) form a run, projected with one
    # matrix product; a batched product per point would multiply K tiny matrices one by one
    runs: list[list] = []
    for k, b in enumerate(bases):
        if runs and runs[-1][2] is b:
            runs[-1][1] = k + 1
        else:
            runs.append([k, k + 1, b])
    if len(runs) <= _MAX_RUNS:
        sizes, run_bases = [e - a for a, e, _ in runs], [b for _, _, b in runs]
        # split, not z[a:e]: the backward pass of a split is one concatenation, that of each slice a full-size zero tensor
        return lambda z: torch.cat([part - (part @ b) @ b.T for part, b in zip(z.split(sizes), run_bases)])
    m_max = max(b.shape[1] for b in bases)
    # zero columns pad the smaller sets: they remove nothing
    basis = torch.stack([torch.nn.functional.pad(b, (0, m_max - b.shape[1])) for b in bases])  # [K, D, m_max]
    return lambda z: z - torch.einsum("kdm,km->kd", basis, torch.einsum("kd,kdm->km", z, basis))


@trainer(SUBSPACE_DEFAULTS)
def optimize_orthogonal(
    landscape: Landscape,
    points: torch.Tensor,
    directions,
    *,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    target_loss: float | torch.Tensor | None = None,
    check_every: int = 100,
) -> torch.Tensor:
    """Minimise the loss of each point inside the affine subspace through it orthogonal to ``directions``.

    This is the step shared by tunnels (one direction: the line between two
    optima, leaving a ``(D-1)``-dimensional hyperplane) and m-connectors
    (``m`` directions spanning a simplex, leaving ``D-m`` dimensions). The
    constraint is exact: a point moves by ``(I - U U^T) z`` where ``U`` is an
    orthonormal basis of the directions, so its component along them never changes.

    With ``target_loss`` each point stops where its full training loss first
    falls to the target (checked every ``check_every`` steps): points optimised
    this way are compared at a matched loss, not after a matched number of steps.
    A point that never reaches the target is returned at the end of training.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay): all of them; ``batch_size``, ``l2`` and ``seed`` make the landscape's
    objective (:func:`lsl.training.trainer.landscape_objective`), the others drive :func:`lsl.training.trainer.minimize`.

    Args:
        landscape: what to minimise.
        points: starting points ``[K, D]`` (all optimised at once, as one batch).
        directions: ``[m, D]`` (or ``[D]``) directions shared by all points, or a
            sequence of ``K`` tensors ``[m_k, D]``, one set per point (e.g. the
            centroids of simplices of different dimensions, optimised as one batch).
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
        target_loss: stop each point at this full training loss (``None``: run all steps); a float for
            every point, or a tensor ``[K]`` with one target per point (points of several seeds, each
            matched to its own optima's loss).
        check_every: steps between checks of the target.

    Returns:
        the optimised points ``[K, D]``, on the landscape's device.
    """
    s = check_settings(settings, who="optimize_orthogonal")
    steps = s.steps
    points = landscape.check_theta(points, "points")
    if points.dim() == 1:
        points = points.unsqueeze(0)
    if check_every < 1:
        raise ValueError(f"check_every must be >= 1, got {check_every}")
    constrain = _orthogonal_projector(landscape, directions, points.shape[0])
    objective = landscape_objective(landscape, batch_size=s.batch_size, l2=s.l2, seed=s.seed)
    until = None
    if target_loss is not None:
        target_loss = torch.as_tensor(target_loss, dtype=points.dtype).to(points.device)
        if target_loss.dim() > 1 or (target_loss.dim() == 1 and target_loss.shape[0] != points.shape[0]):
            raise ValueError(f"target_loss must be a number or one target per point ([{points.shape[0]}]); "
                             f"got shape {tuple(target_loss.shape)}")
        done = torch.zeros(points.shape[0], dtype=torch.bool, device=points.device)
        kept = points.clone()

        def until(z: torch.Tensor, step: int) -> bool:
            if step % check_every and step != steps:
                return False
            left = (~done).nonzero().squeeze(1)               # only the points still short of their target
            now = points[left] + constrain(z)[left]
            goal = target_loss[left] if target_loss.dim() else target_loss
            reached = landscape.loss(now) <= goal
            kept[left[reached]] = now[reached]
            done[left[reached]] = True
            return bool(done.all())

    z0 = torch.zeros_like(points)
    run = minimize(lambda z, step: objective(points + constrain(z)), z0, settings=s, until=until, desc="orthogonal")
    final = (points + constrain(run.theta)).detach()
    if target_loss is not None:
        final = torch.where(done.unsqueeze(1), kept, final)
    return final
