"""Tests for lsl.curvature.hessian: Lanczos, top eigenvalues, the Gauss-Newton split, SLQ densities, short directions.

Lanczos, the densities and short directions live in lsl.curvature.lanczos, lsl.curvature.spectrum and lsl.curvature.short_directions; they
are reached here through lsl.curvature.hessian, which still serves their names.

References are independent of lsl's functional machinery where it matters:
``torch.linalg.eigvalsh`` of explicit matrices, ``torch.autograd.functional``
Hessians and Jacobians of hand-written forward passes on the flat parameter
vector, the toy model's closed-form Hessian, and direct loss differences.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from lsl.curvature import hessian, lanczos, linear_operators, short_directions, spectrum
from lsl.network import NetworkLandscape
from lsl.data.nets import MLP

from tests.reference import cross_entropy, tanh_mlp_logits
from lsl.toy import WedgeLandscape

F64 = torch.float64
IN, WIDTH, C, N = 5, 12, 4, 60  # D = 5*12 + 12 + 12*4 + 4 = 124


# ---------------------------------------------------------------------------
# fixtures and independent references


def tiny_data(seed: int = 0, n: int = N, c: int = C):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, IN, generator=gen, dtype=F64)
    y = torch.randint(0, c, (n,), generator=gen)
    return x, y


def tiny_net(loss="cross_entropy", seed: int = 0, depth: int = 1) -> NetworkLandscape:
    torch.manual_seed(seed)
    model = MLP(IN, C, width=WIDTH, depth=depth, activation="tanh").to(F64)
    x, y = tiny_data(seed)
    return NetworkLandscape(model, x, y, loss=loss)


def manual_logits(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The depth-1 tanh MLP written by hand on the flat vector (W1, b1, W2, b2 in order)."""
    return tanh_mlp_logits(theta, x, IN, WIDTH, C)


def manual_ce(theta, x, y):
    return cross_entropy(manual_logits(theta, x), y)


def manual_mse(theta, x, y):
    z = manual_logits(theta, x)
    return ((z - nn.functional.one_hot(y, C).to(z.dtype)) ** 2).mean()


def mse_loss(z, y):
    """Mean squared error on one-hot targets, as a plain callable."""
    return ((z - nn.functional.one_hot(y, z.shape[-1]).to(z.dtype)) ** 2).mean()


def reference_hessian(fn, theta) -> torch.Tensor:
    return torch.autograd.functional.hessian(fn, theta.detach().clone())


def logit_jacobian(theta, x) -> torch.Tensor:
    """``J[i, c, :] = d z_ic / d theta`` by torch.autograd.functional.jacobian, ``[N, C, D]``."""
    return torch.autograd.functional.jacobian(lambda t: manual_logits(t, x), theta.detach().clone())


