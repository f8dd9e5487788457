"""The batched forward pass of layer stacks (lsl.stack) against the functional (vmap) forward pass."""

import pytest
import torch
from torch import nn
from torch.func import vmap

from lsl.data import nets
from lsl.probes import planes
from lsl.network import NetworkLandscape
from lsl.stack import LayerStack


def _land(model, dtype=torch.float64, n=60, loss="cross_entropy", features=12, classes=5):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (n,), generator=g)
    return NetworkLandscape(model.to(dtype), x, y, loss=loss)


def _reference_logits(land, theta):
    """The functional forward pass, point by point (the definition the stack must match)."""
    with torch.enable_grad():
        return torch.stack([land._forward(t, land.x) for t in theta]).detach()


def _points(land, k=5, scale=0.3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return land.theta0 + scale * torch.randn(k, land.D, generator=g, dtype=land.dtype)


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "sigmoid"])
@pytest.mark.parametrize("depth", [0, 1, 3])
def test_stack_logits_equal_functional_forward_float64(activation, depth):
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=7, depth=depth, activation=activation))
    assert land.stack is not None and len(land.stack.layers) == depth + 1
    pts = _points(land)
    with torch.no_grad():
        got = land.logits(pts)
    torch.testing.assert_close(got, _reference_logits(land, pts), rtol=0, atol=1e-12)


@pytest.mark.parametrize("sigmoid_form", [True, False])
def test_stack_float32_tanh_is_accurate(sigmoid_form, monkeypatch):
    """On the CPU, float32 tanh may be 2 sigmoid(2h) - 1: within a few float32 ulps of torch.tanh."""
    import lsl.stack

    monkeypatch.setattr(lsl.stack, "_vector_sigmoid", lambda: sigmoid_form)
    h = torch.linspace(-12, 12, 200_001)
    got = LayerStack._activate(h.clone(), nn.Tanh())
    assert float((got - torch.tanh(h)).abs().max()) < 2.5e-7
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=16, depth=2, activation="tanh"), dtype=torch.float32)
    pts = _points(land)
    with torch.no_grad():
        got = land.logits(pts)
    torch.testing.assert_close(got, _reference_logits(land, pts), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "callable"])
def test_loss_without_gradients_equals_differentiable_loss(loss):
    torch.manual_seed(0)
    crit = (lambda out, y: nn.functional.cross_entropy(out, y, label_smoothing=0.1)) if loss == "callable" else loss
    land = _land(nets.MLP(12, 5, width=7, depth=2, activation="tanh"), loss=crit)
    pts = _points(land, 6)
    with torch.no_grad():
        fast = land.loss(pts)
        fast_one = land.loss(pts[2])
        sub = land.loss(pts, idx=torch.arange(0, 60, 3))
    slow = land.loss(pts).detach()  # gradients enabled: the vmap path
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    torch.testing.assert_close(fast_one, slow[2], rtol=0, atol=1e-12)
    torch.testing.assert_close(sub, land.loss(pts, idx=torch.arange(0, 60, 3)).detach(), rtol=0, atol=1e-12)


def test_gradients_and_transforms_still_take_the_functional_path():
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=7, depth=2, activation="tanh"))
    pts = _points(land, 3).requires_grad_(True)
    (g,) = torch.autograd.grad(land.loss(pts).sum(), pts)
    torch.testing.assert_close(g, land.grad(pts.detach()), rtol=0, atol=1e-12)
    with torch.no_grad():
        inside = vmap(land.loss)(pts.detach())  # batched tensors inside vmap: not the stack
    torch.testing.assert_close(inside, land.loss(pts).detach(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("arch", ["mlp", "cnn1d"])
@pytest.mark.parametrize("K", [1, 2, 3])
def test_loss_affine_equals_loss_at_the_points(arch, K):
    torch.manual_seed(0)
    if arch == "mlp":
        land = _land(nets.MLP(12, 5, width=7, depth=2, activation="tanh"))
    else:
        land = _land(nets.SimpleCNN1d(length=12, n_classes=5, channels=(3, 4)), n=30)
    g = torch.Generator().manual_seed(3)
    dirs = torch.randn(K, land.D, generator=g, dtype=land.dtype) * 0.2
    coeffs = torch.randn(11, K, generator=g, dtype=land.dtype)
    got = land.loss_affine(land.theta0, dirs, coeffs, max_elements=3 * land.D)  # chunks of 3 points
    want = land.loss(land.theta0 + coeffs @ dirs).detach()
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    idx = torch.arange(5, 25)
    torch.testing.assert_close(land.loss_affine(land.theta0, dirs, coeffs, idx=idx),
                               land.loss(land.theta0 + coeffs @ dirs, idx=idx).detach(), rtol=0, atol=1e-12)


def test_loss_plane_matches_a_loop_over_its_points():
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=9, depth=2, activation="tanh"))
    a, b, c = _points(land, 3, scale=1.0)
    plane = planes.loss_plane(land, a, b, c, n=7)
    want = torch.stack([land.loss(plane.point(float(x), float(y))).detach()
                        for y in plane.v for x in plane.u]).view(7, 7)
    torch.testing.assert_close(plane.loss, want, rtol=0, atol=1e-12)


