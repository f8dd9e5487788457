"""Tests for lsl.curvature.linear_operators: SciPy operators, any-operator Lanczos/SLQ, minibatch HVPs.

The trace estimators are tested in ``tests/test_trace_estimators.py``.

References: ``torch.linalg.eigvalsh`` of exact Hessians computed by
``torch.autograd.functional.hessian`` of the hand-written network in
``tests/reference.py``; the full-batch
Hessian-vector product.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lsl.curvature import linear_operators
from lsl.network import NetworkLandscape
from lsl.data.nets import MLP
from lsl.curvature.trace_estimators import hutchpp

from tests.reference import cross_entropy, tanh_mlp_logits

F64 = torch.float64
IN, WIDTH, C, N = 5, 8, 3, 48  # D = 5*8 + 8 + 8*3 + 3 = 75


def tiny(n: int = N, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, IN, generator=gen, dtype=F64)
    y = torch.randint(0, C, (n,), generator=gen)
    torch.manual_seed(seed)
    model = MLP(IN, C, width=WIDTH, depth=1, activation="tanh").to(F64)
    land = NetworkLandscape(model, x, y)
    theta = land.theta0 + 0.3 * torch.randn(land.D, generator=gen, dtype=F64)
    return land, theta, x, y


def reference_hessians(theta, x, y):
    """(H, G, H - G) from hand-written code: H by autograd.functional, G = J^T S J from explicit logit Jacobians."""
    H = torch.autograd.functional.hessian(lambda t: cross_entropy(tanh_mlp_logits(t, x, IN, WIDTH, C), y), theta)
    J = torch.autograd.functional.jacobian(lambda t: tanh_mlp_logits(t, x, IN, WIDTH, C), theta)  # [N, C, D]
    p = torch.softmax(tanh_mlp_logits(theta, x, IN, WIDTH, C), -1)
    S = (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]) / x.shape[0]
    G = torch.einsum("ncd,nce,nef->df", J, S, J)
    return H, G, H - G


# ---------------------------------------------------------------------------
# as_linear_operator


@pytest.mark.parametrize("term", ["hessian", "gauss_newton", "rest"])
def test_linear_operator_eigsh_matches_dense_eigvalsh(term):
    from scipy.sparse.linalg import LinearOperator, eigsh

    land, theta, x, y = tiny()
    ref = dict(zip(["hessian", "gauss_newton", "rest"], reference_hessians(theta, x, y)))[term]
    A = linear_operators.as_linear_operator(land, theta, term)
    assert isinstance(A, LinearOperator) and A.shape == (land.D, land.D) and A.dtype == np.float64
    ev_ref = torch.linalg.eigvalsh(ref)
    vals = np.sort(eigsh(A, k=4, which="LA", tol=1e-12)[0])[::-1]
    assert np.allclose(vals, ev_ref.flip(0)[:4].numpy(), rtol=1e-8, atol=1e-10)
    if term != "gauss_newton":  # G is PSD with a cluster of tiny eigenvalues, where ARPACK's "SA" converges very slowly
        low = np.sort(eigsh(A, k=2, which="SA", tol=1e-12)[0])
        assert np.allclose(low, ev_ref[:2].numpy(), rtol=1e-8, atol=1e-10)


def test_linear_operator_matvec_matmat_rmatvec_symmetric():
    land, theta, x, y = tiny()
    H = reference_hessians(theta, x, y)[0].numpy()
    A = linear_operators.as_linear_operator(land, theta)
    rng = np.random.default_rng(0)
    v, V = rng.standard_normal(land.D), rng.standard_normal((land.D, 3))
    assert A.matvec(v).shape == (land.D,)
    assert np.allclose(A.matvec(v), H @ v, atol=1e-12)
    assert np.allclose(A.matmat(V), H @ V, atol=1e-12)
    assert np.allclose(A.rmatvec(v), H @ v, atol=1e-12)
    assert np.allclose(A.H.matvec(v), H @ v, atol=1e-12)
    assert np.allclose(A @ V, H @ V, atol=1e-12)


def test_linear_operator_rejects_bad_term_and_batch_of_points():
    land, theta, *_ = tiny()
    with pytest.raises(ValueError, match="unknown term"):
        linear_operators.as_linear_operator(land, theta, "ggn")
    with pytest.raises(ValueError, match="one point"):
        linear_operators.as_linear_operator(land, torch.stack([theta, theta]))


# ---------------------------------------------------------------------------
# any operator into lsl's Lanczos and SLQ


def random_symmetric(D=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    M = torch.randn(D, D, generator=gen, dtype=F64)
    return (M + M.T) / 2


def operator_forms(A: torch.Tensor):
    from scipy.sparse.linalg import aslinearoperator

    D = A.shape[0]
    return {
        "torch dense": (A, None),
        "numpy dense": (A.numpy(), None),
        "scipy": (aslinearoperator(A.numpy()), None),
        "callable": (lambda v: A @ v, D),
    }


@pytest.mark.parametrize("form", ["torch dense", "numpy dense", "scipy", "callable"])
def test_lanczos_and_top_eigenvalues_take_any_operator(form):
    A = random_symmetric()
    op, dim = operator_forms(A)[form]
    ev = torch.linalg.eigvalsh(A).flip(0)
    vals, vecs = linear_operators.top_eigenvalues(op, 3, dim=dim, eigenvectors=True, tol=1e-10)
    assert torch.allclose(vals, ev[:3], atol=1e-8)
    assert torch.allclose(vecs @ A @ vecs.T, torch.diag(vals), atol=1e-7)
    alphas, betas, Q = linear_operators.lanczos(op, A.shape[0], dim=dim)  # a full run: T is similar to A
    T = torch.diag(alphas) + torch.diag(betas[:-1], 1) + torch.diag(betas[:-1], -1)
    assert torch.allclose(torch.linalg.eigvalsh(T), ev.flip(0), atol=1e-8)


def test_spectral_density_of_any_operator_integrates_moments():
    A = random_symmetric(D=60, seed=1)
    from scipy.sparse.linalg import aslinearoperator

    dens = linear_operators.spectral_density(aslinearoperator(A.numpy()), n_vectors=4, n_steps=60)
    # a full Krylov space: each quadrature reproduces q^T A^p q exactly, so the moments are Hutchinson estimates
    # of tr(A^p)/D; with Rademacher vectors the first moment's error is within a few standard errors
    ev = torch.linalg.eigvalsh(A)
    assert dens.dim == 60
    assert abs(dens.moment(0) - 1) < 1e-10
    assert abs(dens.moment(2) - float((ev**2).mean())) < 0.25 * float((ev**2).mean())
    assert abs(float(torch.trapezoid(dens.density, dens.grid)) - 1) < 1e-3


def test_as_matvec_rejects_what_it_cannot_use():
    with pytest.raises(ValueError, match="dim"):
        linear_operators.as_matvec(lambda v: v)
    with pytest.raises(ValueError, match="square"):
        linear_operators.as_matvec(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="cannot use"):
        linear_operators.as_matvec("not an operator")
    with pytest.raises(ValueError, match="disagrees"):
        linear_operators.as_matvec(torch.eye(3), dim=4)


def test_curvlinops_hessian_operator_goes_into_lsl_lanczos():
    curvlinops = pytest.importorskip("curvlinops")
    land, theta, x, y = tiny()
    H = reference_hessians(theta, x, y)[0]
    torch.manual_seed(0)
    model = MLP(IN, C, width=WIDTH, depth=1, activation="tanh").to(F64)
    with torch.no_grad():
        for p, q in zip(model.parameters(), land.view.unflatten(theta).values()):
            p.copy_(q)
    params = [p for p in model.parameters()]
    op = curvlinops.HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(x, y)])
    ev = torch.linalg.eigvalsh(H).flip(0)
    vals = linear_operators.top_eigenvalues(op, 3, tol=1e-10)
    assert torch.allclose(vals, ev[:3], atol=1e-8)
    assert abs(float(hutchpp(op, 3 * land.D)) - float(torch.trace(H))) < 1e-8  # budget 3D: Q spans R^D


# ---------------------------------------------------------------------------
# minibatch Hessian-vector products


@pytest.mark.parametrize("term", ["hessian", "gauss_newton", "rest"])
@pytest.mark.parametrize("batch_size", [7, 16, N])
def test_minibatch_hvp_equals_full_batch(term, batch_size):
    from lsl.curvature.hessian import curvature_operator

    land, theta, *_ = tiny()
    gen = torch.Generator().manual_seed(5)
    V = torch.randn(3, land.D, generator=gen, dtype=F64)
    full = curvature_operator(land, theta, term=term)(V)
    got = linear_operators.minibatch_hvp(land, theta, V, batch_size=batch_size, term=term)
    assert torch.allclose(got, full, rtol=1e-10, atol=1e-12)
    one = linear_operators.minibatch_hvp(land, theta, V[0], batch_size=batch_size, term=term)
    assert torch.allclose(one, full[0], rtol=1e-10, atol=1e-12)


def test_minibatch_operator_runs_only_chunk_sized_forwards():
    land, theta, *_ = tiny(n=96)
    seen = []
    forward = land._forward

    def spy(t, x, *args):  # *args: the batch-norm flag of NetworkLandscape._forward
        seen.append(int(x.shape[0]))
        return forward(t, x, *args)

    land._forward = spy
    if land.stack is not None:  # a layer stack's products are written out (lsl.stack.StackCurvature): spy there too
        curvature = land.stack.curvature

        def spy_stack(t, x, *args):
            seen.append(int(x.shape[0]))
            return curvature(t, x, *args)

        land.stack.curvature = spy_stack
    v = torch.ones(land.D, dtype=F64)
    A = linear_operators.as_linear_operator(land, theta, "hessian", batch_size=10)
    A.matvec(v.numpy())
    assert seen and max(seen) <= 10 and sum(seen) >= 96  # every example, never more than 10 at once
    seen.clear()
    linear_operators.minibatch_hvp(land, theta, v, batch_size=10, term="gauss_newton")
    assert seen and max(seen) <= 10


def test_minibatch_memory_does_not_grow_with_examples(monkeypatch):
    """The largest tensor saved for backward is chunk-sized: the same for 64 and for 512 examples.

    On autograd's path (a layer stack's written-out products save nothing for backward; that they see
    only chunk-sized batches is checked by test_minibatch_operator_runs_only_chunk_sized_forwards)."""
    from lsl.curvature import hessian

    monkeypatch.setattr(hessian, "_by_hand", lambda *args: None)

    def peak_saved(n):
        land, theta, *_ = tiny(n=n)
        sizes = []

        def pack(t):
            sizes.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            linear_operators.minibatch_hvp(land, theta, torch.ones(land.D, dtype=F64), batch_size=16, term="hessian")
        return max(sizes), sum(sizes)

    small, large = peak_saved(64), peak_saved(512)
    assert small[0] == large[0]
    # and the full batch at once saves more: the hook sees activations of all 512 examples
    land, theta, *_ = tiny(n=512)
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
        linear_operators.minibatch_hvp(land, theta, torch.ones(land.D, dtype=F64), batch_size=512, term="hessian")
    assert max(sizes) > small[0]


def test_hvp_over_batches_matches_full_batch_and_checks_input():
    land, theta, x, y = tiny()
    v = torch.randn(2, land.D, generator=torch.Generator().manual_seed(1), dtype=F64)
    batches = list(zip(x.split(13), y.split(13)))
    got = linear_operators.hvp_over_batches(land, theta, v, batches)
    assert torch.allclose(got, land.hvp(theta, v), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="no data"):
        linear_operators.hvp_over_batches(land, theta, v, [])
    with pytest.raises(ValueError, match="pair"):
        linear_operators.hvp_over_batches(land, theta, v, [x])


def test_minibatch_rejects_custom_loss_without_reduction_and_bad_batch_size():
    land, theta, x, y = tiny()
    custom = NetworkLandscape(MLP(IN, C, width=WIDTH, depth=1, activation="tanh").to(F64), x, y,
                              loss=lambda z, t: nn.functional.cross_entropy(z, t, reduction="sum"))
    with pytest.raises(ValueError, match="reduction"):
        linear_operators.minibatch_hvp(custom, custom.theta0, custom.theta0, batch_size=8)
    got = linear_operators.minibatch_hvp(custom, custom.theta0, custom.theta0, batch_size=8, reduction="sum")
    assert torch.allclose(got, custom.hvp(custom.theta0, custom.theta0), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="batch_size"):
        linear_operators.minibatch_hvp(land, theta, theta, batch_size=0)


def test_spectral_density_counts_eigenvalues_above_a_threshold():
    """D times the quadrature's mass above t estimates the number of eigenvalues above t (dense reference)."""
    from scipy.sparse.linalg import aslinearoperator

    D = 400
    gen = torch.Generator().manual_seed(3)
    ev = torch.cat([torch.linspace(5.0, 14.0, 10, dtype=torch.float64),        # 10 outliers
                    torch.rand(D - 10, generator=gen, dtype=torch.float64) - 0.3])  # a bulk in [-0.3, 0.7]
    Q, _ = torch.linalg.qr(torch.randn(D, D, generator=gen, dtype=torch.float64))
    A = (Q * ev) @ Q.T
    dens = linear_operators.spectral_density(aslinearoperator(A.numpy()), n_vectors=30, n_steps=60, seed=0)
    thresholds = torch.tensor([2.0, 0.5, 0.2, 0.0])
    exact = (ev.unsqueeze(0) > thresholds.unsqueeze(1)).sum(1).to(torch.float64)
    est = dens.count_above(thresholds)
    assert est.shape == thresholds.shape
    assert abs(dens.count_above(2.0) - 10) < 1.5                    # outliers: Ritz values, weight ~1/D each
    assert torch.all((est - exact).abs() < 0.04 * D), (est, exact)  # the bulk: within 2% of D over 5 seeds
    assert dens.count_above(100.0) == 0.0 and dens.count_above(-100.0) == pytest.approx(D)
