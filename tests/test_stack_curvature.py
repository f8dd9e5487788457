"""Hessian products of layer stacks written out by hand (lsl.stack.StackCurvature) against independent references:
the dense Hessian of autograd (torch.autograd.functional.hessian of the loss), the dense Gauss-Newton term
J^T H_out J from the logit Jacobian, central finite differences of the gradient, and the autograd
forward-over-reverse product of NetworkLandscape.hvp."""

import pytest
import torch
from torch import nn
from torch.func import jacrev

from lsl.curvature import hessian
from lsl.data import nets
from lsl.network import NetworkLandscape
from lsl.stack import StackCurvature


def _land(model, loss="cross_entropy", dtype=torch.float64, n=40, features=6, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (n,), generator=g)
    return NetworkLandscape(model.to(dtype), x, y, loss=loss)


def _point(land, scale=0.5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return land.theta0 + scale * torch.randn(land.D, generator=g, dtype=land.dtype)


def _dense_hessian(land, theta):
    with torch.enable_grad():
        return torch.autograd.functional.hessian(lambda t: land.loss(t), theta)


def _dense_gauss_newton(land, theta):
    """J^T H_out J summed over examples, from the logit Jacobian and the loss's Hessian in the logits."""
    with torch.enable_grad():
        J = jacrev(lambda t: land._forward(t, land.x))(theta)  # [N, C, D]
    z = land._forward(theta, land.x).detach()
    n, c = z.shape
    if land.builtin_loss == "cross_entropy":
        p = torch.softmax(z, -1)
        Hout = (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]) / n
    else:
        Hout = torch.eye(c, dtype=z.dtype).expand(n, c, c) * (2.0 / (n * c))
    return torch.einsum("ncd,nce,nef->df", J, Hout, J)


def _model(activation, bias=True, depth=2):
    layers, width, prev = [], 5, 6
    for _ in range(depth):
        layers += [nn.Linear(prev, width, bias=bias), activation()]
        prev = width
    layers.append(nn.Linear(prev, 4, bias=bias))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU, nn.Sigmoid])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("bias", [True, False])
def test_products_equal_the_dense_hessian_and_its_gauss_newton_split(activation, loss, bias):
    torch.manual_seed(0)
    land = _land(_model(activation, bias), loss=loss)
    theta = _point(land)
    curv = land.stack.curvature(theta, land.x, land.y, loss)
    assert isinstance(curv, StackCurvature)
    H, G = _dense_hessian(land, theta), _dense_gauss_newton(land, theta)
    V = torch.randn(3, land.D, dtype=land.dtype)
    scale = float(H.abs().max())
    torch.testing.assert_close(curv(V), V @ H, rtol=0, atol=1e-12 * scale)
    torch.testing.assert_close(curv(V, term="gauss_newton"), V @ G, rtol=0, atol=1e-12 * scale)
    torch.testing.assert_close(curv(V, term="rest"), V @ (H - G), rtol=0, atol=1e-12 * scale)
    torch.testing.assert_close(curv(V[0]), H @ V[0], rtol=0, atol=1e-12 * scale)  # one vector [D]


def test_products_match_finite_differences_of_the_gradient():
    torch.manual_seed(0)
    land = _land(nets.MLP(6, 4, width=8, depth=2, activation="tanh"))
    theta = _point(land)
    curv = land.stack.curvature(theta, land.x, land.y, "cross_entropy")
    v = torch.randn(land.D, dtype=land.dtype)
    v /= v.norm()
    eps = 1e-5
    fd = (land.grad(theta + eps * v) - land.grad(theta - eps * v)) / (2 * eps)
    hv = curv(v)
    assert float((hv - fd).norm() / hv.norm()) < 1e-7


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_curvature_operator_takes_the_written_out_path_and_equals_autograd(activation, monkeypatch):
    """curvature_operator of a layer stack uses StackCurvature, and equals the autograd products of land.hvp."""
    torch.manual_seed(0)
    land = _land(nets.MLP(6, 4, width=8, depth=2, activation=activation), n=50)
    theta = _point(land)
    calls = []
    original = StackCurvature.__call__
    monkeypatch.setattr(StackCurvature, "__call__", lambda self, V, **kw: calls.append(1) or original(self, V, **kw))
    op = hessian.curvature_operator(land, theta)
    V = torch.randn(4, land.D, dtype=land.dtype)
    got = op(V)
    assert calls, "a layer stack with a built-in loss should take the written-out products"
    ref = land.hvp(theta, V)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12 * float(ref.abs().max()))
    idx = torch.arange(0, 50, 3)
    sub = hessian.curvature_operator(land, theta, idx=idx, term="gauss_newton")(V)
    torch.testing.assert_close(sub, hessian.gauss_newton_vp(land, theta, V, idx=idx), rtol=0,
                               atol=1e-12 * float(sub.abs().max()))


def test_blocks_are_split_by_the_evaluation_policy(monkeypatch):
    torch.manual_seed(0)
    land = _land(nets.MLP(6, 4, width=8, depth=1, activation="tanh"), n=30)
    theta = _point(land)
    V = torch.randn(7, land.D, dtype=land.dtype)
    whole = hessian.curvature_operator(land, theta)(V)
    monkeypatch.setattr(land, "_points_per_call", lambda n, b: 2)
    split = hessian.curvature_operator(land, theta)(V)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-14 * float(whole.abs().max()))


def test_float32_products_are_close_to_float64():
    torch.manual_seed(0)
    land64 = _land(nets.MLP(6, 4, width=16, depth=2, activation="tanh"), n=200)
    land32 = NetworkLandscape(land64.model.float(), land64.x.float(), land64.y)
    theta = _point(land64)
    V = torch.randn(3, land64.D, dtype=torch.float64)
    ref = hessian.curvature_operator(land64, theta)(V)
    got = hessian.curvature_operator(land32, theta.float())(V.float()).double()
    assert float((got - ref).abs().max() / ref.abs().max()) < 1e-5


def test_networks_that_are_not_stacks_keep_autograd():
    """A CNN, a batch-norm network and a custom loss are not written out: the operator is autograd's."""
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(16, 3))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 1, 10, generator=g, dtype=torch.float64), torch.randint(0, 3, (20,), generator=g)
    bn = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 4))
    lands = [NetworkLandscape(cnn.double(), x, y), _land(bn),
             _land(nets.MLP(6, 4, width=5, depth=1), loss=lambda z, t: nn.functional.cross_entropy(z, t))]
    for land in lands:
        theta = _point(land, scale=0.1)
        assert hessian._by_hand(land, theta, None) is None
        H = _dense_hessian(land, theta)
        V = torch.randn(2, land.D, dtype=land.dtype)
        torch.testing.assert_close(hessian.curvature_operator(land, theta)(V), V @ H, rtol=0,
                                   atol=1e-11 * float(H.abs().max()))


def test_unsupported_stacks_are_refused():
    land = _land(nets.MLP(6, 4, width=5, depth=1, activation="gelu"))
    assert not land.stack.curves("cross_entropy")
    assert hessian._by_hand(land, land.theta0, None) is None
    with pytest.raises(ValueError, match="curvature supports"):
        land.stack.curvature(land.theta0, land.x, land.y, "cross_entropy")
    tanh = _land(nets.MLP(6, 4, width=5, depth=1))
    with pytest.raises(ValueError, match="unknown term"):
        tanh.stack.curvature(tanh.theta0, tanh.x, tanh.y, "mse")(tanh.theta0, term="H")
