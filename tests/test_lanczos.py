"""Tests for lsl.curvature.lanczos: the Lanczos iteration and the block Lanczos top-k solver behind every top-eigenvalue
routine, on explicit matrices.

References: ``torch.linalg.eigvalsh`` of dense symmetric matrices (random, spiked, or built with a known spectrum and a
random orthogonal eigenbasis).
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from lsl.curvature import hessian, lanczos
from tests.test_hessian import point, rel_err, tiny_net

F64 = torch.float64


def spiked_matrix(D=300, seed=0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(D, D, generator=gen, dtype=F64) / math.sqrt(D)
    A = (X + X.T) / 2
    U, _ = torch.linalg.qr(torch.randn(D, 5, generator=gen, dtype=F64))
    return A + U @ torch.diag(torch.tensor([30.0, 20.0, 12.0, 8.0, 5.0], dtype=F64)) @ U.T


def test_lanczos_top_eigenvalues_match_eigvalsh():
    A = spiked_matrix()
    exact = torch.linalg.eigvalsh(A).flip(0)
    alphas, betas, Q = lanczos.lanczos(lambda v: A @ v, A.shape[0], 80, seed=3)
    assert alphas.shape == betas.shape == (80,) and Q.shape == (80, A.shape[0])
    T = torch.diag(alphas) + torch.diag(betas[:-1], 1) + torch.diag(betas[:-1], -1)
    ritz = torch.linalg.eigvalsh(T).flip(0)
    assert rel_err(ritz[:7], exact[:7]) < 1e-8  # the 5 outliers and the bulk edge
    # full re-orthogonalisation: Q stays orthonormal, and T is the projection Q A Q^T
    assert torch.allclose(Q @ Q.T, torch.eye(80, dtype=F64), atol=1e-12)
    assert torch.allclose(Q @ A @ Q.T, T, atol=1e-10)


def test_lanczos_stops_at_breakdown_and_respects_v0():
    D = 50
    gen = torch.Generator().manual_seed(0)
    U, _ = torch.linalg.qr(torch.randn(D, D, generator=gen, dtype=F64))
    lam = torch.tensor([3.0] * 10 + [1.0] * 20 + [-2.0] * 20, dtype=F64)
    A = U @ torch.diag(lam) @ U.T
    alphas, betas, Q = lanczos.lanczos(lambda v: A @ v, D, 40)
    assert len(alphas) == 3  # three distinct eigenvalues: the Krylov space is invariant after 3 steps
    assert abs(betas[-1]) < 1e-10
    T = torch.diag(alphas) + torch.diag(betas[:-1], 1) + torch.diag(betas[:-1], -1)
    assert torch.allclose(torch.linalg.eigvalsh(T), torch.tensor([-2.0, 1.0, 3.0], dtype=F64), atol=1e-12)
    v0 = torch.randn(D, generator=gen, dtype=F64)
    _, _, Q = lanczos.lanczos(lambda v: A @ v, D, 2, v0=3 * v0)
    assert torch.allclose(Q[0], v0 / v0.norm(), atol=1e-15)
    with pytest.raises(ValueError, match="non-zero"):
        lanczos.lanczos(lambda v: A @ v, D, 2, v0=torch.zeros(D, dtype=F64))
    with pytest.raises(ValueError, match="n_steps"):
        lanczos.lanczos(lambda v: A @ v, D, 0)


def test_lanczos_casts_to_float64_for_a_float32_operator():
    A = spiked_matrix(100).float()
    seen = []

    def matvec(v):
        seen.append(v.dtype)
        return A @ v.float()

    alphas, _, Q = lanczos.lanczos(matvec, 100, 30)
    assert set(seen) == {F64} and Q.dtype == F64 and alphas.dtype == F64


# ---------------------------------------------------------------------------
# the block Lanczos top-k solver


def test_zero_operator_is_answered_at_once():
    land = tiny_net(depth=0)  # the H term of a linear model is exactly zero
    calls = []
    matvec = lambda v: calls.append(1) or torch.zeros_like(v)  # noqa: E731
    vals, vecs = lanczos._top_k_operator(matvec, land.D, 3, eigenvectors=True, tol=1e-6, max_steps=None, seed=0,
                                         device=None, out_dtype=F64)
    assert len(calls) == 1 and torch.equal(vals, torch.zeros(3, dtype=F64))
    assert torch.allclose(vecs @ vecs.T, torch.eye(3, dtype=F64), atol=1e-12)
    assert hessian.top_eigenvalues(land, point(land), 2, term="rest").abs().max() < 1e-12


# ---------------------------------------------------------------------------
# multiplicities (block Lanczos), against eigvalsh of operators with known spectra


def known_spectrum(lam, seed=0) -> torch.Tensor:
    """A dense symmetric matrix with eigenvalues ``lam`` and a random orthogonal eigenbasis."""
    gen = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(len(lam), len(lam), generator=gen, dtype=F64))
    A = U @ torch.diag(torch.as_tensor(lam, dtype=F64)) @ U.T
    return (A + A.T) / 2


def dense_top(A, k, **kw):
    return lanczos._top_k_operator(lambda V: V @ A, A.shape[0], k, eigenvectors=kw.pop("eigenvectors", False),
                                   tol=kw.pop("tol", 1e-6), max_steps=kw.pop("max_steps", None), seed=kw.pop("seed", 0),
                                   device=None, out_dtype=F64, **kw)


BULK = (torch.rand(150, generator=torch.Generator().manual_seed(1), dtype=F64) * 2 - 1).tolist()


@pytest.mark.parametrize("lam, k", [
    ([5.0] * 3 + BULK, 10),                    # multiplicity between 1 and k
    ([5.0] * 10 + BULK, 10),                   # equal to k
    ([5.0] * 14 + BULK, 10),                   # larger than k (the reported failure: 7 copies, then 0.0)
    ([5.0] * 14 + BULK, 20),                   # larger than the first blocks, and then the bulk
    ([5.0] * 6 + [4.0] * 5 + [3.5] * 7 + BULK, 25),  # several clusters
    ([2.0] * 4 + [-1.0] * 10 + [-3.0] * 20, 15),     # negative eigenvalues, a cluster straddling k
    ([-0.5] * 12 + [-2.0] * 30, 20),                  # all negative: algebraically largest, not largest |lambda|
])
def test_top_eigenvalues_count_multiplicities(lam, k):
    A = known_spectrum(lam)
    exact = torch.linalg.eigvalsh(A).flip(0)[:k]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a certified answer: no warning
        vals, vecs = dense_top(A, k, eigenvectors=True)
    assert rel_err(vals, exact) < 1e-6
    assert torch.allclose(vecs @ vecs.T, torch.eye(k, dtype=F64), atol=1e-8)
    assert (A @ vecs.T - vecs.T * vals).norm(dim=0).max() < 1e-5 * exact.abs().max()


def test_multiplicity_that_cannot_be_certified_warns():
    A = known_spectrum([5.0] * 14 + [1.0] * 30)
    # a block of 2 finds two copies of 5, but a block large enough to look for more does not fit
    # into 6 Krylov vectors: the answer (5, 5, then smaller values) must come with a warning
    with pytest.warns(lanczos.MultiplicityWarning, match="further copies"):
        vals = dense_top(A, 6, max_steps=6)
    assert vals[2] < 5.0 - 1e-3  # the wrong answer that the warning is about
