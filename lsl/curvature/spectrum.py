"""The Hessian's spectrum: its density, where its outliers end, and the gradient's share of its top.

The Hessian of a trained classifier has a bulk of eigenvalues near zero and a
few large outliers (Fort & Ganguli 2019; Papyan 2019). This module reads that
spectrum three ways:

- :func:`spectral_density` -- the eigenvalue density, bulk and outliers, by
  stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017; Ghorbani, Krishnan
  & Xiao 2019), as a :class:`SpectralDensity`.
- :func:`largest_gap`, :func:`outlier_separation` -- where the outliers of a
  sorted spectrum end (the top eigenvalues of
  :func:`lsl.curvature.hessian.top_eigenvalues`).
- :func:`subspace_fraction` -- how much of a gradient lies in the span of
  the top eigenvectors (gradient confinement, Gur-Ari et al. 2018).

The curvature operators come from :mod:`lsl.curvature.hessian` and the Lanczos
iteration from :mod:`lsl.curvature.lanczos`; :func:`lsl.curvature.linear_operators.spectral_density` is
the same estimator on any symmetric operator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lsl.curvature.hessian import _check_point, _check_term, curvature_operator
from lsl.landscape import Landscape
from lsl.curvature.lanczos import Matvec, lanczos

__all__ = ["SpectralDensity", "spectral_density", "largest_gap", "outlier_separation", "subspace_fraction"]


# ---------------------------------------------------------------------------
# the eigenvalue density


def _broadened(nodes: torch.Tensor, weights: torch.Tensor, t, sigma: float) -> torch.Tensor:
    """The average over start vectors of the Gaussian-broadened quadrature measures, at ``t``."""
    t = torch.as_tensor(t, dtype=torch.float64).cpu()
    out = torch.zeros(t.numel(), dtype=torch.float64)
    flat_t = t.reshape(-1)
    for start in range(0, flat_t.numel(), 4096):  # bounds the [len(t), n_nodes] intermediate
        z = (flat_t[start : start + 4096, None] - nodes.reshape(1, -1)) / sigma
        g = torch.exp(-0.5 * z**2) / (sigma * math.sqrt(2 * math.pi))
        out[start : start + 4096] = g @ weights.reshape(-1)
    return (out / nodes.shape[0]).reshape(t.shape)


@dataclass(frozen=True)
class SpectralDensity:
    """A Hessian eigenvalue density estimated by stochastic Lanczos quadrature.

    For each random start vector ``q`` (normalised), ``m`` Lanczos steps give a
    Gauss quadrature of the spectral measure ``sum_j (q . u_j)^2
    delta(t - lambda_j)``: nodes ``t_l`` (the Ritz values) and weights
    ``w_l`` (squared first components of the eigenvectors of ``T``), summing
    to 1. Averaged over start vectors this estimates the eigenvalue density
    ``(1/D) sum_j delta(t - lambda_j)``; each node is broadened into a Gaussian
    of width ``sigma`` to draw it.

    Every tensor is on the CPU, in float64.

    Attributes:
        nodes: quadrature nodes ``[n_vectors, m]`` (float64; entries with weight 0
            are padding after an early breakdown).
        weights: quadrature weights ``[n_vectors, m]``; each row sums to 1.
        grid: points ``[G]`` at which :attr:`density` was evaluated.
        density: the broadened density on ``grid`` ``[G]``; it integrates to about
            1 when the grid covers the nodes with a margin of a few ``sigma``.
        sigma: the Gaussian broadening width.
        dim: the dimension ``D`` of the operator.
    """

    nodes: torch.Tensor
    weights: torch.Tensor
    grid: torch.Tensor
    density: torch.Tensor
    sigma: float
    dim: int

    def evaluate(self, t: torch.Tensor | float, sigma: float | None = None) -> torch.Tensor:
        """The broadened density at ``t`` (any shape), optionally with another width.

        Args:
            t: where to evaluate.
            sigma: the broadening (default: :attr:`sigma`).

        Returns:
            The density, shaped like ``t`` (float64).
        """
        s = self.sigma if sigma is None else float(sigma)
        if not s > 0:
            raise ValueError(f"sigma must be positive, got {s}")
        return _broadened(self.nodes, self.weights, t, s)

    def moment(self, p: int) -> float:
        """Estimate of ``tr(A^p) / D`` (the ``p``-th moment of the eigenvalue density)."""
        return float((self.weights * self.nodes**p).sum(1).mean())

    def mean(self) -> float:
        """Estimate of ``tr(A) / D`` (Hutchinson's estimator through the quadrature)."""
        return self.moment(1)

    def trace(self) -> float:
        """Estimate of ``tr(A)``."""
        return self.dim * self.mean()

    def count_above(self, threshold: torch.Tensor | float) -> torch.Tensor | float:
        """Estimate of the number of eigenvalues above ``threshold``: ``D`` times the quadrature's mass there.

        The eigenvalue count is ``tr 1[A > t]``; each start vector's quadrature
        gives ``q^T 1[A > t] q`` as the weight of its nodes above ``t``. Outliers
        come out nearly exact (they are Ritz values whose weights average to
        ``1/D`` each); inside the bulk the estimate is resolved to about one
        node's weight, ``D / n_steps``, and its random error falls as
        ``1/sqrt(n_vectors)``. Use it for counts of hundreds or thousands, where
        computing that many eigenvalues with :func:`lsl.curvature.hessian.top_eigenvalues`
        would cost as many Krylov steps.

        Args:
            threshold: one threshold, or a tensor of them (any shape).

        Returns:
            A float for one threshold, else a float64 tensor shaped like ``threshold``.
        """
        t = torch.as_tensor(threshold, dtype=torch.float64)
        mass = ((self.nodes.unsqueeze(0) > t.reshape(-1, 1, 1)) * self.weights.unsqueeze(0)).sum(-1).mean(-1)
        out = self.dim * mass.reshape(t.shape)
        return float(out) if t.dim() == 0 else out


def spectral_density(
    landscape: Landscape,
    theta: torch.Tensor,
    *,
    n_vectors: int = 10,
    n_steps: int = 80,
    grid: torch.Tensor | int | None = None,
    sigma: float | None = None,
    seed: int = 0,
    term: str = "hessian",
    idx=None,
    distribution: str = "rademacher",
) -> SpectralDensity:
    """The Hessian eigenvalue density by stochastic Lanczos quadrature (Ubaru et al. 2017; Ghorbani et al. 2019).

    ``n_vectors`` Lanczos runs of ``n_steps`` steps each (full
    re-orthogonalisation, so no ghost eigenvalues), from independent random
    start vectors. The outliers are resolved sharply (they are Ritz values);
    the bulk is resolved to about the spacing of the nodes, hence the
    Gaussian broadening.

    Args:
        landscape: the toy model or a network landscape.
        theta: the point ``[D]``.
        n_vectors: number of random start vectors.
        n_steps: Lanczos steps per vector (at most ``D``).
        grid: points at which to evaluate the density, or their number (default
            1000), spanning the nodes with a margin of ``5 sigma``.
        sigma: Gaussian broadening (default: 1% of the range of the nodes).
        seed: seed of the start vectors.
        term: ``"hessian"``, ``"gauss_newton"`` (G) or ``"rest"`` (``H - G``).
        idx: optional indices of a subset of the training examples.
        distribution: ``"rademacher"`` (entries +-1) or ``"gaussian"`` start vectors.

    Returns:
        A :class:`SpectralDensity` with the raw nodes and weights and the density on the grid.
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    _check_slq(n_vectors, n_steps, distribution)
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    return _slq(matvec, landscape.D, n_vectors=n_vectors, n_steps=n_steps, grid=grid, sigma=sigma, seed=seed,
                distribution=distribution, device=landscape.device)


def _check_slq(n_vectors, n_steps, distribution: str) -> None:
    if not isinstance(n_vectors, int) or n_vectors < 1:
        raise ValueError(f"n_vectors must be a positive integer, got {n_vectors!r}")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if distribution not in ("rademacher", "gaussian"):
        raise ValueError(f"distribution must be 'rademacher' or 'gaussian', got {distribution!r}")


def _slq(matvec: Matvec, D: int, *, n_vectors: int, n_steps: int, grid, sigma: float | None, seed: int,
         distribution: str, device) -> SpectralDensity:
    """Stochastic Lanczos quadrature of a symmetric operator ``[D] -> [D]`` (the arguments of
    :func:`spectral_density`, checked by :func:`_check_slq`); the Lanczos vectors live on ``device``."""
    m = min(n_steps, D)
    gen = torch.Generator().manual_seed(int(seed))
    nodes = torch.zeros(n_vectors, m, dtype=torch.float64)
    weights = torch.zeros(n_vectors, m, dtype=torch.float64)
    for i in range(n_vectors):
        if distribution == "rademacher":
            v0 = torch.randint(0, 2, (D,), generator=gen).to(torch.float64) * 2 - 1
        else:
            v0 = torch.randn(D, generator=gen, dtype=torch.float64)
        alphas, betas, _ = lanczos(matvec, D, m, v0=v0.to(device or "cpu"), device=device)
        T = torch.diag(alphas)
        if len(alphas) > 1:
            T = T + torch.diag(betas[:-1], 1) + torch.diag(betas[:-1], -1)
        evals, S = torch.linalg.eigh(T)
        nodes[i, : len(evals)] = evals
        weights[i, : len(evals)] = S[0] ** 2
    used = weights > 0
    lo, hi = float(nodes[used].min()), float(nodes[used].max())
    if sigma is None:
        sigma = 0.01 * (hi - lo) if hi > lo else 1e-3 * max(1.0, abs(hi))
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if grid is None or isinstance(grid, int):
        n_grid = 1000 if grid is None else grid
        if n_grid < 2:
            raise ValueError(f"the grid needs at least 2 points, got {n_grid}")
        grid = torch.linspace(lo - 5 * sigma, hi + 5 * sigma, n_grid, dtype=torch.float64)
    else:
        grid = torch.as_tensor(grid, dtype=torch.float64).reshape(-1).cpu()
    density = _broadened(nodes, weights, grid, float(sigma))
    return SpectralDensity(nodes=nodes, weights=weights, grid=grid, density=density, sigma=float(sigma), dim=D)


# ---------------------------------------------------------------------------
# the outliers


def largest_gap(eigenvalues: torch.Tensor) -> int:
    """The number of eigenvalues above the largest multiplicative gap of a descending spectrum.

    The gap between positions ``k`` and ``k + 1`` (1-based) is ``log(lambda_k / lambda_{k+1})``;
    the result is the ``k`` with the largest gap, i.e. the number of outliers the spectrum's
    top shows. Only the positive leading part of the spectrum is considered.

    Args:
        eigenvalues: eigenvalues in descending order (e.g. from :func:`lsl.curvature.hessian.top_eigenvalues`).
    """
    ev = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()
    if ev.numel() < 2:
        raise ValueError("need at least two eigenvalues to find a gap")
    if torch.any(ev[:-1] < ev[1:]):
        raise ValueError("eigenvalues must be sorted in descending order")
    positive = int((ev > 0).sum())
    if positive < 2:
        raise ValueError("need at least two positive eigenvalues to find a gap")
    ev = ev[:positive]
    return int(torch.log(ev[:-1] / ev[1:]).argmax()) + 1


def outlier_separation(eigenvalues: torch.Tensor, k: int) -> float:
    """``lambda_k / lambda_{k+1}`` (1-based): how far the k-th eigenvalue stands above the next."""
    ev = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()
    if not 1 <= k < ev.numel():
        raise ValueError(f"k must be in [1, {ev.numel() - 1}], got {k}")
    return float(ev[k - 1] / ev[k])


# ---------------------------------------------------------------------------
# gradient confinement


def subspace_fraction(g: torch.Tensor, vectors: torch.Tensor) -> float:
    """Fraction of ``||g||^2`` inside the span of orthonormal ``vectors``: ``||V g||^2 / ||g||^2``.

    With ``vectors`` the top Hessian eigenvectors this measures gradient
    confinement (Fort & Ganguli 2019, property 2; Gur-Ari et al. 2018). For a
    random ``k``-dimensional subspace the expected fraction is ``k / D``, the
    baseline to compare with.

    Args:
        g: a vector ``[D]`` (e.g. the gradient).
        vectors: orthonormal rows ``[k, D]`` (or one unit vector ``[D]``), as
            returned by :func:`lsl.curvature.hessian.top_eigenvalues` with ``eigenvectors=True``.

    Returns:
        A number in ``[0, 1]``.

    Raises:
        ValueError: for mismatched shapes, a zero ``g`` or rows that are not orthonormal.
    """
    if vectors.dim() == 1:
        vectors = vectors.unsqueeze(0)
    if g.dim() != 1 or vectors.dim() != 2 or vectors.shape[1] != g.shape[0]:
        raise ValueError(f"need g [D] and vectors [k, D]; got {tuple(g.shape)} and {tuple(vectors.shape)}")
    V = vectors.detach().to(torch.float64)
    g = g.detach().to(device=V.device, dtype=torch.float64)
    gram = V @ V.T
    tol = 1e-4 if vectors.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-8
    if (gram - torch.eye(V.shape[0], dtype=V.dtype, device=V.device)).abs().max() > tol:
        raise ValueError("the rows of vectors must be orthonormal (orthonormalise them, e.g. with torch.linalg.qr)")
    gg = float(g @ g)
    if gg == 0:
        raise ValueError("g is zero: the fraction of its norm in a subspace is undefined")
    return float(((V @ g) ** 2).sum()) / gg
