"""Tests for lsl.curvature.logit_gradients: logit gradients and the random logit-gradient model, against explicit
matrices."""

import torch

import lsl
from lsl.curvature import logit_gradients
from lsl.data import nets


def _net(n=12, C=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (n,), generator=g)
    model = nets.make("mlp", (6,), C, width=5, depth=1, activation="tanh", seed=seed).double()
    return lsl.NetworkLandscape(model, x, y)


def test_logit_jacobians_match_autograd():
    net = _net()
    theta = net.theta0 + 0.1
    J = logit_gradients.logit_jacobians(net, theta)
    ref = torch.autograd.functional.jacobian(lambda t: net._forward(t, net.x), theta)   # [n, C, D]
    assert J.shape == ref.shape and torch.allclose(J, ref, atol=1e-12)


def test_gauss_newton_eigenvalues_match_explicit_matrix():
    g = torch.Generator().manual_seed(1)
    N, C, D = 7, 3, 11
    J = torch.randn(N, C, D, generator=g, dtype=torch.float64)
    p = torch.softmax(torch.randn(N, C, generator=g, dtype=torch.float64), -1)
    S = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    G = torch.einsum("ncd,nce,nef->df", J, S, J) / N
    ref = torch.linalg.eigvalsh(G).flip(0)
    got = logit_gradients.gauss_newton_eigenvalues(J, p)
    assert torch.allclose(got[: min(N * C, D)], ref[: min(N * C, D)], atol=1e-10)
    torch.testing.assert_close(logit_gradients.gauss_newton_matrix(J, p), G)  # the explicit sum over examples
    J2 = torch.randn(3, C, 40, generator=g, dtype=torch.float64)          # N C < D: Gram trick
    p2 = torch.softmax(torch.randn(3, C, generator=g, dtype=torch.float64), -1)
    S2 = torch.diag_embed(p2) - p2[:, :, None] * p2[:, None, :]
    G2 = torch.einsum("ncd,nce,nef->df", J2, S2, J2) / 3
    assert torch.allclose(logit_gradients.gauss_newton_eigenvalues(J2, p2), torch.linalg.eigvalsh(G2).flip(0)[:9], atol=1e-10)


def test_network_gauss_newton_equals_hessian_of_linear_model():
    # For a linear classifier the cross-entropy Hessian is exactly its Gauss-Newton term.
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(20, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (20,), generator=g)
    net = lsl.NetworkLandscape(nets.make("mlp", (5,), 3, depth=0, seed=0).double(), x, y)
    theta = net.theta0
    J = logit_gradients.logit_jacobians(net, theta)
    p = torch.softmax(net.logits(theta), -1)
    H = torch.autograd.functional.hessian(lambda t: net.loss(t), theta)
    assert torch.allclose(logit_gradients.gauss_newton_eigenvalues(J, p)[:10], torch.linalg.eigvalsh(H).flip(0)[:10], atol=1e-10)


