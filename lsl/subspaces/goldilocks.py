"""Curvature restricted to random hyperplanes, and the Goldilocks zone (Fort & Scherlis 2019).

The Hessian of the loss restricted to a random ``d``-dimensional plane ``theta0 + M phi``
is ``M^T H M`` (:func:`restricted_hessian`, from ``d`` Hessian-vector products per
plane, never forming ``H``). Fort & Scherlis measure two statistics of it
(:func:`curvature_stats`): the fraction of positive eigenvalues and
``Tr / ||.||_F``. Scaling a network's initialisation by ``s`` moves it along a
ray from the origin; :func:`goldilocks_scan` measures the restricted curvature at
every radius and trains random hyperplanes (:func:`lsl.subspaces.hyperplanes.train_in_hyperplanes`)
from there. In the *Goldilocks zone*, a shell of radii around the usual
initialisation, the restricted curvature is positive in most directions and
training inside low-dimensional planes works best.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from lsl.curvature.hessian import curvature_operator
from lsl.landscape import Landscape
from lsl.subspaces.projections import Projection, make_projection
from lsl.settings import check_settings, SUBSPACE_DEFAULTS, trainer, TrainSettings
from lsl.subspaces.hyperplanes import train_in_hyperplanes

__all__ = ["restricted_hessian", "curvature_stats", "goldilocks_scan", "GoldilocksScan"]


def restricted_hessian(landscape: Landscape, theta: torch.Tensor, projection: Projection, **kwargs) -> torch.Tensor:
    """The Hessian of the loss restricted to each plane, ``M^T H(theta) M``, ``[P, d, d]``.

    Computed with ``d`` Hessian-vector products per plane (batched over the plane's
    ``d`` basis vectors), never forming ``H``: the Hessian operator
    (:func:`lsl.curvature.hessian.curvature_operator`) restricted to the plane
    (:meth:`~lsl.curvature.matrix_free.SymmetricOperator.restrict`), made dense.

    Args:
        landscape: the landscape.
        theta: the point ``[D]`` (shared by all planes) or one point per plane ``[P, D]``.
        projection: the planes (:class:`~lsl.subspaces.projections.Projection`).
        **kwargs: passed to :func:`~lsl.curvature.hessian.curvature_operator`: ``idx`` (a subset of the data)
            or ``term`` (``"gauss_newton"`` or ``"rest"`` for a term of the Hessian).

    Returns:
        the symmetric restricted Hessians ``[P, d, d]``.
    """
    theta = landscape.check_theta(theta, "theta")
    cols = projection.columns().to(device=landscape.device, dtype=landscape.dtype)  # [P, d, D]
    out = []
    for p in range(projection.n_planes):
        point = theta if theta.dim() == 1 else theta[p]
        out.append(curvature_operator(landscape, point, **kwargs).restrict(cols[p]).dense())  # M^T H M, [d, d]
    return torch.stack(out)


def curvature_stats(h: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fort & Scherlis's two statistics of a (restricted) Hessian.

    Args:
        h: symmetric matrices ``[..., d, d]``.

    Returns:
        a dict with ``"fraction_positive"`` (fraction of positive eigenvalues),
        ``"trace_ratio"`` (``Tr h / ||h||_F``, between ``-sqrt(d)`` and ``sqrt(d)``; large
        and positive when the curvature is positive in most directions) and
        ``"eigenvalues"`` (``[..., d]``, ascending).
    """
    ev = torch.linalg.eigvalsh(h)
    return {
        "fraction_positive": (ev > 0).to(h.dtype).mean(-1),
        "trace_ratio": ev.sum(-1) / ev.norm(dim=-1),
        "eigenvalues": ev,
    }


@dataclass(frozen=True)
class GoldilocksScan:
    """Restricted curvature and hyperplane training at several radii of the initialisation, its tensors on the CPU.

    Attributes:
        scales: factors multiplying the initialisation ``[S]``.
        radii: ``||theta0||`` at each scale ``[S]``.
        fraction_positive: fraction of positive eigenvalues of ``M^T H M`` ``[S, P_curv]``.
        trace_ratio: ``Tr(M^T H M) / ||M^T H M||_F`` ``[S, P_curv]``.
        accuracy: accuracy after training inside random planes from each radius ``[S, P]``.
        initial_loss: loss at the scaled initialisation ``[S]``.
        final_loss: full-batch training loss after training in the planes ``[S, P]`` (``inf`` where
            the training diverged).
        d_curv: dimension of the planes used for the curvature.
        d_train: dimension of the planes used for training.
        diverged: whether the training in each plane diverged (a non-finite loss) ``[S, P]``; such
            a plane has the accuracy of always predicting the split's most common class.
    """

    scales: torch.Tensor
    radii: torch.Tensor
    fraction_positive: torch.Tensor
    trace_ratio: torch.Tensor
    accuracy: torch.Tensor
    initial_loss: torch.Tensor
    final_loss: torch.Tensor
    d_curv: int
    d_train: int
    diverged: torch.Tensor | None = None


