"""The batch-norm policy of lsl.network.NetworkLandscape against independent references (issue 32, item 2).

The policy: the loss at theta uses the training data's batch-norm statistics at theta (mean and biased
variance over all training examples, a differentiable pass at theta); trainers normalise with the
minibatch's statistics, as torch's training mode. References: a plain torch training loop on the module
(same seed, minibatch order and optimiser), the torch model's own eval() after its training, a plain
function of theta that computes the statistics by hand, torch.autograd.functional.hessian, one-at-a-time
evaluation of a batch of points.
"""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lsl.network import NetworkLandscape
from lsl.network_checks import BatchNormPolicyWarning
from lsl.training.trainer import minibatch_order, train
from lsl.settings import TrainSettings

F64 = torch.float64


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("LSL_PROGRESS", "0")


def wave_data(n: int, seed: int, length: int = 16, classes: int = 4):
    """Made-up 1-D signals: class k is a sine of frequency k + 1 with a random phase, plus noise."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=gen)
    t = torch.linspace(0, 1, length)
    phase = 6.28 * torch.rand(n, 1, generator=gen)
    x = torch.sin(6.28 * (y[:, None] + 1) * t + phase) + 0.5 * torch.randn(n, length, generator=gen)
    return (2.0 + x).unsqueeze(1), y  # shifted: batch norm has a mean to remove


def bn_cnn(seed: int = 0, dtype=torch.float32) -> nn.Module:
    """The issue's network: Conv1d(1, 8, 3) -> BatchNorm1d -> ReLU -> MaxPool -> Linear."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(1, 8, 3), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(),
                         nn.Linear(8 * 7, 4)).to(dtype)


def torch_loop(model: nn.Module, land: NetworkLandscape, *, steps: int, lr: float, momentum: float,
               batch_size: int, seed: int) -> nn.Module:
    """A plain torch training loop in train() mode: the minibatches of lsl's trainers, SGD on the module,
    a cosine learning rate from ``lr`` to 0 (torch's CosineAnnealingLR formula, written out)."""
    model = copy.deepcopy(model).to(land.dtype)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    next_batch = minibatch_order(land, batch_size, seed)
    x, y = land.x, land.y
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / steps))
        idx = next_batch()
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model.eval()


def trained_pair(dtype, steps=150):
    x, y = wave_data(512, seed=1)
    xt, yt = wave_data(256, seed=2)
    model = bn_cnn(0, dtype)
    land = NetworkLandscape(model, x.to(dtype), y, x_test=xt.to(dtype), y_test=yt)
    settings = dict(steps=steps, lr=0.05, momentum=0.9, batch_size=32, seed=7)
    res = train(land, land.theta0, settings=TrainSettings(optimizer="sgd", schedule="cosine", **settings))
    ref = torch_loop(model, land, **settings)
    return land, res, ref


@pytest.mark.parametrize("dtype, tol", [(F64, 1e-12), (torch.float32, 1e-5)])
def test_training_matches_a_plain_torch_loop(dtype, tol):
    land, res, ref = trained_pair(dtype)
    theta_ref = land.theta_of(ref)
    # equal parameters to rounding. Measured on this CPU: bitwise equal (max |difference| 0.0, in float64 and
    # float32, after 150 steps; parameters of size up to 2); the tolerance allows rounding differences of
    # other kernels (another thread count or device), grown along the trajectory.
    torch.testing.assert_close(res.theta, theta_ref, rtol=tol, atol=tol)
    # the network trained by lsl evaluates as trained: its loss is near the last minibatch losses
    assert float(land.loss(res.theta)) < 0.5 * float(land.loss(land.theta0))


