"""Training inside random low-dimensional affine hyperplanes.

A hyperplane of dimension ``d`` through ``theta0`` is ``theta = theta0 + M phi``
with ``M`` a ``D x d`` matrix of random directions and ``phi`` in ``R^d`` the
coordinates that are optimised (Li et al. 2018; Fort & Scherlis 2019). Many
hyperplanes are trained at once: their points form one ``[P, D]`` batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .landscape import Landscape
from .train import landscape_objective, minimize, progress

__all__ = ["DenseProjection", "HyperplaneResult", "train_in_hyperplanes", "train_in_hyperplane", "optimize_orthogonal", "dimension_sweep", "DimensionSweep"]


class DenseProjection:
    """``P`` random ``D x d`` projection matrices with orthonormal columns, stored densely.

    Each matrix is the Q factor of a Gaussian matrix (a uniformly random
    d-dimensional subspace with an orthonormal basis), so ``M^T M = I`` and
    moving by ``phi`` in the plane moves ``||phi||`` in parameter space.

    Args:
        D: ambient dimension.
        d: hyperplane dimension, ``1 <= d <= D``.
        n_planes: number of independent draws ``P``.
        seed: seed of the draws (same seed, same matrices, on any device).
        device, dtype: where to store the matrices.
    """

    def __init__(self, D: int, d: int, *, n_planes: int = 1, seed: int = 0,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        if not 1 <= d <= D:
            raise ValueError(f"the hyperplane dimension must satisfy 1 <= d <= D={D}; got d={d}")
        if n_planes < 1:
            raise ValueError(f"n_planes must be >= 1, got {n_planes}")
        gen = torch.Generator(device="cpu").manual_seed(seed)
        g = torch.randn(n_planes, D, d, generator=gen, dtype=torch.float64)
        q, r = torch.linalg.qr(g)
        q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)  # unique, Haar-distributed
        self.M = q.to(device=device, dtype=dtype)  # [P, D, d]
        self.D, self.d, self.n_planes = D, d, n_planes

    def to_full(self, phi: torch.Tensor) -> torch.Tensor:
        """Displacements ``M phi`` in parameter space: ``[P, d]`` -> ``[P, D]``."""
        return torch.einsum("pDd,pd->pD", self.M, phi)

    def restrict(self, g: torch.Tensor) -> torch.Tensor:
        """Project full-space vectors onto the planes, ``M^T g``: ``[P, D]`` -> ``[P, d]``."""
        return torch.einsum("pDd,pD->pd", self.M, g)


@dataclass
class HyperplaneResult:
    """Outcome of training inside ``P`` random hyperplanes.

    Attributes:
        theta: final full-space points ``[P, D]``.
        phi: final in-plane coordinates ``[P, d]``.
        losses: training objective at every step ``[steps, P]``.
        initial_loss: loss at ``theta0`` for each plane ``[P]``.
        final_loss: full-batch loss at the final points ``[P]``.
        projection: the planes' matrices.
    """

    theta: torch.Tensor
    phi: torch.Tensor
    losses: torch.Tensor
    initial_loss: torch.Tensor
    final_loss: torch.Tensor
    projection: DenseProjection


def train_in_hyperplanes(
    landscape: Landscape,
    theta0: torch.Tensor,
    d: int,
    *,
    n_planes: int = 1,
    steps: int,
    lr: float,
    seed: int = 0,
    optimizer: str = "adam",
    schedule: str = "cosine",
    batch_size: int | None = None,
) -> HyperplaneResult:
    """Optimise inside ``n_planes`` random affine d-dimensional hyperplanes through ``theta0`` at once.

    Args:
        landscape: what to minimise.
        theta0: the planes' common offset ``[D]``, or one offset per plane ``[P, D]``.
        d: hyperplane dimension (``1 <= d <= D``).
        n_planes: number of independent random planes ``P``.
        steps, lr, optimizer, schedule: see :func:`lsl.train.minimize`. The default
            cosine decay lets the iterate settle into non-smooth minima such as
            the toy model's wedges.
        seed: seeds the planes (and the minibatch order).
        batch_size: minibatch size for landscapes with data.
    """
    theta0 = landscape.check_theta(theta0, "theta0")
    if not 1 <= d <= landscape.D:
        raise ValueError(f"the hyperplane dimension must satisfy 1 <= d <= D={landscape.D}; got d={d}")
    if theta0.dim() == 2 and theta0.shape[0] != n_planes:
        raise ValueError(f"theta0 has {theta0.shape[0]} rows but n_planes={n_planes}")
    offset = theta0.expand(n_planes, -1) if theta0.dim() == 1 else theta0
    proj = DenseProjection(landscape.D, d, n_planes=n_planes, seed=seed, device=landscape.device, dtype=landscape.dtype)
    objective = landscape_objective(landscape, batch_size=batch_size, seed=seed)
    phi0 = torch.zeros(n_planes, d, device=landscape.device, dtype=landscape.dtype)
    run = minimize(lambda phi, step: objective(offset + proj.to_full(phi)), phi0,
                   steps=steps, lr=lr, optimizer=optimizer, schedule=schedule, desc=f"hyperplanes d={d}")
    theta = (offset + proj.to_full(run.theta)).detach()
    with torch.no_grad():
        initial, final = landscape.loss(offset), landscape.loss(theta)
    return HyperplaneResult(theta, run.theta, run.losses, initial, final, proj)


def train_in_hyperplane(
    landscape: Landscape,
    theta0: torch.Tensor,
    d: int,
    *,
    steps: int,
    lr: float,
    seed: int = 0,
    **options,
) -> torch.Tensor:
    """Optimise inside one random affine d-dimensional hyperplane through ``theta0``.

    Args:
        landscape: what to minimise.
        theta0: the plane's offset ``[D]``.
        d: hyperplane dimension.
        steps, lr: optimisation length and (maximum) learning rate.
        seed: seeds the plane.
        **options: see :func:`train_in_hyperplanes`.

    Returns:
        the final full-space point ``theta`` ``[D]``.
    """
    theta0 = landscape.check_theta(theta0, "theta0")
    if theta0.dim() != 1:
        raise ValueError("train_in_hyperplane takes one point theta0 [D]; use train_in_hyperplanes for many")
    return train_in_hyperplanes(landscape, theta0, d, n_planes=1, steps=steps, lr=lr, seed=seed, **options).theta[0]


def optimize_orthogonal(
    landscape: Landscape,
    points: torch.Tensor,
    directions: torch.Tensor,
    *,
    steps: int,
    lr: float,
    optimizer: str = "adam",
    schedule: str = "cosine",
    batch_size: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Minimise the loss of each point inside the affine subspace through it orthogonal to ``directions``.

    This is the step shared by tunnels (one direction: the line between two
    optima, leaving a ``(D-1)``-dimensional hyperplane) and m-connectors
    (``m`` directions spanning a simplex, leaving ``D-m`` dimensions). The
    constraint is exact: a point moves by ``(I - U U^T) z`` where ``U`` is an
    orthonormal basis of the directions, so its component along them never changes.

    Args:
        landscape: what to minimise.
        points: starting points ``[K, D]`` (all optimised at once, as one batch).
        directions: ``[m, D]`` (or ``[D]``) directions to stay orthogonal to.
        steps, lr, optimizer, schedule, batch_size, seed: see :func:`lsl.train.minimize`.

    Returns:
        the optimised points ``[K, D]``.
    """
    points = landscape.check_theta(points, "points")
    if points.dim() == 1:
        points = points.unsqueeze(0)
    directions = landscape.check_theta(directions, "directions")
    if directions.dim() == 1:
        directions = directions.unsqueeze(0)
    basis, _ = torch.linalg.qr(directions.T)  # [D, m], orthonormal columns

    def constrain(z: torch.Tensor) -> torch.Tensor:
        return z - (z @ basis) @ basis.T

    objective = landscape_objective(landscape, batch_size=batch_size, seed=seed)
    z0 = torch.zeros_like(points)
    run = minimize(lambda z, step: objective(points + constrain(z)), z0, steps=steps, lr=lr,
                   optimizer=optimizer, schedule=schedule, desc="orthogonal")
    return (points + constrain(run.theta)).detach()


