"""Logit gradients: the objects behind Fort & Ganguli's explanation of the local geometry.

For a classifier with logits ``z_i = f(x_i; theta)`` in ``R^C`` and softmax
outputs ``p_i``, the cross-entropy loss has gradient
``g = (1/N) sum_i J_i^T (p_i - y_i)`` and Gauss-Newton term
``G = (1/N) sum_i J_i^T (diag(p_i) - p_i p_i^T) J_i``, where ``J_i = dz_i/dtheta``
(``C x D``) holds the *logit gradients*. If the logit gradients cluster around a
few mean directions, ``G`` has a few large eigenvalues (outliers) and ``g``
lies in their span. This module computes logit gradients of a network and
provides the random model of logit gradients that reproduces the phenomena.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import jacrev, vmap

from lsl.network import NetworkLandscape

__all__ = [
    "logit_jacobians", "sorted_cosines", "softmax_hessians", "gauss_newton_matrix", "gauss_newton_eigenvalues", "ntk_gram",
    "RandomLogitModel", "SpikePrediction", "Freezing", "freezing",
]


def logit_jacobians(landscape: NetworkLandscape, theta: torch.Tensor, idx=None) -> torch.Tensor:
    """Per-example logit gradients ``J_i = dz_i/dtheta`` as a ``[n, C, D]`` tensor.

    Args:
        landscape: a network landscape.
        theta: parameters ``[D]``.
        idx: which training examples (default: all; mind the memory, ``n * C * D`` values).
    """
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError("logit_jacobians takes one point theta [D]")
    x = landscape.x if idx is None else landscape.x[idx]

    def one(th: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return landscape.forward(th, xi.unsqueeze(0))[0]

    with torch.no_grad():
        return vmap(jacrev(one), in_dims=(None, 0))(theta, x)


def sorted_cosines(J: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cosine similarities between all logit gradients, sorted by logit and then by true class.

    Args:
        J: logit gradients ``[n, C, D]``.
        y: true classes ``[n]``.

    Returns:
        ``(cos, logit, label)``: the ``[n C, n C]`` cosine matrix and, for each row,
        the logit ``c`` and the example's class, in the sorted order.
    """
    n, C, D = J.shape
    rows = J.reshape(n * C, D)
    logit = torch.arange(C).repeat(n)
    label = y.cpu().repeat_interleave(C)
    order = torch.from_numpy(__import__("numpy").lexsort((label.numpy(), logit.numpy())))
    unit = rows[order.to(rows.device)]
    unit = unit / unit.norm(dim=1, keepdim=True).clamp_min(torch.finfo(unit.dtype).tiny)
    return unit @ unit.T, logit[order], label[order]


