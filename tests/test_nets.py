"""Tests for lsl.data.nets: architectures, their sizes, seeded construction, and the builders of networks on a dataset
(lsl.data.nets.network: its chunk_size, the width of a family)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lsl.data import datasets, nets
from lsl.data.nets import MLP, ResNet, SimpleCNN, SimpleCNN1d, make
from lsl.training import families
from lsl.settings import FAMILY_DEFAULTS

F64 = torch.float64


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


# ---------------------------------------------------------------------------
# networks built from a dataset (lsl.data.nets.network): the builder's chunk_size, the width of a family


@pytest.fixture(scope="module")
def ds():
    return datasets.load("gaussian_mixture", n_train=60, n_test=30, n_classes=3, dim=5, separation=2.0, dtype=F64)


def test_network_chunk_size_changes_nothing_but_speed(ds):
    plain = nets.network(ds, "mlp", width=8, depth=1, seed=0, dtype=F64)()
    chunked = nets.network(ds, "mlp", width=8, depth=1, seed=0, dtype=F64, chunk_size=3)()
    assert chunked.chunk_size == 3 and plain.chunk_size is None
    assert plain.fingerprint() == chunked.fingerprint()  # same cache entries
    pts = plain.theta0 + 0.1 * torch.randn(10, plain.D, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(chunked.loss(pts), plain.loss(pts))


def test_width_family_of_a_cnn_scales_its_channels(private_cache):
    signals = datasets.load("mnist1d", n_train=64, n_test=32)
    build = nets.network(signals, "cnn1d", channels=(4, 8, 8), seed=0)
    for w, channels in ((2, (2, 4, 4)), (4, (4, 8, 8)), (8, (8, 16, 16))):
        land = build(width=w)
        ref = nets.make("cnn1d", signals.input_shape, signals.n_classes, seed=0, channels=channels)
        assert land.D == sum(p.numel() for p in ref.parameters())
        torch.testing.assert_close(land.theta0, land.theta_of(ref))
    # without explicit channels, the architecture's default ones are scaled
    default = nets.network(signals, "cnn1d", seed=0)
    ref = nets.make("cnn1d", signals.input_shape, signals.n_classes, seed=0, channels=(32, 64, 64))
    assert default(width=32).D == sum(p.numel() for p in ref.parameters())
    fam = families.train_family(build, "width", [2, 8], settings=FAMILY_DEFAULTS.replace(lr=0.05, batch_size=16, steps=5), cache=False)
    assert fam.landscapes[0].D < fam.landscapes[1].D and fam.all_reached
    with pytest.raises(ValueError, match="width"):
        build(width=0)
