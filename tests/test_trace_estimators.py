"""Tests for lsl.curvature.trace_estimators: Hutchinson and Hutch++ on any operator.

References: exact traces of explicit matrices, and the variance of Hutchinson's estimator in
closed form.
"""

from __future__ import annotations

import math

import pytest
import torch

from lsl.curvature.linear_operators import as_linear_operator
from lsl.curvature.trace_estimators import TraceEstimate, hutchinson, hutchpp

from tests.reference import Quadratic

F64 = torch.float64


def random_symmetric(D=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    M = torch.randn(D, D, generator=gen, dtype=F64)
    return (M + M.T) / 2


def test_hutchinson_unbiased_and_variance_as_predicted():
    A = random_symmetric(D=50, seed=2)
    exact = float(torch.trace(A))
    m, seeds = 8, 600
    est = torch.tensor([hutchinson(A, m, seed=s).estimate for s in range(seeds)], dtype=F64)
    se = float(est.std()) / math.sqrt(seeds)
    assert abs(float(est.mean()) - exact) < 4 * se  # unbiased: within 4 standard errors of the mean
    # Rademacher: Var = 2 (||A||_F^2 - sum A_ii^2) / m; the sample variance of 600 draws is within ~15%
    var_theory = 2 * (float((A**2).sum()) - float((torch.diagonal(A) ** 2).sum())) / m
    assert abs(float(est.var()) / var_theory - 1) < 0.2


def low_rank_plus_noise(D=120, r=5, seed=3):
    gen = torch.Generator().manual_seed(seed)
    U = torch.linalg.qr(torch.randn(D, r, generator=gen, dtype=F64))[0]
    E = torch.randn(D, D, generator=gen, dtype=F64) / math.sqrt(D)
    return U @ torch.diag(torch.linspace(50, 100, r, dtype=F64)) @ U.T + 0.1 * (E @ E.T)


def test_hutchpp_unbiased_and_lower_variance_than_hutchinson_at_equal_budget():
    A = low_rank_plus_noise()
    exact = float(torch.trace(A))
    m, seeds = 30, 150
    hpp = torch.tensor([hutchpp(A, m, seed=s).estimate for s in range(seeds)], dtype=F64)
    hut = torch.tensor([hutchinson(A, m, seed=s).estimate for s in range(seeds)], dtype=F64)
    assert all(hutchpp(A, m, seed=s).n_matvecs == m for s in range(3))
    assert abs(float(hpp.mean()) - exact) < 4 * float(hpp.std()) / math.sqrt(seeds)
    assert abs(float(hut.mean()) - exact) < 4 * float(hut.std()) / math.sqrt(seeds)
    # the rank-5 top is captured by the sketch (k = 10 > 5): what remains is the small noise part
    assert float(hpp.var()) < 0.01 * float(hut.var())


def test_hutchpp_is_exact_on_a_landscape_hessian_with_a_budget_of_3d():
    """With ``m = 3 D`` the sketch spans R^D (``k = D``), so Hutch++ returns the trace exactly, here of a quadratic's
    Hessian taken through :func:`lsl.curvature.linear_operators.as_linear_operator`: the ``D`` Hutchinson vectors left are projected to
    zero and add nothing. One Hutchinson vector gives a single sample, without a standard error."""
    A = random_symmetric(D=12, seed=4)
    land = Quadratic(A, torch.zeros(12, dtype=F64))
    op = as_linear_operator(land, torch.ones(12, dtype=F64))
    est = hutchpp(op, 3 * 12)
    assert isinstance(est, TraceEstimate) and est.method == "hutch++" and est.n_matvecs == 36
    assert abs(float(est) - float(torch.trace(A))) < 1e-10 and est.stderr < 1e-12
    one = hutchinson(op, 1, seed=5)
    assert one.n_matvecs == 1 and math.isnan(one.stderr)


def test_trace_estimators_reject_bad_budget():
    with pytest.raises(ValueError, match="n_matvecs"):
        hutchinson(torch.eye(3), 0)
    with pytest.raises(ValueError, match="n_matvecs"):
        hutchpp(torch.eye(3), 2)
    with pytest.raises(ValueError, match="distribution"):
        hutchinson(torch.eye(3), 2, distribution="uniform")
