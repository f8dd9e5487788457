"""Tests for lsl.probes.sharpness: the sharpness along a full-batch run against a dense eigensolver (the exact
Hessian of a tiny network written by hand, by autograd, then torch.linalg.eigvalsh), and the quadratic's
stability threshold 2/lr against gradient descent run on a quadratic."""

from __future__ import annotations

import pytest
import torch

from lsl.probes.sharpness import SharpnessRun, quadratic_gd_factor, sharpness_along_run
from lsl.settings import TrainSettings
from lsl.training.trainer import lr_schedule, minimize
from tests.reference import cross_entropy, tanh_mlp_hessian, tanh_mlp_logits, tiny_tanh_net

F64 = torch.float64
IN, WIDTH, C, N = 4, 6, 3, 30
pytestmark = pytest.mark.usefixtures("private_cache")   # tests/conftest.py


def tiny_net():
    return tiny_tanh_net(IN, WIDTH, C, N)


def dense_top(theta, x, y) -> float:
    H = tanh_mlp_hessian(theta, x, y, IN, WIDTH, C)
    return float(torch.linalg.eigvalsh(H)[-1])


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_sharpness_along_a_full_batch_run_is_the_dense_top_eigenvalue(schedule):
    net, x, y = tiny_net()
    s = TrainSettings(steps=40, lr=0.5, optimizer="sgd", schedule=schedule, lr_min=0.1 if schedule == "cosine" else 0.0)
    run = sharpness_along_run(net, settings=s, every=10, tol=1e-10, cache=False)
    assert isinstance(run, SharpnessRun) and run.steps == (0, 10, 20, 30, 40) and len(run) == 5
    # the checkpoints are the points of full-batch gradient descent, written out
    theta = net.theta0.clone()
    for step in range(41):
        if step % 10 == 0:
            i = run.steps.index(step)
            assert torch.allclose(run.points[i], theta, rtol=0, atol=1e-12)
            assert run.sharpness[i].item() == pytest.approx(dense_top(theta, x, y), rel=1e-8)
        if step < 40:
            rate = lr_schedule(schedule, 0.5, 40, lr_min=s.lr_min)(step)
            loss = cross_entropy(tanh_mlp_logits(theta, x, IN, WIDTH, C), y)
            assert run.losses[step].item() == pytest.approx(loss.item(), rel=1e-10)
            theta = theta - rate * torch.func.grad(lambda t: cross_entropy(tanh_mlp_logits(t, x, IN, WIDTH, C), y))(theta)
    expected_lrs = [lr_schedule(schedule, 0.5, 40, lr_min=s.lr_min)(min(k, 39)) for k in run.steps]
    assert run.lrs.tolist() == pytest.approx(expected_lrs, rel=1e-6)   # the trainer records them in float32
    assert torch.allclose(run.ratio, run.sharpness * run.lrs / 2) and torch.allclose(run.edge, 2 / run.lrs)
    late = run.after(20)
    assert late.steps == (20, 30, 40) and late.losses.shape == (20,) and torch.equal(late.sharpness, run.sharpness[2:])
    with pytest.raises(Exception):
        run.steps = ()                                                   # frozen


def test_sharpness_on_a_subset_and_errors():
    net, x, y = tiny_net()
    sub = net.subset(12)
    run = sharpness_along_run(net, settings=TrainSettings(steps=5, lr=0.3, optimizer="sgd"), every=5, curvature=sub,
                              tol=1e-10, cache=False)
    assert run.sharpness[-1].item() == pytest.approx(dense_top(run.theta, x[:12], y[:12]), rel=1e-8)
    with pytest.raises(TypeError, match="TrainSettings"):
        sharpness_along_run(net, settings=dict(steps=5, lr=0.1), every=5)
    with pytest.raises(ValueError, match="every"):
        sharpness_along_run(net, settings=TrainSettings(steps=5, lr=0.1), every=0)


@pytest.mark.parametrize("lam", [0.5, 1.9, 2.1, 3.0])
def test_gradient_descent_on_a_quadratic_is_stable_iff_the_curvature_is_below_2_over_lr(lam):
    lr, steps = 1.0, 30
    run = minimize(lambda x, step: 0.5 * lam * (x * x).sum(), torch.ones(1, dtype=F64),
                   settings=TrainSettings(steps=steps, lr=lr, optimizer="sgd"), nonfinite="record")
    factor = quadratic_gd_factor(lam, lr)
    assert abs(run.theta.item()) == pytest.approx(factor ** steps, rel=1e-9)
    assert (factor < 1) == (lam < 2 / lr)
    assert (abs(run.theta.item()) < 1) == (lam < 2 / lr)
    with pytest.raises(ValueError):
        quadratic_gd_factor(1.0, 0.0)
