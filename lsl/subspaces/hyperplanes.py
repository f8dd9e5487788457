"""Training inside random low-dimensional affine hyperplanes.

A hyperplane of dimension ``d`` through ``theta0`` is ``theta = theta0 + M phi``
with ``M`` a ``D x d`` matrix of random directions and ``phi`` in ``R^d`` the
coordinates that are optimised (Li et al. 2018; Fort & Scherlis 2019). Many
hyperplanes are trained at once: their points form one ``[P, D]`` batch.
:func:`dimension_sweep` and :func:`intrinsic_dimension` find the smallest
dimension at which random planes reach a low loss or a given accuracy.

The curvature restricted to such planes and the Goldilocks zone are in
:mod:`lsl.subspaces.goldilocks`; optimising inside the subspace *orthogonal* to a few
directions (the step of tunnels and m-connectors) is in :mod:`lsl.paths.orthogonal`.
Their names are still importable from here (``lsl.subspaces.goldilocks.goldilocks_scan``,
``lsl.paths.orthogonal.optimize_orthogonal``, ...), for code written before they moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from lsl import arguments
from lsl.landscape import Landscape
from lsl.subspaces.projections import Projection, make_projection
from lsl.settings import check_settings, SUBSPACE_DEFAULTS, trainer, TrainSettings
from lsl.training.trainer import landscape_objective, minimize

__all__ = ["HyperplaneResult", "train_in_hyperplanes", "train_in_hyperplane",
           "dimension_sweep", "DimensionSweep", "intrinsic_dimension", "IntrinsicDimension"]


@dataclass(frozen=True)
class HyperplaneResult:
    """Outcome of training inside ``P`` random hyperplanes.

    Its tensors are on the landscape's device, except ``dims``, which is on the CPU.

    Attributes:
        theta: final full-space points ``[P, D]``.
        phi: final in-plane coordinates ``[P, d_max]`` (zero beyond each plane's own dimension).
        losses: training objective at every step ``[steps, P]``.
        initial_loss: loss at ``theta0`` for each plane ``[P]``.
        final_loss: full-batch loss at the final points ``[P]``.
        projection: the planes' matrices (of dimension ``d_max``).
        dims: each plane's dimension ``[P]``.
    """

    theta: torch.Tensor
    phi: torch.Tensor
    losses: torch.Tensor
    initial_loss: torch.Tensor
    final_loss: torch.Tensor
    projection: Projection
    dims: torch.Tensor | None = None


@trainer(SUBSPACE_DEFAULTS)
def train_in_hyperplanes(
    landscape: Landscape,
    theta0: torch.Tensor,
    d: int | Sequence[int] | torch.Tensor,
    *,
    n_planes: int = 1,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    projection: str | Projection = "dense",
    normalize_step: bool = False,
    nonfinite: str = "raise",
) -> HyperplaneResult:
    """Optimise inside ``n_planes`` random affine d-dimensional hyperplanes through ``theta0`` at once.

    All planes' points form one ``[P, D]`` batch, evaluated in one vectorised call per step.
    Planes of different dimensions can be trained together: pass one dimension per plane.
    Plane ``p`` of dimension ``d_p`` then uses the first ``d_p`` columns of a
    ``d_max``-dimensional random projection (itself a random ``d_p``-dimensional plane)
    and the other coordinates stay at zero.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay, which lets the iterate settle into non-smooth minima such as the toy
    model's wedges): all of them; ``seed`` seeds the planes and the minibatch order, ``l2``
    penalises the full-space points.

    Args:
        landscape: what to minimise.
        theta0: the planes' common offset ``[D]``, or one offset per plane ``[P, D]``.
        d: hyperplane dimension (``1 <= d <= D``), or one per plane (length ``n_planes``).
        n_planes: number of independent random planes ``P``.
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
        projection: ``"dense"`` (:class:`~lsl.subspaces.projections.DenseProjection`, stores ``P D d``
            numbers), ``"fastfood"`` (:class:`~lsl.subspaces.projections.FastfoodProjection`, for
            large ``D`` and ``d``) or a :class:`~lsl.subspaces.projections.Projection` instance
            (of dimension ``max(d)`` with ``n_planes`` planes).
        normalize_step: optimise ``psi = sqrt(d_p) phi`` instead of ``phi`` (plane ``p`` of
            dimension ``d_p``). An Adam step changes each coordinate by about ``lr``, so it
            moves ``phi`` by up to ``lr sqrt(d_p)``; with this option it moves ``theta`` by up to
            ``lr`` in every plane, which lets planes of very different dimensions share one
            learning rate.
        nonfinite: ``"raise"`` (default) stops with a :class:`~lsl.training.trainer.NonFiniteLossError` when
            a plane's loss becomes non-finite; ``"record"`` keeps going (for scans where divergence
            is an outcome, e.g. :func:`lsl.subspaces.goldilocks.goldilocks_scan` far from the origin).

    Returns:
        a :class:`HyperplaneResult`.
    """
    s = check_settings(settings, who="train_in_hyperplanes")
    seed = s.seed
    theta0 = landscape.check_theta(theta0, "theta0")
    if isinstance(d, int):
        dims = None
        d_max = d
    else:
        dims = torch.as_tensor(d, dtype=torch.long).flatten()
        if dims.numel() != n_planes:
            raise ValueError(f"give one dimension per plane: got {dims.numel()} dimensions for n_planes={n_planes}")
        d_max = int(dims.max())
        if int(dims.min()) < 1:
            raise ValueError(f"the hyperplane dimension must satisfy 1 <= d <= D={landscape.D}; got d={int(dims.min())}")
    if not 1 <= d_max <= landscape.D:
        raise ValueError(f"the hyperplane dimension must satisfy 1 <= d <= D={landscape.D}; got d={d_max}")
    if theta0.dim() == 2 and theta0.shape[0] != n_planes:
        raise ValueError(f"theta0 has {theta0.shape[0]} rows but n_planes={n_planes}")
    offset = theta0.expand(n_planes, -1) if theta0.dim() == 1 else theta0
    proj = make_projection(projection, landscape.D, d_max, n_planes=n_planes, seed=seed,
                           device=landscape.device, dtype=landscape.dtype)
    per_plane = dims if dims is not None else torch.full((n_planes,), d_max)
    mask = None
    if dims is not None or normalize_step:
        mask = (torch.arange(d_max)[None, :] < per_plane[:, None]).to(torch.float64)
        if normalize_step:
            mask = mask / per_plane[:, None].to(torch.float64).sqrt()
        mask = mask.to(device=landscape.device, dtype=landscape.dtype)
    objective = landscape_objective(landscape, batch_size=s.batch_size, l2=s.l2, seed=seed)
    phi0 = torch.zeros(n_planes, d_max, device=landscape.device, dtype=landscape.dtype)

    def plane_objective(phi: torch.Tensor, step: int) -> torch.Tensor:
        return objective(offset + proj.to_full(phi if mask is None else phi * mask))

    run = minimize(plane_objective, phi0, settings=s, desc=f"hyperplanes d={d_max}", nonfinite=nonfinite)
    phi = run.theta if mask is None else run.theta * mask
    with torch.no_grad():
        theta = (offset + proj.to_full(phi)).detach()
        initial, final = landscape.loss(offset), landscape.loss(theta)
    return HyperplaneResult(theta, phi, run.losses, initial, final, proj, per_plane)


@trainer(SUBSPACE_DEFAULTS)
def train_in_hyperplane(
    landscape: Landscape,
    theta0: torch.Tensor,
    d: int,
    *,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    projection: str | Projection = "dense",
    normalize_step: bool = False,
    nonfinite: str = "raise",
) -> torch.Tensor:
    """Optimise inside one random affine d-dimensional hyperplane through ``theta0``.

    Settings: as :func:`train_in_hyperplanes` (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`).

    Args:
        landscape: what to minimise.
        theta0: the plane's offset ``[D]``.
        d: hyperplane dimension.
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``seed``
            seeds the plane.
        projection, normalize_step, nonfinite: see :func:`train_in_hyperplanes`.

    Returns:
        the final full-space point ``theta`` ``[D]``, on the landscape's device.
    """
    theta0 = landscape.check_theta(theta0, "theta0")
    if theta0.dim() != 1:
        raise ValueError("train_in_hyperplane takes one point theta0 [D]; use train_in_hyperplanes for many")
    return train_in_hyperplanes(landscape, theta0, d, n_planes=1, settings=settings, projection=projection,
                                normalize_step=normalize_step, nonfinite=nonfinite).theta[0]


@dataclass(frozen=True)
class DimensionSweep:
    """Training in random hyperplanes of several dimensions, its tensors on the CPU.

    Attributes:
        d: the hyperplane dimensions ``[n_d]``.
        rel_loss: final loss / loss at ``theta0``, per dimension and plane ``[n_d, P]``.
        success: ``rel_loss < tol`` ``[n_d, P]``.
        tol: the success threshold on the relative loss.
    """

    d: torch.Tensor
    rel_loss: torch.Tensor
    success: torch.Tensor
    tol: float

    @property
    def success_fraction(self) -> torch.Tensor:
        """Fraction of planes that succeed at each dimension ``[n_d]``."""
        return self.success.float().mean(1)

    def threshold(self, level: float = 0.5) -> int | None:
        """The smallest swept ``d`` at which at least ``level`` of the planes succeed (``None`` if none does)."""
        ok = (self.success_fraction >= level).nonzero()
        return int(self.d[ok[0, 0]]) if len(ok) else None


@trainer(SUBSPACE_DEFAULTS)
def dimension_sweep(
    landscape: Landscape,
    theta0: torch.Tensor,
    dims: list[int] | torch.Tensor,
    *,
    n_planes: int,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    tol: float,
    projection: str | Projection = "dense",
    normalize_step: bool = False,
    nonfinite: str = "raise",
) -> DimensionSweep:
    """Train in ``n_planes`` random hyperplanes at every dimension in ``dims``; record relative final losses.

    Success at a plane means ``final_loss / initial_loss < tol``. Every plane is an
    independent random draw. All ``len(dims) * n_planes`` planes are trained together as one
    batch of points (planes of different dimensions, see :func:`train_in_hyperplanes`).

    Settings: as :func:`train_in_hyperplanes` (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`).

    Args:
        landscape, theta0: the landscape and the planes' common offset ``[D]``.
        dims: hyperplane dimensions to try.
        n_planes: see :func:`train_in_hyperplanes`.
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``seed``
            is the base seed of the planes.
        tol: success threshold on the relative loss.
        projection, normalize_step, nonfinite: passed to :func:`train_in_hyperplanes`.

    Returns:
        a :class:`DimensionSweep`, on the CPU.
    """
    dims = arguments.integers("dims", dims, low=1, high=landscape.D)
    n_planes = arguments.integer("n_planes", n_planes, low=1)
    tol = arguments.number("tol", tol, low=0.0, low_open=True)
    per_plane = torch.tensor(dims).repeat_interleave(n_planes)
    res = train_in_hyperplanes(landscape, theta0, per_plane, n_planes=len(per_plane), settings=settings,
                               projection=projection, normalize_step=normalize_step, nonfinite=nonfinite)
    rel_t = (res.final_loss / res.initial_loss).detach().cpu().view(len(dims), n_planes)
    return DimensionSweep(torch.tensor(dims), rel_t, rel_t < tol, tol)


# ---------------------------------------------------------------------------
# Intrinsic dimension of a network (Li et al. 2018)


def _log_crossing(dims: torch.Tensor, values: torch.Tensor, target: float) -> float:
    """The first ``d`` where ``values`` reaches ``target``, interpolated linearly in ``log d`` (``nan`` if never)."""
    above = (values >= target).nonzero()
    if not len(above):
        return float("nan")
    i = int(above[0, 0])
    if i == 0:
        return float(dims[0])
    x0, x1 = math.log(float(dims[i - 1])), math.log(float(dims[i]))
    y0, y1 = float(values[i - 1]), float(values[i])
    return math.exp(x0 + (target - y0) / (y1 - y0) * (x1 - x0))


@dataclass(frozen=True)
class IntrinsicDimension:
    """Accuracy reached by training inside random hyperplanes of several dimensions, its tensors on the CPU.

    Attributes:
        d: the hyperplane dimensions ``[n_d]`` (increasing).
        accuracy: accuracy of every plane, ``[n_d, P]`` (column ``p`` is the ``p``-th draw at each ``d``).
        final_loss: full-batch training loss of every plane ``[n_d, P]``.
        reference: the full-space accuracy the planes are compared with.
        level: the fraction of ``reference`` that defines the intrinsic dimension (0.9 for ``d_int90``).
        D: the number of parameters.
    """

    d: torch.Tensor
    accuracy: torch.Tensor
    final_loss: torch.Tensor
    reference: float
    level: float
    D: int

    @property
    def target(self) -> float:
        """The accuracy that defines the intrinsic dimension, ``level * reference``."""
        return self.level * self.reference

    @property
    def mean_accuracy(self) -> torch.Tensor:
        """Mean accuracy over the draws at each dimension ``[n_d]``."""
        return self.accuracy.mean(1)

    def d_int(self) -> float:
        """The intrinsic dimension of the mean curve: where it reaches :attr:`target` (log-interpolated; ``nan`` if never)."""
        return _log_crossing(self.d, self.mean_accuracy, self.target)

    def d_int_grid(self) -> int | None:
        """The smallest swept ``d`` whose mean accuracy reaches :attr:`target` (Li et al.'s definition on a grid)."""
        ok = (self.mean_accuracy >= self.target).nonzero()
        return int(self.d[ok[0, 0]]) if len(ok) else None

    def d_int_draws(self) -> torch.Tensor:
        """The intrinsic dimension of each draw's curve ``[P]`` (log-interpolated; ``nan`` where it never crosses)."""
        return torch.tensor([_log_crossing(self.d, self.accuracy[:, p], self.target)
                             for p in range(self.accuracy.shape[1])])

    def draw_spread(self) -> float:
        """Root-mean-square over dimensions of the standard deviation between draws at one ``d``.

        The pooled within-dimension spread: how much the accuracy depends on *which*
        random plane was drawn, to be compared with how much it rises with ``d``
        (:meth:`rise`). Needs at least two draws per dimension.
        """
        if self.accuracy.shape[1] < 2:
            raise ValueError("the spread between draws needs n_planes >= 2")
        return float(self.accuracy.double().var(1).mean().sqrt())

    def rise(self) -> float:
        """Mean accuracy at the largest ``d`` minus that at the smallest."""
        return float(self.mean_accuracy[-1] - self.mean_accuracy[0])

    def d_int_spread(self) -> tuple[float, float]:
        """Geometric mean and geometric standard deviation (a factor) of :meth:`d_int_draws` over draws that cross."""
        logs = self.d_int_draws().log()
        logs = logs[torch.isfinite(logs)]
        if not len(logs):
            return float("nan"), float("nan")
        sd = float(logs.std()) if len(logs) > 1 else 0.0
        return float(logs.mean().exp()), math.exp(sd)


@trainer(SUBSPACE_DEFAULTS)
def intrinsic_dimension(
    landscape: Landscape,
    theta0: torch.Tensor,
    dims: Sequence[int],
    *,
    n_planes: int,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    reference: float,
    level: float = 0.9,
    split: str = "test",
    projection: str = "fastfood",
    max_batch: int | None = None,
    normalize_step: bool = True,
) -> IntrinsicDimension:
    """Train ``n_planes`` random hyperplanes of every dimension in ``dims`` and measure their accuracy.

    All planes (``len(dims) * n_planes`` of them) are trained together as one batch
    (in groups of at most ``max_batch`` planes), each a fresh random plane through ``theta0``.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay): all of them, for :func:`train_in_hyperplanes`; ``seed`` seeds the
    planes and minibatches (group ``k`` of planes draws from ``seed * 1_000_003 + k``).

    Args:
        landscape: a network landscape (needs :meth:`~lsl.network.NetworkLandscape.accuracy`).
        theta0: the planes' offset ``[D]`` (an initialisation).
        dims: hyperplane dimensions.
        n_planes: independent draws per dimension.
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
            ``steps`` are taken inside each plane; ``lr`` acts on the in-plane coordinates.
        reference: the full-space accuracy (e.g. of :func:`lsl.training.trainer.train` from ``theta0``).
        level: ``d_int`` is where the accuracy reaches ``level * reference``.
        split: the split whose accuracy is measured (``"test"``, as Li et al.).
        projection: ``"fastfood"`` (default) or ``"dense"``.
        max_batch: train at most this many planes at once (bounds the memory of training: every
            plane's projection, coordinates and optimiser state). This is not the evaluation policy of
            :mod:`lsl.batching`, which sizes the vectorised calls inside each group (the planes' losses,
            gradients and accuracies); the groups also seed the planes (group ``k`` draws from
            ``seed * 1_000_003 + k``), so the default ``None`` (one group) is kept rather than derived
            from a memory budget, which would change the planes drawn from device to device.
        normalize_step: see :func:`train_in_hyperplanes`; on by default, so that ``lr`` is a
            step length in parameter space shared by all dimensions.

    Returns:
        an :class:`IntrinsicDimension`, on the CPU.
    """
    s = check_settings(settings, who="intrinsic_dimension")
    dims = arguments.integers("dims", dims, low=1, high=landscape.D)
    n_planes = arguments.integer("n_planes", n_planes, low=1)
    reference = arguments.number("reference", reference, low=0.0, high=1.0, low_open=True)
    level = arguments.number("level", level, low=0.0, high=1.0, low_open=True)
    if max_batch is not None:
        max_batch = arguments.integer("max_batch", max_batch, low=1)
    landscape.check_theta(theta0, "theta0")
    dims_t = torch.tensor(sorted(dims))
    per_plane = dims_t.repeat_interleave(n_planes)
    total = per_plane.numel()
    group = total if max_batch is None else max(1, max_batch)
    acc, loss = [], []
    for k, start in enumerate(range(0, total, group)):
        sub = per_plane[start:start + group]
        group_settings = s.replace(seed=s.seed * 1_000_003 + k)
        res = train_in_hyperplanes(landscape, theta0, sub, n_planes=len(sub), settings=group_settings,
                                   projection=projection, normalize_step=normalize_step)
        acc.append(landscape.accuracy(res.theta, split).detach().cpu())
        loss.append(res.final_loss.detach().cpu())
    shape = (len(dims_t), n_planes)
    return IntrinsicDimension(dims_t, torch.cat(acc).view(shape).float(), torch.cat(loss).view(shape).float(),
                              float(reference), level, landscape.D)
