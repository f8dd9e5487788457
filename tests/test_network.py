"""Tests for lsl.network: the functional network landscape (FlatView and the base class: tests/test_landscape.py).

References are independent of lsl's functional machinery: the module's own
forward pass with its parameters set, a hand-written flat function of
``theta``, ``torch.autograd.functional.hessian`` and finite differences.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from lsl import batching
from lsl.data import datasets, nets
from lsl.data.nets import MLP
from lsl.network import NetworkLandscape
from tests.reference import cross_entropy, tanh_mlp_logits

F64 = torch.float64
IN, WIDTH, C, N = 4, 5, 3, 30


# ---------------------------------------------------------------------------
# fixtures and independent references


def tiny_mlp(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return MLP(IN, C, width=WIDTH, depth=1, activation="tanh", dropout=dropout).to(F64)


def tiny_data(seed: int = 0, n: int = N):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, IN, generator=gen, dtype=F64)
    y = torch.randint(0, C, (n,), generator=gen)
    return x, y


def manual_logits(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The tiny MLP's forward pass written by hand on the flat vector (W1, b1, W2, b2 in order)."""
    return tanh_mlp_logits(theta, x, IN, WIDTH, C)


def manual_ce(theta, x, y):
    return cross_entropy(manual_logits(theta, x), y)


def module_with(model: nn.Module, theta: torch.Tensor) -> nn.Module:
    m = copy.deepcopy(model)
    torch.nn.utils.vector_to_parameters(theta.detach().clone(), m.parameters())
    return m


@pytest.fixture
def net():
    model = tiny_mlp()
    x, y = tiny_data()
    xt, yt = tiny_data(seed=1, n=12)
    return NetworkLandscape(model, x, y, x_test=xt, y_test=yt)


def random_theta(land, seed, scale=0.5, batch=None):
    gen = torch.Generator().manual_seed(seed)
    shape = (land.D,) if batch is None else (batch, land.D)
    return land.theta0 + scale * torch.randn(*shape, generator=gen, dtype=F64)


# ---------------------------------------------------------------------------
# NetworkLandscape: values


def test_manual_reference_matches_the_module():
    # guards the reference itself
    model, (x, _) = tiny_mlp(), tiny_data()
    theta = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    torch.testing.assert_close(manual_logits(theta, x), model(x))


