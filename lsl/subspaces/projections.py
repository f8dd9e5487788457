"""Random projections ``M`` that span random d-dimensional hyperplanes ``theta = theta0 + M phi``.

A projection holds ``P`` independent random ``D x d`` matrices (one per plane)
and exposes two batched maps:

- :meth:`~Projection.to_full`: in-plane coordinates to parameter-space
  displacements, ``phi [P, d] -> M phi [P, D]``;
- :meth:`~Projection.restrict`: parameter-space vectors to in-plane ones,
  ``g [P, D] -> M^T g [P, d]`` (the chain rule: the gradient with respect to
  ``phi`` is ``M^T`` times the full gradient).

:class:`DenseProjection` stores the matrices (orthonormal columns; memory
``P D d``, fine for small ``D``). :class:`FastfoodProjection` never forms them:
it applies the Fastfood transform of Le et al. (2013), as Li et al. (2018) do to
measure intrinsic dimensions of networks with millions of parameters, in
``O(P L log L)`` time and ``O(P L)`` memory, ``L`` the next power of two
``>= D``. Its columns have unit norm on average and are nearly orthogonal.
"""

from __future__ import annotations

import math

import torch

from lsl import seeds

__all__ = ["Projection", "DenseProjection", "FastfoodProjection", "make_projection", "fwht"]


def _check_dims(D: int, d: int, n_planes: int) -> None:
    if not 1 <= d <= D:
        raise ValueError(f"the hyperplane dimension must satisfy 1 <= d <= D={D}; got d={d}")
    if n_planes < 1:
        raise ValueError(f"n_planes must be >= 1, got {n_planes}")