def point(land, seed=1, scale=0.3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return land.theta0 + scale * torch.randn(land.D, generator=gen, dtype=F64)


@pytest.fixture(scope="module")
def net():
    return tiny_net()


@pytest.fixture(scope="module")
def net_hessian(net):
    theta = point(net)
    return theta, reference_hessian(lambda t: manual_ce(t, net.x, net.y), theta)


def rel_err(a, b) -> float:
    return float(((a - b).abs() / b.abs().clamp_min(1e-300)).max())


# ---------------------------------------------------------------------------
# Lanczos on explicit matrices


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
# top eigenvalues and the exact Hessian of a network


def test_manual_reference_is_the_landscape(net):
    theta = point(net)
    assert torch.allclose(net.loss(theta), manual_ce(theta, net.x, net.y), atol=1e-14)
    assert 100 <= net.D <= 400


def test_top_eigenvalues_match_exact_hessian(net, net_hessian):
    theta, H = net_hessian
    exact = torch.linalg.eigvalsh(H).flip(0)
    k = 8
    vals, vecs = hessian.top_eigenvalues(net, theta, k, eigenvectors=True, tol=1e-10)
    assert vals.shape == (k,) and vecs.shape == (k, net.D) and vals.dtype == F64
    assert torch.all(vals[:-1] >= vals[1:])
    assert rel_err(vals, exact[:k]) < 1e-8
    # H v = lambda v, and the vectors are orthonormal
    assert (H @ vecs.T - vecs.T * vals).norm(dim=0).max() < 1e-8 * exact[0]
    assert torch.allclose(vecs @ vecs.T, torch.eye(k, dtype=F64), atol=1e-10)
    # the default tolerance already gives the eigenvalues to well under 1e-6
    assert rel_err(hessian.top_eigenvalues(net, theta, k), exact[:k]) < 1e-6


def test_top_eigenvalues_are_algebraic_largest_and_seed_independent(net, net_hessian):
    theta, H = net_hessian
    exact = torch.linalg.eigvalsh(H).flip(0)
    assert exact[-1] < 0  # away from a minimum the Hessian is indefinite
    a = hessian.top_eigenvalues(net, theta, 3, tol=1e-10, seed=0)
    b = hessian.top_eigenvalues(net, theta, 3, tol=1e-10, seed=7)
    assert rel_err(a, exact[:3]) < 1e-8 and rel_err(b, exact[:3]) < 1e-8


def test_all_eigenvalues_when_k_is_D(net, net_hessian):
    theta, H = net_hessian
    vals = hessian.top_eigenvalues(net, theta, net.D)
    assert torch.allclose(vals, torch.linalg.eigvalsh(H).flip(0), atol=1e-10)


def test_exact_hessian_equals_autograd_reference(net, net_hessian):
    theta, H = net_hessian
    Hx = hessian.exact_hessian(net, theta, chunk_size=37)  # several chunks, the last one partial
    assert Hx.shape == (net.D, net.D)
    assert torch.equal(Hx, Hx.T)
    assert torch.allclose(Hx, H, atol=1e-12, rtol=0)


def test_minibatch_idx(net):
    theta = point(net)
    idx = torch.arange(0, N, 3)
    sub = NetworkLandscape(net.model, net.x[idx], net.y[idx])
    a = hessian.top_eigenvalues(net, theta, 4, tol=1e-10, idx=idx)
    b = torch.linalg.eigvalsh(reference_hessian(lambda t: manual_ce(t, sub.x, sub.y), theta)).flip(0)[:4]
    assert rel_err(a, b) < 1e-8
    G = hessian.exact_hessian(net, theta, term="G", idx=idx)
    assert torch.allclose(G, hessian.exact_hessian(sub, theta, term="G"), atol=1e-13)


def test_float32_landscape_gives_float32_results():
    land = tiny_net()
    land32 = NetworkLandscape(land.model, land.x, land.y, dtype=torch.float32)
    theta = point(land)
    v64 = hessian.top_eigenvalues(land, theta, 3)
    v32, vec32 = hessian.top_eigenvalues(land32, theta.float(), 3, eigenvectors=True, tol=1e-4)
    assert v32.dtype == vec32.dtype == torch.float32
    assert rel_err(v32.double(), v64) < 1e-4


def test_non_convergence_warns(net):
    theta = point(net)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        vals = hessian.top_eigenvalues(net, theta, 5, tol=1e-14, max_steps=8)
    assert vals.shape == (5,)


# ---------------------------------------------------------------------------
# the toy model


def test_wedge_top_eigenvalues_closed_form():
    D, n = 30, 10
    land = WedgeLandscape(D, n, dtype=F64)
    theta = torch.randn(D, generator=torch.Generator().manual_seed(5), dtype=F64)
    L = float(land.loss(theta))
    vals, vecs = hessian.top_eigenvalues(land, theta, 22, eigenvectors=True)
    # 1/L with multiplicity D - n - 1 (found through restarts after each breakdown), then zeros
    expected = torch.tensor([1 / L] * (D - n - 1) + [0.0] * 3, dtype=F64)
    assert torch.allclose(vals, expected, atol=1e-10)
    H = land.hessian_closed_form(theta)
    assert torch.allclose(H @ vecs.T, vecs.T * vals, atol=1e-10)
    assert torch.allclose(hessian.exact_hessian(land, theta), H, atol=1e-12)
    sd = spectrum.spectral_density(land, theta, n_vectors=4, n_steps=10)
    assert sd.mean() == pytest.approx((D - n - 1) / L / D, rel=0.3)  # Hutchinson, 4 vectors


def test_wedge_has_no_gauss_newton_term():
    land = WedgeLandscape(6, 2, dtype=F64)
    theta = torch.randn(6, dtype=F64)
    with pytest.raises(NotImplementedError, match="no.*logits|has none"):
        hessian.gauss_newton_vp(land, theta, theta)
    with pytest.raises(NotImplementedError):
        hessian.top_eigenvalues(land, theta, 2, term="G")


# ---------------------------------------------------------------------------
# the Gauss-Newton split


def test_gauss_newton_equals_jacobian_sandwich(net):
    theta = point(net)
    J = logit_jacobian(theta, net.x)  # [N, C, D]
    p = torch.softmax(manual_logits(theta, net.x), -1)
    H_out = (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]) / N  # [N, C, C]
    G = torch.einsum("icd,ice,ief->df", J, H_out, J)
    V = torch.randn(5, net.D, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert torch.allclose(hessian.gauss_newton_vp(net, theta, V), V @ G, atol=1e-13)
    assert torch.allclose(hessian.gauss_newton_vp(net, theta, V[0]), G @ V[0], atol=1e-13)
    Gx = hessian.exact_hessian(net, theta, term="G")
    assert torch.allclose(Gx, G, atol=1e-13)
    eig = torch.linalg.eigvalsh(Gx)
    assert eig.min() > -1e-12 * eig.max()  # positive semi-definite
    assert int((eig > 1e-10 * eig.max()).sum()) <= N * (C - 1)  # rank <= N (C - 1): p_i sums to one


def test_residual_term_is_residual_weighted_logit_curvature(net, net_hessian):
    theta, H = net_hessian
    # H_rest = sum_ic w_ic d^2 z_ic / dtheta^2 with w = (p - onehot(y)) / N held fixed
    with torch.no_grad():
        w = (torch.softmax(manual_logits(theta, net.x), -1) - nn.functional.one_hot(net.y, C)) / N
    H_rest = reference_hessian(lambda t: (w * manual_logits(t, net.x)).sum(), theta)
    Hx = hessian.exact_hessian(net, theta, term="H")
    assert torch.allclose(Hx, H_rest, atol=1e-13)
    G = hessian.exact_hessian(net, theta, term="G")
    assert torch.allclose(G + H_rest, H, atol=1e-13)
    V = torch.randn(3, net.D, generator=torch.Generator().manual_seed(1), dtype=F64)
    assert torch.allclose(hessian.residual_vp(net, theta, V), V @ H_rest, atol=1e-13)
    # top eigenvalues of each term
    for term, M in (("G", G), ("H", H_rest)):
        assert rel_err(hessian.top_eigenvalues(net, theta, 3, term=term, tol=1e-10),
                       torch.linalg.eigvalsh(M).flip(0)[:3]) < 1e-8


def test_linear_model_hessian_is_gauss_newton():
    land = tiny_net(depth=0)  # logits are linear in theta: no logit curvature
    theta = point(land, scale=1.0)
    H = hessian.exact_hessian(land, theta)
    G = hessian.exact_hessian(land, theta, term="G")
    assert hessian.exact_hessian(land, theta, term="H").abs().max() < 1e-14 * H.abs().max() + 1e-16
    assert torch.allclose(G, H, atol=1e-14)


def test_gauss_newton_for_mse():
    land = tiny_net(loss="mse")
    theta = point(land)
    J = logit_jacobian(theta, land.x).reshape(N * C, land.D)
    G = 2.0 / (N * C) * J.T @ J
    assert torch.allclose(hessian.exact_hessian(land, theta, term="G"), G, atol=1e-13)


def test_hessian_split_for_mse():
    land = tiny_net(loss="mse")
    theta = point(land)
    H = reference_hessian(lambda t: manual_mse(t, land.x, land.y), theta)
    assert torch.allclose(hessian.exact_hessian(land, theta), H, atol=1e-13)
    with torch.no_grad():
        w = 2.0 * (manual_logits(theta, land.x) - nn.functional.one_hot(land.y, C)) / (N * C)
    H_rest = reference_hessian(lambda t: (w * manual_logits(t, land.x)).sum(), theta)
    assert torch.allclose(hessian.exact_hessian(land, theta, term="H"), H_rest, atol=1e-13)


def test_gauss_newton_rejects_a_custom_loss():
    torch.manual_seed(0)
    x, y = tiny_data()
    land = NetworkLandscape(MLP(IN, C, width=3, depth=1).to(F64), x, y,
                            loss=lambda z, t: nn.functional.cross_entropy(z, t))
    with pytest.raises(NotImplementedError, match="cross_entropy"):
        hessian.gauss_newton_vp(land, land.theta0, land.theta0)
    assert hessian.top_eigenvalues(land, land.theta0, 1).shape == (1,)  # the full Hessian still works


# ---------------------------------------------------------------------------
# spectral density


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


# ---------------------------------------------------------------------------
# short directions


@pytest.fixture(scope="module")
def optimum():
    """A minimum of the mean-squared error of the tiny net (finite, unlike cross-entropy on separable data)."""
    torch.manual_seed(2)
    model = MLP(IN, C, width=WIDTH, depth=1, activation="tanh").to(F64)
    x, y = tiny_data(2)
    land = NetworkLandscape(model, x, y, loss=mse_loss)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny steps: threads only add overhead (and suffer on a busy machine)
    try:
        theta = _minimise(land)
    finally:
        torch.set_num_threads(threads)
    H = reference_hessian(lambda t: manual_mse(t, land.x, land.y), theta)
    return land, theta, H


def _minimise(land) -> torch.Tensor:
    """A strict local minimum of ``land``'s loss, reached robustly and checked.

    L-BFGS brings the point close; a damped (Levenberg-Marquardt) Newton iteration on the
    exact Hessian then converges to the minimum. Each step solves ``(H + mu I) s = -g`` with
    ``mu`` above ``-lambda_min(H)``, so it is a descent direction even where the Hessian is
    indefinite (an undamped Newton step there can climb towards a saddle, and where it ends
    depends on rounding), and is accepted only if the loss falls. Near the minimum ``mu``
    shrinks to zero and the steps become plain Newton steps: quadratic convergence.
    Convergence is asserted: a gradient at rounding level and a positive definite Hessian.
    """
    theta = land.theta0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1, max_iter=1000, tolerance_grad=1e-12, tolerance_change=1e-15,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = land.loss(theta)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    theta = theta.detach()
    f = lambda t: manual_mse(t, land.x, land.y)  # noqa: E731
    eye = torch.eye(land.D, dtype=F64)
    mu, loss, g = 1e-6, float(f(theta)), land.grad(theta)
    for _ in range(200):
        if float(g.norm()) < 1e-12:
            break
        H = reference_hessian(f, theta)
        lam_min = float(torch.linalg.eigvalsh(H)[0])
        shift = max(0.0, -lam_min) * 1.5 + mu
        step = torch.linalg.solve(H + shift * eye, -g)
        trial = theta + step
        trial_loss = float(f(trial))
        trial_g = land.grad(trial)
        # accept a decrease of the loss, or (at rounding level, where the loss no longer resolves
        # the decrease) a decrease of the gradient
        if trial_loss < loss or (trial_loss <= loss * (1 + 1e-14) and trial_g.norm() < g.norm()):
            theta, loss, g = trial, trial_loss, trial_g
            mu = max(mu / 10, 1e-14)
        else:
            mu *= 10
    H = reference_hessian(f, theta)
    evals = torch.linalg.eigvalsh(H)
    assert float(g.norm()) < 1e-10, (
        f"the optimum fixture did not converge: gradient norm {float(g.norm()):.3g} after damped Newton "
        f"(loss {loss:.6g}, last damping {mu:.3g})"
    )
    assert float(evals[0]) > 0, (
        f"the optimum fixture ended at a point whose Hessian is not positive definite (smallest eigenvalue "
        f"{float(evals[0]):.3g}): not a strict minimum"
    )
    return theta


def test_short_direction_threshold():
    assert short_directions.short_direction_threshold(0.1, 0.01) == pytest.approx(2.0)
    for eps, delta in ((0, 1), (1, 0), (-1, 1), (math.inf, 1)):
        with pytest.raises(ValueError, match="positive"):
            short_directions.short_direction_threshold(eps, delta)


def test_count_short_directions_matches_exact_eigenvalues(optimum):
    land, theta, H = optimum
    g = land.grad(theta)
    assert g.norm() < 1e-3  # near an optimum: the gradient term of the rise is small
    exact = torch.linalg.eigvalsh(H).flip(0)
    eps = 1e-2
    j = int(((exact[:-1] - exact[1:]) / exact[:-1])[4:12].argmax()) + 4  # a gap after index j, 4 <= j < 12
    threshold = float(exact[j] + exact[j + 1]) / 2
    delta = threshold * eps**2 / 2
    res = short_directions.count_short_directions(land, theta, eps=eps, delta=delta, k_start=2)
    assert res.count == int(res) == int((exact > threshold).sum()) == j + 1
    assert not res.lower_bound and res.threshold == pytest.approx(threshold)
    assert rel_err(res.eigenvalues, exact[: len(res.eigenvalues)]) < 1e-6
    # the definition, checked directly: along eigen-directions the loss rises by lambda eps^2 / 2,
    # by more than delta exactly for the counted ones
    vals, vecs = hessian.top_eigenvalues(land, theta, j + 3, eigenvectors=True)
    L0 = land.loss(theta)
    rise = land.loss(theta + eps * vecs) - L0
    second_difference = (rise + land.loss(theta - eps * vecs) - L0) / 2  # the gradient term cancels
    assert torch.allclose(second_difference, vals * eps**2 / 2, rtol=1e-3)
    assert torch.allclose(rise, vals * eps**2 / 2, rtol=2e-2)
    assert bool((rise[: j + 1] > delta).all()) and bool((rise[j + 1 :] < delta).all())


def test_count_short_directions_lower_bound_warns(optimum):
    land, theta, H = optimum
    exact = torch.linalg.eigvalsh(H).flip(0)
    delta = float(exact[20]) * 0.5**2 / 2
    with pytest.warns(RuntimeWarning, match="lower bound"):
        res = short_directions.count_short_directions(land, theta, eps=0.5, delta=delta, k_max=6, k_start=4)
    assert res.lower_bound and res.count == 6


def test_count_short_directions_on_the_toy_model():
    D, n = 40, 25
    land = WedgeLandscape(D, n, dtype=F64)
    theta = torch.randn(D, generator=torch.Generator().manual_seed(0), dtype=F64)
    L = float(land.loss(theta))
    eps = 0.1
    res = short_directions.count_short_directions(land, theta, eps=eps, delta=0.5 / L * eps**2 / 2, k_start=3)
    assert res.count == D - n - 1  # every short direction but the radial one within the short block


# ---------------------------------------------------------------------------
# per-layer spectra


def test_layer_spectra_are_diagonal_block_spectra(net, net_hessian):
    theta, H = net_hessian
    k = 5
    spectra = hessian.layer_spectra(net, theta, k, tol=1e-10)
    assert list(spectra) == net.view.names
    for name, vals in spectra.items():
        b = net.view.block(name)
        exact = torch.linalg.eigvalsh(H[b, b]).flip(0)
        assert len(vals) == min(k, b.stop - b.start)  # the last bias has only C = 4 entries
        assert torch.allclose(vals, exact[: len(vals)], atol=1e-10)
    by_module = hessian.layer_spectra(net, theta, k, by="module", tol=1e-10)
    assert list(by_module) == ["1", "3"]
    first = slice(0, net.view.block("1.bias").stop)
    assert torch.allclose(by_module["1"], torch.linalg.eigvalsh(H[first, first]).flip(0)[:k], atol=1e-10)
    with pytest.raises(ValueError, match="by"):
        hessian.layer_spectra(net, theta, k, by="layer")


# ---------------------------------------------------------------------------
# batch norm (the policy: the training data's statistics at theta, differentiated)


def test_batchnorm_model_spectrum_matches_exact_hessian():
    from lsl.network_checks import BatchNormPolicyWarning

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(IN, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, C)).to(F64)
    x, y = tiny_data(n=40)
    with torch.no_grad():  # give the running statistics non-trivial values: the landscape must not use them
        model.train()
        for _ in range(5):
            model(3 * x + 1)
    bn = model[1]
    rm, rv = bn.running_mean.clone(), bn.running_var.clone()
    with pytest.warns(BatchNormPolicyWarning, match="running statistics"):
        land = NetworkLandscape(model, x, y)
    theta = point(land)

    def manual(t):
        i = 0
        W1 = t[i : i + 6 * IN].reshape(6, IN); i += 6 * IN
        b1 = t[i : i + 6]; i += 6
        gamma = t[i : i + 6]; i += 6
        beta = t[i : i + 6]; i += 6
        W2 = t[i : i + C * 6].reshape(C, 6); i += C * 6
        b2 = t[i : i + C]
        a = x @ W1.T + b1
        mean, var = a.mean(0), ((a - a.mean(0)) ** 2).mean(0)  # the training data's statistics at t
        h = (a - mean) / torch.sqrt(var + bn.eps) * gamma + beta
        z = torch.tanh(h) @ W2.T + b2
        return (torch.logsumexp(z, 1) - z.gather(1, y[:, None])[:, 0]).mean()

    assert torch.allclose(land.loss(theta), manual(theta), atol=1e-14)
    exact = torch.linalg.eigvalsh(reference_hessian(manual, theta)).flip(0)
    vals = hessian.top_eigenvalues(land, theta, 5, tol=1e-10)
    assert rel_err(vals, exact[:5]) < 1e-8
    assert torch.equal(bn.running_mean, rm) and torch.equal(bn.running_var, rv)


