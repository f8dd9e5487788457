"""The architectures researchers bring, against plain autograd on the module itself (issue 32, item 3).

For each network (tiny, float64, a few examples) the landscape's loss, gradient, Hessian-vector product
and batched ``[B, D]`` evaluation are compared with a reference that does not use lsl's flat views or
its ``torch.func`` machinery: the module's parameters are cut out of ``theta`` here, the module runs
through ``torch.func.functional_call`` (dropout off; batch norm with the whole training set as one
batch, which is lsl's batch-norm policy on the training loss), and derivatives come from
``torch.autograd.grad`` (the Hessian-vector product by double back-propagation, where lsl uses
forward-over-reverse), one point at a time.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from lsl.data.nets import MLP, make
from lsl.network import NetworkLandscape

F64 = torch.float64
C = 3


class TinyTransformer(nn.Module):
    """Token embedding, one transformer encoder block (attention, layer norm, MLP), mean over positions."""

    def __init__(self, vocab: int = 10, d: int = 8, heads: int = 2, length: int = 5):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.1 * torch.randn(length, d))
        self.block = nn.TransformerEncoderLayer(d, heads, dim_feedforward=16, dropout=0.1, batch_first=True)
        self.head = nn.Linear(d, C)

    def forward(self, tokens):
        return self.head(self.block(self.embed(tokens) + self.pos).mean(1))


class Standardised(nn.Module):
    """Fixed input standardisation in buffers, a frozen random feature layer, a trainable head."""

    def __init__(self, n_in: int = 12):
        super().__init__()
        self.register_buffer("mean", torch.linspace(-1, 1, n_in))
        self.register_buffer("scale", torch.linspace(0.5, 2, n_in))
        self.features = nn.Linear(n_in, 6)
        self.features.requires_grad_(False)
        self.head = nn.Sequential(nn.Tanh(), nn.Linear(6, C))

    def forward(self, x):
        return self.head(self.features((x - self.mean) / self.scale))


def label_smoothing(logits, y):
    return F.cross_entropy(logits, y, label_smoothing=0.1)


def vectors(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 12, generator=gen, dtype=F64), torch.randint(0, C, (n,), generator=gen)


def images(n, size=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return 1.0 + torch.randn(n, 1, size, size, generator=gen, dtype=F64), torch.randint(0, C, (n,), generator=gen)


def signals(n, length=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, length, generator=gen, dtype=F64), torch.randint(0, C, (n,), generator=gen)


def tokens(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (n, 5), generator=gen), torch.randint(0, C, (n,), generator=gen)


def _seeded(build):
    def make_it():
        torch.manual_seed(0)
        return build().to(F64)
    return make_it


CASES = {
    "mlp_gelu": (_seeded(lambda: MLP(12, C, width=6, depth=2, activation="gelu")), vectors, "cross_entropy"),
    "mlp_dropout_silu": (_seeded(lambda: nn.Sequential(nn.Linear(12, 8), nn.SiLU(), nn.Dropout(0.3), nn.Linear(8, C))),
                         vectors, "cross_entropy"),
    "cnn_batchnorm_avgpool": (_seeded(lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(4 * 3 * 3, C))), images, "cross_entropy"),
    "cnn_groupnorm_maxpool": (_seeded(lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.SiLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4 * 3 * 3, C))), images, "cross_entropy"),
    "cnn1d_layernorm": (_seeded(lambda: nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1), nn.LayerNorm([4, 8]), nn.GELU(), nn.MaxPool1d(2), nn.Flatten(),
        nn.Linear(4 * 4, C))), signals, "cross_entropy"),
    "resnet": (lambda: make("resnet", (1, 6, 6), C, seed=0, channels=(2, 4)).to(F64), images, "cross_entropy"),
    "transformer": (_seeded(TinyTransformer), tokens, "cross_entropy"),
    "buffers_and_frozen": (_seeded(Standardised), vectors, "mse"),
    "label_smoothing": (_seeded(lambda: MLP(12, C, width=5, depth=1, activation="tanh")), vectors, label_smoothing),
}


def reference(model: nn.Module, x, y, criterion):
    """The loss as a plain function of a flat vector: parameters cut out here, the module run by functional_call."""
    model = copy.deepcopy(model).eval()
    has_bn = False
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()  # batch statistics of the whole training set; its running statistics go to copies
            has_bn = True
    slots, start = [], 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            slots.append((name, p.shape, start, start + p.numel()))
            start += p.numel()
    buffers = dict(model.named_buffers())

    def loss(theta):
        params = {name: theta[a:b].reshape(shape) for name, shape, a, b in slots}
        bufs = {k: v.clone() for k, v in buffers.items()} if has_bn else buffers
        with sdpa_kernel([SDPBackend.MATH]):  # the fused attention kernels have no double backward
            return criterion(torch.func.functional_call(model, (params, bufs), (x,)), y)

    return loss, start


def ce(z, y):
    return F.cross_entropy(z, y)


def mse(z, y):
    return ((z - F.one_hot(y, z.shape[-1]).to(z.dtype)) ** 2).mean()


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_gradient_hvp_and_batches_against_autograd(case):
    build, data, loss_name = CASES[case]
    model = build()
    x, y = data(10)
    land = NetworkLandscape(model, x, y, loss=loss_name)
    criterion = {"cross_entropy": ce, "mse": mse}.get(loss_name, loss_name)
    ref, D = reference(model, x, y, criterion)
    assert land.D == D
    gen = torch.Generator().manual_seed(1)
    thetas = land.theta0 + 0.1 * torch.randn(3, D, generator=gen, dtype=F64)
    v = torch.randn(D, generator=gen, dtype=F64)
    theta = thetas[0]
    # loss and gradient at one point
    t = theta.clone().requires_grad_(True)
    value = ref(t)
    (g_ref,) = torch.autograd.grad(value, t, create_graph=True)
    (hv_ref,) = torch.autograd.grad(g_ref @ v, t)
    torch.testing.assert_close(land.loss(theta), value.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(land.grad(theta), g_ref.detach(), rtol=1e-10, atol=1e-11)
    # Hessian-vector product (forward-over-reverse in lsl, double back-propagation here), one and several
    torch.testing.assert_close(land.hvp(theta, v), hv_ref, rtol=1e-9, atol=1e-10)
    hv2 = land.hvp(theta, torch.stack([v, 2 * v]))
    torch.testing.assert_close(hv2, torch.stack([hv_ref, 2 * hv_ref]), rtol=1e-9, atol=1e-10)
    # batched evaluation [B, D] (with and without gradients) against one point at a time
    with torch.no_grad():
        one = torch.stack([ref(t) for t in thetas])
        torch.testing.assert_close(land.loss(thetas), one, rtol=1e-12, atol=1e-12)
    grads = []
    for t in thetas:
        t = t.clone().requires_grad_(True)
        grads.append(torch.autograd.grad(ref(t), t)[0])
    torch.testing.assert_close(land.grad(thetas), torch.stack(grads), rtol=1e-10, atol=1e-11)
    torch.testing.assert_close(land.loss(thetas, idx=torch.arange(4)),
                               torch.stack([land.loss(t, idx=torch.arange(4)) for t in thetas]),
                               rtol=1e-12, atol=1e-12)
    # logits of a batch, and the module handed out: it evaluates as the landscape
    with torch.no_grad():
        logits = land.logits(thetas)
        torch.testing.assert_close(logits[1], land.logits(thetas[1]), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(land.module_at(theta)(x), land.logits(theta), rtol=1e-12, atol=1e-12)


def test_dropout_is_off_in_evaluation_and_on_in_training_mode():
    build, data, _ = CASES["transformer"]
    x, y = data(10)
    land = NetworkLandscape(build(), x, y)
    theta = land.theta0
    torch.manual_seed(0)
    a = land.loss(theta, train=True)
    torch.manual_seed(0)
    b = land.loss(theta, train=True)
    assert a == b and a != land.loss(theta)  # masks from torch's generator: seeded, and different from eval
    assert land.loss(theta) == land.loss(theta)


class InPlaceParameter(nn.Module):
    """A module that changes a parameter in its forward pass."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(12, C)

    def forward(self, x):
        with torch.no_grad():
            self.lin.weight.mul_(0.99)
        return self.lin(x)


