"""Architectures used in the book.

Modules here only *describe* networks: experiments take their parameters as a
flat vector (see :class:`lsl.network.NetworkLandscape`). :func:`make` builds
one with a seeded initialisation without touching the global random state, and
:func:`network` turns an architecture and a data set into a builder of network
landscapes, ``build(**overrides)``, whose options (a width, a dropout rate) can be
changed per call, as a family of models that differ in one hyperparameter needs
(:func:`lsl.training.families.train_family`).
"""

from __future__ import annotations

import inspect
import math
from typing import Callable, Sequence

import torch
from torch import nn

from lsl import seeds
from lsl.network import NetworkLandscape

__all__ = ["MLP", "SimpleCNN", "SimpleCNN1d", "ResidualBlock", "ResNet", "make", "network", "ARCHITECTURES"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def _activation(name: str) -> type[nn.Module]:
    try:
        return _ACTIVATIONS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)}") from None


def _conv_stack(conv, pool, in_channels: int, size: int, channels: Sequence[int], activation: str):
    """3-wide convolutions (same padding), each followed by the activation and pooling by 2."""
    act = _activation(activation)
    layers: list[nn.Module] = []
    c, original = in_channels, size
    for out in channels:
        layers += [conv(c, out, 3, padding=1), act(), pool(2)]
        c, size = out, size // 2
    if size < 1:
        raise ValueError(f"an input of size {original} is too short (too small) for {len(channels)} poolings by 2")
    return nn.Sequential(*layers), c, size


def _head(features: int, n_classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
                         nn.Linear(features, n_classes))


class MLP(nn.Sequential):
    """A fully connected network: ``depth`` hidden layers of ``width`` units.

    Args:
        in_features: input size (inputs of any shape are flattened).
        n_classes: number of outputs.
        width: hidden units per layer.
        depth: number of hidden layers (0 gives a linear classifier).
        activation: ``"relu"``, ``"tanh"``, ``"gelu"`` or ``"sigmoid"``.
        dropout: dropout probability after each hidden activation.
        batchnorm: put a batch-norm layer (``nn.BatchNorm1d``) between each hidden linear layer and its
            activation (evaluated by the batch-norm policy of :class:`~lsl.network.NetworkLandscape`).
    """

    def __init__(self, in_features: int, n_classes: int, width: int = 100, depth: int = 2,
                 activation: str = "relu", dropout: float = 0.0, batchnorm: bool = False):
        if width < 1 or depth < 0 or in_features < 1 or n_classes < 1:
            raise ValueError(f"need in_features, n_classes, width >= 1 and depth >= 0; got {in_features}, {n_classes}, {width}, {depth}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        act = _activation(activation)
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = in_features
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), *([nn.BatchNorm1d(width)] if batchnorm else []), act()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        layers.append(nn.Linear(fan_in, n_classes))
        super().__init__(*layers)


class SimpleCNN(nn.Module):
    """The paper's SimpleCNN: 3x3 convolutions, each followed by 2x2 max-pooling, 16-32-32 channels, tanh.

    A final linear layer maps the flattened features to the classes.

    Args:
        in_channels: image channels (1 for MNIST, 3 for CIFAR).
        n_classes: number of outputs.
        image_size: height (= width) of the input images.
        channels: channels of the convolutional layers.
        activation: non-linearity (the paper uses tanh).
        dropout: dropout probability before the final layer.
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 10, image_size: int = 32,
                 channels: Sequence[int] = (16, 32, 32), activation: str = "tanh", dropout: float = 0.0):
        super().__init__()
        self.features, c, size = _conv_stack(nn.Conv2d, nn.MaxPool2d, in_channels, image_size, channels, activation)
        self.head = _head(c * size * size, n_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of images ``[N, C, H, W]``."""
        return self.head(self.features(x))


