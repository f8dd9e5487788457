"""Matrix-free symmetric operators: a matrix seen only through its products, with its shape, dtype and device.

The Hessian of a network with ``D`` parameters has ``D^2`` entries, far too many to
store, but a Hessian-vector product costs about two gradients. lsl therefore
handles curvature as a *matrix-free operator*: a function ``v -> A v`` on vectors
``[D]`` (or on a batch of rows ``[k, D]``, each multiplied). A bare function
knows nothing about itself, so :class:`SymmetricOperator` wraps one with what a
matrix would know: its size ``dim`` (``shape == (dim, dim)``), the ``dtype`` and
``device`` it computes in, and a ``name`` saying which matrix it is ("Hessian",
"Gauss-Newton term G", "block of layer 1", ...).

It is still a function: ``A(v)`` and ``A @ v`` both apply it, so it can be
passed wherever lsl takes a :data:`~lsl.curvature.lanczos.Matvec` (the Lanczos iterations,
:func:`lsl.curvature.linear_operators.as_linear_operator`, ...). It also builds the operators
the book's experiments look at, again without forming a matrix:

- :meth:`SymmetricOperator.block` -- ``P^T A P`` for the coordinates ``index``
  (``P`` the columns of the identity they select): the curvature when only
  those parameters move, e.g. one layer (:func:`lsl.curvature.hessian.layer_spectra`).
- :meth:`SymmetricOperator.restrict` -- ``B A B^T`` for a basis ``B`` ``[d, D]``
  of a subspace: the curvature inside a plane (the restricted Hessian of
  :func:`lsl.subspaces.goldilocks.restricted_hessian`).
- :meth:`SymmetricOperator.dense` -- the matrix itself, for small ``dim`` (tests,
  exact spectra); above :data:`MAX_DENSE_DIM` it refuses and points to Lanczos.

:func:`lsl.curvature.hessian.curvature_operator` returns the Hessian of a landscape at a
point, or one of its Gauss-Newton terms, as such an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["SymmetricOperator", "MAX_DENSE_DIM"]

#: Largest ``dim`` for which :meth:`SymmetricOperator.dense` builds the matrix.
MAX_DENSE_DIM = 10_000


@dataclass(frozen=True)
class SymmetricOperator:
    """A symmetric ``dim x dim`` matrix seen only through its products ``v -> A v``.

    Call it (``A(v)``) or use ``A @ v`` on one vector ``[dim]`` or on rows ``[k, dim]``
    (each row multiplied, the result ``[k, dim]``). Symmetry is the caller's promise
    (Hessians and their terms are symmetric); nothing checks it.

    Attributes:
        matvec: the product, ``[dim] -> [dim]`` and ``[k, dim] -> [k, dim]``.
        dim: the size ``D`` of the vectors it acts on.
        dtype: the dtype in which the product is evaluated (e.g. the landscape's).
        device: the device on which the product is evaluated; results of :meth:`dense` are there too.
        name: what the matrix is, e.g. ``"Hessian"`` or ``"Gauss-Newton term G"``.
    """

    matvec: Callable[[torch.Tensor], torch.Tensor]
    dim: int
    dtype: torch.dtype
    device: torch.device
    name: str = "operator"

    def __post_init__(self):
        if not callable(self.matvec):
            raise TypeError(f"matvec must be callable, got {type(self.matvec).__name__}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be a positive integer, got {self.dim!r}")
        if not isinstance(self.dtype, torch.dtype):
            raise TypeError(f"dtype must be a torch.dtype, got {self.dtype!r}")
        object.__setattr__(self, "device", torch.device(self.device))

    @property
    def shape(self) -> tuple[int, int]:
        """``(dim, dim)``."""
        return (self.dim, self.dim)

    def __repr__(self) -> str:
        return f"SymmetricOperator({self.name!r}, dim={self.dim}, dtype={self.dtype}, device={self.device})"

    def _check(self, v, what: str = "v") -> torch.Tensor:
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{self.name}: {what} must be a torch.Tensor, got {type(v).__name__}")
        if v.dim() not in (1, 2) or v.shape[-1] != self.dim:
            raise ValueError(f"{self.name} acts on vectors [{self.dim}] or rows [k, {self.dim}]; "
                             f"{what} has shape {tuple(v.shape)}")
        return v

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """``A v`` for ``v`` ``[dim]`` or rows ``[k, dim]``.

        Args:
            v: one vector ``[dim]`` or rows ``[k, dim]``.

        Returns:
            ``A v`` with the shape of ``v``.

        Raises:
            ValueError: if ``v`` is not ``[dim]`` or ``[k, dim]``.
        """
        return self.matvec(self._check(v))

    def __matmul__(self, v: torch.Tensor) -> torch.Tensor:
        """``A @ v``, the same as ``A(v)``."""
        return self(v)

    def block(self, index: torch.Tensor, *, name: str | None = None) -> SymmetricOperator:
        """The diagonal block ``A[index, index] = P^T A P`` of the coordinates ``index``.

        Applied by embedding a vector of the block into ``dim`` zeros, multiplying by
        ``A`` and keeping the block's entries: one product of ``A`` per product of the
        block. For a Hessian, the curvature when only those coordinates move.

        Args:
            index: the coordinates, a 1-D integer tensor (distinct entries in ``[0, dim)``,
                in the order of the block's coordinates) or a boolean mask ``[dim]``.
            name: the block's name (default ``"block of <name>"``).

        Returns:
            The block, an operator of ``dim = len(index)`` (the number of ``True`` entries for a mask).

        Raises:
            ValueError: for an index that is not 1-D, is empty, is out of range or repeats a coordinate,
                or a mask of the wrong length.
        """
        if not isinstance(index, torch.Tensor) or index.dim() != 1:
            raise ValueError(f"index must be a 1-D tensor of coordinates or a boolean mask [{self.dim}]; "
                             f"got {getattr(index, 'shape', type(index).__name__)}")
        if index.dtype == torch.bool:
            if index.numel() != self.dim:
                raise ValueError(f"a boolean mask must have {self.dim} entries, got {index.numel()}")
            index = index.nonzero().flatten()
        elif index.dtype.is_floating_point or index.dtype.is_complex:
            raise ValueError(f"index must hold integers or booleans, got {index.dtype}")
        index = index.to(device=self.device, dtype=torch.long)
        n = int(index.numel())
        if n == 0:
            raise ValueError("index selects no coordinates: a block must have at least one")
        if int(index.min()) < 0 or int(index.max()) >= self.dim:
            raise ValueError(f"index must lie in [0, {self.dim}); got entries from {int(index.min())} to {int(index.max())}")
        if int(torch.unique(index).numel()) != n:
            raise ValueError("index repeats a coordinate; a block's coordinates must be distinct")
        matvec, dim = self.matvec, self.dim

        def block_mv(u: torch.Tensor) -> torch.Tensor:
            full = torch.zeros(*u.shape[:-1], dim, dtype=u.dtype, device=u.device)
            idx = index.to(u.device)
            full[..., idx] = u
            return matvec(full)[..., idx]

        return SymmetricOperator(block_mv, n, self.dtype, self.device, name or f"block of {self.name}")

    def restrict(self, basis: torch.Tensor, *, name: str | None = None) -> SymmetricOperator:
        """The operator restricted to the span of the rows of ``basis``: ``B A B^T``, ``d x d``.

        For ``c`` in ``R^d`` it computes ``B A (B^T c)``: the quadratic form of ``A`` on the
        subspace in the coordinates ``c`` of the basis, ``c^T (B A B^T) c = x^T A x`` for
        ``x = B^T c``. One product of ``A`` per product. The rows need not be orthonormal
        (nor independent): for a basis that is not orthonormal, ``B A B^T`` is the matrix of
        the form in that basis, and its eigenvalues are not those of ``A`` on the subspace
        (orthonormalise the rows first, e.g. ``torch.linalg.qr(B.T).Q.T``, for those). For a
        Hessian and the columns ``M`` of a plane ``theta0 + M phi`` (``B = M^T``), it is the
        Hessian of the loss in the plane's coordinates ``phi``.

        Args:
            basis: ``B``, ``[d, dim]`` with ``d >= 1``, cast to the operator's dtype and device.
            name: the restriction's name (default ``"<name> restricted to a d-plane"``).

        Returns:
            The restriction, an operator of ``dim = d``.

        Raises:
            ValueError: if ``basis`` is not ``[d, dim]`` or is not finite.
        """
        if not isinstance(basis, torch.Tensor) or basis.dim() != 2 or basis.shape[1] != self.dim \
                or basis.shape[0] < 1:
            raise ValueError(f"basis must be a tensor [d, {self.dim}] (one row per basis vector, d >= 1); "
                             f"got {getattr(basis, 'shape', type(basis).__name__)}")
        B = basis.detach().to(device=self.device, dtype=self.dtype)
        if not bool(torch.isfinite(B).all()):
            raise ValueError("basis has non-finite entries")
        matvec = self.matvec

        def restricted_mv(c: torch.Tensor) -> torch.Tensor:
            x = c.to(device=B.device, dtype=B.dtype) @ B  # [d] or [k, d] -> [dim] or [k, dim]
            y = matvec(x)
            out = B @ y if y.dim() == 1 else (B @ y.T).T
            return out.to(dtype=c.dtype, device=c.device)

        d = int(B.shape[0])
        return SymmetricOperator(restricted_mv, d, self.dtype, self.device,
                                 name or f"{self.name} restricted to a {d}-plane")

    def dense(self) -> torch.Tensor:
        """The matrix ``[dim, dim]``, from ``dim`` products with the identity's rows, symmetrised.

        The result is ``(M + M^T) / 2`` for ``M`` the products (removing rounding
        asymmetry), in the operator's dtype and on its device.

        Returns:
            The symmetric matrix ``[dim, dim]``.

        Raises:
            ValueError: if ``dim > MAX_DENSE_DIM`` (use :func:`lsl.curvature.hessian.top_eigenvalues`,
                :func:`lsl.curvature.lanczos.lanczos` or :func:`lsl.curvature.linear_operators.top_eigenvalues`, which need only products).
        """
        if self.dim > MAX_DENSE_DIM:
            raise ValueError(
                f"{self.name}: the dense matrix of dim={self.dim} would hold {self.dim ** 2:.3g} entries "
                f"(limit dim <= {MAX_DENSE_DIM}); use Lanczos (lsl.curvature.lanczos.lanczos, lsl.curvature.linear_operators.top_eigenvalues, "
                f"lsl.curvature.spectrum.spectral_density), which needs only products")
        M = self(torch.eye(self.dim, dtype=self.dtype, device=self.device))
        return (M + M.T) / 2