def test_loss_affine_rejects_bad_shapes():
    land = _land(nets.MLP(12, 5, width=7, depth=1))
    d = torch.zeros(2, land.D, dtype=land.dtype)
    with pytest.raises(ValueError, match="coeffs must be a tensor"):
        land.loss_affine(land.theta0, d, torch.zeros(4, 3, dtype=land.dtype))
    with pytest.raises(ValueError, match="origin must be one point"):
        land.loss_affine(d, d, torch.zeros(4, 2, dtype=land.dtype))
    with pytest.raises(ValueError, match="directions must be"):
        land.loss_affine(land.theta0, land.theta0, torch.zeros(4, 2, dtype=land.dtype))


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(12, 12), nn.Linear(12, 5)

    def forward(self, x):
        return self.b(x + torch.tanh(self.a(x)))


@pytest.mark.parametrize("model", [
    nets.SimpleCNN1d(length=12, n_classes=5, channels=(3, 4)),
    nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 5)),
    nn.Sequential(nn.Linear(12, 8), nn.GELU(approximate="tanh"), nn.Linear(8, 5)),
    nn.Sequential(nn.Linear(12, 8), nn.Tanh()),  # ends in an activation
    nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Tanh(), nn.Linear(8, 5)),
    nn.Sequential(nn.Linear(12, 8), nn.LayerNorm(8), nn.Linear(8, 5)),
    _Residual(),
], ids=["cnn1d", "batchnorm", "gelu-tanh", "ends-in-activation", "two-activations", "layernorm", "residual"])
def test_not_a_layer_stack_falls_back_to_vmap(model):
    """Anything but Linear layers and plain activations in a Sequential keeps the functional path, with equal values."""
    torch.manual_seed(0)
    land = _land(model)
    assert land.stack is None
    pts = _points(land, 3, scale=0.1)
    with torch.no_grad():
        got = land.loss(pts)
    torch.testing.assert_close(got, land.loss(pts).detach(), rtol=0, atol=1e-12)


def test_frozen_parameters_are_not_a_layer_stack():
    model = nets.MLP(12, 5, width=7, depth=1)
    model[1].bias.requires_grad_(False)
    assert _land(model).stack is None


def test_dropout_is_off_in_the_stack_and_training_mode_keeps_vmap():
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=16, depth=2, activation="relu", dropout=0.5))
    assert land.stack is not None
    pts = _points(land, 4)
    with torch.no_grad():
        ev = land.loss(pts)
        tr = land.loss(pts, train=True)  # dropout on: must differ from the evaluation loss
    torch.testing.assert_close(ev, land.loss(pts).detach(), rtol=0, atol=1e-12)
    assert not torch.allclose(ev, tr)


# -- training: the loss and its gradient written out (LayerStack.loss_and_grad) ----------------------------
def _autograd_loss_and_grad(land, pts, **kw):
    """The reference: autograd through the functional (vmap) path, point by point."""
    vals, grads = [], []
    for t in pts:
        t = t.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            v = land._loss_batch(t.unsqueeze(0), **kw)[0]
            (g,) = torch.autograd.grad(v, t)
        vals.append(v.detach())
        grads.append(g)
    return torch.stack(vals), torch.stack(grads)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_loss_and_grad_equal_autograd_float64(activation, depth, loss):
    """Back-propagation written out gives autograd's loss and gradient, at several points and on a minibatch."""
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=7, depth=depth, activation=activation), loss=loss)
    assert land.backprop_by_hand
    pts = _points(land, 4)
    idx = torch.tensor([3, 1, 4, 15, 9, 26, 5, 35])
    for kw in ({}, {"idx": idx}):
        value, grad = land.loss_and_grad(pts, **kw)
        ref_value, ref_grad = _autograd_loss_and_grad(land, pts, **kw)
        torch.testing.assert_close(value, ref_value, rtol=0, atol=1e-13)
        torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-13)
        one_value, one_grad = land.loss_and_grad(pts[1], **kw)  # one point [D]: a scalar and [D]
        assert one_value.dim() == 0 and one_grad.shape == (land.D,)
        torch.testing.assert_close(one_grad, ref_grad[1], rtol=0, atol=1e-13)


