"""Curvature operators the ecosystem can use: SciPy linear operators, any-operator Lanczos, traces, minibatch HVPs.

lsl computes curvature through matrix-vector products only. This module makes
those products interoperate with other tools, in both directions:

- :func:`as_linear_operator` -- the Hessian (or its Gauss-Newton term, or the
  rest) of a landscape at a point as a :class:`scipy.sparse.linalg.LinearOperator`,
  so that ``scipy.sparse.linalg.eigsh``, curvlinops-style tooling and users'
  own code can take it.
- :func:`as_matvec` -- the adapter the other way: turns a SciPy linear
  operator, a dense matrix (torch or NumPy), a curvlinops operator or a plain
  callable into the torch function ``[D] or [K, D] -> same`` that lsl's
  Lanczos iterates on. :func:`lanczos`, :func:`top_eigenvalues` and
  :func:`spectral_density` here accept any of those operators.
- stochastic trace estimators on any operator live in :mod:`lsl.curvature.trace_estimators`
  (:func:`~lsl.curvature.trace_estimators.hutchinson`, :func:`~lsl.curvature.trace_estimators.hutchpp`,
  :class:`~lsl.curvature.trace_estimators.TraceEstimate`); their names can still be imported
  from here.
- :func:`minibatch_operator`, :func:`minibatch_hvp` and :func:`hvp_over_batches`
  -- Hessian-vector products accumulated over chunks of the data, for data
  that do not fit one batch: only one chunk's forward and backward pass is
  in memory at a time.

**Terms.** ``term`` selects ``"hessian"`` (the Hessian ``H``), ``"gauss_newton"`` (the
Gauss-Newton term ``G``) or ``"rest"`` (``H - G``), the vocabulary of :mod:`lsl.curvature.hessian`
(:data:`~lsl.curvature.hessian.TERMS`), which explains the split.

**Precision.** Operators built here take and return float64 (as SciPy
expects); products are evaluated in the landscape's dtype.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch.func import grad, jvp, vmap

from lsl import batching
from lsl.curvature.hessian import _check_point, _check_term, curvature_operator
from lsl.landscape import Landscape
from lsl.network import NetworkLandscape
from lsl.curvature.lanczos import _top_k_operator
from lsl.curvature.lanczos import lanczos as _lanczos
from lsl.curvature.spectrum import _check_slq, _slq

__all__ = [
    "as_linear_operator",
    "as_matvec",
    "lanczos",
    "top_eigenvalues",
    "spectral_density",
    "minibatch_operator",
    "minibatch_hvp",
    "hvp_over_batches",
]

Matvec = Callable[[torch.Tensor], torch.Tensor]

def _term(term: str) -> str:
    return _check_term(term)


# ---------------------------------------------------------------------------
# lsl -> SciPy


def _check_real(x) -> None:
    if np.iscomplexobj(x):
        raise TypeError("the Hessian is a real symmetric operator: it takes real vectors, got a complex one "
                        "(apply it to the real and the imaginary part separately)")


def _scipy_operator(matvec: Matvec, D: int, device: torch.device):
    """A symmetric float64 SciPy ``LinearOperator`` around a torch ``[K, D] -> [K, D]`` product."""
    from scipy.sparse.linalg import LinearOperator

    class _TorchSymmetricOperator(LinearOperator):
        def __init__(self):
            super().__init__(dtype=np.float64, shape=(D, D))
            self.torch_matvec = matvec  # used by as_matvec to skip the NumPy round trip

        def _matvec(self, x):
            _check_real(x)
            x = np.asarray(x, dtype=np.float64).reshape(D)
            out = matvec(torch.from_numpy(x.copy()).to(device))
            return out.detach().to("cpu", torch.float64).numpy()

        def _matmat(self, X):
            _check_real(X)
            X = np.asarray(X, dtype=np.float64)
            V = torch.from_numpy(np.ascontiguousarray(X.T)).to(device)
            return matvec(V).detach().to("cpu", torch.float64).numpy().T

        def _rmatvec(self, x):  # symmetric
            return self._matvec(x)

        def _rmatmat(self, X):
            return self._matmat(X)

        def _adjoint(self):
            return self

    return _TorchSymmetricOperator()


def as_linear_operator(landscape: Landscape, theta: torch.Tensor, term: str = "hessian", *, idx=None,
                       batch_size: int | None = None, reduction: str | None = None):
    """The Hessian (or a term of it) at ``theta`` as a :class:`scipy.sparse.linalg.LinearOperator`.

    The operator has shape ``(D, D)`` and dtype float64, implements ``matvec``
    and ``matmat`` (a block of vectors is one vectorised call), and is
    symmetric: ``rmatvec`` is ``matvec`` and its adjoint is itself. So
    ``scipy.sparse.linalg.eigsh(as_linear_operator(L, theta), k=5)`` gives
    the top five eigenvalues, and any code that takes a SciPy operator takes it.

    Args:
        landscape: any landscape (``"gauss_newton"`` and ``"rest"`` need a
            :class:`~lsl.network.NetworkLandscape` with a built-in loss).
        theta: the point ``[D]``.
        term: ``"hessian"``, ``"gauss_newton"`` (G) or ``"rest"`` (``H - G``).
        idx: optional indices of a subset of the training examples.
        batch_size: if given, every product is accumulated over chunks of this many
            examples (see :func:`minibatch_operator`), bounding memory.
        reduction: with ``batch_size``, how the loss combines examples (see :func:`minibatch_operator`).

    Returns:
        A ``LinearOperator``; its attribute ``torch_matvec`` is the underlying torch product.
    """
    t = _term(term)
    theta = _check_point(landscape, theta, "the operator is taken")
    if batch_size is None:
        mv = curvature_operator(landscape, theta, term=t, idx=idx)
    else:
        mv = minibatch_operator(landscape, theta, batch_size=batch_size, term=term, idx=idx, reduction=reduction)
    return _scipy_operator(mv, landscape.D, landscape.device)


# ---------------------------------------------------------------------------
# any operator -> torch matvec


def _is_scipy_operator(op) -> bool:
    mod = type(op).__module__ or ""
    if not mod.startswith("scipy"):
        return any((c.__module__ or "").startswith("scipy.sparse") for c in type(op).__mro__)
    return True


def as_matvec(op: Any, dim: int | None = None, *, batched: bool | None = None) -> tuple[Matvec, int]:
    """Turn an operator into the torch product ``v -> A v`` that lsl's Lanczos takes.

    Accepted operators:

    - a :class:`scipy.sparse.linalg.LinearOperator` (e.g. from
      :func:`as_linear_operator`, or curvlinops' ``.to_scipy()``) or a SciPy sparse matrix;
    - a square dense matrix, ``torch.Tensor`` or ``numpy.ndarray``;
    - a curvlinops operator (``curvlinops.HessianLinearOperator`` and the like:
      anything with ``shape``, torch ``dtype``/``device`` and ``A @ X`` for ``X`` ``[D, K]``);
    - a callable ``v -> A v`` on torch tensors ``[D]``; then ``dim`` is required.

    Args:
        op: the operator (symmetric, for the eigen-solvers here and the trace estimators of
            :mod:`lsl.curvature.trace_estimators`).
        dim: the dimension ``D`` (required for a callable; checked against ``op.shape`` otherwise).
        batched: for a callable only: whether it takes a batch ``[K, D]`` of row vectors
            (like :func:`lsl.curvature.hessian.curvature_operator`). Default ``False`` (rows are
            applied one at a time).

    Returns:
        ``(matvec, D)``: ``matvec`` takes float64 ``[D]`` or ``[K, D]`` (rows) and returns
        float64 of the same shape, on the input's device.

    Raises:
        TypeError: for an object that is none of the above.
        ValueError: for a non-square operator or a ``dim`` that disagrees with it.
    """
    torch_mv = getattr(op, "torch_matvec", None)
    if torch_mv is not None and hasattr(op, "shape"):  # one of ours: skip the NumPy round trip
        D = _square(op.shape, dim)
        return (lambda v: torch_mv(v).to(torch.float64)), D
    if isinstance(op, (torch.Tensor, np.ndarray)):
        A = torch.as_tensor(op)
        if A.dim() != 2:
            raise ValueError(f"a dense operator must be a matrix [D, D]; got shape {tuple(A.shape)}")
        D = _square(tuple(A.shape), dim)
        A = A.detach().to(torch.float64)

        def dense(v: torch.Tensor) -> torch.Tensor:
            M = A.to(v.device)
            return v.to(torch.float64) @ M.T

        return dense, D
    if _is_scipy_operator(op):
        from scipy.sparse import issparse
        from scipy.sparse.linalg import aslinearoperator

        lo = aslinearoperator(op) if issparse(op) else op
        D = _square(tuple(lo.shape), dim)

        def scipy_mv(v: torch.Tensor) -> torch.Tensor:
            x = v.detach().to("cpu", torch.float64).numpy()
            out = lo.matvec(x) if x.ndim == 1 else lo.matmat(np.ascontiguousarray(x.T)).T
            return torch.as_tensor(np.asarray(out, dtype=np.float64).reshape(x.shape)).to(v.device)

        return scipy_mv, D
    if _is_torch_linear_operator(op):
        D = _square(tuple(op.shape), dim)

        def cl_mv(v: torch.Tensor) -> torch.Tensor:
            X = v.detach().to(device=op.device, dtype=op.dtype)
            out = op @ X if X.dim() == 1 else (op @ X.T.contiguous()).T
            return out.detach().to(device=v.device, dtype=torch.float64)

        return cl_mv, D
    if callable(op):
        if dim is None:
            raise ValueError("a callable operator needs its dimension: pass dim=D")
        D = int(dim)
        if D < 1:
            raise ValueError(f"dim must be positive, got {dim}")

        def call_mv(v: torch.Tensor) -> torch.Tensor:
            if v.dim() == 1 or batched:
                out = op(v)
            else:
                out = torch.stack([op(row) for row in v])
            out = torch.as_tensor(out)
            if out.shape != v.shape:
                raise ValueError(f"the operator returned shape {tuple(out.shape)} for an input of shape {tuple(v.shape)}")
            return out.to(device=v.device, dtype=torch.float64)

        return call_mv, D
    raise TypeError(
        f"cannot use a {type(op).__name__} as an operator: pass a SciPy LinearOperator, a square matrix "
        f"(torch or NumPy), a curvlinops operator, or a callable v -> A v together with dim=D"
    )


def _is_torch_linear_operator(op) -> bool:
    """Duck-typing for curvlinops' ``PyTorchLinearOperator``: ``shape``, torch ``dtype``/``device``, ``@``."""
    return (hasattr(op, "shape") and hasattr(op, "__matmul__") and isinstance(getattr(op, "dtype", None), torch.dtype)
            and hasattr(op, "device"))


def _square(shape, dim) -> int:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"the operator must be square [D, D]; got shape {shape}")
    if dim is not None and int(dim) != shape[0]:
        raise ValueError(f"dim={dim} disagrees with the operator's shape {shape}")
    return shape[0]