def test_unsupported_modules_are_refused_at_construction():
    x, y = vectors(10)
    with pytest.raises(ValueError, match="changed its parameters"):
        NetworkLandscape(InPlaceParameter().to(F64), x, y)


@pytest.mark.parametrize("case", ["resnet", "transformer", "cnn_groupnorm_maxpool"])
def test_models_trained_at_once_follow_their_own_runs(case):
    """Training B models at once ([B, D], vmap in training mode: batch norm per model and minibatch)."""
    from lsl.training.trainer import train

    build, data, _ = CASES[case]
    x, y = data(16)
    land = NetworkLandscape(build(), x, y)
    starts = land.theta0 + 0.05 * torch.randn(2, land.D, generator=torch.Generator().manual_seed(2), dtype=F64)
    from lsl.settings import TrainSettings

    settings = TrainSettings(steps=4, lr=0.05, optimizer="sgd", momentum=0.9, batch_size=8, seed=3)
    together = train(land, starts, settings=settings).theta
    if case == "transformer":  # dropout draws masks for both models in one call: not the same as alone
        assert torch.isfinite(together).all() and not torch.equal(together[0], starts[0])
        return
    alone = torch.stack([train(land, s, settings=settings).theta for s in starts])
    torch.testing.assert_close(together, alone, rtol=1e-10, atol=1e-12)
