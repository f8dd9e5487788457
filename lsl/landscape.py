"""The landscape abstraction: a scalar loss over a flat parameter vector.

Every experiment in the book is a function of a :class:`Landscape`. Two kinds
exist: the toy n-wedge model (:class:`lsl.toy.WedgeLandscape`) and a network
plus data (:class:`lsl.network.NetworkLandscape`). Both take a flat parameter vector
``theta`` of dimension ``D``; ``loss`` also takes a batch ``[B, D]`` of points
and evaluates them in vectorised calls, never a Python loop over points (how many
points go into one call is decided by the evaluation policy, :mod:`lsl.batching`).
:class:`FlatView` maps a flat vector to a network's named parameters and back, and
:func:`tensor_digest` condenses tensors into a key for the cache.

``NetworkLandscape`` moved to :mod:`lsl.network`; ``from lsl.landscape import NetworkLandscape`` and
``lsl.network.NetworkLandscape`` still work (the name is looked up in :mod:`lsl.network` on first use).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import torch
from torch import nn

from lsl import batching

__all__ = ["Landscape", "FlatView", "tensor_digest", "check_finite"]


class Landscape:
    """A differentiable scalar loss over a flat parameter vector of dimension ``D``.

    Subclasses implement :meth:`_loss_batch` (a ``[B, D]`` batch in, ``[B]`` out).
    The base class provides shape checking, :meth:`loss` for one point or a
    batch, :meth:`grad` and Hessian-vector products :meth:`hvp`.

    Attributes:
        D: number of parameters.
        device: where the landscape's tensors live.
        dtype: floating-point type of the parameters.
    """

    D: int
    device: torch.device
    dtype: torch.dtype
    #: Number of training examples, or ``None`` for a deterministic landscape
    #: with no data (the toy model). Trainers use it to draw minibatches.
    n_train: int | None = None

    # -- to implement -------------------------------------------------------
    def _loss_batch(self, theta: torch.Tensor, **kwargs) -> torch.Tensor:
        raise NotImplementedError

    # -- public API ---------------------------------------------------------
    def check_theta(self, theta: torch.Tensor, name: str = "theta", *, finite: bool = True) -> torch.Tensor:
        """Validate a point ``[D]`` or a batch ``[B, D]`` and return it on this landscape's device.

        Every experiment of :mod:`lsl` checks its points, directions and optima here, at its door, so that
        a non-finite input is reported as such (:func:`check_finite`: the argument and where its NaN or
        infinite entries are) instead of turning into a NaN result. The landscape's own evaluations
        (``loss``, ``grad``, ``hvp``, ...) pass ``finite=False``: they are called at every step of a
        trainer, and the loss of a non-finite point is simply non-finite.

        Args:
            theta: the point or points.
            name: the argument's name, for messages.
            finite: also require every entry to be finite.

        Raises:
            TypeError: if ``theta`` is not a floating-point tensor.
            ValueError: if its last dimension is not ``D``, it has more than 2 dimensions, or (with
                ``finite``) it has NaN or infinite entries.
        """
        if not isinstance(theta, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor of shape [D] or [B, D] with D={self.D}, "
                f"got {type(theta).__name__}"
            )
        if theta.dim() not in (1, 2) or theta.shape[-1] != self.D:
            raise ValueError(
                f"{name} must have shape [D] or [B, D] with D={self.D}; got shape "
                f"{tuple(theta.shape)}. Flatten parameters with FlatView.flatten, "
                f"and stack several points along the first dimension."
            )
        if not theta.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {theta.dtype}")
        if finite:
            check_finite(theta, name)
        return theta.to(device=self.device, dtype=self.dtype)

    def loss(self, theta: torch.Tensor, **kwargs) -> torch.Tensor:
        """The loss at one point (``[D]`` -> scalar) or at a batch (``[B, D]`` -> ``[B]``).

        The batch is evaluated without a Python loop over points (a :class:`~lsl.network.NetworkLandscape` in
        vectorised calls sized by the evaluation policy, :mod:`lsl.batching`).
        Differentiable with respect to ``theta``.
        """
        theta = self.check_theta(theta, finite=False)
        if theta.dim() == 1:
            return self._loss_batch(theta.unsqueeze(0), **kwargs)[0]
        return self._loss_batch(theta, **kwargs)

    def loss_affine(self, origin: torch.Tensor, directions: torch.Tensor, coeffs: torch.Tensor, *,
                    max_elements: int | None = None, **kwargs) -> torch.Tensor:
        """The loss at the points ``origin + coeffs @ directions`` of an affine family, without gradients.

        Lines, planes, rays and simplices are such families. The points are materialised a few at a
        time (:func:`lsl.batching.points_per_batch`); a landscape may do better by using the family's
        structure (:class:`~lsl.network.NetworkLandscape` computes the first layer of a layer stack once per direction).

        Args:
            origin: ``[D]``.
            directions: ``[K, D]``.
            coeffs: the points' coordinates ``[P, K]``.
            max_elements: at most this many parameter values at once (``None``: the device's budget,
                :data:`lsl.batching.BUDGETS`).
            **kwargs: passed to :meth:`loss` (e.g. ``idx=`` for a subset of the examples).

        Returns:
            ``[P]``, on this landscape's device.
        """
        origin, directions, coeffs = self._check_family(origin, directions, coeffs)
        per_chunk = batching.points_per_batch(self.device, self.D, coeffs.shape[0], max_elements=max_elements)
        with torch.no_grad():
            return torch.cat([self.loss(origin + c @ directions, **kwargs) for c in coeffs.split(per_chunk)])

    def _check_family(self, origin, directions, coeffs):
        origin = self.check_theta(origin, "origin", finite=False)
        if origin.dim() != 1:
            raise ValueError(f"origin must be one point [D]; got shape {tuple(origin.shape)}")
        directions = self.check_theta(directions, "directions", finite=False)
        if directions.dim() != 2:
            raise ValueError(f"directions must be [K, D]; got shape {tuple(directions.shape)}")
        if not isinstance(coeffs, torch.Tensor) or coeffs.dim() != 2 or coeffs.shape[1] != directions.shape[0]:
            raise ValueError(f"coeffs must be a tensor [P, K] with K={directions.shape[0]} (one coordinate per "
                             f"direction); got {tuple(coeffs.shape) if isinstance(coeffs, torch.Tensor) else type(coeffs).__name__}")
        return origin.detach(), directions.detach(), coeffs.detach().to(device=self.device, dtype=self.dtype)

    def grad(self, theta: torch.Tensor, **kwargs) -> torch.Tensor:
        """Gradient of the loss, same shape as ``theta`` (``[D]`` or ``[B, D]``)."""
        theta = self.check_theta(theta, finite=False).detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.loss(theta, **kwargs).sum(), theta)
        return g

    def loss_and_grad(self, theta: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss and its gradient together: ``(loss(theta), grad(theta))``, by one backward pass.

        ``theta`` is ``[D]`` (a scalar loss and ``[D]``) or ``[B, D]`` (``[B]`` and ``[B, D]``). A landscape may
        compute both faster than autograd does (:class:`~lsl.network.NetworkLandscape` for a layer stack).
        """
        theta = self.check_theta(theta, finite=False).detach().requires_grad_(True)
        with torch.enable_grad():
            value = self.loss(theta, **kwargs)
            (g,) = torch.autograd.grad(value.sum(), theta)
        return value.detach(), g

    def first_order_loss(self, theta: torch.Tensor, **kwargs) -> torch.Tensor:
        """The loss, for a trainer: differentiable once with respect to ``theta`` (first derivatives only).

        The default is :meth:`loss` itself. A landscape with a faster gradient than autograd's
        (:class:`~lsl.network.NetworkLandscape` for a layer stack) returns the same value whose
        backward pass uses :meth:`loss_and_grad`; a second derivative through it raises an error.
        The trainers' objective (:func:`lsl.training.trainer.landscape_objective`) uses it.
        """
        return self.loss(theta, **kwargs)

    def hvp(self, theta: torch.Tensor, v: torch.Tensor, **kwargs) -> torch.Tensor:
        """Hessian-vector product ``H(theta) @ v`` for one point ``theta`` ``[D]``.

        ``v`` is ``[D]`` or a batch of vectors ``[K, D]`` (returns ``[K, D]``).
        The default uses double back-propagation; subclasses may override it
        with forward-over-reverse differentiation.
        """
        theta = self.check_theta(theta, "theta", finite=False)
        if theta.dim() != 1:
            raise ValueError("hvp takes a single point theta of shape [D]; loop or vmap over points")
        v = self.check_theta(v, "v", finite=False)
        theta = theta.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.loss(theta, **kwargs), theta, create_graph=True)
            if v.dim() == 1:
                (hv,) = torch.autograd.grad(g, theta, grad_outputs=v)
                return hv
            rows = [torch.autograd.grad(g, theta, grad_outputs=vi, retain_graph=True)[0] for vi in v]
        return torch.stack(rows)

    def hessian(self, theta: torch.Tensor, **kwargs) -> torch.Tensor:
        """The exact ``[D, D]`` Hessian (small ``D`` only: it costs ``D`` HVPs)."""
        if self.D > 20_000:
            raise ValueError(f"the exact Hessian of D={self.D} parameters is too large; use hvp")
        eye = torch.eye(self.D, device=self.device, dtype=self.dtype)
        return self.hvp(theta, eye, **kwargs)

    def fingerprint(self) -> dict:
        """A JSON-able description of everything that determines this landscape's values.

        Used as part of cache keys (see :func:`lsl.training.trainer.train` with ``cache=True``): it must
        describe the computation, not name it (digest code and values with :func:`lsl.cache.value_digest`),
        and raise :class:`lsl.cache.UntrustedKey` when it cannot, so that nothing is cached.
        """
        raise NotImplementedError(f"{type(self).__name__} does not describe itself for caching")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(D={self.D}, device={self.device}, dtype={self.dtype})"