# ---------------------------------------------------------------------------
# Lanczos and SLQ on any operator


def lanczos(op: Any, n_steps: int, *, dim: int | None = None, v0: torch.Tensor | None = None, seed: int = 0,
            device=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`lsl.curvature.lanczos.lanczos` on any operator accepted by :func:`as_matvec`.

    Args:
        op: the symmetric operator.
        n_steps: the largest number of steps.
        dim: the dimension (required for a plain callable).
        v0: start vector ``[D]``; a seeded Gaussian vector if omitted.
        seed: seed of the random start vector.
        device: where the Lanczos vectors live (default CPU).

    Returns:
        ``(alphas, betas, Q)`` as :func:`lsl.curvature.lanczos.lanczos` returns them.
    """
    mv, D = as_matvec(op, dim)
    return _lanczos(mv, D, n_steps, v0=v0, seed=seed, device=device)


def top_eigenvalues(op: Any, k: int, *, dim: int | None = None, eigenvectors: bool = False, tol: float = 1e-6,
                    max_steps: int | None = None, seed: int = 0, device=None):
    """The ``k`` algebraically largest eigenvalues of any symmetric operator, by lsl's Lanczos.

    The same iteration (full re-orthogonalisation, restarts after a breakdown,
    residual tolerance ``tol * max(1, |lambda_1|)``) as
    :func:`lsl.curvature.hessian.top_eigenvalues`, on an operator accepted by :func:`as_matvec`.

    Args:
        op: the symmetric operator.
        k: how many eigenvalues, ``1 <= k <= D``.
        dim: the dimension (required for a plain callable).
        eigenvectors: also return the eigenvectors ``[k, D]``.
        tol: relative residual tolerance.
        max_steps: the largest Krylov dimension (default ``D``).
        seed: seed of the random start vectors.
        device: where the Lanczos vectors live (default CPU).

    Returns:
        float64 eigenvalues ``[k]`` in descending order, or ``(values, vectors)``.
    """
    mv, D = as_matvec(op, dim)
    return _top_k_operator(mv, D, k, eigenvectors=eigenvectors, tol=tol, max_steps=max_steps, seed=seed,
                           device=device, out_dtype=torch.float64, what="the operator")


def spectral_density(op: Any, *, dim: int | None = None, n_vectors: int = 10, n_steps: int = 80,
                     grid: torch.Tensor | int | None = None, sigma: float | None = None, seed: int = 0,
                     distribution: str = "rademacher", device=None):
    """The eigenvalue density of any symmetric operator by stochastic Lanczos quadrature.

    The estimator of :func:`lsl.curvature.spectrum.spectral_density` (Ubaru, Chen & Saad
    2017): ``n_vectors`` Lanczos runs of ``n_steps`` steps from independent
    random start vectors; the Ritz values are the quadrature nodes and the
    squared first components of the eigenvectors of ``T`` the weights.

    Args:
        op: the symmetric operator (see :func:`as_matvec`).
        dim: the dimension (required for a plain callable).
        n_vectors: number of random start vectors.
        n_steps: Lanczos steps per vector (at most ``D``).
        grid: where to evaluate the density, or the number of points (default 1000).
        sigma: Gaussian broadening (default 1% of the range of the nodes).
        seed: seed of the start vectors.
        distribution: ``"rademacher"`` or ``"gaussian"`` start vectors.
        device: where the Lanczos vectors live (default CPU).

    Returns:
        A :class:`lsl.curvature.spectrum.SpectralDensity`.
    """
    _check_slq(n_vectors, n_steps, distribution)
    mv, D = as_matvec(op, dim)
    return _slq(mv, D, n_vectors=n_vectors, n_steps=n_steps, grid=grid, sigma=sigma, seed=seed,
                distribution=distribution, device=device)


# ---------------------------------------------------------------------------
# Hessian-vector products over minibatches of the data


def _mean_reduction(landscape: NetworkLandscape, reduction: str | None) -> str:
    if reduction is not None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        return reduction
    if landscape.builtin_loss is not None:
        return "mean"  # both built-in losses average over the examples
    raise ValueError(
        "the landscape's loss is a custom callable: say how it combines the examples, "
        "reduction='mean' (an average, like the built-in losses) or reduction='sum'"
    )


def _chunks(landscape: NetworkLandscape, batch_size, idx) -> tuple[list[torch.Tensor], int]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if idx is None:
        index = torch.arange(landscape.n_train, device=landscape.device)
    else:
        index = torch.as_tensor(idx, device=landscape.device).reshape(-1)
        if index.dtype == torch.bool:
            index = index.nonzero().reshape(-1)
        index = index.long()
    if index.numel() == 0:
        raise ValueError("no examples selected: idx is empty")
    return list(index.split(batch_size)), int(index.numel())


def minibatch_operator(landscape: NetworkLandscape, theta: torch.Tensor, *, batch_size: int, term: str = "hessian",
                       idx=None, reduction: str | None = None) -> Matvec:
    """``v -> A v`` for the Hessian (or a term) of the loss over all examples, computed chunk by chunk.

    For a loss that averages over ``N`` examples, ``H = sum_c (n_c / N) H_c``
    with ``H_c`` the Hessian of the mean loss over chunk ``c`` of ``n_c``
    examples (for a summed loss the weights are 1); the same holds for the
    Gauss-Newton term and the rest. Each product runs one chunk at a time and
    keeps nothing of a chunk once its contribution is added, so memory is
    that of one chunk's forward and backward pass, whatever ``N``.

    Args:
        landscape: a :class:`~lsl.network.NetworkLandscape`.
        theta: the point ``[D]``.
        batch_size: examples per chunk.
        term: ``"hessian"``, ``"gauss_newton"`` or ``"rest"``.
        idx: optional indices (or a boolean mask) of the examples to use (default: all training examples).
        reduction: ``"mean"`` or ``"sum"``; inferred (``"mean"``) for the built-in losses,
            required for a custom loss callable.

    Returns:
        The product as a function of ``[D]`` or ``[K, D]`` vectors (any float dtype; returned in the input's dtype).
    """
    if not isinstance(landscape, NetworkLandscape):
        raise TypeError(f"minibatch products need a NetworkLandscape (with data), got {type(landscape).__name__}")
    t = _term(term)
    theta = _check_point(landscape, theta, "the operator is taken")
    red = _mean_reduction(landscape, reduction)
    chunks, n = _chunks(landscape, batch_size, idx)

    def matvec(v: torch.Tensor) -> torch.Tensor:
        out = None
        for chunk in chunks:
            w = chunk.numel() / n if red == "mean" else 1.0
            part = curvature_operator(landscape, theta, term=t, idx=chunk)(v) * w
            out = part if out is None else out + part
        return out

    return matvec


def minibatch_hvp(landscape: NetworkLandscape, theta: torch.Tensor, v: torch.Tensor, *, batch_size: int,
                  term: str = "hessian", idx=None, reduction: str | None = None) -> torch.Tensor:
    """One product ``A v`` accumulated over chunks of ``batch_size`` examples (see :func:`minibatch_operator`).

    Args:
        landscape: a :class:`~lsl.network.NetworkLandscape`.
        theta: the point ``[D]``.
        v: one vector ``[D]`` or a batch ``[K, D]``.
        batch_size: examples per chunk.
        term: ``"hessian"``, ``"gauss_newton"`` or ``"rest"``.
        idx: optional indices of the examples to use.
        reduction: ``"mean"`` or ``"sum"`` (see :func:`minibatch_operator`).

    Returns:
        ``A v`` with the shape of ``v``.
    """
    v = landscape.check_theta(v, "v")
    return minibatch_operator(landscape, theta, batch_size=batch_size, term=term, idx=idx, reduction=reduction)(v)


def hvp_over_batches(landscape: NetworkLandscape, theta: torch.Tensor, v: torch.Tensor,
                     batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *, reduction: str | None = None) -> torch.Tensor:
    """The Hessian-vector product of the landscape's network and loss over data supplied in batches.

    For data that are not held by the landscape at all (read from disk, a
    ``DataLoader``): ``batches`` yields ``(x, y)`` pairs, each is moved to the
    landscape's device, used for one forward-over-reverse product and dropped.
    For a mean loss the result is ``sum_b n_b H_b v / sum_b n_b`` (the Hessian of
    the mean over all examples seen), for a summed loss ``sum_b H_b v``.

    Args:
        landscape: a :class:`~lsl.network.NetworkLandscape` (its model and loss are used, not its data).
        theta: the point ``[D]``.
        v: one vector ``[D]`` or a batch ``[K, D]``.
        batches: an iterable of ``(inputs, integer labels)``.
        reduction: ``"mean"`` or ``"sum"`` (inferred for the built-in losses).

    Returns:
        ``H v`` with the shape of ``v``.

    Raises:
        ValueError: if ``batches`` yields nothing or a batch is malformed.
    """
    if not isinstance(landscape, NetworkLandscape):
        raise TypeError(f"hvp_over_batches needs a NetworkLandscape, got {type(landscape).__name__}")
    theta = _check_point(landscape, theta, "the operator is taken")
    v = landscape.check_theta(v, "v")
    red = _mean_reduction(landscape, reduction)
    total, n = None, 0
    for b, batch in enumerate(batches):
        try:
            x, y = batch
        except (TypeError, ValueError):
            raise ValueError(f"batch {b} is not an (inputs, labels) pair") from None
        if x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(f"batch {b}: inputs and labels must be non-empty and agree in length "
                             f"({x.shape[0]} vs {y.shape[0]})")
        x = x.to(landscape.device, dtype=landscape.dtype if x.is_floating_point() else x.dtype)
        y = y.to(landscape.device).long()
        g = grad(lambda t, x=x, y=y: landscape.loss_on(t, x, y))

        def one(vec, g=g):
            return jvp(g, (theta,), (vec,))[1]

        chunk = None if v.dim() == 1 else batching.vmap_chunk_size(landscape.device, x.shape[0], landscape.D, v.shape[0],
                                                                  chunk_size=landscape.chunk_size)
        hv = (one(v) if v.dim() == 1 else vmap(one, chunk_size=chunk)(v)).detach()
        w = float(x.shape[0]) if red == "mean" else 1.0
        total = hv * w if total is None else total + hv * w
        n += int(x.shape[0])
    if total is None:
        raise ValueError("batches yielded no data")
    return total / n if red == "mean" else total