# ---------------------------------------------------------------------------
# gradient confinement


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


# ---------------------------------------------------------------------------
# bad inputs


def test_bad_inputs(net):
    theta = net.theta0
    with pytest.raises(ValueError, match=r"1 <= k <= D.*k=125.*D=124"):
        hessian.top_eigenvalues(net, theta, net.D + 1)
    with pytest.raises(ValueError, match="1 <= k <= D"):
        hessian.top_eigenvalues(net, theta, 0)
    with pytest.raises(TypeError, match="integer"):
        hessian.top_eigenvalues(net, theta, 2.5)
    for fn in (lambda: hessian.top_eigenvalues(net, theta, 2, term="GN"),
               lambda: hessian.exact_hessian(net, theta, term="gauss"),
               lambda: spectrum.spectral_density(net, theta, term="x"),
               lambda: hessian.layer_spectra(net, theta, 2, term="x")):
        with pytest.raises(ValueError, match="unknown term.*'full'.*'G'.*'H'"):
            fn()
    with pytest.raises(ValueError, match=r"shape \[D\]"):
        hessian.top_eigenvalues(net, torch.stack([theta, theta]), 2)
    with pytest.raises(ValueError, match="max_steps"):
        hessian.top_eigenvalues(net, theta, 5, max_steps=3)
    with pytest.raises(ValueError, match="tol"):
        hessian.top_eigenvalues(net, theta, 2, tol=0)
    with pytest.raises(TypeError, match="Landscape"):
        hessian.top_eigenvalues("net", theta, 2)
    big = WedgeLandscape(20_001, 1)
    with pytest.raises(ValueError, match="D <= 20000"):
        hessian.exact_hessian(big, torch.randn(big.D))
    with pytest.raises(TypeError, match="NetworkLandscape"):
        hessian.layer_spectra(big, torch.randn(big.D), 2)
    with pytest.raises(ValueError, match="n_vectors"):
        spectrum.spectral_density(net, theta, n_vectors=0)
    with pytest.raises(ValueError, match="distribution"):
        spectrum.spectral_density(net, theta, distribution="uniform")