@trainer(SUBSPACE_DEFAULTS)
def goldilocks_scan(
    landscape: Landscape,
    theta0: torch.Tensor,
    scales: Sequence[float],
    *,
    d_curv: int,
    n_curv_planes: int,
    d_train: int,
    n_planes: int,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    split: str = "test",
    hessian_examples: int | None = None,
    projection: str = "fastfood",
) -> GoldilocksScan:
    """The Goldilocks experiment: scale an initialisation, measure curvature in random planes, train in them.

    At each radius ``s * ||theta0||`` this computes the restricted Hessian ``M^T H M`` of
    ``n_curv_planes`` random ``d_curv``-dimensional planes through ``s * theta0`` and its
    :func:`curvature_stats`, then trains ``n_planes`` random ``d_train``-dimensional planes
    from there (all radii in one batch) and records their accuracy. Scaling the flat
    vector is the same as ``lsl.data.nets.make(..., init_scale=s)``.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay): all of them, for :func:`lsl.subspaces.hyperplanes.train_in_hyperplanes`; ``seed``
    also seeds the planes of the curvature. Adam rescales small gradients, so a plane near the
    origin can still train with it; plain SGD feels the flat landscape there.

    Args:
        landscape: a network landscape.
        theta0: a standard initialisation ``[D]``.
        scales: factors ``s`` multiplying ``theta0``.
        d_curv: dimension of the planes on which the curvature is measured.
        n_curv_planes: number of such planes per radius.
        d_train: dimension of the planes trained.
        n_planes: number of planes trained per radius.
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
            ``steps`` are taken in each plane.
        split: split on which accuracy is measured.
        hessian_examples: use only the first this many training examples for the Hessian (``None``: all).
        projection: ``"fastfood"`` or ``"dense"``.

    Returns:
        a :class:`GoldilocksScan`, on the CPU.
    """
    opt = check_settings(settings, who="goldilocks_scan")
    seed = opt.seed
    theta0 = landscape.check_theta(theta0, "theta0")
    scales_t = torch.tensor([float(s) for s in scales], dtype=torch.float64)
    kwargs = {}
    if hessian_examples is not None:
        kwargs["idx"] = torch.arange(min(hessian_examples, landscape.n_train), device=landscape.device)
    fp, tr, init = [], [], []
    for i, s in enumerate(scales_t.tolist()):
        point = s * theta0
        proj = make_projection(projection, landscape.D, d_curv, n_planes=n_curv_planes, seed=seed * 7919 + i,
                               device=landscape.device, dtype=landscape.dtype)
        stats = curvature_stats(restricted_hessian(landscape, point, proj, **kwargs).double())
        fp.append(stats["fraction_positive"].cpu())
        tr.append(stats["trace_ratio"].cpu())
        with torch.no_grad():
            init.append(float(landscape.loss(point)))
    offsets = (scales_t.to(landscape.dtype).to(landscape.device)[:, None] * theta0[None]).repeat_interleave(n_planes, 0)
    res = train_in_hyperplanes(landscape, offsets, d_train, n_planes=offsets.shape[0], settings=opt,
                               projection=projection, nonfinite="record")
    acc = landscape.accuracy(res.theta, split).detach().cpu().float().view(len(scales_t), n_planes)
    final = res.final_loss.detach().cpu().float().view(len(scales_t), n_planes)
    diverged = ~torch.isfinite(final) | ~torch.isfinite(res.theta).all(-1).cpu().view(len(scales_t), n_planes)
    if bool(diverged.any()):
        # a diverged plane predicts nothing: score it as a constant predictor of the most common class
        _, y = landscape.split(split)
        acc[diverged] = float(torch.bincount(y.long().flatten()).max()) / y.numel()
        final[diverged] = float("inf")
    return GoldilocksScan(
        scales=scales_t.float(), radii=(scales_t * float(theta0.norm())).float(),
        fraction_positive=torch.stack(fp).float(), trace_ratio=torch.stack(tr).float(),
        accuracy=acc, initial_loss=torch.tensor(init),
        final_loss=final, d_curv=d_curv, d_train=d_train, diverged=diverged)
