"""Tests for lsl.curvature.spectrum: spectral densities by stochastic Lanczos quadrature, gradient confinement
(subspace fractions), and the gap that separates outlier eigenvalues from the bulk.

References: ``torch.linalg.eigvalsh`` and traces of the exact Hessian (``torch.autograd.functional.hessian`` of the
hand-written network in ``tests/reference.py``), explicit vectors and eigenvalue lists.
"""

from __future__ import annotations

import pytest
import torch

from lsl.curvature import hessian, spectrum
from lsl.curvature.spectrum import largest_gap, outlier_separation
from tests.test_hessian import manual_ce, point, reference_hessian, tiny_net

F64 = torch.float64


@pytest.fixture(scope="module")
def net():
    return tiny_net()


@pytest.fixture(scope="module")
def net_hessian(net):
    theta = point(net)
    return theta, reference_hessian(lambda t: manual_ce(t, net.x, net.y), theta)


def test_largest_gap_counts_outliers():
    ev = torch.tensor([9.0, 8.0, 7.5, 0.5, 0.45, 0.4, -0.1])
    assert largest_gap(ev) == 3
    assert outlier_separation(ev, 3) == pytest.approx(15.0)
    assert largest_gap(torch.tensor([5.0, 1.0, 0.9])) == 1


def test_largest_gap_rejects_bad_input():
    with pytest.raises(ValueError, match="descending"):
        largest_gap(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="two"):
        largest_gap(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="k must be"):
        outlier_separation(torch.tensor([2.0, 1.0]), 2)


def test_spectral_density_rejects_bad_inputs(net):
    theta = net.theta0
    with pytest.raises(ValueError, match="unknown term.*'hessian'.*'gauss_newton'.*'rest'"):
        spectrum.spectral_density(net, theta, term="x")
    with pytest.raises(ValueError, match="n_vectors"):
        spectrum.spectral_density(net, theta, n_vectors=0)
    with pytest.raises(ValueError, match="distribution"):
        spectrum.spectral_density(net, theta, distribution="uniform")


def test_spectral_density_integrates_to_one_and_has_the_outliers(net, net_hessian):
    theta, H = net_hessian
    exact = torch.linalg.eigvalsh(H)
    sd = spectrum.spectral_density(net, theta, n_vectors=4, n_steps=40, seed=1)
    assert sd.nodes.shape == sd.weights.shape == (4, 40)
    assert torch.allclose(sd.weights.sum(1), torch.ones(4, dtype=F64), atol=1e-12)
    assert torch.trapezoid(sd.density, sd.grid) == pytest.approx(1.0, abs=1e-4)
    assert (sd.density >= 0).all()
    assert torch.allclose(sd.evaluate(sd.grid), sd.density)
    # the extreme Ritz values of every run are the extreme eigenvalues
    assert sd.nodes.max() == pytest.approx(float(exact[-1]), rel=1e-8)
    assert sd.nodes.min() == pytest.approx(float(exact[0]), rel=1e-6)
    # a user grid and width
    g = torch.linspace(float(exact[0]) - 1, float(exact[-1]) + 1, 4001, dtype=F64)
    sd2 = spectrum.spectral_density(net, theta, n_vectors=2, n_steps=30, grid=g, sigma=0.02)
    assert torch.trapezoid(sd2.density, sd2.grid) == pytest.approx(1.0, abs=1e-6)


def test_spectral_density_moments_estimate_traces(net, net_hessian):
    theta, H = net_hessian
    # Gauss quadrature with m nodes is exact for polynomials of degree < 2m, so the first two
    # moments carry only the Hutchinson error of the random start vectors
    sd = spectrum.spectral_density(net, theta, n_vectors=200, n_steps=2, seed=0)
    assert sd.mean() == pytest.approx(float(torch.trace(H)) / net.D, rel=0.05)
    assert sd.trace() == pytest.approx(float(torch.trace(H)), rel=0.05)
    assert sd.moment(2) == pytest.approx(float(torch.trace(H @ H)) / net.D, rel=0.05)


def test_subspace_fraction(net, net_hessian):
    theta, H = net_hessian
    D = net.D
    e = torch.eye(D, dtype=F64)
    g = torch.zeros(D, dtype=F64)
    g[0], g[1], g[2] = 3.0, 4.0, 12.0
    assert spectrum.subspace_fraction(g, e[:2]) == pytest.approx(25 / 169)
    assert spectrum.subspace_fraction(g, e[2]) == pytest.approx(144 / 169)
    assert spectrum.subspace_fraction(g, e) == pytest.approx(1.0)
    # a vector built from the top eigenvectors lies entirely in their span
    _, vecs = hessian.top_eigenvalues(net, theta, 4, eigenvectors=True)
    assert spectrum.subspace_fraction(vecs.T @ torch.tensor([1.0, -2, 0.5, 3], dtype=F64), vecs) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="orthonormal"):
        spectrum.subspace_fraction(g, 2 * e[:2])
    with pytest.raises(ValueError, match="zero"):
        spectrum.subspace_fraction(torch.zeros(D, dtype=F64), e[:2])
    with pytest.raises(ValueError, match="shape|need"):
        spectrum.subspace_fraction(g, e[:2, :-1])