def test_zero_operator_is_answered_at_once():
    land = tiny_net(depth=0)  # the H term of a linear model is exactly zero
    calls = []
    matvec = lambda v: calls.append(1) or torch.zeros_like(v)  # noqa: E731
    vals, vecs = hessian._top_k_operator(matvec, land.D, 3, eigenvectors=True, tol=1e-6, max_steps=None, seed=0,
                                    device=None, out_dtype=F64)
    assert len(calls) == 1 and torch.equal(vals, torch.zeros(3, dtype=F64))
    assert torch.allclose(vecs @ vecs.T, torch.eye(3, dtype=F64), atol=1e-12)
    assert hessian.top_eigenvalues(land, point(land), 2, term="H").abs().max() < 1e-12


# ---------------------------------------------------------------------------
# multiplicities (block Lanczos), against eigvalsh of operators with known spectra


def known_spectrum(lam, seed=0) -> torch.Tensor:
    """A dense symmetric matrix with eigenvalues ``lam`` and a random orthogonal eigenbasis."""
    gen = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(len(lam), len(lam), generator=gen, dtype=F64))
    A = U @ torch.diag(torch.as_tensor(lam, dtype=F64)) @ U.T
    return (A + A.T) / 2


def dense_top(A, k, **kw):
    return hessian._top_k_operator(lambda V: V @ A, A.shape[0], k, eigenvectors=kw.pop("eigenvectors", False),
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


def test_wedge_degenerate_top_with_multiplicity():
    D, n = 25, 10  # the top eigenvalue 1/L has multiplicity D - n - 1 = 14, then zeros
    land = WedgeLandscape(D, n, dtype=F64)
    theta = torch.randn(D, generator=torch.Generator().manual_seed(3), dtype=F64)
    exact = torch.linalg.eigvalsh(land.hessian_closed_form(theta)).flip(0)
    for k in (5, 10, 14, 20):
        vals = hessian.top_eigenvalues(land, theta, k)
        assert torch.allclose(vals, exact[:k], atol=1e-10 * float(exact[0])), k
    res = short_directions.count_short_directions(land, theta, eps=0.1, delta=0.5 * float(exact[0]) * 0.1**2 / 2, k_start=2)
    assert res.count == D - n - 1