def test_loss_at_theta0_equals_module_cross_entropy(net):
    with torch.no_grad():
        ref = nn.functional.cross_entropy(net.model(net.x), net.y)
    assert net.theta0.shape == (net.D,) and net.D == IN * WIDTH + WIDTH + WIDTH * C + C
    torch.testing.assert_close(net.loss(net.theta0), ref, rtol=1e-13, atol=1e-13)
    theta = random_theta(net, 1)
    torch.testing.assert_close(net.loss(theta), manual_ce(theta, net.x, net.y), rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(net.eval_loss(theta), manual_ce(theta, net.x, net.y), rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(net.eval_loss(theta, "test"), manual_ce(theta, net.x_test, net.y_test))


def test_batched_loss_equals_loop(net):
    thetas = random_theta(net, 2, batch=7)
    batched = net.loss(thetas)
    assert batched.shape == (7,)
    ref = torch.stack([manual_ce(t, net.x, net.y) for t in thetas])
    torch.testing.assert_close(batched, ref, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(batched, torch.stack([net.loss(t) for t in thetas]), rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(net.eval_loss(thetas), ref, rtol=1e-12, atol=1e-13)


def test_chunked_batched_loss_equals_unchunked():
    x, y = tiny_data()
    a = NetworkLandscape(tiny_mlp(), x, y)
    b = NetworkLandscape(tiny_mlp(), x, y, chunk_size=2)
    thetas = random_theta(a, 3, batch=5)
    torch.testing.assert_close(a.loss(thetas), b.loss(thetas), rtol=1e-13, atol=1e-13)


def test_minibatch_idx_selects_examples(net):
    idx = torch.tensor([0, 3, 5, 11])
    theta = random_theta(net, 4)
    torch.testing.assert_close(net.loss(theta, idx=idx), manual_ce(theta, net.x[idx], net.y[idx]))
    torch.testing.assert_close(
        net.grad(theta, idx=idx),
        torch.func.grad(manual_ce)(theta, net.x[idx], net.y[idx]),
    )


def test_subset_is_the_landscape_of_the_first_examples(net):
    """L.subset(n) equals idx=arange(n) on L for the loss, its gradient, Hessian products and curvature;
    it keeps the network, the test split and the loss, and checks n."""
    from lsl.curvature import hessian

    n = 7
    sub = net.subset(n)
    idx = torch.arange(n)
    assert sub.n_train == n and sub.D == net.D and torch.equal(sub.theta0, net.theta0)
    assert torch.equal(sub.x, net.x[:n]) and torch.equal(sub.x_test, net.x_test)
    assert sub.builtin_loss == net.builtin_loss and sub.device == net.device and sub.dtype == net.dtype
    thetas = random_theta(net, 5, batch=3)
    assert torch.equal(sub.loss(thetas), net.loss(thetas, idx=idx))
    torch.testing.assert_close(sub.loss(thetas), manual_ce_batch(thetas, net.x[:n], net.y[:n]))
    assert torch.equal(sub.grad(thetas[0]), net.grad(thetas[0], idx=idx))
    v = torch.randn(net.D, dtype=F64, generator=torch.Generator().manual_seed(2))
    assert torch.equal(sub.hvp(thetas[0], v), net.hvp(thetas[0], v, idx=idx))
    assert torch.equal(hessian.top_eigenvalues(sub, thetas[0], 3), hessian.top_eigenvalues(net, thetas[0], 3, idx=idx))
    assert torch.equal(sub.accuracy(thetas, "test"), net.accuracy(thetas, "test"))
    assert net.subset(10 * net.n_train).n_train == net.n_train            # more than there are: all of them
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="positive number of training examples"):
            net.subset(bad)


def manual_ce_batch(thetas, x, y):
    return torch.stack([manual_ce(t, x, y) for t in thetas])


# ---------------------------------------------------------------------------
# derivatives


def test_grad_equals_autograd_through_the_module(net):
    for seed in range(3):
        theta = random_theta(net, 10 + seed)
        m = module_with(net.model, theta)
        m.zero_grad()
        nn.functional.cross_entropy(m(net.x), net.y).backward()
        ref = torch.cat([p.grad.reshape(-1) for p in m.parameters()])
        torch.testing.assert_close(net.grad(theta), ref, rtol=1e-11, atol=1e-13)


def test_batched_grad_equals_per_point(net):
    thetas = random_theta(net, 5, batch=4)
    g = net.grad(thetas)
    assert g.shape == (4, net.D)
    torch.testing.assert_close(g, torch.stack([torch.func.grad(manual_ce)(t, net.x, net.y) for t in thetas]))


def test_hvp_matches_finite_differences_and_exact_hessian(net):
    theta = random_theta(net, 6)
    H = torch.autograd.functional.hessian(lambda t: manual_ce(t, net.x, net.y), theta)
    assert H.shape == (net.D, net.D)
    gen = torch.Generator().manual_seed(0)
    eps = 1e-5
    for _ in range(3):
        v = torch.randn(net.D, generator=gen, dtype=F64)
        hv = net.hvp(theta, v)
        fd = (net.grad(theta + eps * v) - net.grad(theta - eps * v)) / (2 * eps)
        torch.testing.assert_close(hv, fd, rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(hv, H @ v, rtol=1e-10, atol=1e-12)
    # rows of the exact Hessian: H e_i
    for i in (0, 7, net.D - 1):
        e = torch.zeros(net.D, dtype=F64)
        e[i] = 1
        torch.testing.assert_close(net.hvp(theta, e), H[i], rtol=1e-10, atol=1e-12)
    # the full Hessian through D HVPs (base-class hessian())
    torch.testing.assert_close(net.hessian(theta), H, rtol=1e-10, atol=1e-12)


def test_hvp_with_a_batch_of_vectors(net):
    theta = random_theta(net, 7)
    V = torch.randn(5, net.D, generator=torch.Generator().manual_seed(1), dtype=F64)
    batched = net.hvp(theta, V)
    assert batched.shape == (5, net.D)
    torch.testing.assert_close(batched, torch.stack([net.hvp(theta, v) for v in V]), rtol=1e-12, atol=1e-13)


def test_hvp_rejects_a_batch_of_points(net):
    with pytest.raises(ValueError, match="single point"):
        net.hvp(random_theta(net, 0, batch=2), torch.zeros(net.D, dtype=F64))


# ---------------------------------------------------------------------------
# predictions


def test_logits_shapes_and_values(net):
    theta = random_theta(net, 8)
    out = net.logits(theta)
    assert out.shape == (N, C)
    torch.testing.assert_close(out, manual_logits(theta, net.x))
    thetas = random_theta(net, 9, batch=3)
    outs = net.logits(thetas)
    assert outs.shape == (3, N, C)
    for b in range(3):
        torch.testing.assert_close(outs[b], manual_logits(thetas[b], net.x))
    x_new = torch.randn(6, IN, dtype=F64)
    assert net.logits(theta, x_new).shape == (6, C)
    assert net.logits(thetas, x_new).shape == (3, 6, C)


def test_predict_and_accuracy(net):
    theta = random_theta(net, 10, scale=2.0)
    pred = net.predict(theta)
    ref_pred = manual_logits(theta, net.x).argmax(1)
    assert torch.equal(pred, ref_pred)
    assert float(net.accuracy(theta)) == pytest.approx(float((ref_pred == net.y).double().mean()))
    test_pred = manual_logits(theta, net.x_test).argmax(1)
    assert torch.equal(net.predict(theta, "test"), test_pred)
    assert float(net.accuracy(theta, "test")) == pytest.approx(float((test_pred == net.y_test).double().mean()))
    thetas = random_theta(net, 11, scale=2.0, batch=3)
    acc = net.accuracy(thetas)
    assert acc.shape == (3,)
    for b in range(3):
        assert float(acc[b]) == pytest.approx(float((manual_logits(thetas[b], net.x).argmax(1) == net.y).double().mean()))
    with pytest.raises(ValueError, match="'train' or 'test'"):
        net.accuracy(theta, "valid")


def test_accuracy_reaches_one_on_labels_it_predicts():
    # labels taken from the network itself: accuracy must be exactly 1
    model = tiny_mlp(3)
    x, _ = tiny_data()
    with torch.no_grad():
        y = model(x).argmax(1)
    land = NetworkLandscape(model, x, y)
    assert float(land.accuracy(land.theta0)) == 1.0


def test_no_test_split():
    x, y = tiny_data()
    land = NetworkLandscape(tiny_mlp(), x, y)
    with pytest.raises(ValueError, match="no test split"):
        land.accuracy(land.theta0, "test")


# ---------------------------------------------------------------------------
# dropout, statelessness


def test_dropout_random_in_train_mode_deterministic_in_eval():
    model = tiny_mlp(dropout=0.5)
    x, y = tiny_data()
    land = NetworkLandscape(model, x, y)
    theta = land.theta0
    e1, e2 = land.loss(theta), land.loss(theta)
    assert torch.equal(e1, e2)
    # eval mode ignores dropout: equals the dropout-free reference
    torch.testing.assert_close(e1, manual_ce(theta, x, y), rtol=1e-12, atol=1e-13)
    t1, t2 = land.loss(theta, train=True), land.loss(theta, train=True)
    assert not torch.equal(t1, t2)
    assert not torch.equal(t1, e1)
    # a batch of identical points gets independent masks
    rows = land.loss(theta.expand(4, -1), train=True)
    assert len(set(rows.tolist())) == 4
    g1, g2 = land.grad(theta, train=True), land.grad(theta, train=True)
    assert not torch.equal(g1, g2)
    assert torch.equal(land.grad(theta), land.grad(theta))
    # the module is left in eval mode afterwards
    assert not land.model.training


def test_evaluations_do_not_mutate_the_module(net):
    before = {k: v.detach().clone() for k, v in net.model.state_dict().items()}
    theta0_before = net.theta0.clone()
    theta = random_theta(net, 12)
    net.loss(theta)
    net.loss(random_theta(net, 13, batch=3))
    net.grad(theta)
    net.hvp(theta, torch.ones(net.D, dtype=F64))
    net.logits(theta)
    net.accuracy(theta, "test")
    after = net.model.state_dict()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert torch.equal(net.theta0, theta0_before)
    # theta0 is a copy, not a view of the module's parameters
    with torch.no_grad():
        next(net.model.parameters()).add_(1.0)
    assert torch.equal(net.theta0, theta0_before)


def test_loss_is_differentiable_wrt_theta(net):
    theta = random_theta(net, 14).requires_grad_(True)
    (g,) = torch.autograd.grad(net.loss(theta), theta)
    torch.testing.assert_close(g, torch.func.grad(manual_ce)(theta.detach(), net.x, net.y))


# ---------------------------------------------------------------------------
# loss options and errors


def test_mse_loss_option():
    x, y = tiny_data()
    land = NetworkLandscape(tiny_mlp(), x, y, loss="mse")
    theta = random_theta(land, 15)
    logits = manual_logits(theta, x)
    onehot = torch.zeros(N, C, dtype=F64)
    onehot[torch.arange(N), y] = 1.0
    ref = ((logits - onehot) ** 2).mean()
    torch.testing.assert_close(land.loss(theta), ref, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(land.grad(theta), torch.func.grad(lambda t: ((manual_logits(t, x) - onehot) ** 2).mean())(theta))


def test_callable_loss():
    x, y = tiny_data()
    land = NetworkLandscape(tiny_mlp(), x, y, loss=lambda logits, yy: logits.pow(2).sum())
    theta = random_theta(land, 16)
    torch.testing.assert_close(land.loss(theta), manual_logits(theta, x).pow(2).sum())


def test_unknown_loss_rejected():
    x, y = tiny_data()
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*cross_entropy.*mse"):
        NetworkLandscape(tiny_mlp(), x, y, loss="hinge")


def test_wrong_input_shapes_rejected(net):
    with pytest.raises(ValueError, match=f"D={net.D}"):
        net.loss(torch.zeros(net.D + 1, dtype=F64))
    with pytest.raises(ValueError, match=f"D={net.D}"):
        net.loss(torch.zeros(2, net.D - 1, dtype=F64))
    with pytest.raises(ValueError, match=f"D={net.D}"):
        net.loss(torch.zeros(2, 2, net.D, dtype=F64))
    with pytest.raises(ValueError, match=f"D={net.D}"):
        net.grad(torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match=f"D={net.D}"):
        net.hvp(net.theta0, torch.zeros(3, dtype=F64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        net.loss(net.theta0.tolist())


def test_constructor_errors():
    x, y = tiny_data()
    with pytest.raises(TypeError, match="nn.Module"):
        NetworkLandscape(lambda t: t, x, y)
    with pytest.raises(TypeError, match="tensors"):
        NetworkLandscape(tiny_mlp(), x.numpy(), y)
    with pytest.raises(ValueError, match="30 vs 29"):
        NetworkLandscape(tiny_mlp(), x, y[:-1])
    with pytest.raises(ValueError, match="both x_test and y_test"):
        NetworkLandscape(tiny_mlp(), x, y, x_test=x)


def test_dtype_option_casts_float32_model():
    torch.manual_seed(0)
    model32 = MLP(IN, C, width=WIDTH, depth=1, activation="tanh")
    ref_theta = torch.nn.utils.parameters_to_vector(model32.parameters()).detach().double()
    x, y = tiny_data()
    land = NetworkLandscape(model32, x.float(), y, dtype=F64)
    assert land.dtype == F64 and land.theta0.dtype == F64 and land.x.dtype == F64
    torch.testing.assert_close(land.theta0, ref_theta)
    torch.testing.assert_close(land.loss(land.theta0), manual_ce(ref_theta, x.float().double(), y))
    assert land.n_train == N


def test_training_mode_leaves_batch_norm_statistics_unchanged():
    import torch
    from torch import nn

    import lsl

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    net = lsl.NetworkLandscape(model, x, y)
    before = net.loss(net.theta0).item()
    stats = {k: v.clone() for k, v in net.buffers.items()}
    train_loss = net.loss(net.theta0, train=True)          # batch statistics
    assert all(torch.equal(stats[k], net.buffers[k]) for k in stats)
    assert net.loss(net.theta0).item() == before
    model.train()
    assert torch.allclose(train_loss, nn.functional.cross_entropy(model(x), y))
    # the policy: on the whole training set, evaluation uses its statistics at theta too
    assert torch.allclose(net.loss(net.theta0), train_loss)


def test_theta_of_another_seed_is_that_models_point(net):
    other = tiny_mlp(seed=3)
    theta = net.theta_of(other)
    assert theta.shape == (net.D,) and theta.dtype == net.dtype
    assert torch.equal(theta, torch.nn.utils.parameters_to_vector(other.parameters()))
    assert not torch.equal(theta, net.theta0)
    x, y = tiny_data()
    # the point evaluates to the other model's own loss
    assert torch.allclose(net.loss(theta), nn.functional.cross_entropy(other(x), y))
    assert torch.equal(net.theta_of(tiny_mlp(seed=0)), net.theta0)


def test_theta_of_rejects_a_different_architecture(net):
    wider = MLP(IN, C, width=WIDTH + 1, depth=1, activation="tanh").to(F64)
    with pytest.raises(ValueError, match="same architecture"):
        net.theta_of(wider)
    with pytest.raises(TypeError, match="nn.Module"):
        net.theta_of(net.theta0)


def test_public_surface_of_network_landscape():
    """from_dataset, data, criterion, builtin_loss, loss_on, forward and module_at agree with the landscape's own evaluation."""
    from lsl.data import datasets, nets

    ds = datasets.load("gaussian_mixture", n_classes=3, dim=5, n_train=40, n_test=20, seed=0)
    model = nets.make("mlp", ds.input_shape, 3, seed=0, width=8, depth=1)
    land = NetworkLandscape.from_dataset(model, ds, dtype=torch.float64)
    assert land.n_train == 40 and land.x_test.shape[0] == 20 and land.builtin_loss == "cross_entropy"
    theta = land.theta0 + 0.1
    x, y = land.data(torch.arange(10))
    torch.testing.assert_close(land.loss_on(theta, x, y), land.loss(theta, idx=torch.arange(10)))
    torch.testing.assert_close(land.criterion(land.forward(theta), land.y), land.loss(theta))
    module = land.module_at(theta)
    with torch.no_grad():
        torch.testing.assert_close(module(land.x), land.logits(theta))
    torch.testing.assert_close(land.theta_of(module), theta)
    custom = NetworkLandscape(model, ds.x_train, ds.y_train, loss=lambda z, t: torch.nn.functional.cross_entropy(z, t))
    assert custom.builtin_loss is None
    with pytest.raises(TypeError, match="x_train"):
        NetworkLandscape.from_dataset(model, (ds.x_train, ds.y_train))
    with pytest.raises(ValueError, match="one point"):
        land.module_at(torch.stack([theta, theta]))


# ---------------------------------------------------------------------------
# large batches of points on a CPU are evaluated in chunks (speed only): the values are those of one call over all
# points and of a loop over the points; the chunk follows the number of examples (the CPU budget of lsl.batching);
# an explicit chunk_size wins and dropout masks are left alone


@pytest.fixture(scope="module")
def land():
    ds = datasets.load("gaussian_mixture", n_train=50, n_test=20, n_classes=3, dim=4, dtype=F64)
    model = nets.make("mlp", ds.input_shape, ds.n_classes, seed=0, width=6, depth=2, activation="tanh").double()
    return NetworkLandscape(model, ds.x_train, ds.y_train, x_test=ds.x_test, y_test=ds.y_test)


def test_chunk_follows_the_number_of_examples(land, monkeypatch):
    with batching.use("cpu", point_examples=200):
        assert land._vmap_chunk(50, 99) == 4 and land._vmap_chunk(1000, 99) == 1 and land._vmap_chunk(10, 99) == 20
        assert land._vmap_chunk(10, 20) is None  # every point fits in one call
        assert land._vmap_chunk(50, 99, random=True) is None  # dropout masks: never re-chunked
        monkeypatch.setattr(land, "chunk_size", 3)
        assert land._vmap_chunk(50, 99) == 3  # an explicit chunk_size wins


def test_chunked_values_equal_one_call_and_a_loop(land, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    points = land.theta0 + 0.3 * torch.randn(11, land.D, generator=gen, dtype=F64)
    with batching.use("cpu", point_examples=10**9):  # one call
        one_loss, one_logits = land.loss(points), land.logits(points)
    cpu = dataclasses.replace(batching.BUDGETS["cpu"], point_examples=120)  # calls of 2 points (50 examples each)
    monkeypatch.setitem(batching.BUDGETS, "cpu", cpu)
    assert land._vmap_chunk(land.n_train, len(points)) == 2
    torch.testing.assert_close(land.loss(points), one_loss, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(land.logits(points), one_logits, rtol=1e-14, atol=1e-14)
    loop = torch.stack([land.loss(p) for p in points])
    torch.testing.assert_close(land.loss(points), loop, rtol=1e-12, atol=1e-12)
    # gradients through the chunked loss are those of the points one by one
    x = points.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(land.loss(x).sum(), x)
    torch.testing.assert_close(g, torch.stack([land.grad(p) for p in points]), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(land.accuracy(points, "test"), torch.stack([land.accuracy(p, "test") for p in points]))