def softmax_hessians(p: torch.Tensor) -> torch.Tensor:
    """``diag(p_i) - p_i p_i^T`` for softmax outputs ``p`` ``[n, C]`` (each has rank ``C - 1``)."""
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def gauss_newton_matrix(J: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The dense Gauss-Newton matrix ``G = (1/N) sum_i J_i^T (diag p_i - p_i p_i^T) J_i`` (``[D, D]``; small ``D`` only).

    For the spectrum alone, :func:`gauss_newton_eigenvalues` needs no ``D x D`` matrix; for products
    with a network's ``G``, :func:`lsl.curvature.hessian.gauss_newton_vp` needs no logit gradients.

    Args:
        J: logit gradients ``[N, C, D]``.
        p: softmax outputs ``[N, C]``.
    """
    if J.dim() != 3 or p.shape != J.shape[:2]:
        raise ValueError(f"need J [N, C, D] and p [N, C]; got {tuple(J.shape)} and {tuple(p.shape)}")
    return torch.einsum("ncd,nce,nef->df", J, softmax_hessians(p.to(J.dtype)), J) / J.shape[0]


def gauss_newton_eigenvalues(J: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """All non-zero-able eigenvalues of ``G = (1/N) sum_i J_i^T (diag p_i - p_i p_i^T) J_i``, descending.

    Uses the ``N C x N C`` Gram matrix ``A^T A`` with ``G = A A^T``, so ``D`` may be large:
    ``A`` stacks the columns ``J_i^T R_i / sqrt(N)`` with ``R_i R_i^T = diag(p_i) - p_i p_i^T``.

    Args:
        J: logit gradients ``[N, C, D]``.
        p: softmax outputs ``[N, C]``.

    Returns:
        ``min(N C, D)`` eigenvalues in descending order (the rest of ``G``'s spectrum is zero).
    """
    N, C, D = J.shape
    evals, evecs = torch.linalg.eigh(softmax_hessians(p.to(J.dtype)))
    R = evecs * evals.clamp_min(0).sqrt().unsqueeze(-2)              # [N, C, C], R R^T = S
    A = torch.einsum("ncd,nck->ndk", J, R).permute(1, 0, 2).reshape(D, N * C) / N ** 0.5
    small = A.T @ A if N * C <= D else A @ A.T
    return torch.linalg.eigvalsh(small).flip(0)


def ntk_gram(J: torch.Tensor) -> torch.Tensor:
    """The empirical neural tangent kernel of the examples whose logit gradients are ``J``.

    ``K[(i, c), (j, c')] = <dz_ic/dtheta, dz_jc'/dtheta>``, the Gram matrix of all logit gradients,
    is the empirical NTK (Jacot et al. 2018) evaluated on these examples. It links Fort & Ganguli's
    picture to kernel theory: with ``S_i = R_i R_i^T = diag(p_i) - p_i p_i^T``, the Gauss-Newton
    matrix ``G = (1/N) sum_i J_i^T S_i J_i`` (``D x D``) has the same non-zero eigenvalues as the
    ``N C x N C`` matrix ``(1/N) R^T K R`` (``R`` block-diagonal), which is how
    :func:`gauss_newton_eigenvalues` computes them. Outliers of ``G`` are large eigenvalues of the
    NTK weighted by the softmax Hessians.

    Args:
        J: logit gradients ``[n, C, D]`` (:func:`logit_jacobians`).

    Returns:
        ``[n C, n C]``, example-major (row ``i C + c`` is logit ``c`` of example ``i``).
    """
    if J.dim() != 3:
        raise ValueError(f"J must be logit gradients [n, C, D]; got shape {tuple(J.shape)}")
    rows = J.reshape(-1, J.shape[-1])
    return rows @ rows.T


@dataclass(frozen=True)
class Freezing:
    """How confident a network's softmax outputs are, and how long its logit gradients, at several points.

    Fort & Ganguli explain the fall of the curvature late in training by *freezing*: the softmax
    outputs become confident, so ``S_i = diag(p_i) - p_i p_i^T`` shrinks, while the logit gradients
    ``J_i`` keep growing; ``G = (1/N) sum_i J_i^T S_i J_i`` weighs one by the other.

    Attributes:
        entropy: mean softmax entropy (nats) per point ``[T]``.
        logit_std: standard deviation of the logits over examples and classes per point ``[T]``.
        softmax_trace: mean ``trace(S_i) = 1 - ||p_i||^2``, the size of the softmax Hessians, ``[T]``.
        jacobian_sq: mean squared Frobenius norm of the logit gradients ``||J_i||^2`` per point ``[T]``
            (on the first ``jacobian_examples`` examples).
        gauss_newton_top: the largest eigenvalue of ``G`` on those examples per point ``[T]``.

    All on the CPU, in float64.
    """

    entropy: torch.Tensor
    logit_std: torch.Tensor
    softmax_trace: torch.Tensor
    jacobian_sq: torch.Tensor
    gauss_newton_top: torch.Tensor


def freezing(landscape: NetworkLandscape, thetas: torch.Tensor, idx=None, *, jacobian_examples: int = 50) -> Freezing:
    """Measure freezing along a sequence of points (e.g. training snapshots); see :class:`Freezing`.

    Args:
        landscape: a network landscape with a classification loss.
        thetas: points ``[T, D]``.
        idx: the training examples to measure on (default: all).
        jacobian_examples: how many of them (the first) enter the logit-gradient measurements, which
            cost ``C`` backward passes per example.
    """
    thetas = landscape.check_theta(thetas, "thetas")
    if thetas.dim() != 2:
        raise ValueError(f"thetas must be a batch of points [T, D]; got shape {tuple(thetas.shape)}")
    ids = torch.arange(landscape.n_train, device=landscape.x.device)
    ids = ids if idx is None else ids[idx]                          # indices, whether idx is indices or a mask
    x = landscape.x if idx is None else landscape.x[ids]
    sub = ids[: int(jacobian_examples)]
    rows = {k: [] for k in ("entropy", "logit_std", "softmax_trace", "jacobian_sq", "gauss_newton_top")}
    with torch.no_grad():
        for theta in thetas:
            z = landscape.logits(theta, x).double()
            logp = torch.log_softmax(z, -1)
            p = logp.exp()
            rows["entropy"].append(float(-(p * logp).sum(-1).mean()))
            rows["logit_std"].append(float(z.std()))
            rows["softmax_trace"].append(float((1 - (p**2).sum(-1)).mean()))
            J = logit_jacobians(landscape, theta, sub).double()
            rows["jacobian_sq"].append(float((J**2).sum((1, 2)).mean()))
            rows["gauss_newton_top"].append(float(gauss_newton_eigenvalues(J, p[: len(sub)])[0]))  # sub: x's first rows
    return Freezing(**{k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()})


@dataclass(frozen=True)
class SpikePrediction:
    """Random-matrix prediction for the Gauss-Newton spectrum of a :class:`RandomLogitModel` (see its :meth:`~RandomLogitModel.spike_prediction`).

    Attributes:
        threshold: the signal-to-noise ratio ``signal / noise`` above which the ``C - 1`` outliers
            leave the bulk (the BBP transition).
        bulk_edge: the largest eigenvalue of ``G`` from the noise alone (the bulk's upper edge).
        outlier: the predicted position of the ``C - 1`` outliers; equal to ``bulk_edge`` below the threshold.
    """

    threshold: float
    bulk_edge: float
    outlier: float


@dataclass(frozen=True)
class RandomLogitModel:
    """A random model of logit gradients and softmax outputs (after Fort & Ganguli).

    Each example ``i`` of class ``y_i`` has logit gradients
    ``J_i[c] = (1 + gain [c = y_i]) m_c + m_{c, y_i} + noise``: a mean direction per logit
    (norm ``signal``), longer by the factor ``1 + true_class_gain`` for the example's own
    class, a direction per (logit, class) pair (norm ``class_signal``), and isotropic
    noise (norm ``noise``). Its logits are ``logit_scale * (margin * onehot(y_i) + xi_i)``
    with standard normal ``xi_i``; larger ``logit_scale`` means more confident
    ("frozen") softmax outputs.

    The model is its parameters: the fields below, given to the constructor (the draws are made by
    :meth:`sample`, on the CPU).

    Attributes:
        C: number of classes.
        D: number of parameters.
        n_per_class: examples per class.
        signal: norm of the per-logit mean directions.
        true_class_gain: how much longer the true class's logit gradient is.
        class_signal: norm of the per-(logit, class) mean directions.
        noise: norm of the example-specific part of each logit gradient.
        logit_scale: temperature-like scale of the logits.
        margin: how much the true class's logit is raised before scaling.
        seed: seed of every random draw.
    """

    C: int = 10
    D: int = 1000
    n_per_class: int = 20
    signal: float = 1.0
    true_class_gain: float = 0.5
    class_signal: float = 0.3
    noise: float = 0.5
    logit_scale: float = 1.0
    margin: float = 1.0
    seed: int = 0

    def sample(self, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw ``(J [N, C, D], p [N, C], y [N])`` with ``N = C * n_per_class``."""
        if self.C < 2 or self.D < 1 or self.n_per_class < 1:
            raise ValueError(f"need C >= 2, D >= 1, n_per_class >= 1; got {self.C}, {self.D}, {self.n_per_class}")
        g = torch.Generator().manual_seed(self.seed)
        C, D, N = self.C, self.D, self.C * self.n_per_class

        def directions(*shape):
            v = torch.randn(*shape, D, generator=g, dtype=dtype)
            return v / v.norm(dim=-1, keepdim=True)

        y = torch.arange(C).repeat_interleave(self.n_per_class)
        m = self.signal * directions(C)                              # [C, D]
        mc = self.class_signal * directions(C, C)                    # [C logit, C class, D]
        eps = self.noise * directions(N, C)                          # [N, C, D]
        gain = 1 + self.true_class_gain * torch.nn.functional.one_hot(y, C).to(dtype)   # [N, C]
        J = gain.unsqueeze(-1) * m.unsqueeze(0) + mc[:, y].transpose(0, 1) + eps
        xi = torch.randn(N, C, generator=g, dtype=dtype)
        z = self.logit_scale * (self.margin * torch.nn.functional.one_hot(y, C).to(dtype) + xi)
        return J, torch.softmax(z, dim=-1), y

    def gauss_newton_eigenvalues(self) -> torch.Tensor:
        """The spectrum of the model's Gauss-Newton matrix ``G`` (descending)."""
        J, p, _ = self.sample()
        return gauss_newton_eigenvalues(J, p)

    def spike_prediction(self) -> SpikePrediction:
        """Where the outliers of ``G`` sit, and when they exist, in the model's plain form (the BBP transition).

        Valid for ``class_signal = 0``, ``true_class_gain = 0`` and ``logit_scale = 0`` (uniform softmax
        outputs, ``S_i = (I - 11^T / C) / C``), for large ``D`` and ``N = C n_per_class``. Then
        ``G = X X^T`` where ``X`` has ``M = N (C - 1)`` columns: a rank-``(C - 1)`` signal with singular
        values ``signal / sqrt(C)`` plus independent noise of variance ``s^2 / M`` per entry,
        ``s^2 = noise^2 (C - 1) / (C D)``. For such an information-plus-noise matrix
        (Benaych-Georges & Nadakuditi 2012), with ``c = D / M`` and the normalised signal
        ``t = signal / noise * sqrt(D / (C - 1))``, the outliers leave the bulk when ``t > c^(1/4)``,
        that is ``signal / noise > ((C - 1) / (N D))^(1/4)``, and then sit at
        ``s^2 (1 + t^2)(c + t^2) / t^2``; the bulk ends at ``s^2 (1 + sqrt(c))^2``.

        Raises:
            ValueError: if the model is not in that plain form.
        """
        if self.class_signal != 0 or self.true_class_gain != 0 or self.logit_scale != 0:
            raise ValueError("the prediction holds for class_signal=0, true_class_gain=0 and logit_scale=0 "
                             f"(got {self.class_signal}, {self.true_class_gain}, {self.logit_scale})")
        if self.noise <= 0:
            raise ValueError(f"the prediction needs noise > 0, got {self.noise}")
        C, D, N = self.C, self.D, self.C * self.n_per_class
        M = N * (C - 1)
        c = D / M
        s2 = self.noise**2 * (C - 1) / (C * D)
        t = self.signal / self.noise * (D / (C - 1)) ** 0.5
        edge = s2 * (1 + c**0.5) ** 2
        outlier = s2 * (1 + t**2) * (c + t**2) / t**2 if t > c**0.25 else edge
        return SpikePrediction(((C - 1) / (N * D)) ** 0.25, edge, outlier)

    def gradient(self) -> torch.Tensor:
        """The model's loss gradient ``g = (1/N) sum_i J_i^T (p_i - y_i)`` ``[D]``."""
        J, p, y = self.sample()
        r = p - torch.nn.functional.one_hot(y, self.C).to(p.dtype)
        return torch.einsum("ncd,nc->d", J, r) / J.shape[0]