def check_finite(t: torch.Tensor, name: str, *, shown: int = 5, hint: str = "") -> torch.Tensor:
    """Raise if a tensor has NaN or infinite entries, naming the argument and where they are.

    Args:
        t: the tensor (a point ``[D]``, a batch ``[B, D]``, ...); integer tensors are always finite.
        name: the argument's name, for the message (e.g. ``"theta0"``).
        shown: how many positions of non-finite entries the message lists.
        hint: a sentence appended to the message (what to do about it).

    Returns:
        ``t``, unchanged.

    Raises:
        ValueError: ``"<name> has non-finite entries at [...] (k of n: NaN, inf)"`` if any entry is
            NaN or infinite; a position is an index for a vector and a tuple of indices otherwise.
    """
    if t.device.type == "meta" or not (t.is_floating_point() or t.is_complex()):
        return t
    finite = torch.isfinite(t)
    if bool(finite.all()):
        return t
    bad = (~finite).nonzero()
    where = [int(i[0]) if t.dim() == 1 else tuple(int(j) for j in i) for i in bad[:shown].tolist()] if t.dim() else []
    more = ", ..." if bad.shape[0] > shown else ""
    kinds = ", ".join(k for k, m in (("NaN", torch.isnan(t)), ("inf", torch.isinf(t))) if bool(m.any()))
    at = f" at {str(where)[:-1]}{more}]" if where else ""
    raise ValueError(f"{name} has non-finite entries{at} ({bad.shape[0]} of {t.numel()}: {kinds})" + (f"; {hint}" if hint else ""))


