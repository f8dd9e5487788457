"""Curvature of a landscape: Hessian spectra, the Gauss-Newton split, short directions.

Everything here is a function of a :class:`~lsl.landscape.Landscape` and a
point ``theta`` ``[D]``, and touches the Hessian only through
Hessian-vector products, so it runs unchanged on the toy wedge model and on
a network (the exact Hessian, :func:`exact_hessian`, is there for small ``D``
and for tests).

- :func:`lanczos` -- the Lanczos iteration with full re-orthogonalisation.
- :func:`top_eigenvalues` -- the algebraically largest eigenvalues (and
  eigenvectors) of the Hessian, with their multiplicities, to a residual
  tolerance (block Lanczos; repeated eigenvalues are certified or warned
  about with a :class:`MultiplicityWarning`).
- :func:`exact_hessian` -- the ``[D, D]`` matrix, from batched HVPs.
- :func:`gauss_newton_vp`, :func:`residual_vp` -- the split ``H = G + H_rest``
  of Fort & Ganguli (2019) and Papyan (2019), see below.
- :func:`spectral_density` -- stochastic Lanczos quadrature (Ubaru, Chen &
  Saad 2017; Ghorbani, Krishnan & Xiao 2019).
- :func:`count_short_directions` -- the number of directions in which a step
  of length ``eps`` raises the loss by more than ``delta`` (Fort &
  Jastrzebski 2019, Figure 4).
- :func:`layer_spectra` -- spectra of the diagonal Hessian blocks of each
  parameter tensor or module.
- :func:`subspace_fraction` -- how much of a gradient lies in a subspace
  (gradient confinement, Gur-Ari et al. 2018).

**The Gauss-Newton split.** For a network with logits ``z_i = f(x_i; theta)``
(``C`` classes, ``N`` examples) and a loss ``L = sum_i l(z_i, y_i)`` that
depends on ``theta`` only through the logits, the chain rule gives

.. math::

   H = \\underbrace{\\sum_i J_i^\\top \\, \\nabla_z^2 l_i \\, J_i}_{G}
     + \\underbrace{\\sum_i \\sum_c \\frac{\\partial l_i}{\\partial z_{ic}}
       \\nabla_\\theta^2 z_{ic}}_{H_\\text{rest}},

with ``J_i = dz_i/dtheta`` the ``C x D`` logit Jacobian. ``G`` is the
Gauss-Newton term (for softmax cross-entropy also the Fisher information
matrix): with the mean cross-entropy ``nabla_z^2 l_i = (diag(p_i) - p_i
p_i^T) / N``, so ``G`` is positive semi-definite. ``H_rest`` carries the
curvature of the logits themselves, weighted by the residuals ``(p_i -
y_i) / N``. ``term="G"`` selects ``G``, ``term="H"`` the rest ``H_rest = H -
G``, and ``term="full"`` the whole Hessian ``H``.

**Evaluation mode.** A :class:`~lsl.landscape.NetworkLandscape` evaluates its
model in ``eval`` mode: dropout is off and batch normalisation uses its stored
running statistics, which do not depend on ``theta``. All spectra here are of
that deterministic function of ``theta`` (not of the training-mode loss, in
which batch statistics couple the examples).

**Precision.** The Lanczos vectors, the tridiagonal matrices and the
re-orthogonalisation are kept in float64 whatever the landscape's precision;
vectors are cast to the landscape's dtype for each Hessian-vector product and
back. Results are returned in the landscape's dtype.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch.func import jvp, vjp, vmap

from .landscape import Landscape, NetworkLandscape

__all__ = [
    "lanczos",
    "top_eigenvalues",
    "MultiplicityWarning",
    "DEFAULT_BLOCK",
    "exact_hessian",
    "curvature_operator",
    "gauss_newton_vp",
    "residual_vp",
    "SpectralDensity",
    "spectral_density",
    "short_direction_threshold",
    "ShortDirections",
    "count_short_directions",
    "layer_spectra",
    "subspace_fraction",
    "TERMS",
]

#: The Hessian terms that can be selected with ``term=``: the whole Hessian, the
#: Gauss-Newton term ``G`` and the rest ``H_rest = H - G``.
TERMS: tuple[str, ...] = ("full", "G", "H")

#: Largest ``D`` for which :func:`exact_hessian` builds the matrix.
MAX_EXACT_D = 20_000

_BREAKDOWN = 1e-10  # beta below this times ||A q|| (largest so far) is an invariant subspace

Matvec = Callable[[torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------------
# operators


def _check_term(term: str) -> str:
    if term not in TERMS:
        raise ValueError(
            f"unknown term {term!r}; choose 'full' (the whole Hessian), 'G' (the Gauss-Newton term) "
            f"or 'H' (the rest, H - G)"
        )
    return term


def _check_point(landscape: Landscape, theta: torch.Tensor) -> torch.Tensor:
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be an lsl Landscape, got {type(landscape).__name__}")
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError(f"curvature is computed at one point theta of shape [D]; got shape {tuple(theta.shape)}")
    return theta.detach()


def _output_hessian(landscape: Landscape) -> str:
    """The name of a supported loss (whose Hessian in the logits is known), or raise."""
    if not isinstance(landscape, NetworkLandscape):
        raise NotImplementedError(
            f"the Gauss-Newton term needs a network with logits; {type(landscape).__name__} has none "
            f"(use term='full')"
        )
    name = landscape.builtin_loss
    if name is None:
        raise NotImplementedError(
            "the Gauss-Newton term is implemented for the built-in losses 'cross_entropy' and 'mse' only; "
            "this landscape's loss is a custom callable"
        )
    return name


def gauss_newton_vp(
    landscape: NetworkLandscape, theta: torch.Tensor, v: torch.Tensor, *, idx=None
) -> torch.Tensor:
    """Gauss-Newton-vector product ``G v`` of a network landscape (no per-example loops).

    ``G = sum_i J_i^T (d^2 l_i / dz_i^2) J_i`` with ``J_i`` the logit Jacobian of
    example ``i`` (see the module docstring). For the mean softmax cross-entropy
    ``d^2 l_i / dz_i^2 = (diag(p_i) - p_i p_i^T) / N``; for ``"mse"`` (the mean
    of squared errors against one-hot targets over all ``N C`` entries) it is
    ``2 I / (N C)``. Computed as a forward-mode ``J v`` (``torch.func.jvp``),
    the output Hessian applied in logit space, and a reverse-mode ``J^T u``
    (``torch.func.vjp``).

    Args:
        landscape: a :class:`~lsl.landscape.NetworkLandscape` with the loss
            ``"cross_entropy"`` or ``"mse"``.
        theta: the point ``[D]``.
        v: one vector ``[D]`` or a batch ``[K, D]`` (vectorised with ``vmap``).
        idx: optional indices of a subset of the training examples (``N`` is then
            the subset's size).

    Returns:
        ``G v`` with the shape of ``v``.

    Raises:
        NotImplementedError: for the toy model, for a custom loss callable, or for
            a model whose logits are not ``[N, C]``.
    """
    v = landscape.check_theta(v, "v")
    return _gauss_newton_map(landscape, theta, idx)(v)


def _gauss_newton_map(landscape: NetworkLandscape, theta: torch.Tensor, idx=None) -> Matvec:
    """``v -> G v`` with the forward pass and its reverse-mode closure computed once."""
    name = _output_hessian(landscape)
    theta = _check_point(landscape, theta)
    x, _ = landscape.data(idx)

    def f(t: torch.Tensor) -> torch.Tensor:
        return landscape.forward(t, x)

    z, vjp_fn = vjp(f, theta)
    if z.dim() != 2:
        raise NotImplementedError(f"the Gauss-Newton term expects logits of shape [N, C]; got {tuple(z.shape)}")
    n, c = z.shape
    p = torch.softmax(z.detach(), dim=-1) if name == "cross_entropy" else None

    def one(vec: torch.Tensor) -> torch.Tensor:
        jv = jvp(f, (theta,), (vec,))[1]
        if p is None:
            u = jv * (2.0 / (n * c))
        else:
            u = (p * jv - p * (p * jv).sum(-1, keepdim=True)) / n
        return vjp_fn(u)[0]

    def matvec(v: torch.Tensor) -> torch.Tensor:
        if v.dim() == 1:
            return one(v).detach()
        return vmap(one, chunk_size=landscape.chunk_size)(v).detach()

    return matvec


def residual_vp(landscape: NetworkLandscape, theta: torch.Tensor, v: torch.Tensor, *, idx=None) -> torch.Tensor:
    """The rest of the Hessian beyond Gauss-Newton, ``H_rest v = H v - G v``.

    Args:
        landscape: a :class:`~lsl.landscape.NetworkLandscape` (see :func:`gauss_newton_vp`).
        theta: the point ``[D]``.
        v: one vector ``[D]`` or a batch ``[K, D]``.
        idx: optional indices of a subset of the training examples.

    Returns:
        ``H_rest v`` with the shape of ``v``.
    """
    g = gauss_newton_vp(landscape, theta, v, idx=idx)
    kw = {} if idx is None else {"idx": idx}
    return landscape.hvp(_check_point(landscape, theta), landscape.check_theta(v, "v"), **kw).detach() - g


def _hessian_map(landscape: Landscape, theta: torch.Tensor, kw: dict) -> Matvec:
    """``v -> H v``: single vectors by reverse-over-reverse products through a gradient graph built once
    (about twice as fast as recomputing the forward pass for each product); batches ``[K, D]`` by the
    landscape's own vectorised :meth:`~lsl.landscape.Landscape.hvp`."""
    cache: dict = {}

    def matvec(v: torch.Tensor) -> torch.Tensor:
        if v.dim() != 1:
            return landscape.hvp(theta, v, **kw).detach()
        if not cache:
            t = theta.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(landscape.loss(t, **kw), t, create_graph=True)
            cache["t"], cache["g"] = t, g
        if not cache["g"].requires_grad:  # the loss is linear in theta: H = 0
            return torch.zeros_like(v)
        (hv,) = torch.autograd.grad(cache["g"], cache["t"], grad_outputs=v, retain_graph=True, allow_unused=True)
        return torch.zeros_like(v) if hv is None else hv.detach()

    return matvec


def curvature_operator(landscape: Landscape, theta: torch.Tensor, *, term: str = "full", idx=None) -> Matvec:
    """The map ``v -> A v`` for ``A`` the Hessian (or one of its terms) at ``theta``.

    The returned function accepts ``[D]`` or ``[K, D]`` vectors of any floating
    dtype, evaluates in the landscape's dtype and returns the input's dtype.
    What does not depend on ``v`` (the gradient graph for single Hessian-vector
    products, the logits and their reverse-mode closure for ``G``) is computed
    once, on the first call, and kept while the function lives.

    Args:
        landscape: any landscape (``term="G"`` and ``"H"`` need a network).
        theta: the point ``[D]``.
        term: ``"full"``, ``"G"`` (Gauss-Newton) or ``"H"`` (the rest, ``H - G``).
        idx: optional indices of a subset of the training examples.

    Returns:
        The matrix-vector product as a function.
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    if term != "full":
        _output_hessian(landscape)
    kw = {} if idx is None else {"idx": idx}
    hess = _hessian_map(landscape, theta, kw) if term != "G" else None
    gn = _gauss_newton_map(landscape, theta, idx) if term != "full" else None

    def matvec(v: torch.Tensor) -> torch.Tensor:
        u = v.to(device=landscape.device, dtype=landscape.dtype)
        if term == "full":
            out = hess(u)
        elif term == "G":
            out = gn(u)
        else:
            out = hess(u) - gn(u)
        return out.detach().to(dtype=v.dtype, device=v.device)

    return matvec


# ---------------------------------------------------------------------------
# Lanczos


class _Krylov:
    """A growing Lanczos decomposition ``A Q_m = Q_m T_m + beta_m q_{m+1} e_m^T`` with full re-orthogonalisation.

    One start vector, so (in exact arithmetic) one copy of each distinct eigenvalue: this is the
    iteration of :func:`lanczos` and of the quadrature in :func:`spectral_density`. It stops at a
    breakdown (an invariant subspace: ``beta ~ 0``). The top of the spectrum with multiplicities
    is computed by block Lanczos (:class:`_BlockKrylov`).
    """

    def __init__(self, matvec: Matvec, D: int, *, v0=None, seed: int = 0, dtype=torch.float64,
                 device=None):
        if D < 1:
            raise ValueError(f"D must be positive, got {D}")
        self.matvec, self.D, self.dtype = matvec, int(D), dtype
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.gen = torch.Generator().manual_seed(int(seed))
        self.Q = torch.empty(min(self.D, 64), self.D, dtype=dtype, device=self.device)
        self.alphas: list[float] = []
        self.betas: list[float] = []  # betas[j] couples q_j and q_{j+1}; betas[m-1] is the residual norm
        self.anorm = 0.0
        self.exhausted = False  # no further step is possible (m == D, or a breakdown)
        if v0 is None:
            q = self._random()
        else:
            if not isinstance(v0, torch.Tensor) or v0.shape != (self.D,):
                raise ValueError(f"v0 must be a tensor of shape [D]=[{self.D}]")
            q = v0.detach().to(device=self.device, dtype=dtype)
        nrm = torch.linalg.vector_norm(q)
        if not torch.isfinite(nrm) or nrm == 0:
            raise ValueError("the start vector v0 must be finite and non-zero")
        self.Q[0] = q / nrm

    @property
    def m(self) -> int:
        return len(self.alphas)

    def _random(self) -> torch.Tensor:
        return torch.randn(self.D, generator=self.gen, dtype=self.dtype).to(self.device)

    def _orth(self, w: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Remove from ``w`` its components along ``Q[:k]``, twice (classical Gram-Schmidt, "twice is enough")."""
        Qk = self.Q[:k]
        h = Qk @ w
        w = w - Qk.T @ h
        h2 = Qk @ w
        return w - Qk.T @ h2, h + h2

    def _grow(self) -> None:
        if self.m + 1 >= self.Q.shape[0] and self.Q.shape[0] < self.D:
            new = torch.empty(min(self.D, 2 * self.Q.shape[0]), self.D, dtype=self.dtype, device=self.device)
            new[: self.Q.shape[0]] = self.Q
            self.Q = new

    def step(self) -> None:
        """One Lanczos step: adds ``alpha_j``, ``beta_j`` and (unless exhausted) ``q_{j+1}``."""
        if self.exhausted:
            raise RuntimeError("the Krylov space cannot grow further")
        j = self.m
        q = self.Q[j]
        w = self.matvec(q).to(device=self.device, dtype=self.dtype).reshape(self.D)
        if not torch.isfinite(w).all():
            raise FloatingPointError("the matrix-vector product returned non-finite values")
        self.anorm = max(self.anorm, float(torch.linalg.vector_norm(w)))
        w, h = self._orth(w, j + 1)
        self.alphas.append(float(h[j]))
        beta = float(torch.linalg.vector_norm(w))
        if j + 1 == self.D:
            self.betas.append(beta)
            self.exhausted = True
            return
        self._grow()
        if beta > _BREAKDOWN * max(self.anorm, 1e-300):
            self.betas.append(beta)
            self.Q[j + 1] = w / beta
            return
        # breakdown: Q[:j+1] spans an invariant subspace
        self.betas.append(beta)
        self.exhausted = True


def lanczos(
    matvec: Matvec,
    D: int,
    n_steps: int,
    *,
    v0: torch.Tensor | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Lanczos iteration for a symmetric operator, with full re-orthogonalisation.

    After ``m`` steps, ``A Q^T = Q^T T + beta_m q_{m+1} e_m^T`` where the rows of
    ``Q`` are orthonormal and ``T`` is tridiagonal with diagonal ``alphas`` and
    off-diagonal ``betas[:-1]``. Each new vector is orthogonalised against all
    previous ones twice (classical Gram-Schmidt), so no spurious copies of
    eigenvalues ("ghosts") appear. The iteration stops early at a breakdown
    (``beta`` below ``1e-10`` times the largest ``||A q||`` seen), when the
    Krylov space is invariant and the eigenvalues of ``T`` are exact
    eigenvalues of ``A``.

    The eigenvalues of ``T`` (Ritz values) approximate the extreme eigenvalues of
    ``A``; with eigenvectors ``s`` of ``T``, ``Q^T s`` are Ritz vectors whose
    residual norm is ``beta_m |s_m|``. ``(e_1^T s)^2`` are the Gauss quadrature
    weights used by :func:`spectral_density`.

    Args:
        matvec: the operator, ``[D] -> [D]``. It is called with float64 vectors
            (``dtype``); cast inside it if the operator works in another precision.
        D: dimension.
        n_steps: the largest number of steps (at most ``D`` are taken).
        v0: start vector ``[D]`` (normalised here); a seeded Gaussian vector if omitted.
        seed: seed of the random start vector.
        dtype: precision of the Lanczos vectors and coefficients.
        device: where the Lanczos vectors live (default CPU).

    Returns:
        ``(alphas, betas, Q)``: ``alphas`` ``[m]`` and ``betas`` ``[m]`` (float64, CPU),
        where ``betas[:-1]`` are the off-diagonal entries of ``T`` and ``betas[-1]``
        is the norm of the residual after the last step (about zero at a
        breakdown, and when ``m == D``), and the Lanczos vectors ``Q`` ``[m, D]``.
        ``m <= n_steps`` is the number of steps taken.
    """
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    kr = _Krylov(matvec, D, v0=v0, seed=seed, dtype=dtype, device=device)
    while kr.m < min(n_steps, kr.D) and not kr.exhausted:
        kr.step()
    alphas = torch.tensor(kr.alphas, dtype=torch.float64)
    betas = torch.tensor(kr.betas, dtype=torch.float64)
    return alphas, betas, kr.Q[: kr.m].clone()


# ---------------------------------------------------------------------------
# the top of the spectrum, with multiplicities: block Lanczos


#: The first block size of :func:`top_eigenvalues` and the functions built on it: with ``p`` start
#: vectors a Krylov method finds up to ``p`` copies of a repeated eigenvalue, so ``p = 2`` is the
#: smallest block that can certify that an eigenvalue is simple.
DEFAULT_BLOCK = 2


class MultiplicityWarning(RuntimeWarning):
    """The top eigenvalues could not be certified complete with their multiplicities.

    Raised as a warning by :func:`top_eigenvalues` (and :func:`count_short_directions`,
    :func:`layer_spectra`) when an eigenvalue cluster inside the requested top ``k`` has at
    least as many copies as the block has vectors and the block cannot grow further (it is
    limited by ``max_steps``). More copies may exist: the values after that cluster may be too
    small.
    """


class _BlockKrylov:
    """A block Lanczos decomposition with full re-orthogonalisation, block size ``p``.

    The rows of ``Q[:n]`` are orthonormal; the first ``m`` of them have been multiplied by ``A``
    and ``T = Q[:m] A Q[:m]^T`` is kept exactly (every projection that the re-orthogonalisation
    computes is stored, so ``T`` is block tridiagonal up to rounding). The ``n - m`` pending rows
    (the next block) satisfy ``A Q[:m]^T = Q[:m]^T T + Q[m:n]^T C + E`` with ``C = Q[m:n] A Q[:m]^T``
    their coupling (zero but for the last multiplied rows) and ``||E|| <= 1e-10 ||A||`` (directions dropped at a breakdown).
    A Ritz pair ``(theta, Q[:m]^T s)`` therefore has residual norm ``||C s||``.

    When the next block is rank deficient (the Krylov space is, or is close to, invariant), the
    lost directions are replaced by random vectors orthogonal to the basis, so the block keeps
    ``p`` vectors and the space keeps growing until it is all of ``R^D``.

    The operator sees only products with blocks ``[b, D]`` (float64 here; the curvature
    operators cast to the landscape's precision).
    """

    def __init__(self, matvec: Matvec, D: int, p: int, *, gen: torch.Generator, device=None,
                 dtype=torch.float64):
        self.matvec, self.D, self.p, self.gen, self.dtype = matvec, int(D), int(p), gen, dtype
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.Q = torch.empty(min(self.D, max(64, 4 * self.p)), self.D, dtype=dtype, device=self.device)
        self.T = torch.zeros(0, 0, dtype=torch.float64)
        self.C = torch.zeros(0, 0, dtype=torch.float64)  # C = Q[m:n] A Q[:m]^T, the pending rows' coupling
        self.n = self.m = 0
        self.anorm = 0.0
        self.n_products = 0
        self._append(self._fresh(min(self.p, self.D), torch.zeros(0, self.D, dtype=dtype, device=self.device)))

    # -- helpers ------------------------------------------------------------
    def _orth(self, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Remove from the rows of ``W`` their components along ``Q[:n]``, twice; also return the projections."""
        Qn = self.Q[: self.n]
        h = W @ Qn.T
        W = W - h @ Qn
        h2 = W @ Qn.T
        return W - h2 @ Qn, h + h2

    def _fresh(self, count: int, keep: torch.Tensor) -> torch.Tensor:
        """``count`` random orthonormal rows orthogonal to ``Q[:n]`` and to the (orthonormal) rows of ``keep``."""
        basis, out = keep, []
        for _ in range(10):
            need = count - sum(r.shape[0] for r in out)
            if need == 0:
                return torch.cat(out)
            R, _ = self._orth(torch.randn(need, self.D, generator=self.gen, dtype=self.dtype).to(self.device))
            for _ in range(2):
                R = R - (R @ basis.T) @ basis
            Qr, Rr = torch.linalg.qr(R.T)
            good = Rr.diagonal().abs() > 1e-8 * torch.linalg.vector_norm(R, dim=1).clamp_min(1e-300)
            out.append(Qr.T[good])
            basis = torch.cat([basis, out[-1]])
        raise RuntimeError("could not draw random vectors orthogonal to the Krylov space")

    def _append(self, rows: torch.Tensor) -> None:
        need = self.n + rows.shape[0]
        if need > self.Q.shape[0]:
            new = torch.empty(min(self.D, max(need, 2 * self.Q.shape[0])), self.D, dtype=self.dtype, device=self.device)
            new[: self.n] = self.Q[: self.n]
            self.Q = new
        self.Q[self.n : need] = rows
        self.n = need

    @property
    def exhausted(self) -> bool:
        return self.m == self.D  # every basis vector multiplied, and the basis is all of R^D

    # -- one block step -----------------------------------------------------
    def step(self, rows: int | None = None) -> None:
        """Multiply the first ``rows`` pending vectors (default: the whole pending block) by ``A``,
        extend ``T`` and append the next block."""
        m, n = self.m, self.n
        r = n - m if rows is None else min(int(rows), n - m)
        P = self.Q[m : m + r]
        W = self.matvec(P)
        self.n_products += r
        W = W.to(device=self.device, dtype=self.dtype).reshape(r, self.D)
        if not torch.isfinite(W).all():
            raise FloatingPointError("the matrix-vector product returned non-finite values")
        self.anorm = max(self.anorm, float(torch.linalg.vector_norm(W, dim=1).max()))
        R, h = self._orth(W)  # h[i, j] = (A q_{m+i}) . q_j for all j < n
        h = h.to("cpu")
        mr = m + r
        T = torch.zeros(mr, mr, dtype=torch.float64)
        T[:m, :m] = self.T
        T[m:mr, :mr] = h[:, :mr]
        T[:mr, m:mr] = h[:, :mr].T
        T[m:mr, m:mr] = (h[:, m:mr] + h[:, m:mr].T) / 2
        # the pending vectors left over keep their coupling to the earlier blocks and gain one to these rows
        C = torch.cat([self.C[r:], h[:, mr:n].T], dim=1)
        self.T, self.m = T, mr
        want = min(self.p, self.D - n)
        if want > 0:
            # an orthonormal basis of the residual's row space; directions below the breakdown
            # threshold are dropped and replaced by random vectors (they carry no information)
            _, S, Vh = torch.linalg.svd(R, full_matrices=False)
            kept = Vh[S > _BREAKDOWN * max(self.anorm, 1e-300)][:want]
            if kept.shape[0]:
                kept, _ = self._orth(kept)
                kept = torch.linalg.qr(kept.T)[0].T
            new = kept if kept.shape[0] == want else torch.cat([kept, self._fresh(want - kept.shape[0], kept)])
            C_new = torch.zeros(new.shape[0], mr, dtype=torch.float64)
            C_new[:, m:] = (new @ W.T).to("cpu")  # coupling to A times the rows just multiplied
            C = torch.cat([C, C_new])
            self._append(new)
        self.C = C

    def ritz(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Ritz values (descending), their eigenvectors in ``T`` (columns) and residual norms."""
        evals, S = torch.linalg.eigh(self.T)
        evals, S = evals.flip(0), S.flip(1)
        if self.exhausted:  # the basis is all of R^D: T is similar to A
            return evals, S, torch.zeros_like(evals)
        return evals, S, torch.linalg.vector_norm(self.C @ S, dim=0)


def _clusters(vals: torch.Tensor, gap: float) -> list[tuple[int, int]]:
    """Runs ``[start, stop)`` of a descending sequence whose neighbours differ by at most ``gap``."""
    out, start = [], 0
    for i in range(1, len(vals) + 1):
        if i == len(vals) or float(vals[i - 1] - vals[i]) > gap:
            out.append((start, i))
            start = i
    return out


class _TopK:
    """The ``k`` algebraically largest eigenvalues of a symmetric operator, with multiplicity, certified.

    Block Lanczos (:class:`_BlockKrylov`) from a random block of ``p`` vectors is grown until the
    top ``k`` Ritz pairs have residual norms below ``tol * ||A||`` (``||A||`` estimated by the
    largest ``|Ritz value|``). A Krylov method started from ``p`` vectors finds ``min(mult, p)``
    copies of an eigenvalue of multiplicity ``mult`` (and at least that many with the random
    refills after a breakdown), so an eigenvalue cluster (Ritz values within ``2 tol ||A||`` of
    each other, which converged copies of one eigenvalue are) with fewer than ``p`` members is
    complete. A cluster that ends inside the top ``k`` with ``p`` or more members may be missing
    copies, which would push the values after it down: the iteration then starts again from a
    fresh random block of ``max(2 p, size + 1)`` vectors. A cluster that reaches position ``k``
    needs no check: further copies would not change the top ``k`` values.

    Where certification is impossible within ``max_steps`` (the block would not fit) a
    :class:`MultiplicityWarning` is raised; non-convergence gives a ``RuntimeWarning``.
    """

    def __init__(self, matvec: Matvec, D: int, *, tol: float, max_steps: int, seed: int, device,
                 block_size: int | None = None):
        self.matvec, self.D, self.tol, self.max_steps, self.device = matvec, D, tol, max_steps, device
        self.gen = torch.Generator().manual_seed(int(seed))
        p = DEFAULT_BLOCK if block_size is None else block_size
        self.p = max(1, min(int(p), D, max_steps))
        self.kr = _BlockKrylov(matvec, D, self.p, gen=self.gen, device=device)
        self.n_products = 0
        self.zero = False

    def solve(self, k: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, bool, str | None]:
        """Grow until the top ``k`` are converged and certified.

        Returns ``(evals, S, res, converged, uncertified)``: all Ritz values (descending), their
        vectors in ``T`` (``None`` for the zero operator), residual norms, whether the top ``k``
        converged, and ``None`` or a message saying what could not be certified.
        """
        while True:
            evals, S, res, ok = self._converge(k)
            if S is None or self.kr.exhausted:
                return evals, S, res, ok, None
            scale = max(float(evals.abs().max()), 1e-300)
            worst = max((b - a for a, b in _clusters(evals[:k], 2 * self.tol * scale) if b < k), default=0)
            if worst < self.p:
                return evals, S, res, ok, None
            p_new = min(max(2 * self.p, worst + 1), self.D)
            if not ok or p_new > self.max_steps:
                msg = (f"an eigenvalue cluster inside the top {k} has {worst} Ritz values, as many as the block "
                       f"size {self.p} or more, so it may have further copies that were not found (the values "
                       f"after it would then be too small)")
                msg += ("; the iteration did not converge" if not ok else
                        f"; a block of {p_new} vectors does not fit in max_steps={self.max_steps}")
                return evals, S, res, ok, msg + f": raise max_steps, or pass block_size > {worst}"
            self.n_products += self.kr.n_products
            self.p = p_new
            self.kr = _BlockKrylov(self.matvec, self.D, self.p, gen=self.gen, device=self.device)

    def _converge(self, k: int):
        kr, last_check = self.kr, -1
        while True:
            if kr.m >= 1 and kr.anorm == 0.0:  # A Q = 0 for a random block: the zero operator (almost surely)
                zeros = torch.zeros(max(k, 1), dtype=torch.float64)
                return zeros, None, zeros, True
            at_end = kr.exhausted or kr.m >= self.max_steps
            due = kr.m >= k and (kr.m - last_check >= max(1, kr.m // 20))
            if kr.m >= k and (due or at_end):
                last_check = kr.m
                evals, S, res = kr.ritz()
                scale = max(float(evals.abs().max()), 1e-300)
                if bool((res[:k] <= self.tol * scale).all()):
                    return evals, S, res, True
                if at_end:
                    return evals, S, res, False
            elif at_end:
                raise RuntimeError(f"max_steps={self.max_steps} Lanczos steps cannot give {k} eigenvalues")
            kr.step(self.max_steps - kr.m)  # the last block may be cut short to stay within max_steps

    @property
    def products(self) -> int:
        return self.n_products + self.kr.n_products


def _top_k_operator(matvec: Matvec, D: int, k: int, *, eigenvectors: bool, tol: float, max_steps: int | None,
                    seed: int, device, out_dtype: torch.dtype, what: str = "the Hessian",
                    block_size: int | None = None):
    """The top ``k`` eigenpairs of a symmetric operator given by a block product ``[b, D] -> [b, D]``."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an integer, got {k!r}")
    if k < 1 or k > D:
        raise ValueError(f"k must satisfy 1 <= k <= D; got k={k} for {what} of dimension D={D}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    max_steps = D if max_steps is None else min(int(max_steps), D)
    if max_steps < k:
        raise ValueError(f"max_steps={max_steps} must be at least k={k}")
    solver = _TopK(matvec, D, tol=tol, max_steps=max_steps, seed=seed, device=device, block_size=block_size)
    evals, S, res, ok, uncertified = solver.solve(k)
    _warn(ok, uncertified, res, k, tol, max_steps, what, stacklevel=4)
    return _finish(solver.kr, evals, S, k, eigenvectors, out_dtype)


def _warn(ok: bool, uncertified: str | None, res, k: int, tol: float, max_steps: int, what: str, stacklevel: int):
    if not ok:
        warnings.warn(
            f"Lanczos did not converge in max_steps={max_steps} steps for {what}: the top-{k} residuals reached "
            f"{float(res[:k].max()):.3g} (asked for {tol:g} x ||A||); raise max_steps or tol",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    if uncertified is not None:
        warnings.warn(f"{what}: {uncertified}", MultiplicityWarning, stacklevel=stacklevel)


def _finish(kr: _BlockKrylov, evals, S, k, eigenvectors, out_dtype):
    vals = evals[:k].to(device=kr.device, dtype=out_dtype)
    if not eigenvectors:
        return vals
    if S is None:  # the zero operator: any orthonormal vectors are eigenvectors
        gen = torch.Generator().manual_seed(0)
        V = torch.linalg.qr(torch.randn(kr.D, k, generator=gen, dtype=kr.dtype))[0].T.to(kr.device)
        return vals, V.to(out_dtype)
    V = S[:, :k].T.to(device=kr.device, dtype=kr.dtype) @ kr.Q[: kr.m]
    V = V / torch.linalg.vector_norm(V, dim=1, keepdim=True)
    # a reproducible sign: the largest-magnitude component of each vector is positive
    pick = V.abs().argmax(dim=1)
    V = V * torch.sign(V.gather(1, pick[:, None]))
    return vals, V.to(out_dtype)


def top_eigenvalues(
    landscape: Landscape,
    theta: torch.Tensor,
    k: int,
    *,
    eigenvectors: bool = False,
    tol: float = 1e-6,
    max_steps: int | None = None,
    seed: int = 0,
    term: str = "full",
    idx=None,
    block_size: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` algebraically largest eigenvalues of the Hessian (or of one of its terms) at ``theta``.

    Block Lanczos with full re-orthogonalisation from a seeded random block of
    ``block_size`` vectors (default 2), grown one block of Hessian-vector
    products at a time until the residual norm of each of the top ``k`` Ritz
    pairs is below ``tol * ||A||`` (``||A||`` estimated by the largest
    ``|Ritz value|``), or until the Krylov space is all of ``R^D`` (then the
    result is exact). Eigenvalue errors are of the order of the squared
    residual divided by the gap to the rest of the spectrum, so they are
    usually far below ``tol``.

    **Multiplicities.** The eigenvalues are returned with their multiplicity:
    an eigenvalue of multiplicity ``mult`` appears ``mult`` times (as far as
    the top ``k`` reach). A Krylov method started from ``p`` vectors finds
    ``min(mult, p)`` copies of a repeated eigenvalue, so the answer is
    certified: if a cluster of equal Ritz values (within ``2 tol ||A||``) that
    ends inside the top ``k`` has as many members as the block has vectors,
    the iteration starts again with a block of ``max(2 p, size + 1)`` vectors;
    if that block does not fit into ``max_steps`` (or the iteration did not
    converge), a :class:`MultiplicityWarning` says so. Lost directions at a
    breakdown (an invariant subspace, as on the toy model, whose Hessian has
    two distinct eigenvalues) are replaced by random vectors orthogonal to
    the basis, so the space keeps growing. As with any Krylov method, an
    eigenvector almost orthogonal to every start vector can be missed; a
    different ``seed`` is a check.

    For a network the Hessian is that of the eval-mode loss (dropout off,
    batch norm with its fixed running statistics; see the module docstring).

    Args:
        landscape: the toy model or a network landscape.
        theta: the point ``[D]``.
        k: how many eigenvalues, ``1 <= k <= D``.
        eigenvectors: also return the orthonormal eigenvectors.
        tol: residual tolerance, relative to ``||A||``.
        max_steps: the largest Krylov dimension (default ``D``); a
            ``RuntimeWarning`` is raised if it is reached before convergence.
        seed: seed of the random start vectors.
        term: ``"full"`` (the Hessian), ``"G"`` (Gauss-Newton) or ``"H"`` (the
            rest, ``H - G``); see the module docstring.
        idx: optional indices of a subset of the training examples.
        block_size: the first block size (default :data:`DEFAULT_BLOCK` = 2); a larger
            one saves restarts when the top eigenvalue is known to be highly degenerate.

    Returns:
        The eigenvalues ``[k]`` in descending order, or ``(values, vectors)`` with
        ``vectors`` ``[k, D]`` (row ``i`` belongs to ``values[i]``; the sign is
        fixed so that its largest-magnitude entry is positive), in the
        landscape's dtype and on its device.

    Raises:
        ValueError: for ``k`` outside ``[1, D]``, an unknown ``term`` or a batch of points.

    Warns:
        RuntimeWarning: if the residuals are not below ``tol`` within ``max_steps``.
        MultiplicityWarning: if a repeated eigenvalue could have more copies than were found.
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    return _top_k_operator(matvec, landscape.D, k, eigenvectors=eigenvectors, tol=tol, max_steps=max_steps,
                           seed=seed, device=landscape.device, out_dtype=landscape.dtype,
                           block_size=block_size)


def exact_hessian(
    landscape: Landscape,
    theta: torch.Tensor,
    *,
    term: str = "full",
    idx=None,
    chunk_size: int = 256,
) -> torch.Tensor:
    """The exact ``[D, D]`` Hessian (or one of its terms), from batched Hessian-vector products.

    The identity is multiplied in chunks of ``chunk_size`` columns, each chunk
    one vectorised call; the result is symmetrised, ``(A + A^T) / 2``.

    Args:
        landscape: any landscape, with ``D <= 20000``.
        theta: the point ``[D]``.
        term: ``"full"``, ``"G"`` (Gauss-Newton) or ``"H"`` (the rest, ``H - G``).
        idx: optional indices of a subset of the training examples.
        chunk_size: how many Hessian-vector products per call (bounds memory).

    Returns:
        The symmetric matrix ``[D, D]`` in the landscape's dtype.

    Raises:
        ValueError: if ``D > 20000`` (use :func:`top_eigenvalues` or :func:`spectral_density`).
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    D = landscape.D
    if D > MAX_EXACT_D:
        raise ValueError(
            f"the exact Hessian of D={D} parameters would hold {D * D:.3g} entries (limit D <= {MAX_EXACT_D}); "
            f"use top_eigenvalues, layer_spectra or spectral_density, which need only Hessian-vector products"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    H = torch.empty(D, D, dtype=landscape.dtype, device=landscape.device)
    for start in range(0, D, chunk_size):
        stop = min(D, start + chunk_size)
        E = torch.zeros(stop - start, D, dtype=landscape.dtype, device=landscape.device)
        E[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
        H[start:stop] = matvec(E)
    return (H + H.T) / 2


# ---------------------------------------------------------------------------
# spectral density


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

    Args:
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


def spectral_density(
    landscape: Landscape,
    theta: torch.Tensor,
    *,
    n_vectors: int = 10,
    n_steps: int = 80,
    grid: torch.Tensor | int | None = None,
    sigma: float | None = None,
    seed: int = 0,
    term: str = "full",
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
        term: ``"full"``, ``"G"`` (Gauss-Newton) or ``"H"`` (the rest, ``H - G``).
        idx: optional indices of a subset of the training examples.
        distribution: ``"rademacher"`` (entries +-1) or ``"gaussian"`` start vectors.

    Returns:
        A :class:`SpectralDensity` with the raw nodes and weights and the density on the grid.
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    if not isinstance(n_vectors, int) or n_vectors < 1:
        raise ValueError(f"n_vectors must be a positive integer, got {n_vectors!r}")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if distribution not in ("rademacher", "gaussian"):
        raise ValueError(f"distribution must be 'rademacher' or 'gaussian', got {distribution!r}")
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    D = landscape.D
    m = min(n_steps, D)
    gen = torch.Generator().manual_seed(int(seed))
    nodes = torch.zeros(n_vectors, m, dtype=torch.float64)
    weights = torch.zeros(n_vectors, m, dtype=torch.float64)
    for i in range(n_vectors):
        if distribution == "rademacher":
            v0 = torch.randint(0, 2, (D,), generator=gen).to(torch.float64) * 2 - 1
        else:
            v0 = torch.randn(D, generator=gen, dtype=torch.float64)
        alphas, betas, _ = lanczos(matvec, D, m, v0=v0.to(landscape.device), device=landscape.device)
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
# short directions


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

    Args:
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
    term: str = "full",
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
        tol: residual tolerance (see :func:`top_eigenvalues`).
        max_steps: the largest Krylov dimension (default ``D``).
        seed: seed of the random start vectors.
        term: ``"full"``, ``"G"`` or ``"H"``.
        idx: optional indices of a subset of the training examples.
        block_size: the first block size of the block Lanczos iteration (see :func:`top_eigenvalues`).

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


# ---------------------------------------------------------------------------
# per-layer spectra


def _groups(landscape: NetworkLandscape, by: str) -> dict[str, list]:
    if by not in ("parameter", "module"):
        raise ValueError(f"by must be 'parameter' or 'module', got {by!r}")
    groups: dict[str, list] = {}
    for slot in landscape.view.slots:
        key = slot.name if by == "parameter" else (slot.name.rpartition(".")[0] or slot.name)
        groups.setdefault(key, []).append(slot)
    return groups


def layer_spectra(
    landscape: NetworkLandscape,
    theta: torch.Tensor,
    k: int,
    *,
    by: str = "parameter",
    tol: float = 1e-6,
    max_steps: int | None = None,
    seed: int = 0,
    term: str = "full",
    idx=None,
    block_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Top eigenvalues of the diagonal Hessian block of each parameter tensor (or module).

    For a block ``b`` of coordinates, ``H[b, b]`` is applied by embedding a block
    vector into ``D`` zeros, taking a Hessian-vector product and keeping the
    block's entries; its top eigenvalues come from the same Lanczos iteration as
    :func:`top_eigenvalues`. These are the curvatures of the loss when only
    that layer moves.

    Args:
        landscape: a network landscape (its :class:`~lsl.landscape.FlatView` names the blocks).
        theta: the point ``[D]``.
        k: eigenvalues per block (fewer for a block with fewer than ``k`` entries).
        by: ``"parameter"`` (one block per parameter tensor, e.g. ``"1.weight"``)
            or ``"module"`` (a module's parameters together, e.g. ``"1"`` for its
            weight and bias).
        tol: residual tolerance.
        max_steps: the largest Krylov dimension per block.
        seed: seed of the random start vectors.
        term: ``"full"``, ``"G"`` or ``"H"``.
        idx: optional indices of a subset of the training examples.
        block_size: the first block size of the block Lanczos iteration (see :func:`top_eigenvalues`).

    Returns:
        ``{name: eigenvalues}`` in flat-vector order, each descending.
    """
    if not isinstance(landscape, NetworkLandscape):
        raise TypeError(f"layer_spectra needs a NetworkLandscape (with named parameters), got {type(landscape).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _check_term(term)
    theta = _check_point(landscape, theta)
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    out: dict[str, torch.Tensor] = {}
    for name, slots in _groups(landscape, by).items():
        index = torch.cat([torch.arange(s.start, s.stop) for s in slots]).to(landscape.device)
        d = int(index.numel())

        def block_mv(u: torch.Tensor, index=index) -> torch.Tensor:
            full = torch.zeros(*u.shape[:-1], landscape.D, dtype=u.dtype, device=u.device)
            full[..., index] = u
            return matvec(full)[..., index]

        out[name] = _top_k_operator(block_mv, d, min(k, d), eigenvectors=False, tol=tol, max_steps=max_steps,
                                    seed=seed, device=landscape.device, out_dtype=landscape.dtype,
                                    what=f"the block {name!r}", block_size=block_size)
    return out


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
            returned by :func:`top_eigenvalues` with ``eigenvectors=True``.

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


from .operators import as_linear_operator  # noqa: E402  (re-export; operators imports curvature lazily)