class SimpleCNN1d(nn.Module):
    """The 1-D analogue of SimpleCNN for signals such as mnist1d (inputs ``[N, L]`` or ``[N, C, L]``).

    Args:
        length: signal length (40 for mnist1d).
        n_classes: number of outputs.
        in_channels: input channels (1 for mnist1d).
        channels: channels of the convolutional layers (kernel 3, then max-pooling by 2).
        activation: non-linearity (tanh, as in the paper's CNN).
        dropout: dropout probability before the final layer.
    """

    def __init__(self, length: int = 40, n_classes: int = 10, in_channels: int = 1,
                 channels: Sequence[int] = (16, 32, 32), activation: str = "tanh", dropout: float = 0.0):
        super().__init__()
        self.in_channels = in_channels
        self.features, c, size = _conv_stack(nn.Conv1d, nn.MaxPool1d, in_channels, length, channels, activation)
        self.head = _head(c * size, n_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of signals ``[N, L]`` or ``[N, C, L]``."""
        if x.dim() == 2:
            x = x.unsqueeze(-2)
        return self.head(self.features(x))


class ResidualBlock(nn.Module):
    """A basic residual block: two 3-wide convolutions with batch norm, ``relu(x + F(x))``.

    ``F`` is conv -> batch norm -> ReLU -> conv -> batch norm; where the block changes the number of
    channels or the resolution (``stride`` 2) the shortcut is a 1-wide convolution with batch norm.

    Args:
        c_in: input channels.
        c_out: output channels.
        stride: 1, or 2 to halve the resolution.
        dims: 1 for signals ``[N, C, L]``, 2 for images ``[N, C, H, W]``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dims: int = 2):
        super().__init__()
        conv, bn = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        self.conv1 = conv(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(c_out)
        self.conv2 = conv(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = bn(c_out)
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out
                         else nn.Sequential(conv(c_in, c_out, 1, stride=stride, bias=False), bn(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(shortcut(x) + bn(conv(relu(bn(conv(x))))))``."""
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.shortcut(x) + self.bn2(self.conv2(h)))


class ResNet(nn.Module):
    """A small ResNet with batch norm for signals or images: a stem, stages of residual blocks, average pooling.

    The stem is a 3-wide convolution with batch norm and ReLU; stage ``k`` has ``blocks``
    :class:`ResidualBlock` of ``channels[k]`` channels, the first of each stage after the first halving
    the resolution; global average pooling and a linear layer give the logits. With the defaults
    (``channels=(8, 16)``, one block per stage) it has a few thousand parameters.

    Args:
        in_channels: input channels.
        n_classes: number of outputs.
        channels: channels of the stages (the stem has ``channels[0]``).
        blocks: residual blocks per stage.
        dims: 1 for signals ``[N, C, L]`` (``[N, L]`` is taken as one channel), 2 for images ``[N, C, H, W]``.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, channels: Sequence[int] = (8, 16),
                 blocks: int = 1, dims: int = 2):
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 (signals) or 2 (images), got {dims!r}")
        channels = tuple(int(c) for c in channels)
        if not channels or min(channels) < 1 or blocks < 1:
            raise ValueError(f"need at least one stage of channels >= 1 and blocks >= 1; got {channels}, {blocks}")
        self.dims = dims
        conv, bn = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        self.stem = nn.Sequential(conv(in_channels, channels[0], 3, padding=1, bias=False), bn(channels[0]), nn.ReLU())
        layers, c = [], channels[0]
        for k, out in enumerate(channels):
            for b in range(blocks):
                layers.append(ResidualBlock(c, out, stride=2 if (k > 0 and b == 0) else 1, dims=dims))
                c = out
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of signals ``[N, L]`` or ``[N, C, L]`` (``dims=1``) or images ``[N, C, H, W]``."""
        if self.dims == 1 and x.dim() == 2:
            x = x.unsqueeze(-2)
        return self.head(self.pool(self.stages(self.stem(x))).flatten(1))


ARCHITECTURES = {"mlp": MLP, "cnn": SimpleCNN, "cnn1d": SimpleCNN1d, "resnet": ResNet}


def make(arch: str, input_shape: Sequence[int], n_classes: int, *, seed: int = 0,
         init_scale: float = 1.0, **options) -> nn.Module:
    """Build an architecture for inputs of ``input_shape`` with a seeded default initialisation.

    The global random state is left untouched.

    Args:
        arch: ``"mlp"``, ``"cnn"`` (SimpleCNN, images ``(C, H, W)``), ``"cnn1d"`` (signals ``(L,)`` or ``(C, L)``)
            or ``"resnet"`` (:class:`ResNet` with batch norm, for signals ``(L,)``, ``(C, L)`` or images ``(C, H, W)``).
        input_shape: shape of one input, e.g. ``(40,)`` for mnist1d, ``(3, 32, 32)`` for CIFAR.
        n_classes: number of outputs.
        seed: seed of the initialisation.
        init_scale: multiply every initial parameter by this factor (the radius of the initialisation).
        **options: passed to the architecture (width, depth, activation, dropout, channels).
    """
    key = arch.lower()
    if key not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    shape = tuple(int(s) for s in input_shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeds.shifted(seed))
        if key == "mlp":
            model: nn.Module = MLP(math.prod(shape), n_classes, **options)
        elif key == "cnn":
            if len(shape) != 3 or shape[1] != shape[2]:
                raise ValueError(f"SimpleCNN needs square images (C, H, W); got input_shape={shape}")
            model = SimpleCNN(shape[0], n_classes, image_size=shape[1], **options)
        elif key == "resnet":
            if len(shape) not in (1, 2, 3):
                raise ValueError(f"ResNet needs signals (L,), (C, L) or images (C, H, W); got input_shape={shape}")
            model = ResNet(1 if len(shape) == 1 else shape[0], n_classes, dims=1 if len(shape) < 3 else 2, **options)
        else:
            if len(shape) not in (1, 2):
                raise ValueError(f"SimpleCNN1d needs signals (L,) or (C, L); got input_shape={shape}")
            model = SimpleCNN1d(shape[-1], n_classes, in_channels=1 if len(shape) == 1 else shape[0], **options)
    if init_scale != 1.0:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(init_scale)
    return model


def network(dataset, arch: str = "mlp", *, seed: int = 0, device=None, dtype: torch.dtype | None = None,
            loss: str = "cross_entropy", chunk_size: int | None = None, **options) -> Callable[..., NetworkLandscape]:
    """A builder of network landscapes on a data set, for :func:`lsl.training.families.train_family`.

    ``build = network(ds, "mlp", width=64, depth=2, seed=0)``; then ``build()`` is the
    base network and ``build(width=32)`` or ``build(dropout=0.2)`` the same architecture
    with one option overridden. The initialisation is seeded by ``seed`` (see
    :func:`make`), so two calls with the same options give the same ``theta0``.

    The convolutional networks (``"cnn"``, ``"cnn1d"``, ``"resnet"``) have no ``width`` option of their
    own; for them ``width=w`` scales their ``channels`` so that the first layer has ``w``
    channels, keeping the ratios between layers (16-32-32 with ``width=32`` becomes
    32-64-64), so a ``"width"`` family works for every architecture.

    Args:
        dataset: a :class:`lsl.data.datasets.Dataset` (training and test splits).
        arch: architecture name for :func:`make`.
        seed: seed of the initialisation.
        device: where to compute; by the device policy of :class:`~lsl.network.NetworkLandscape`,
            ``None`` (the default) means the data's device, and the (CPU-built) model is moved there.
        dtype: the precision to evaluate in (default: float32, the model's).
        loss: the landscape's loss (see :class:`~lsl.network.NetworkLandscape`).
        chunk_size: evaluate batches of parameter points in calls of this many, instead of as many as
            the evaluation policy allows (:mod:`lsl.batching`; see
            :class:`~lsl.network.NetworkLandscape`). It changes speed and memory, never values or
            cache keys: on a CPU, chunks of about 8 points evaluate radial profiles and loss planes
            about twice as fast as one large batch; on a GPU leave it ``None``.
        **options: architecture options (``width``, ``depth``, ``activation``, ``dropout``, ...).

    Returns:
        ``build(**overrides) -> NetworkLandscape``; each landscape computes on ``device`` (or the data's).
    """

    def build(**overrides) -> NetworkLandscape:
        opts = {**options, **overrides}
        if arch.lower() in ("cnn", "cnn1d", "resnet") and "width" in opts:
            opts["channels"] = _scaled_channels(arch, opts.get("channels"), opts.pop("width"))
        model = make(arch, dataset.input_shape, dataset.n_classes, seed=seed, **opts)
        if dtype is not None:
            model = model.to(dtype)
        return NetworkLandscape(model, dataset.x_train, dataset.y_train, x_test=dataset.x_test,
                                y_test=dataset.y_test, loss=loss, device=device, dtype=dtype, chunk_size=chunk_size)

    return build


def _scaled_channels(arch: str, channels, width) -> tuple[int, ...]:
    """The channels of a CNN scaled so that its first layer has ``width`` channels."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    if channels is None:
        channels = inspect.signature(ARCHITECTURES[arch.lower()]).parameters["channels"].default
    channels = tuple(int(c) for c in channels)
    return tuple(max(1, round(c * width / channels[0])) for c in channels)
