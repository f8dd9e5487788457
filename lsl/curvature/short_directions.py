"""Short directions: how many directions leave the low-loss region within a step of length ``eps``.

A direction is *short* if a step of length ``eps`` along it raises the loss
by more than ``delta``; Fort & Jastrzebski (2019, Figure 4) count such
directions, and the book counts them at optima and along the tunnels between
them. To second order they are the eigen-directions of the Hessian whose
eigenvalue exceeds ``2 delta / eps^2``
(:func:`short_direction_threshold`); their number, with the eigenvalues
that decided it, is a :class:`ShortDirections` (:func:`count_short_directions`).
The eigenvalues come from the block Lanczos of :mod:`lsl.curvature.lanczos` on the
curvature operator of :mod:`lsl.curvature.hessian`, extended until the count is known.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from lsl.curvature.hessian import _check_point, _check_term, curvature_operator
from lsl.landscape import Landscape
from lsl.curvature.lanczos import _TopK, _warn

__all__ = ["short_direction_threshold", "ShortDirections", "count_short_directions"]


def short_direction_threshold(eps: float, delta: float) -> float:
    """The curvature above which a direction is short: ``2 delta / eps^2``.

    A unit direction ``u`` is *short* at a point ``theta`` if moving a distance
    ``eps`` along it raises the loss by more than ``delta``. To second order,

    .. math::

       L(\\theta + \\epsilon u) - L(\\theta) \\approx
       \\epsilon\\, g^\\top u + \\tfrac{1}{2} \\epsilon^2\\, u^\\top H u .

    At an optimum the gradient term vanishes (and it is small compared with
    the curvature term near one), so the rise is ``eps^2 u^T H u / 2``. Along an
    eigenvector of ``H`` with eigenvalue ``lambda`` it exceeds ``delta`` exactly
    when ``lambda > 2 delta / eps^2``; the number of such eigen-directions is
    the dimension of the largest subspace in which every direction is short.

    Args:
        eps: the step length, ``> 0``.
        delta: the loss increase that counts as leaving the low-loss region, ``> 0``.

    Returns:
        The threshold ``2 delta / eps^2``.
    """
    if not (eps > 0 and delta > 0) or not (math.isfinite(eps) and math.isfinite(delta)):
        raise ValueError(f"eps and delta must be positive and finite; got eps={eps}, delta={delta}")
    return 2.0 * delta / eps**2


@dataclass(frozen=True)
class ShortDirections:
    """The outcome of :func:`count_short_directions`; ``int(result)`` is the count.

    ``eigenvalues`` is on the CPU, in the landscape's dtype.

    Attributes:
        count: the number of Hessian eigenvalues above :attr:`threshold` (a lower
            bound if :attr:`lower_bound` is true).
        threshold: the curvature threshold ``2 delta / eps^2``.
        eigenvalues: the top Hessian eigenvalues that were computed, descending.
        lower_bound: true if all ``k_max`` computed eigenvalues exceed the
            threshold, so there may be more short directions than :attr:`count`.
    """

    count: int
    threshold: float
    eigenvalues: torch.Tensor
    lower_bound: bool

    def __int__(self) -> int:
        return self.count


def count_short_directions(
    landscape: Landscape,
    theta: torch.Tensor,
    *,
    eps: float,
    delta: float,
    k_max: int = 200,
    k_start: int = 20,
    tol: float = 1e-6,
    max_steps: int | None = None,
    seed: int = 0,
    term: str = "hessian",
    idx=None,
    block_size: int | None = None,
) -> ShortDirections:
    """Count the short directions at ``theta``: Hessian eigenvalues above ``2 delta / eps^2``.

    See :func:`short_direction_threshold` for the definition and its
    second-order justification (which neglects the gradient term, as is
    right at an optimum). The top ``k`` eigenvalues are computed with
    ``k = k_start, 2 k_start, ...`` (one Lanczos decomposition, extended) until
    the smallest of them falls below the threshold or ``k`` reaches ``k_max``
    or ``D``. If all ``k_max`` eigenvalues are above the threshold, the count
    is only a lower bound: the result says so in ``lower_bound`` and a
    ``RuntimeWarning`` is raised.

    Args:
        landscape: the toy model or a network landscape.
        theta: the point ``[D]`` (an optimum, or a point of a low-loss path).
        eps: the step length.
        delta: the loss increase that makes a direction short.
        k_max: the most eigenvalues to compute.
        k_start: the first number of eigenvalues to compute.
        tol: residual tolerance (see :func:`lsl.curvature.hessian.top_eigenvalues`).
        max_steps: the largest Krylov dimension (default ``D``).
        seed: seed of the random start vectors.
        term: ``"hessian"``, ``"gauss_newton"`` or ``"rest"``.
        idx: optional indices of a subset of the training examples.
        block_size: the first block size of the block Lanczos iteration (see
            :func:`lsl.curvature.hessian.top_eigenvalues`).

    Returns:
        A :class:`ShortDirections` (``int()`` of it is the count).
    """
    thr = short_direction_threshold(eps, delta)
    _check_term(term)
    theta = _check_point(landscape, theta)
    D = landscape.D
    if k_max < 1 or k_start < 1:
        raise ValueError(f"k_max and k_start must be positive; got {k_max}, {k_start}")
    k_max = min(k_max, D)
    max_steps = D if max_steps is None else min(int(max_steps), D)
    solver = _TopK(curvature_operator(landscape, theta, term=term, idx=idx), D, tol=tol, max_steps=max_steps,
                   seed=seed, device=landscape.device, block_size=block_size)
    k = min(k_start, k_max)
    while True:
        solver.max_steps = max(max_steps, k)  # at least k steps, whatever max_steps says
        evals, S, res, ok, uncertified = solver.solve(k)
        _warn(ok, uncertified, res, k, tol, solver.max_steps, "the Hessian", stacklevel=3)
        top = evals[:k]
        count = int((top > thr).sum())
        if count < k or k == D:
            return ShortDirections(count, thr, top.to(landscape.dtype), False)
        if k >= k_max:
            warnings.warn(
                f"all {k} computed eigenvalues exceed the threshold {thr:.4g}: {count} is a lower bound on "
                f"the number of short directions; raise k_max",
                RuntimeWarning,
                stacklevel=2,
            )
            return ShortDirections(count, thr, top.to(landscape.dtype), True)
        k = min(2 * k, k_max)
