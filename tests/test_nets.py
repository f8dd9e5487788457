"""Tests for lsl.data.nets: architectures, their sizes, and seeded construction."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsl.data.nets import MLP, ResNet, SimpleCNN, SimpleCNN1d, make


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv_params(c_in: int, c_out: int, k: int = 3) -> int:
    return c_in * c_out * k * k + c_out


def test_mlp_shapes_and_size():
    m = MLP(12, 5, width=7, depth=3)
    assert m(torch.randn(4, 12)).shape == (4, 5)
    assert m(torch.randn(4, 3, 4)).shape == (4, 5)  # inputs are flattened
    assert n_params(m) == (12 * 7 + 7) + 2 * (7 * 7 + 7) + (7 * 5 + 5)
    linear = MLP(12, 5, depth=0)
    assert n_params(linear) == 12 * 5 + 5
    assert sum(isinstance(x, nn.Dropout) for x in MLP(3, 2, width=4, depth=2, dropout=0.2)) == 2
    assert isinstance(MLP(3, 2, activation="tanh")[2], nn.Tanh)


def test_simple_cnn_cifar_shape_and_parameter_count():
    m = SimpleCNN(3, 10, image_size=32)
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # 3x3 convs 3->16->32->32 with biases; 32 -> 16 -> 8 -> 4 after three 2x2 poolings
    expected = conv_params(3, 16) + conv_params(16, 32) + conv_params(32, 32) + (32 * 4 * 4 * 10 + 10)
    assert expected == 448 + 4640 + 9248 + 5130 == 19466
    assert n_params(m) == expected
    assert any(isinstance(x, nn.Tanh) for x in m.modules())


def test_simple_cnn_mnist_shape():
    m = SimpleCNN(1, 10, image_size=28)
    assert m(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    # 28 -> 14 -> 7 -> 3
    assert n_params(m) == conv_params(1, 16) + conv_params(16, 32) + conv_params(32, 32) + 32 * 3 * 3 * 10 + 10
    assert SimpleCNN(1, 4, image_size=8, channels=(6,))(torch.randn(2, 1, 8, 8)).shape == (2, 4)


def test_simple_cnn1d_shapes():
    m = SimpleCNN1d(40, 10)
    assert m(torch.randn(5, 40)).shape == (5, 10)
    assert m(torch.randn(5, 1, 40)).shape == (5, 10)
    # 40 -> 20 -> 10 -> 5
    expected = (1 * 16 * 3 + 16) + (16 * 32 * 3 + 32) + (32 * 32 * 3 + 32) + (32 * 5 * 10 + 10)
    assert n_params(m) == expected
    two = SimpleCNN1d(40, 3, in_channels=2)
    assert two(torch.randn(4, 2, 40)).shape == (4, 3)


@pytest.mark.parametrize(
    "arch,shape,batch",
    [("mlp", (40,), (6, 40)), ("cnn", (3, 32, 32), (2, 3, 32, 32)), ("cnn", (1, 28, 28), (2, 1, 28, 28)),
     ("cnn1d", (40,), (6, 40)), ("cnn1d", (2, 40), (6, 2, 40)), ("mlp", (1, 8, 8), (3, 1, 8, 8))],
)
def test_make_output_shapes(arch, shape, batch):
    m = make(arch, shape, 7, seed=0)
    assert m(torch.randn(*batch)).shape == (batch[0], 7)


def test_make_is_deterministic_and_seeded():
    a = make("cnn1d", (40,), 10, seed=3)
    b = make("cnn1d", (40,), 10, seed=3)
    c = make("cnn1d", (40,), 10, seed=4)
    pa, pb, pc = (nn.utils.parameters_to_vector(m.parameters()) for m in (a, b, c))
    assert torch.equal(pa, pb)
    assert not torch.allclose(pa, pc)
    # the same as building it by hand under the seed (PyTorch's default initialisation)
    torch.manual_seed(3)
    ref = SimpleCNN1d(40, 10)
    assert torch.equal(pa, nn.utils.parameters_to_vector(ref.parameters()))


def test_make_leaves_the_global_rng_alone():
    torch.manual_seed(11)
    state = torch.get_rng_state()
    make("mlp", (20,), 3, seed=0, width=8)
    make("cnn", (1, 28, 28), 10, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    expected_next = torch.randn(5)
    torch.manual_seed(11)
    make("mlp", (20,), 3, seed=0, width=8)
    assert torch.equal(torch.randn(5), expected_next)


def test_init_scale_scales_every_parameter():
    base = make("mlp", (10,), 4, seed=2, width=6, depth=2)
    scaled = make("mlp", (10,), 4, seed=2, width=6, depth=2, init_scale=3.0)
    for p, q in zip(base.parameters(), scaled.parameters()):
        torch.testing.assert_close(q, 3.0 * p)
    v, w = (nn.utils.parameters_to_vector(m.parameters()).detach() for m in (base, scaled))
    assert float(w.norm()) == pytest.approx(3.0 * float(v.norm()))


def test_make_passes_options():
    m = make("mlp", (10,), 4, seed=0, width=9, depth=1, activation="gelu")
    assert n_params(m) == 10 * 9 + 9 + 9 * 4 + 4
    assert any(isinstance(x, nn.GELU) for x in m.modules())
    c = make("cnn", (3, 16, 16), 10, seed=0, channels=(4, 8))
    assert n_params(c) == conv_params(3, 4) + conv_params(4, 8) + 8 * 4 * 4 * 10 + 10


def test_resnet_shapes_size_and_residual_structure():
    def bn(c):  # weight and bias
        return 2 * c

    # 1-D: stem 1->8, block 8->8 (identity shortcut), block 8->16 stride 2 (1-wide conv shortcut), head 16->4
    m = make("resnet", (40,), 4, seed=0)
    assert m(torch.randn(5, 40)).shape == (5, 4) and m(torch.randn(5, 1, 40)).shape == (5, 4)
    expected = (1 * 8 * 3 + bn(8)) + (2 * (8 * 8 * 3 + bn(8))) \
        + (8 * 16 * 3 + bn(16) + 16 * 16 * 3 + bn(16) + 8 * 16 * 1 + bn(16)) + (16 * 4 + 4)
    assert n_params(m) == expected
    assert sum(isinstance(x, nn.BatchNorm1d) for x in m.modules()) == 6
    assert isinstance(m.stages[0].shortcut, nn.Identity) and isinstance(m.stages[1].shortcut, nn.Sequential)
    # 2-D images, two blocks per stage
    m2 = make("resnet", (3, 8, 8), 10, seed=0, channels=(4, 8, 8), blocks=2)
    assert m2(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    assert sum(isinstance(x, nn.BatchNorm2d) for x in m2.modules()) == 1 + 2 * 6 + 2  # stem, blocks, the shortcuts of the two halving blocks
    # the residual: with the second convolution's batch norm scaled to zero, a block is relu(shortcut(x))
    block = m.stages[0].eval()
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
        h = torch.randn(3, 8, 10)
        torch.testing.assert_close(block(h), torch.relu(h))


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: make("vgg", (3, 32, 32), 10), ValueError, r"unknown architecture 'vgg'.*cnn.*mlp.*resnet"),
        (lambda: make("resnet", (1, 2, 3, 4), 10), ValueError, r"\(L,\), \(C, L\) or images"),
        (lambda: ResNet(1, 3, dims=3), ValueError, "dims"),
        (lambda: ResNet(1, 3, blocks=0), ValueError, "blocks"),
        (lambda: make("cnn", (3, 32, 16), 10), ValueError, "square images"),
        (lambda: make("cnn", (32, 32), 10), ValueError, r"\(C, H, W\)"),
        (lambda: make("cnn1d", (1, 2, 40), 10), ValueError, r"\(L,\) or \(C, L\)"),
        (lambda: make("cnn", (1, 4, 4), 10), ValueError, "too small"),
        (lambda: SimpleCNN1d(4, 10), ValueError, "too short"),
        (lambda: MLP(10, 3, width=0), ValueError, "width"),
        (lambda: MLP(10, 3, depth=-1), ValueError, "depth"),
        (lambda: MLP(0, 3), ValueError, "in_features"),
        (lambda: MLP(10, 0), ValueError, "n_classes"),
        (lambda: MLP(10, 3, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
        (lambda: MLP(10, 3, dropout=-0.1), ValueError, "dropout"),
        (lambda: MLP(10, 3, activation="swishy"), ValueError, r"unknown activation 'swishy'.*relu.*tanh"),
        (lambda: SimpleCNN(activation=None), ValueError, "unknown activation"),
    ],
)
def test_bad_arguments_rejected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
