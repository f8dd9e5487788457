"""Stochastic trace estimators: Hutchinson and Hutch++, on any symmetric operator.

``tr(A)`` of an operator seen only through its products ``v -> A v`` (the
Hessian of a landscape, its Gauss-Newton term, a SciPy or curvlinops operator,
a dense matrix, a callable; see :func:`lsl.curvature.linear_operators.as_matvec`):

- :func:`hutchinson` (Hutchinson 1989) -- the mean of ``g^T A g`` over random
  vectors ``g`` with ``E[g g^T] = I``;
- :func:`hutchpp` (Meyer, Musco, Musco & Woodruff 2021) -- the trace on a
  sketched top subspace exactly, Hutchinson on the rest: for an operator with a
  few large eigenvalues (a Hessian's outliers over its bulk) it removes most of
  Hutchinson's variance at the same budget of products.

Both return a :class:`TraceEstimate`, with a standard error of the stochastic
part. The names are also importable from :mod:`lsl.curvature.linear_operators`.

``hutchinson(as_linear_operator(L, theta), 100)`` estimates the trace of the
Hessian of ``L`` at ``theta`` (:func:`lsl.curvature.linear_operators.as_linear_operator`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from lsl.curvature.lanczos import Matvec
from lsl.curvature.linear_operators import as_matvec

__all__ = ["TraceEstimate", "hutchinson", "hutchpp"]


def _probe_vectors(k: int, D: int, gen: torch.Generator, distribution: str) -> torch.Tensor:
    if distribution == "rademacher":
        return torch.randint(0, 2, (k, D), generator=gen).to(torch.float64) * 2 - 1
    if distribution == "gaussian":
        return torch.randn(k, D, generator=gen, dtype=torch.float64)
    raise ValueError(f"distribution must be 'rademacher' or 'gaussian', got {distribution!r}")


@dataclass(frozen=True)
class TraceEstimate:
    """A stochastic estimate of ``tr(A)``; ``float(result)`` is the estimate.

    Attributes:
        estimate: the estimate of the trace.
        stderr: the estimated standard error of the stochastic part (the sample
            standard deviation of the quadratic forms over ``sqrt`` of their number;
            ``nan`` with a single sample, ``0`` when the stochastic part is empty).
        n_matvecs: matrix-vector products used.
        method: ``"hutchinson"`` or ``"hutch++"``.
    """

    estimate: float
    stderr: float
    n_matvecs: int
    method: str

    def __float__(self) -> float:
        return self.estimate


def _check_budget(n_matvecs, least: int) -> int:
    if isinstance(n_matvecs, bool) or not isinstance(n_matvecs, int) or n_matvecs < least:
        raise ValueError(f"n_matvecs must be an integer >= {least}, got {n_matvecs!r}")
    return n_matvecs


def _quadratic_forms(mv: Matvec, G: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([(g * mv(g)).sum(1) for g in G.split(batch)])


def hutchinson(op: Any, n_matvecs: int, *, dim: int | None = None, seed: int = 0, distribution: str = "rademacher",
               batch: int = 32, device=None) -> TraceEstimate:
    """Hutchinson's trace estimator: the mean of ``g^T A g`` over random vectors ``g``.

    Unbiased for ``E[g g^T] = I``; with Rademacher vectors its variance is
    ``2 (||A||_F^2 - sum_i A_ii^2) / m`` for ``m`` vectors.

    Args:
        op: the operator (see :func:`lsl.curvature.linear_operators.as_matvec`).
        n_matvecs: the number ``m`` of random vectors (one product each), ``>= 1``.
        dim: the dimension (required for a plain callable).
        seed: seed of the random vectors.
        distribution: ``"rademacher"`` (entries +-1) or ``"gaussian"``.
        batch: vectors per call to the operator.
        device: where the vectors are made (default CPU).

    Returns:
        A :class:`TraceEstimate`.
    """
    m = _check_budget(n_matvecs, 1)
    mv, D = as_matvec(op, dim)
    gen = torch.Generator().manual_seed(int(seed))
    G = _probe_vectors(m, D, gen, distribution).to(device or "cpu")
    q = _quadratic_forms(mv, G, batch).cpu()
    stderr = float(q.std() / math.sqrt(m)) if m > 1 else float("nan")
    return TraceEstimate(float(q.mean()), stderr, m, "hutchinson")


def hutchpp(op: Any, n_matvecs: int, *, dim: int | None = None, seed: int = 0, distribution: str = "rademacher",
            batch: int = 32, device=None) -> TraceEstimate:
    """Hutch++ (Meyer, Musco, Musco & Woodruff 2021, Algorithm 1): exact trace on a sketched top subspace, Hutchinson on the rest.

    With a budget of ``m`` products: ``k = m // 3`` random vectors ``S`` give
    ``Q = orth(A S)`` (``k`` products), ``tr(Q^T A Q)`` is computed exactly
    (``k`` products) and the trace of the deflated ``(I - QQ^T) A (I - QQ^T)``
    is estimated by Hutchinson with the remaining ``m - 2k`` vectors. Unbiased;
    when ``A`` has a few large eigenvalues (low rank plus noise, as a Hessian's
    outliers over its bulk) the deflation removes most of Hutchinson's variance:
    the error falls as ``1/m`` instead of ``1/sqrt(m)`` for PSD ``A``.

    Args:
        op: the operator (see :func:`lsl.curvature.linear_operators.as_matvec`).
        n_matvecs: the total budget ``m`` of matrix-vector products, ``>= 3``.
        dim: the dimension (required for a plain callable).
        seed: seed of the random vectors.
        distribution: ``"rademacher"`` or ``"gaussian"``.
        batch: vectors per call to the operator.
        device: where the vectors are made (default CPU).

    Returns:
        A :class:`TraceEstimate` (its ``stderr`` is that of the Hutchinson part).
    """
    m = _check_budget(n_matvecs, 3)
    mv, D = as_matvec(op, dim)
    gen = torch.Generator().manual_seed(int(seed))
    k = min(m // 3, D)
    n_g = m - 2 * k
    S = _probe_vectors(k, D, gen, distribution).to(device or "cpu")
    AS = torch.cat([mv(s) for s in S.split(batch)])
    Q = torch.linalg.qr(AS.T)[0].T  # [k, D], orthonormal rows spanning A S
    AQ = torch.cat([mv(q) for q in Q.split(batch)])
    exact = float((Q * AQ).sum())
    G = _probe_vectors(n_g, D, gen, distribution).to(Q.device)
    G = G - (G @ Q.T) @ Q  # (I - Q Q^T) g
    q = _quadratic_forms(mv, G, batch).cpu() if n_g else torch.zeros(0, dtype=torch.float64)
    rest = float(q.mean()) if n_g else 0.0
    stderr = float(q.std() / math.sqrt(n_g)) if n_g > 1 else (0.0 if n_g == 0 else float("nan"))
    return TraceEstimate(exact + rest, stderr, 2 * k + n_g, "hutch++")
