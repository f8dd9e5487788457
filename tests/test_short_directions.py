"""Tests for lsl.curvature.short_directions: the threshold on the curvature and the count of short directions.

References: ``torch.linalg.eigvalsh`` of the exact Hessian (``torch.autograd.functional.hessian`` of the hand-written
network in ``tests/reference.py``) at a minimum reached and checked by damped Newton, the rise of the loss along each
eigen-direction, and the toy model's closed form.
"""

from __future__ import annotations

import math

import pytest
import torch

from lsl.curvature import hessian, short_directions
from lsl.data.nets import MLP
from lsl.network import NetworkLandscape
from lsl.toy import WedgeLandscape
from tests.test_hessian import IN, WIDTH, C, manual_mse, mse_loss, reference_hessian, rel_err, tiny_data

F64 = torch.float64


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