def test_evaluation_agrees_with_the_torch_model_in_eval_mode():
    land, res, ref = trained_pair(F64)
    x, y, xt, yt = land.x, land.y, land.x_test, land.y_test
    with torch.no_grad():
        ref_loss = float(F.cross_entropy(ref(x), y))
        ref_test_acc = float((ref(xt).argmax(-1) == yt).double().mean())
        ref_test_loss = float(F.cross_entropy(ref(xt), yt))
    loss = float(land.loss(res.theta))
    test_acc = float(land.accuracy(res.theta, "test"))
    test_loss = float(land.eval_loss(res.theta, "test"))
    # The torch model in eval() normalises with running averages of minibatch statistics (momentum 0.1: about
    # the last 20 minibatches of 32, along the end of the trajectory, unbiased variances over 448 values per
    # channel), the landscape with the training data's statistics at the final theta: the running averages
    # carry the sampling noise of ~600 examples' means, a few percent of a standard deviation. Measured over
    # five seeds of this set-up (cosine schedule, so that theta moves little at the end): training loss
    # differs by 0.06-0.55% (here 0.06%: 0.3310 vs 0.3308), test loss by 0.09-1.3% (here 1.3%: 0.3919 vs
    # 0.3971), test accuracy by at most one example of 256 (here none). Tolerances: 3% of the loss and two
    # test examples; the bug this guards against (stale statistics) moved the loss from 0.011 to 8.65.
    assert abs(loss - ref_loss) < 0.03 * ref_loss
    assert abs(test_loss - ref_test_loss) < 0.03 * ref_test_loss
    assert abs(test_acc - ref_test_acc) <= 2 / 256 + 1e-12
    # and the module the landscape hands out evaluates exactly as the landscape (its statistics at theta)
    mod = land.module_at(res.theta)
    with torch.no_grad():
        torch.testing.assert_close(mod(xt), land.logits(res.theta, xt))
        torch.testing.assert_close(F.cross_entropy(mod(x), y), land.loss(res.theta))
    # the statistics at theta: the torch model in train() mode with the whole training set as one batch
    whole = copy.deepcopy(ref).train()
    with torch.no_grad():
        torch.testing.assert_close(F.cross_entropy(whole(x), y), land.loss(land.theta_of(ref)))


def test_batched_points_equal_one_at_a_time():
    x, y = wave_data(64, seed=3)
    land = NetworkLandscape(bn_cnn(1, F64), x.double(), y, x_test=x[:16].double(), y_test=y[:16])
    gen = torch.Generator().manual_seed(0)
    thetas = land.theta0 + 0.3 * torch.randn(5, land.D, generator=gen, dtype=F64)
    one = torch.stack([land.loss(t) for t in thetas])
    torch.testing.assert_close(land.loss(thetas), one, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        torch.testing.assert_close(land.logits(thetas, land.x_test),
                                   torch.stack([land.logits(t, land.x_test) for t in thetas]))
    torch.testing.assert_close(land.accuracy(thetas, "test"), torch.stack([land.accuracy(t, "test") for t in thetas]))
    torch.testing.assert_close(land.grad(thetas), torch.stack([land.grad(t) for t in thetas]))
    idx = torch.arange(10)
    torch.testing.assert_close(land.loss(thetas, idx=idx), torch.stack([land.loss(t, idx=idx) for t in thetas]))
    # a line through two points (loss_affine): each point its own statistics
    d = (thetas[1] - thetas[0]).unsqueeze(0)
    coeffs = torch.linspace(0, 1, 4, dtype=F64).unsqueeze(1)
    line = land.loss_affine(thetas[0], d, coeffs)
    torch.testing.assert_close(line, torch.stack([land.loss(thetas[0] + c * d[0]) for c in coeffs]))


IN, H, C, N = 3, 4, 3, 24


def tiny_bn():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(IN, H), nn.BatchNorm1d(H), nn.Tanh(), nn.Linear(H, C)).to(F64)
    gen = torch.Generator().manual_seed(1)
    x = 1.0 + 2.0 * torch.randn(N, IN, generator=gen, dtype=F64)
    y = torch.randint(0, C, (N,), generator=gen)
    xt = torch.randn(8, IN, generator=gen, dtype=F64)
    yt = torch.randint(0, C, (8,), generator=gen)
    return NetworkLandscape(model, x, y, x_test=xt, y_test=yt)