def tensor_digest(*tensors: torch.Tensor) -> str:
    """A SHA-256 digest of tensors' shapes, dtypes and contents (for cache keys)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().contiguous().cpu()
        h.update(f"{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class _Slot:
    name: str
    shape: tuple[int, ...]
    start: int
    stop: int


class FlatView:
    """Cheap views between a flat parameter vector and named per-layer tensors.

    ``FlatView.from_module(model)`` records the names and shapes of a module's
    trainable parameters. :meth:`unflatten` returns views (no copies) into a
    flat ``[D]`` or ``[B, D]`` tensor; :meth:`flatten` concatenates a mapping of
    tensors back into one vector. ``unflatten(flatten(p)) == p``.
    """

    def __init__(self, names: Iterable[str], shapes: Iterable[Iterable[int]]):
        slots, start = [], 0
        for name, shape in zip(names, shapes):
            shape = tuple(int(s) for s in shape)
            size = math.prod(shape)
            slots.append(_Slot(name, shape, start, start + size))
            start += size
        self.slots: tuple[_Slot, ...] = tuple(slots)
        self.D: int = start

    @classmethod
    def from_module(cls, model: nn.Module) -> "FlatView":
        """The view of a module's parameters that require gradients, in registration order."""
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("the model has no trainable parameters")
        return cls([n for n, _ in named], [p.shape for _, p in named])

    @property
    def names(self) -> list[str]:
        """Parameter names in flat order."""
        return [s.name for s in self.slots]

    def flatten(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate named tensors into one flat vector ``[D]``."""
        missing = [s.name for s in self.slots if s.name not in params]
        if missing:
            raise KeyError(f"parameters missing from the mapping: {missing}")
        return torch.cat([params[s.name].reshape(-1) for s in self.slots])

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named views of a flat ``[D]`` (or ``[B, D]``) tensor, shaped like the parameters."""
        if theta.shape[-1] != self.D:
            raise ValueError(f"expected a last dimension of D={self.D}, got shape {tuple(theta.shape)}")
        lead = tuple(theta.shape[:-1])
        return {s.name: theta[..., s.start : s.stop].view(*lead, *s.shape) for s in self.slots}

    def block(self, name: str) -> slice:
        """The slice of the flat vector that holds parameter ``name``."""
        for s in self.slots:
            if s.name == name:
                return slice(s.start, s.stop)
        raise KeyError(f"no parameter named {name!r}; known: {self.names}")