def test_sorted_cosines_order_and_values():
    J = torch.randn(6, 3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    y = torch.tensor([2, 0, 1, 0, 2, 1])
    cos, logit, label = logit_gradients.sorted_cosines(J, y)
    assert torch.all(logit[:-1] <= logit[1:])
    for c in range(3):
        assert torch.all(label[logit == c][:-1] <= label[logit == c][1:])
    assert torch.allclose(torch.diagonal(cos), torch.ones(18, dtype=torch.float64))
    assert torch.allclose(cos, cos.T)


def test_random_model_has_c_minus_one_outliers_and_confined_gradient():
    C = 6
    model = logit_gradients.RandomLogitModel(C=C, D=600, n_per_class=15, class_signal=0.0, true_class_gain=0.0, seed=0)
    ev = model.gauss_newton_eigenvalues()
    assert ev[C - 2] > 10 * ev[C - 1]          # the softmax Jacobian has rank C - 1: C - 1 outliers
    J, p, y = model.sample()
    S = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    G = torch.einsum("ncd,nce,nef->df", J, S, J) / J.shape[0]
    _, vecs = torch.linalg.eigh(G)
    top = vecs[:, -(C - 1):]
    g = model.gradient()
    frac = float((top.T @ g).norm() ** 2 / g.norm() ** 2)
    assert frac > 20 * (C - 1) / 600          # many times a random (C-1)-dimensional subspace's share


def test_random_model_true_class_gain_puts_the_gradient_in_the_top_c():
    # With a longer logit gradient for the true class, g = sum_c m_c (...) lies along M^T 1-like
    # directions that G's C-th eigenvector carries: the top C (not C-1) eigenvectors hold it.
    C = 5
    model = logit_gradients.RandomLogitModel(C=C, D=500, n_per_class=20, true_class_gain=1.0, class_signal=0.0, seed=1)
    J, p, y = model.sample()
    G = torch.einsum("ncd,nce,nef->df", J, logit_gradients.softmax_hessians(p), J) / J.shape[0]
    vecs = torch.linalg.eigh(G).eigenvectors.flip(1)
    g = model.gradient()
    in_top = lambda k: float((vecs[:, :k].T @ g).norm() ** 2 / g.norm() ** 2)
    assert in_top(C) > 0.9 and in_top(C - 1) < 0.2


def test_ntk_gram_is_the_kernel_of_jacobian_products():
    """K = J J^T, checked against K u = J (J^T u) by a vector-Jacobian then a Jacobian-vector product (no Jacobian)."""
    from torch.func import jvp, vjp

    net = _net(n=9, C=4)
    theta = net.theta0 + 0.05
    J = logit_gradients.logit_jacobians(net, theta)
    K = logit_gradients.ntk_gram(J)
    assert K.shape == (36, 36)
    torch.testing.assert_close(K, K.T, rtol=0, atol=1e-12)
    assert float(torch.linalg.eigvalsh(K).min()) > -1e-10  # a Gram matrix

    def f(t):
        return net.forward(t).reshape(-1)  # [n C], example-major like ntk_gram

    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        u = torch.randn(36, generator=g, dtype=torch.float64)
        _, pullback = vjp(f, theta)
        (jt_u,) = pullback(u)
        _, k_u = jvp(f, (theta,), (jt_u,))
        torch.testing.assert_close(K @ u, k_u, rtol=1e-10, atol=1e-12)


def test_gauss_newton_spectrum_is_the_softmax_weighted_ntk_spectrum():
    """The non-zero eigenvalues of G (D x D, dense) equal those of (1/N) R^T K R (N C x N C)."""
    net = _net(n=5, C=3)
    theta = net.theta0 + 0.1
    J = logit_gradients.logit_jacobians(net, theta)
    p = torch.softmax(net.forward(theta), -1)
    S = logit_gradients.softmax_hessians(p)
    G = torch.einsum("ncd,nce,nef->df", J, S, J) / 5
    ev, V = torch.linalg.eigh(S)
    R = torch.block_diag(*(V * ev.clamp_min(0).sqrt().unsqueeze(-2)))  # [N C, N C], R R^T = blockdiag(S_i)
    small = R.T @ logit_gradients.ntk_gram(J) @ R / 5
    k = min(15, net.D)
    torch.testing.assert_close(torch.linalg.eigvalsh(small).flip(0)[:k], torch.linalg.eigvalsh(G).flip(0)[:k],
                               rtol=0, atol=1e-10)


def test_random_model_outliers_follow_the_bbp_prediction():
    """Below the predicted signal-to-noise threshold the top of G is the bulk edge; above it, the outliers sit where predicted."""
    base = dict(C=10, D=1000, n_per_class=20, class_signal=0.0, true_class_gain=0.0, logit_scale=0.0, noise=1.0)
    thr = logit_gradients.RandomLogitModel(signal=0.1, **base).spike_prediction().threshold
    assert abs(thr - (9 / (200 * 1000)) ** 0.25) < 1e-12
    for factor in (0.25, 0.5):
        m = logit_gradients.RandomLogitModel(signal=factor * thr, seed=3, **base)
        pred, ev = m.spike_prediction(), m.gauss_newton_eigenvalues()
        assert pred.outlier == pred.bulk_edge
        assert abs(float(ev[0]) / pred.bulk_edge - 1) < 0.05, (factor, float(ev[0]), pred.bulk_edge)
    for factor in (2.0, 4.0, 8.0):
        m = logit_gradients.RandomLogitModel(signal=factor * thr, seed=3, **base)
        pred, ev = m.spike_prediction(), m.gauss_newton_eigenvalues()
        assert pred.outlier > 1.1 * pred.bulk_edge
        assert abs(float(ev[:9].mean()) / pred.outlier - 1) < 0.05, (factor, float(ev[:9].mean()), pred.outlier)
        assert float(ev[9]) < 1.05 * pred.bulk_edge  # exactly C - 1 outliers
    with __import__("pytest").raises(ValueError, match="class_signal=0"):
        logit_gradients.RandomLogitModel().spike_prediction()


def test_freezing_measures_against_direct_computation():
    net = _net(n=12, C=4)
    thetas = torch.stack([net.theta0, net.theta0 + 0.2, 1.5 * net.theta0])
    fr = logit_gradients.freezing(net, thetas, jacobian_examples=5)
    for t, theta in enumerate(thetas):
        z = net.forward(theta).detach()
        p = torch.softmax(z, -1)
        assert abs(float(fr.entropy[t]) - float(-(p * p.log()).sum(-1).mean())) < 1e-12
        assert abs(float(fr.softmax_trace[t]) - float(torch.diagonal(logit_gradients.softmax_hessians(p), dim1=-2, dim2=-1).sum(-1).mean())) < 1e-12
        assert abs(float(fr.logit_std[t]) - float(z.std())) < 1e-12
        J = logit_gradients.logit_jacobians(net, theta, torch.arange(5))
        assert abs(float(fr.jacobian_sq[t]) - float((J**2).sum((1, 2)).mean())) < 1e-10
        G = torch.einsum("ncd,nce,nef->df", J, logit_gradients.softmax_hessians(p[:5]), J) / 5
        assert abs(float(fr.gauss_newton_top[t]) - float(torch.linalg.eigvalsh(G)[-1])) < 1e-10
    # confident outputs freeze: scaling the last layer up lowers the entropy and the softmax Hessians' size
    hot = net.theta0.clone()
    hot[net.view.block("3.weight")] *= 20
    hot[net.view.block("3.bias")] *= 20
    both = logit_gradients.freezing(net, torch.stack([net.theta0, hot]), jacobian_examples=3)
    assert both.entropy[1] < both.entropy[0] and both.softmax_trace[1] < both.softmax_trace[0]
    assert both.logit_std[1] > both.logit_std[0]
