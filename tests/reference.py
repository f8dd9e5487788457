"""Independent references shared by the tests: networks written by hand on the flat parameter vector, quadratic
landscapes with closed forms, and a toy landscape that counts the gradients a trainer computes."""

from __future__ import annotations

import torch

from lsl.landscape import Landscape
from lsl.toy import WedgeLandscape


def tanh_mlp_logits(theta: torch.Tensor, x: torch.Tensor, n_in: int, width: int, n_classes: int) -> torch.Tensor:
    """A depth-1 tanh MLP's logits, computed by hand from the flat vector (W1, b1, W2, b2 in order)."""
    i = 0
    W1 = theta[i : i + width * n_in].reshape(width, n_in); i += width * n_in
    b1 = theta[i : i + width]; i += width
    W2 = theta[i : i + n_classes * width].reshape(n_classes, width); i += n_classes * width
    b2 = theta[i : i + n_classes]; i += n_classes
    assert i == theta.shape[0]
    return torch.tanh(x @ W1.T + b1) @ W2.T + b2


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy written out: log-sum-exp minus the true class's logit."""
    return (torch.logsumexp(logits, 1) - logits.gather(1, y[:, None])[:, 0]).mean()


class Quadratic(Landscape):
    """loss = c + 0.5 (theta - center)^T A (theta - center)."""

    def __init__(self, A, center, c=0.0):
        self.A, self.center, self.c = A, center, c
        self.D, self.device, self.dtype = A.shape[0], torch.device("cpu"), A.dtype

    def _loss_batch(self, theta, **kwargs):
        d = theta - self.center
        return self.c + 0.5 * ((d @ self.A) * d).sum(-1)


class CountingWedge(WedgeLandscape):
    """The n-wedge model that counts the point-gradients backpropagated through its loss.

    Every batch ``[B, D]`` whose loss is differentiated registers a hook on its points; when a backward pass
    computes the gradient there, ``point_gradients`` grows by ``B``. Losses evaluated without gradients
    (measurements) are not counted.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.point_gradients = 0

    def _loss_batch(self, theta, **kwargs):
        if theta.requires_grad:
            theta.register_hook(self._count)
        return super()._loss_batch(theta, **kwargs)

    def _count(self, grad: torch.Tensor) -> None:
        self.point_gradients += grad.shape[0]


class SquaredNorm(Landscape):
    """``0.5 * a * ||theta||^2``: plain SGD multiplies theta by ``1 - lr * a`` each step, so it diverges for
    ``lr > 2 / a``. It has a fingerprint, so trainers that cache (families) take it."""

    def __init__(self, a: float = 1.0, D: int = 3):
        self.a, self.D, self.device, self.dtype = a, D, torch.device("cpu"), torch.float64

    def _loss_batch(self, theta, **kwargs):
        return 0.5 * self.a * (theta * theta).sum(-1)

    def fingerprint(self) -> dict:
        return {"kind": "quadratic", "a": self.a, "D": self.D}


def tiny_tanh_net(n_in: int = 4, width: int = 6, n_classes: int = 3, n: int = 30):
    """A one-hidden-layer tanh MLP in float64 on ``n`` random examples, as a landscape, with its data.

    Its parameters are laid out as :func:`tanh_mlp_logits` reads them, so the landscape's loss equals
    ``cross_entropy(tanh_mlp_logits(theta, x, n_in, width, n_classes), y)`` (a hand-written reference).
    Returns ``(landscape, x, y)``.
    """
    from lsl.data.nets import MLP
    from lsl.network import NetworkLandscape

    torch.manual_seed(0)
    model = MLP(n_in, n_classes, width=width, depth=1, activation="tanh").to(torch.float64)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, n_in, generator=gen, dtype=torch.float64)
    y = torch.randint(0, n_classes, (n,), generator=gen)
    return NetworkLandscape(model, x, y), x, y


def tanh_mlp_hessian(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, n_in: int, width: int,
                     n_classes: int) -> torch.Tensor:
    """The dense Hessian of the hand-written tanh MLP's cross-entropy (autograd, no lsl code)."""
    return torch.autograd.functional.hessian(
        lambda t: cross_entropy(tanh_mlp_logits(t, x, n_in, width, n_classes), y), theta)