@dataclass
class DimensionSweep:
    """Training in random hyperplanes of several dimensions.

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


def dimension_sweep(
    landscape: Landscape,
    theta0: torch.Tensor,
    dims: list[int] | torch.Tensor,
    *,
    n_planes: int,
    steps: int,
    lr: float,
    tol: float,
    seed: int = 0,
    **options,
) -> DimensionSweep:
    """Train in ``n_planes`` random hyperplanes at every dimension in ``dims``; record relative final losses.

    Success at a plane means ``final_loss / initial_loss < tol``. Every dimension uses
    fresh, independent planes (seeded by ``seed`` and ``d``).

    Args:
        landscape, theta0: the landscape and the planes' common offset ``[D]``.
        dims: hyperplane dimensions to try.
        n_planes, steps, lr: see :func:`train_in_hyperplanes`.
        tol: success threshold on the relative loss.
        seed: base seed.
        **options: passed to :func:`train_in_hyperplanes`.
    """
    dims = [int(d) for d in dims]
    rel = []
    for d in progress(dims, desc="dimension sweep"):
        res = train_in_hyperplanes(landscape, theta0, d, n_planes=n_planes, steps=steps, lr=lr,
                                   seed=seed * 100_003 + d, **options)
        rel.append((res.final_loss / res.initial_loss).detach().cpu())
    rel_t = torch.stack(rel)
    return DimensionSweep(torch.tensor(dims), rel_t, rel_t < tol, tol)