def test_loss_and_grad_match_a_finite_difference():
    """An independent check of the gradient: central differences of the loss along random directions."""
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=9, depth=2, activation="tanh"))
    theta = _points(land, 1)[0]
    _, grad = land.loss_and_grad(theta)
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        v = torch.randn(land.D, generator=g, dtype=land.dtype)
        h = 1e-5
        with torch.no_grad():
            fd = (land.loss(theta + h * v) - land.loss(theta - h * v)) / (2 * h)
        assert abs(float(fd - grad @ v)) < 1e-8 * max(1.0, abs(float(fd)))


def test_loss_and_grad_float32_close_to_autograd():
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=16, depth=2, activation="tanh"), dtype=torch.float32)
    pts = _points(land, 3)
    value, grad = land.loss_and_grad(pts)
    ref_value, ref_grad = _autograd_loss_and_grad(land, pts)
    torch.testing.assert_close(value, ref_value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-6)


def test_loss_and_grad_dropout_draws_the_masks_of_nn_dropout():
    """In training mode the written-out path draws the same masks as nn.Dropout from the same generator state."""
    land = _land(nets.MLP(12, 5, width=16, depth=2, activation="relu", dropout=0.3))
    assert land.backprop_by_hand and [layer.dropout for layer in land.stack.layers] == [0.3, 0.3, 0.0]
    theta = _points(land, 1)[0]
    torch.manual_seed(5)
    value, grad = land.loss_and_grad(theta, train=True)
    torch.manual_seed(5)
    ref_value, ref_grad = _autograd_loss_and_grad(land, theta.unsqueeze(0), train=True)
    torch.testing.assert_close(value, ref_value[0], rtol=0, atol=1e-13)
    torch.testing.assert_close(grad, ref_grad[0], rtol=0, atol=1e-13)
    torch.manual_seed(5)
    off_value, _ = land.loss_and_grad(theta)  # evaluation mode: no dropout
    assert abs(float(off_value - value)) > 1e-3


@pytest.mark.parametrize("model", [
    nets.MLP(12, 5, width=7, depth=2, activation="gelu"),
    nn.Sequential(nn.Dropout(0.2), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 5)),   # dropout on the inputs
    nn.Sequential(nn.Linear(12, 8), nn.Dropout(0.2), nn.Tanh(), nn.Linear(8, 5)),   # before the activation
    nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 5), nn.Dropout(0.2)),   # on the outputs
], ids=["gelu", "input-dropout", "dropout-before-activation", "output-dropout"])
def test_unsupported_stacks_keep_autograd_with_equal_gradients(model):
    torch.manual_seed(0)
    land = _land(model)
    assert land.stack is not None and not land.backprop_by_hand
    pts = _points(land, 2)
    with pytest.raises(ValueError, match="use autograd"):
        land.stack.loss_and_grad(pts, land.x, land.y, "cross_entropy")
    value, grad = land.loss_and_grad(pts)  # the landscape falls back to autograd
    torch.testing.assert_close(grad, land.grad(pts), rtol=0, atol=1e-13)


def test_callable_loss_keeps_autograd():
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=7, depth=1), loss=lambda z, y: nn.functional.cross_entropy(z, y))
    assert land.stack is not None and not land.backprop_by_hand
    pts = _points(land, 2)
    torch.testing.assert_close(land.loss_and_grad(pts)[1], land.grad(pts), rtol=0, atol=1e-13)


def test_first_order_loss_backward_is_the_gradient_and_refuses_a_second_derivative():
    torch.manual_seed(0)
    land = _land(nets.MLP(12, 5, width=7, depth=2, activation="tanh"))
    pts = _points(land, 3).requires_grad_(True)
    weights = torch.tensor([0.5, -2.0, 3.0], dtype=land.dtype)
    with torch.enable_grad():
        value = land.first_order_loss(pts)
        (g,) = torch.autograd.grad((weights * value).sum(), pts)
    torch.testing.assert_close(value.detach(), land.loss(pts).detach(), rtol=0, atol=1e-13)
    torch.testing.assert_close(g, weights.unsqueeze(1) * land.grad(pts.detach()), rtol=0, atol=1e-13)
    with torch.enable_grad():
        (g1,) = torch.autograd.grad(land.first_order_loss(pts[0]), pts, create_graph=True)
        with pytest.raises(RuntimeError):
            torch.autograd.grad(g1.sum(), pts)
    with torch.no_grad():  # nothing to differentiate: the plain loss
        assert land.first_order_loss(pts).grad_fn is None
