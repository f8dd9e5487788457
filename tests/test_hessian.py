"""Tests for lsl.curvature.hessian: top eigenvalues, the exact Hessian, the Gauss-Newton split, per-layer spectra.

The helpers here (the tiny network, its hand-written forward pass and reference Hessians) serve the other curvature
tests too: the Lanczos iteration (test_lanczos.py), spectral densities (test_spectrum.py), short directions
(test_short_directions.py), matrix-free operators (test_matrix_free.py).

References are independent of lsl's functional machinery where it matters:
``torch.linalg.eigvalsh`` of explicit matrices, ``torch.autograd.functional``
Hessians and Jacobians of hand-written forward passes on the flat parameter
vector, the toy model's closed-form Hessian, and direct loss differences.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsl.curvature import hessian, short_directions, spectrum
from lsl.data.nets import MLP
from lsl.network import NetworkLandscape
from lsl.toy import WedgeLandscape
from tests.reference import cross_entropy, tanh_mlp_logits

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
    G = hessian.exact_hessian(net, theta, term="gauss_newton", idx=idx)
    assert torch.allclose(G, hessian.exact_hessian(sub, theta, term="gauss_newton"), atol=1e-13)


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
        hessian.top_eigenvalues(land, theta, 2, term="gauss_newton")


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
    Gx = hessian.exact_hessian(net, theta, term="gauss_newton")
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
    Hx = hessian.exact_hessian(net, theta, term="rest")
    assert torch.allclose(Hx, H_rest, atol=1e-13)
    G = hessian.exact_hessian(net, theta, term="gauss_newton")
    assert torch.allclose(G + H_rest, H, atol=1e-13)
    V = torch.randn(3, net.D, generator=torch.Generator().manual_seed(1), dtype=F64)
    assert torch.allclose(hessian.residual_vp(net, theta, V), V @ H_rest, atol=1e-13)
    # top eigenvalues of each term
    for term, M in (("gauss_newton", G), ("rest", H_rest)):
        assert rel_err(hessian.top_eigenvalues(net, theta, 3, term=term, tol=1e-10),
                       torch.linalg.eigvalsh(M).flip(0)[:3]) < 1e-8


def test_linear_model_hessian_is_gauss_newton():
    land = tiny_net(depth=0)  # logits are linear in theta: no logit curvature
    theta = point(land, scale=1.0)
    H = hessian.exact_hessian(land, theta)
    G = hessian.exact_hessian(land, theta, term="gauss_newton")
    assert hessian.exact_hessian(land, theta, term="rest").abs().max() < 1e-14 * H.abs().max() + 1e-16
    assert torch.allclose(G, H, atol=1e-14)


def test_gauss_newton_for_mse():
    land = tiny_net(loss="mse")
    theta = point(land)
    J = logit_jacobian(theta, land.x).reshape(N * C, land.D)
    G = 2.0 / (N * C) * J.T @ J
    assert torch.allclose(hessian.exact_hessian(land, theta, term="gauss_newton"), G, atol=1e-13)


def test_hessian_split_for_mse():
    land = tiny_net(loss="mse")
    theta = point(land)
    H = reference_hessian(lambda t: manual_mse(t, land.x, land.y), theta)
    assert torch.allclose(hessian.exact_hessian(land, theta), H, atol=1e-13)
    with torch.no_grad():
        w = 2.0 * (manual_logits(theta, land.x) - nn.functional.one_hot(land.y, C)) / (N * C)
    H_rest = reference_hessian(lambda t: (w * manual_logits(t, land.x)).sum(), theta)
    assert torch.allclose(hessian.exact_hessian(land, theta, term="rest"), H_rest, atol=1e-13)


def test_gauss_newton_rejects_a_custom_loss():
    torch.manual_seed(0)
    x, y = tiny_data()
    land = NetworkLandscape(MLP(IN, C, width=3, depth=1).to(F64), x, y,
                            loss=lambda z, t: nn.functional.cross_entropy(z, t))
    with pytest.raises(NotImplementedError, match="cross_entropy"):
        hessian.gauss_newton_vp(land, land.theta0, land.theta0)
    assert hessian.top_eigenvalues(land, land.theta0, 1).shape == (1,)  # the full Hessian still works


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
               lambda: hessian.layer_spectra(net, theta, 2, term="x")):
        with pytest.raises(ValueError, match="unknown term.*'hessian'.*'gauss_newton'.*'rest'"):
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