def plain_bn_logits(t: torch.Tensor, x_stats: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The same network written independently: the statistics of the training inputs at t, applied to x."""
    i = 0
    W1 = t[i:i + H * IN].reshape(H, IN); i += H * IN
    b1 = t[i:i + H]; i += H
    gamma = t[i:i + H]; i += H
    beta = t[i:i + H]; i += H
    W2 = t[i:i + C * H].reshape(C, H); i += C * H
    b2 = t[i:i + C]
    a_ref = x_stats @ W1.T + b1
    mean = a_ref.sum(0) / a_ref.shape[0]
    var = ((a_ref - mean) ** 2).sum(0) / a_ref.shape[0]
    a = x @ W1.T + b1
    h = torch.tanh((a - mean) / torch.sqrt(var + 1e-5) * gamma + beta)
    return h @ W2.T + b2


def plain_ce(z, y):
    return (torch.logsumexp(z, 1) - z.gather(1, y[:, None])[:, 0]).mean()


def test_hessian_of_a_tiny_bn_network_equals_the_dense_autograd_hessian():
    land = tiny_bn()
    assert land.D == H * IN + H + 2 * H + C * H + C == 39
    theta = land.theta0 + 0.2 * torch.randn(land.D, generator=torch.Generator().manual_seed(5), dtype=F64)
    x, y = land.x, land.y

    def f(t):
        return plain_ce(plain_bn_logits(t, x, x), y)

    torch.testing.assert_close(land.loss(theta), f(theta), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(land.grad(theta), torch.func.grad(f)(theta), rtol=1e-11, atol=1e-12)
    dense = torch.autograd.functional.hessian(f, theta)
    torch.testing.assert_close(land.hessian(theta), dense, rtol=1e-10, atol=1e-11)
    # on a subset of the examples the statistics stay the whole training set's (the policy)
    idx = torch.arange(7)

    def f_sub(t):
        return plain_ce(plain_bn_logits(t, x, x[idx]), y[idx])

    torch.testing.assert_close(land.loss(theta, idx=idx), f_sub(theta), rtol=1e-13, atol=1e-13)
    v = torch.randn(land.D, generator=torch.Generator().manual_seed(6), dtype=F64)
    torch.testing.assert_close(land.hvp(theta, v, idx=idx), torch.autograd.functional.hessian(f_sub, theta) @ v,
                               rtol=1e-10, atol=1e-11)
    # the test split: the training data's statistics, applied to the test inputs
    with torch.no_grad():
        torch.testing.assert_close(land.logits(theta, land.x_test), plain_bn_logits(theta, x, land.x_test))
    torch.testing.assert_close(land.eval_loss(theta, "test"),
                               plain_ce(plain_bn_logits(theta, x, land.x_test), land.y_test))
    # batchnorm_statistics are the statistics by hand
    mean, var = land.batchnorm_statistics(theta)["1"]
    a = x @ land.view.unflatten(theta)["0.weight"].T + land.view.unflatten(theta)["0.bias"]
    torch.testing.assert_close(mean, a.mean(0))
    torch.testing.assert_close(var, a.var(0, unbiased=False))


def test_training_mode_uses_minibatch_statistics_and_full_batch_training_is_the_evaluation():
    land = tiny_bn()
    theta = land.theta0
    idx = torch.arange(10)
    model = copy.deepcopy(land.model).train()
    with torch.no_grad():
        torch.testing.assert_close(land.loss(theta, idx=idx, train=True), F.cross_entropy(model(land.x[idx]), land.y[idx]))
    torch.testing.assert_close(land.loss(theta, train=True), land.loss(theta))
    # per-row minibatches of a batch of points (lsl.training.rows): each row its own minibatch's statistics
    rows = torch.stack([torch.arange(10), torch.arange(5, 15)])
    both = land.loss(torch.stack([theta, theta]), idx=rows, train=True)
    torch.testing.assert_close(both, torch.stack([land.loss(theta, idx=r, train=True) for r in rows]))


def test_warnings_and_errors_where_statistics_would_be_other_than_meant():
    x, y = wave_data(32, seed=4)
    # stored statistics from earlier training: not used, and said so
    model = bn_cnn(0)
    model.train()
    with torch.no_grad():
        model(x)
    with pytest.warns(BatchNormPolicyWarning, match="running statistics from earlier training"):
        NetworkLandscape(model, x, y)
    # track_running_stats=False: torch's eval() would use each batch's statistics
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4, track_running_stats=False), nn.Flatten(),
                          nn.Linear(4 * 14, 4))
    with pytest.warns(BatchNormPolicyWarning, match="track_running_stats=False"):
        land = NetworkLandscape(model, x, y, x_test=x[:5], y_test=y[:5])
    mod = land.module_at(land.theta0)  # given stored statistics: evaluates as the landscape
    with torch.no_grad():
        torch.testing.assert_close(mod(x[:5]), land.logits(land.theta0, x[:5]))
    # a fresh model: no warning (momentum=None changes nothing: lsl never reads running statistics)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NetworkLandscape(nn.Sequential(nn.Linear(16, 4), nn.BatchNorm1d(4, momentum=None), nn.Linear(4, 4)),
                         x.flatten(1), y)
    # one training example with one value per channel: there are no statistics to normalise with
    with pytest.raises(ValueError, match="at least two examples"):
        NetworkLandscape(nn.Sequential(nn.Linear(16, 4), nn.BatchNorm1d(4), nn.Linear(4, 4)), x[:1].flatten(1), y[:1])
    # instance norm with stored statistics: nothing would update them
    with pytest.raises(ValueError, match="track_running_stats=True"):
        NetworkLandscape(nn.Sequential(nn.Conv1d(1, 4, 3), nn.InstanceNorm1d(4, track_running_stats=True),
                                       nn.Flatten(), nn.Linear(4 * 14, 4)), x, y)


class Counter(nn.Module):
    """A module that counts its calls in a buffer: state outside theta."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 4)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return self.lin(x.flatten(1))


def test_a_module_that_keeps_state_is_refused_at_construction():
    x, y = wave_data(16, seed=5)
    with pytest.raises(ValueError, match="changed its buffers"):
        NetworkLandscape(Counter(), x, y)


def test_planes_paths_ensembles_and_curvature_follow_the_policy():
    """Every family evaluates a BN network with the training data's statistics at each point (reference: by hand)."""
    from lsl.curvature.hessian import gauss_newton_vp
    from lsl.ensembles.averaging import ensemble_metrics
    from lsl.paths.tunnels import linear_path, path_losses
    from lsl.probes.planes import loss_plane

    land = tiny_bn()
    x, y, xt, yt = land.x, land.y, land.x_test, land.y_test
    gen = torch.Generator().manual_seed(8)
    a, b, c = (land.theta0 + 0.5 * torch.randn(land.D, generator=gen, dtype=F64) for _ in range(3))

    def ref_loss(t, xs=x, ys=y):
        return plain_ce(plain_bn_logits(t, x, xs), ys)

    # a path (the loss along the line and its polyline samples)
    s, losses = path_losses(land, linear_path(a, b, 5), per_segment=2)
    pts = linear_path(a, b, 5)
    samples = torch.stack([pts[0] + (pts[-1] - pts[0]) * float(si) for si in s])
    torch.testing.assert_close(losses, torch.stack([ref_loss(t) for t in samples]), rtol=1e-10, atol=1e-12)
    # a plane through three points, with test accuracy on the grid
    plane = loss_plane(land, a, b, c, n=4, split="test")
    for i, j in ((0, 0), (1, 2), (3, 3)):
        t = plane.point(plane.u[j], plane.v[i])
        assert float(plane.loss[i, j]) == pytest.approx(float(ref_loss(t)), rel=1e-9)
        acc = (plain_bn_logits(t, x, xt).argmax(-1) == yt).double().mean()
        assert float(plane.accuracy[i, j]) == pytest.approx(float(acc))
    # an ensemble of members on the test split: each member with its own statistics
    members = torch.stack([a, b, c])
    m = ensemble_metrics(land, members, "test")
    for k, t in enumerate(members):
        torch.testing.assert_close(m.member_nll[k], ref_loss(t, xt, yt), rtol=1e-10, atol=1e-12)
    probs = torch.stack([torch.softmax(plain_bn_logits(t, x, xt), -1) for t in members]).mean(0)
    assert m.accuracy == pytest.approx(float((probs.argmax(-1) == yt).double().mean()))
    # the Gauss-Newton term: J^T H_z J with J the Jacobian of the logits, statistics included
    v = torch.randn(land.D, generator=gen, dtype=F64)
    z = plain_bn_logits(a, x, x)
    _, jv = torch.func.jvp(lambda t: plain_bn_logits(t, x, x), (a,), (v,))
    p = torch.softmax(z, -1)
    hz_jv = (p * jv - p * (p * jv).sum(-1, keepdim=True)) / x.shape[0]
    _, vjp_fn = torch.func.vjp(lambda t: plain_bn_logits(t, x, x), a)
    torch.testing.assert_close(gauss_newton_vp(land, a, v), vjp_fn(hz_jv)[0], rtol=1e-9, atol=1e-11)


def test_a_subset_is_a_landscape_of_its_own_examples_and_statistics():
    land = tiny_bn()
    sub = land.subset(10)
    theta = land.theta0 + 0.1
    x, y = land.x, land.y
    torch.testing.assert_close(sub.loss(theta), plain_ce(plain_bn_logits(theta, x[:10], x[:10]), y[:10]))
    torch.testing.assert_close(land.loss(theta, idx=torch.arange(10)), plain_ce(plain_bn_logits(theta, x, x[:10]), y[:10]))
    assert not torch.allclose(sub.loss(theta), land.loss(theta, idx=torch.arange(10)))