class Projection:
    """Base class: ``P`` random ``D x d`` matrices applied as batched linear maps.

    Subclasses implement :meth:`to_full` and :meth:`restrict` for inputs whose
    first dimension is the plane index ``P`` and last dimension ``d`` (or
    ``D``); any dimensions in between are batch dimensions.
    """

    D: int
    d: int
    n_planes: int

    def to_full(self, phi: torch.Tensor) -> torch.Tensor:
        """Displacements ``M phi`` in parameter space: ``[P, d]`` (or ``[P, K, d]``) -> ``[P, D]`` (``[P, K, D]``)."""
        raise NotImplementedError

    def restrict(self, g: torch.Tensor) -> torch.Tensor:
        """Components ``M^T g`` in the planes: ``[P, D]`` (or ``[P, K, D]``) -> ``[P, d]`` (``[P, K, d]``)."""
        raise NotImplementedError

    def columns(self) -> torch.Tensor:
        """The planes' basis vectors as rows, ``[P, d, D]`` (row ``i`` of plane ``p`` is column ``i`` of ``M_p``).

        Costs ``d`` applications of :meth:`to_full` per plane; for the restricted Hessian
        (:func:`lsl.subspaces.goldilocks.restricted_hessian`) and for tests, not for training.
        """
        dtype = getattr(self, "dtype", torch.float32)
        device = getattr(self, "device", None)
        eye = torch.eye(self.d, dtype=dtype, device=device).expand(self.n_planes, self.d, self.d)
        return self.to_full(eye)

    def matrix(self) -> torch.Tensor:
        """The dense matrices ``M``, ``[P, D, d]`` (small ``D`` and ``d`` only)."""
        return self.columns().transpose(1, 2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(D={self.D}, d={self.d}, n_planes={self.n_planes})"


class DenseProjection(Projection):
    """``P`` random ``D x d`` projection matrices with orthonormal columns, stored densely.

    Each matrix is the Q factor of a Gaussian matrix (a uniformly random
    d-dimensional subspace with an orthonormal basis), so ``M^T M = I`` and
    moving by ``phi`` in the plane moves ``||phi||`` in parameter space.

    Args:
        D: ambient dimension.
        d: hyperplane dimension, ``1 <= d <= D``.
        n_planes: number of independent draws ``P``.
        seed: seed of the draws (same seed, same matrices, on any device).
        device: where to store the matrices.
        dtype: their floating-point type.
    """

    def __init__(self, D: int, d: int, *, n_planes: int = 1, seed: int = 0,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        _check_dims(D, d, n_planes)
        gen = torch.Generator(device="cpu").manual_seed(seeds.shifted(seed))
        g = torch.randn(n_planes, D, d, generator=gen, dtype=torch.float64)
        q, r = torch.linalg.qr(g)
        q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)  # unique, Haar-distributed
        self.M = q.to(device=device, dtype=dtype)  # [P, D, d]
        self.D, self.d, self.n_planes = D, d, n_planes
        self.device, self.dtype = self.M.device, dtype

    def to_full(self, phi: torch.Tensor) -> torch.Tensor:
        """Displacements ``M phi`` in parameter space: ``[P, d]`` (or ``[P, K, d]``) -> ``[P, D]`` (``[P, K, D]``)."""
        return torch.einsum("pDd,p...d->p...D", self.M, phi)

    def restrict(self, g: torch.Tensor) -> torch.Tensor:
        """Project full-space vectors onto the planes, ``M^T g``: ``[P, D]`` (or ``[P, K, D]``) -> ``[P, d]`` (``[P, K, d]``)."""
        return torch.einsum("pDd,p...D->p...d", self.M, g)

    def matrix(self) -> torch.Tensor:
        """The stored matrices ``M``, ``[P, D, d]``."""
        return self.M


_HADAMARD: dict[tuple[int, torch.dtype, torch.device], torch.Tensor] = {}


def _hadamard(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    key = (n, dtype, device)
    if key not in _HADAMARD:
        h = torch.ones(1, 1, dtype=dtype, device=device)
        while h.shape[0] < n:
            h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
        _HADAMARD[key] = h
    return _HADAMARD[key]


def fwht(x: torch.Tensor, *, max_factor: int = 128) -> torch.Tensor:
    """The unnormalised fast Walsh-Hadamard transform along the last dimension (a power of two).

    ``fwht(x) = x @ H`` with ``H`` the Sylvester-Hadamard matrix of entries ``+-1``
    (symmetric, ``H H = L I``). ``H_L`` is the Kronecker product of smaller Hadamard
    matrices (``H_{ab} = H_a (x) H_b``), so the transform is a few small matrix products
    along the axes of ``x`` reshaped to ``[..., a, b, ...]``: ``O(L (a + b + ...))``
    operations that run at matrix-multiply speed. Differentiable.

    Args:
        x: ``[..., L]`` with ``L`` a power of two.
        max_factor: the largest Kronecker factor (a power of two).

    Returns:
        the transformed tensor, same shape.
    """
    L = x.shape[-1]
    if L < 1 or L & (L - 1):
        raise ValueError(f"fwht needs a power-of-two length, got {L}")
    bits, chunk = L.bit_length() - 1, max(1, max_factor.bit_length() - 1)
    sizes = [1 << min(chunk, bits - i) for i in range(0, bits, chunk)] or [1]
    lead = x.shape[:-1]
    y = x.reshape(*lead, *sizes)
    n = len(sizes)
    for axis, size in enumerate(sizes):
        h = _hadamard(size, x.dtype, x.device)
        y = (y.movedim(len(lead) + axis, -1) @ h).movedim(-1, len(lead) + axis)
    return y.reshape(*lead, L) if n else y


class FastfoodProjection(Projection):
    """``P`` random ``D x d`` matrices applied by the Fastfood transform, never stored.

    Following Li et al. (2018) (after Le et al., 2013), with ``L = 2^ceil(log2 D)``,

    ``M = c * S_D H G Pi H B S_d``,

    where ``S_d`` pads ``phi`` with zeros to length ``L``, ``B`` is a random
    diagonal of signs, ``H`` the ``L x L`` Walsh-Hadamard matrix, ``Pi`` a random
    permutation, ``G`` a Gaussian diagonal and ``S_D`` keeps the first ``D``
    entries. Li et al. normalise with ``c = 1 / sqrt(L ||G||^2)``, which gives the
    untruncated ``L x L`` matrix unit-norm columns; we use ``c = 1 / sqrt(D ||G||^2)``
    so that the truncated columns have unit norm *on average*, as the columns of
    :class:`DenseProjection` have exactly. Distinct columns are orthogonal up to
    ``O(1/sqrt(D))``. Memory ``O(P L)``; :meth:`to_full` and :meth:`restrict` cost
    ``O(P L log L)`` whatever ``d``.

    Args:
        D: ambient dimension.
        d: hyperplane dimension, ``1 <= d <= D``.
        n_planes: number of independent draws ``P``.
        seed: seed of the draws (same seed, same planes, on any device).
        device: where to store the transform's diagonals.
        dtype: their floating-point type.
    """

    def __init__(self, D: int, d: int, *, n_planes: int = 1, seed: int = 0,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        _check_dims(D, d, n_planes)
        L = 1 << max(0, math.ceil(math.log2(D)))
        gen = torch.Generator(device="cpu").manual_seed(seeds.shifted(seed))
        B = torch.randint(0, 2, (n_planes, L), generator=gen).to(torch.float64) * 2 - 1
        perm = torch.argsort(torch.rand(n_planes, L, generator=gen, dtype=torch.float64), dim=1)
        G = torch.randn(n_planes, L, generator=gen, dtype=torch.float64)
        scale = 1.0 / torch.sqrt(D * (G * G).sum(1))
        self.D, self.d, self.n_planes, self.L = D, d, n_planes, L
        self.device, self.dtype = torch.device(device) if device is not None else torch.device("cpu"), dtype
        self.B = B.to(device=device, dtype=dtype)              # [P, L] signs
        self.perm = perm.to(device=device)                     # [P, L]
        self.inv_perm = torch.argsort(perm, dim=1).to(device=device)
        self.G = (G * scale[:, None]).to(device=device, dtype=dtype)  # Gaussian diagonal with c folded in

    def _expand(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        # [P, L] -> [P, 1, ..., 1, L] broadcastable against like [P, ..., L]
        return t.view(t.shape[0], *([1] * (like.dim() - 2)), t.shape[1])

    def _check(self, x: torch.Tensor, n: int, what: str) -> None:
        if x.dim() < 2 or x.shape[0] != self.n_planes or x.shape[-1] != n:
            raise ValueError(f"{what} must have shape [P={self.n_planes}, ..., {n}], got {tuple(x.shape)}")

    def to_full(self, phi: torch.Tensor) -> torch.Tensor:
        """Displacements ``M phi`` in parameter space: ``[P, d]`` (or ``[P, K, d]``) -> ``[P, D]`` (``[P, K, D]``)."""
        self._check(phi, self.d, "phi")
        x = torch.nn.functional.pad(phi, (0, self.L - self.d))
        x = fwht(x * self._expand(self.B, x))
        x = torch.gather(x, -1, self._expand(self.perm, x).expand_as(x))
        x = fwht(x * self._expand(self.G, x))
        return x[..., : self.D]

    def restrict(self, g: torch.Tensor) -> torch.Tensor:
        """Components ``M^T g`` in the planes: ``[P, D]`` (or ``[P, K, D]``) -> ``[P, d]`` (``[P, K, d]``)."""
        self._check(g, self.D, "g")
        x = fwht(torch.nn.functional.pad(g, (0, self.L - self.D))) * self._expand(self.G, g)
        x = torch.gather(x, -1, self._expand(self.inv_perm, x).expand_as(x))
        x = fwht(x) * self._expand(self.B, x)
        return x[..., : self.d]


_KINDS = {"dense": DenseProjection, "fastfood": FastfoodProjection}


def make_projection(kind: str | Projection, D: int, d: int, *, n_planes: int = 1, seed: int = 0,
                    device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Projection:
    """A projection by name (``"dense"`` or ``"fastfood"``), or check and return a given instance.

    Args:
        kind: ``"dense"`` (:class:`DenseProjection`), ``"fastfood"`` (:class:`FastfoodProjection`)
            or a :class:`Projection` whose ``D``, ``d`` and ``n_planes`` must match.
        D: ambient dimension.
        d: hyperplane dimension.
        n_planes: number of planes ``P``.
        seed: seed of the draws.
        device: where the projection lives.
        dtype: its floating-point type.

    Returns:
        the projection.
    """
    if isinstance(kind, Projection):
        if (kind.D, kind.d, kind.n_planes) != (D, d, n_planes):
            raise ValueError(f"the projection has (D, d, n_planes) = {(kind.D, kind.d, kind.n_planes)}; "
                             f"expected {(D, d, n_planes)}")
        return kind
    if kind not in _KINDS:
        raise ValueError(f"unknown projection {kind!r}; choose one of {sorted(_KINDS)} or pass a Projection")
    return _KINDS[kind](D, d, n_planes=n_planes, seed=seed, device=device, dtype=dtype)
