"""Krylov methods on a symmetric operator seen only through its matrix-vector product.

Nothing here knows about landscapes, networks or data: an operator ``A`` is a
function ``v -> A v`` on ``[D]`` vectors (and, for the block methods, on
``[b, D]`` blocks), and :mod:`lsl.curvature.hessian` supplies the Hessian (or one of its
terms) as such a function. Two iterations live here:

- :func:`lanczos` -- the Lanczos iteration from one start vector, with full
  re-orthogonalisation, giving the tridiagonal matrix ``T`` whose Ritz values
  approximate the extreme eigenvalues and whose eigenvectors give the Gauss
  quadrature of :func:`lsl.curvature.spectrum.spectral_density`.
- block Lanczos -- the algebraically largest ``k`` eigenvalues (and
  eigenvectors) with their multiplicities, to a residual tolerance: a block of
  ``p`` start vectors finds up to ``p`` copies of a repeated eigenvalue, so a
  cluster with fewer members than the block is certified complete; otherwise
  the iteration restarts with a larger block, or warns with a
  :class:`MultiplicityWarning`. This is the engine of
  :func:`lsl.curvature.hessian.top_eigenvalues`, :func:`lsl.curvature.hessian.layer_spectra`,
  :func:`lsl.curvature.short_directions.count_short_directions` and
  :func:`lsl.curvature.linear_operators.top_eigenvalues`.

**Precision.** The Lanczos vectors, the tridiagonal matrices and the
re-orthogonalisation are kept in float64 (``dtype``); the operator is called
with float64 vectors and casts them itself if it works in another precision
(the curvature operators evaluate in the landscape's dtype).
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch

__all__ = ["lanczos", "MultiplicityWarning", "DEFAULT_BLOCK"]

_BREAKDOWN = 1e-10  # beta below this times ||A q|| (largest so far) is an invariant subspace

#: A matrix-vector product ``[D] -> [D]`` (or ``[b, D] -> [b, D]`` for the block methods).
Matvec = Callable[[torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------------
# Lanczos


class _Krylov:
    """A growing Lanczos decomposition ``A Q_m = Q_m T_m + beta_m q_{m+1} e_m^T`` with full re-orthogonalisation.

    One start vector, so (in exact arithmetic) one copy of each distinct eigenvalue: this is the
    iteration of :func:`lanczos` and of the quadrature in :func:`lsl.curvature.spectrum.spectral_density`. It stops at a
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
    weights used by :func:`lsl.curvature.spectrum.spectral_density`.

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


#: The first block size of :func:`lsl.curvature.hessian.top_eigenvalues` and the functions built on it: with ``p`` start
#: vectors a Krylov method finds up to ``p`` copies of a repeated eigenvalue, so ``p = 2`` is the
#: smallest block that can certify that an eigenvalue is simple.
DEFAULT_BLOCK = 2


class MultiplicityWarning(RuntimeWarning):
    """The top eigenvalues could not be certified complete with their multiplicities.

    Raised as a warning by :func:`lsl.curvature.hessian.top_eigenvalues` (and
    :func:`lsl.curvature.short_directions.count_short_directions`, :func:`lsl.curvature.hessian.layer_spectra`,
    :func:`lsl.curvature.linear_operators.top_eigenvalues`) when an eigenvalue cluster inside the requested top ``k`` has at
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
            # a Ritz check after every block while T is small (its eigh costs far less than a product), then
            # every m / 20 products, so that the checks of a long run cost O(m^3) in all
            due = kr.m >= k and kr.m - last_check >= (1 if kr.m <= 200 else kr.m // 20)
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
