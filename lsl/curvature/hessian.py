"""Curvature of a landscape: the Hessian and its Gauss-Newton split as operators, and their top eigenvalues.

Everything here is a function of a :class:`~lsl.landscape.Landscape` and a
point ``theta`` ``[D]``, and touches the Hessian only through
Hessian-vector products, so it runs unchanged on the toy wedge model and on
a network (the exact Hessian, :func:`exact_hessian`, is there for small ``D``
and for tests).

- :func:`curvature_operator` -- the map ``v -> A v`` for ``A`` the Hessian
  ``H``, its Gauss-Newton term ``G`` or the rest ``H - G`` at ``theta``: the
  one door through which every spectral computation of lsl reaches the
  curvature of a landscape.
- :func:`gauss_newton_vp`, :func:`residual_vp` -- the split ``H = G + H_rest``
  of Fort & Ganguli (2019) and Papyan (2019), see below.
- :func:`top_eigenvalues` -- the algebraically largest eigenvalues (and
  eigenvectors) of the Hessian, with their multiplicities, to a residual
  tolerance (block Lanczos; repeated eigenvalues are certified or warned
  about with a :class:`~lsl.curvature.lanczos.MultiplicityWarning`).
- :func:`layer_spectra` -- spectra of the diagonal Hessian blocks of each
  parameter tensor or module.
- :func:`exact_hessian` -- the ``[D, D]`` matrix, from batched HVPs.

Built on these operators, in modules of their own: the Krylov iterations,
which see only a matrix-vector product, in :mod:`lsl.curvature.lanczos`; the eigenvalue
density, the outliers and gradient confinement in :mod:`lsl.curvature.spectrum`; short
directions in :mod:`lsl.curvature.short_directions`; SciPy operators, traces and
minibatch products in :mod:`lsl.curvature.linear_operators`. The names they took from this
module (``lanczos``, ``spectral_density``, ``count_short_directions``,
``subspace_fraction``, ``as_linear_operator``, ...) can still be imported from
``lsl.curvature.hessian``; they are documented where they are defined.

**The Gauss-Newton split.** For a network with logits ``z_i = f(x_i; theta)``
(``C`` classes, ``N`` examples) and a loss ``L = sum_i l(z_i, y_i)`` that
depends on ``theta`` only through the logits, the chain rule gives

.. math::

   H = \\underbrace{\\sum_i J_i^\\top \\, \\nabla_z^2 l_i \\, J_i}_{G}
     + \\underbrace{\\sum_i \\sum_c \\frac{\\partial l_i}{\\partial z_{ic}}
       \\nabla_\\theta^2 z_{ic}}_{H_\\text{rest}},

with ``J_i = dz_i/dtheta`` the ``C x D`` logit Jacobian. ``G`` is the
Gauss-Newton term (for softmax cross-entropy also the Fisher information
matrix): with the mean cross-entropy ``nabla_z^2 l_i = (diag(p_i) - p_i
p_i^T) / N``, so ``G`` is positive semi-definite. ``H_rest`` carries the
curvature of the logits themselves, weighted by the residuals ``(p_i -
y_i) / N``. ``term="gauss_newton"`` selects ``G``, ``term="rest"`` the rest
``H_rest = H - G``, and ``term="hessian"`` (the default) the whole Hessian ``H``: one vocabulary
(:data:`TERMS`) in every function of :mod:`lsl.curvature`.

**Evaluation mode.** A :class:`~lsl.network.NetworkLandscape` evaluates its
model in ``eval`` mode: dropout is off and batch normalisation uses its stored
running statistics, which do not depend on ``theta``. All spectra here are of
that deterministic function of ``theta`` (not of the training-mode loss, in
which batch statistics couple the examples).

**Precision.** The Lanczos vectors, the tridiagonal matrices and the
re-orthogonalisation are kept in float64 whatever the landscape's precision;
vectors are cast to the landscape's dtype for each Hessian-vector product and
back. Results are returned in the landscape's dtype.
"""

from __future__ import annotations


import torch
from torch.func import jvp, vjp, vmap

from lsl import batching
from lsl.landscape import Landscape
from lsl.network import NetworkLandscape
from lsl.curvature.lanczos import Matvec, _top_k_operator
from lsl.curvature.matrix_free import SymmetricOperator


__all__ = [
    "curvature_operator",
    "gauss_newton_vp",
    "residual_vp",
    "top_eigenvalues",
    "layer_spectra",
    "exact_hessian",
    "TERMS",
]

#: The Hessian terms that can be selected with ``term=``: the whole Hessian, the
#: Gauss-Newton term ``G`` and the rest ``H_rest = H - G``.
TERMS: tuple[str, ...] = ("hessian", "gauss_newton", "rest")
#: Names used before, refused with the new one (``term="H"`` meant ``H - G``, not the Hessian).
_OLD_TERMS = {"full": "hessian", "G": "gauss_newton", "gn": "gauss_newton", "H": "rest"}

_TERM_NAMES = {"hessian": "Hessian", "gauss_newton": "Gauss-Newton term G", "rest": "H - G"}

#: Largest ``D`` for which :func:`exact_hessian` builds the matrix.
MAX_EXACT_D = 20_000


# ---------------------------------------------------------------------------
# operators


def _check_term(term: str) -> str:
    if term in TERMS:
        return term
    if isinstance(term, str) and term in _OLD_TERMS:
        new = _OLD_TERMS[term]
        raise ValueError(f"term={term!r} is an old name: write term={new!r} (the {_TERM_NAMES[new]}); "
                         f"the terms are {', '.join(map(repr, TERMS))}")
    raise ValueError(f"unknown term {term!r}; choose 'hessian' (the whole Hessian H), 'gauss_newton' "
                     f"(the Gauss-Newton term G) or 'rest' (H - G)")


def _check_point(landscape: Landscape, theta: torch.Tensor, what: str = "curvature is computed") -> torch.Tensor:
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be an lsl Landscape, got {type(landscape).__name__}")
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError(f"{what} at one point theta of shape [D]; got shape {tuple(theta.shape)}")
    return theta.detach()


def _output_hessian(landscape: Landscape) -> str:
    """The name of a supported loss (whose Hessian in the logits is known), or raise."""
    if not isinstance(landscape, NetworkLandscape):
        raise NotImplementedError(
            f"the Gauss-Newton term needs a network with logits; {type(landscape).__name__} has none "
            f"(use term='hessian')"
        )
    name = landscape.builtin_loss
    if name is None:
        raise NotImplementedError(
            "the Gauss-Newton term is implemented for the built-in losses 'cross_entropy' and 'mse' only; "
            "this landscape's loss is a custom callable"
        )
    return name


def gauss_newton_vp(
    landscape: NetworkLandscape, theta: torch.Tensor, v: torch.Tensor, *, idx=None
) -> torch.Tensor:
    """Gauss-Newton-vector product ``G v`` of a network landscape (no per-example loops).

    ``G = sum_i J_i^T (d^2 l_i / dz_i^2) J_i`` with ``J_i`` the logit Jacobian of
    example ``i`` (see the module docstring). For the mean softmax cross-entropy
    ``d^2 l_i / dz_i^2 = (diag(p_i) - p_i p_i^T) / N``; for ``"mse"`` (the mean
    of squared errors against one-hot targets over all ``N C`` entries) it is
    ``2 I / (N C)``. Computed as a forward-mode ``J v`` (``torch.func.jvp``),
    the output Hessian applied in logit space, and a reverse-mode ``J^T u``
    (``torch.func.vjp``).

    Args:
        landscape: a :class:`~lsl.network.NetworkLandscape` with the loss
            ``"cross_entropy"`` or ``"mse"``.
        theta: the point ``[D]``.
        v: one vector ``[D]`` or a batch ``[K, D]`` (vectorised with ``vmap``).
        idx: optional indices of a subset of the training examples (``N`` is then
            the subset's size).

    Returns:
        ``G v`` with the shape of ``v``.

    Raises:
        NotImplementedError: for the toy model, for a custom loss callable, or for
            a model whose logits are not ``[N, C]``.
    """
    v = landscape.check_theta(v, "v")
    return _gauss_newton_map(landscape, theta, idx)(v)


def _gauss_newton_map(landscape: NetworkLandscape, theta: torch.Tensor, idx=None) -> Matvec:
    """``v -> G v`` with the forward pass and its reverse-mode closure computed once."""
    name = _output_hessian(landscape)
    theta = _check_point(landscape, theta)
    x, _ = landscape.data(idx)

    def f(t: torch.Tensor) -> torch.Tensor:
        return landscape.forward(t, x)

    z, vjp_fn = vjp(f, theta)
    if z.dim() != 2:
        raise NotImplementedError(f"the Gauss-Newton term expects logits of shape [N, C]; got {tuple(z.shape)}")
    n, c = z.shape
    p = torch.softmax(z.detach(), dim=-1) if name == "cross_entropy" else None

    def one(vec: torch.Tensor) -> torch.Tensor:
        jv = jvp(f, (theta,), (vec,))[1]
        if p is None:
            u = jv * (2.0 / (n * c))
        else:
            u = (p * jv - p * (p * jv).sum(-1, keepdim=True)) / n
        return vjp_fn(u)[0]

    def matvec(v: torch.Tensor) -> torch.Tensor:
        if v.dim() == 1:
            return one(v).detach()
        chunk = batching.vmap_chunk_size(landscape.device, n, landscape.D, v.shape[0], chunk_size=landscape.chunk_size)
        return vmap(one, chunk_size=chunk)(v).detach()

    return matvec


def residual_vp(landscape: NetworkLandscape, theta: torch.Tensor, v: torch.Tensor, *, idx=None) -> torch.Tensor:
    """The rest of the Hessian beyond Gauss-Newton, ``H_rest v = H v - G v``.

    Args:
        landscape: a :class:`~lsl.network.NetworkLandscape` (see :func:`gauss_newton_vp`).
        theta: the point ``[D]``.
        v: one vector ``[D]`` or a batch ``[K, D]``.
        idx: optional indices of a subset of the training examples.

    Returns:
        ``H_rest v`` with the shape of ``v``.
    """
    g = gauss_newton_vp(landscape, theta, v, idx=idx)
    kw = {} if idx is None else {"idx": idx}
    return landscape.hvp(_check_point(landscape, theta), landscape.check_theta(v, "v"), **kw).detach() - g


def _hessian_map(landscape: Landscape, theta: torch.Tensor, kw: dict) -> Matvec:
    """``v -> H v``: single vectors by reverse-over-reverse products through a gradient graph built once
    (about twice as fast as recomputing the forward pass for each product); batches ``[K, D]`` by the
    landscape's own vectorised :meth:`~lsl.landscape.Landscape.hvp`."""
    cache: dict = {}

    def matvec(v: torch.Tensor) -> torch.Tensor:
        if v.dim() != 1:
            return landscape.hvp(theta, v, **kw).detach()
        if not cache:
            t = theta.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(landscape.loss(t, **kw), t, create_graph=True)
            cache["t"], cache["g"] = t, g
        if not cache["g"].requires_grad:  # the loss is linear in theta: H = 0
            return torch.zeros_like(v)
        (hv,) = torch.autograd.grad(cache["g"], cache["t"], grad_outputs=v, retain_graph=True, allow_unused=True)
        return torch.zeros_like(v) if hv is None else hv.detach()

    return matvec


def _by_hand(landscape: Landscape, theta: torch.Tensor, idx) -> Matvec | None:
    """For a layer stack with a built-in loss, products with the curvature written out
    (:class:`lsl.stack.StackCurvature`), or ``None`` where autograd is needed.

    The forward and backward pass at ``theta`` are computed on the first product and kept; each
    block of vectors then costs a few matrix products per layer, with no autograd graph. Blocks
    are split as the evaluation policy allows (:mod:`lsl.batching`).
    """
    if not isinstance(landscape, NetworkLandscape) or type(landscape).hvp is not NetworkLandscape.hvp:
        return None  # a subclass that defines its own products keeps them
    stack, name = landscape.stack, landscape.builtin_loss
    if stack is None or not stack.curves(name) or landscape.dtype not in (torch.float32, torch.float64):
        return None
    if idx is not None and torch.as_tensor(idx).dim() != 1:
        return None
    cache: dict = {}

    def product(v: torch.Tensor, term: str) -> torch.Tensor:
        if not cache:
            x, y = landscape.data(idx)
            cache["c"] = stack.curvature(theta, x, y, name)
        c = cache["c"]
        if v.dim() == 1:
            return c(v, term=term)
        step = landscape._points_per_call(c.n, v.shape[0])
        return torch.cat([c(part, term=term) for part in v.split(step)])

    return product


def curvature_operator(landscape: Landscape, theta: torch.Tensor, *, term: str = "hessian",
                       idx=None) -> SymmetricOperator:
    """The map ``v -> A v`` for ``A`` the Hessian (or one of its terms) at ``theta``, as an operator.

    The returned :class:`~lsl.curvature.matrix_free.SymmetricOperator` (``dim = D``, the
    landscape's dtype and device) is called like a function and accepts ``[D]`` or ``[K, D]`` vectors of any floating
    dtype, evaluates in the landscape's dtype and returns the input's dtype.
    What does not depend on ``v`` (the gradient graph for single Hessian-vector
    products, the logits and their reverse-mode closure for ``G``) is computed
    once, on the first call, and kept while the function lives. For a layer stack
    (:class:`lsl.stack.LayerStack`) with a built-in loss, the products are written out by hand
    (:class:`lsl.stack.StackCurvature`: the forward and backward pass at ``theta`` once, then a
    few matrix products per layer for a whole block of vectors); other networks and the toy model
    use autograd (forward-over-reverse ``jvp`` of ``grad``, vectorised with ``vmap``). Both give the
    same products up to rounding.

    Args:
        landscape: any landscape (``"gauss_newton"`` and ``"rest"`` need a network).
        theta: the point ``[D]``.
        term: ``"hessian"``, ``"gauss_newton"`` (G) or ``"rest"`` (``H - G``).
        idx: optional indices of a subset of the training examples.

    Returns:
        The operator; ``.block(index)``, ``.restrict(basis)`` and ``.dense()`` give a block of
        parameters, the restriction to a plane and the matrix (small ``D``).
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    if term != "hessian":
        _output_hessian(landscape)
    kw = {} if idx is None else {"idx": idx}
    hand = _by_hand(landscape, theta, idx)
    hess = _hessian_map(landscape, theta, kw) if term != "gauss_newton" and hand is None else None
    gn = _gauss_newton_map(landscape, theta, idx) if term != "hessian" and hand is None else None

    def matvec(v: torch.Tensor) -> torch.Tensor:
        u = v.to(device=landscape.device, dtype=landscape.dtype)
        if hand is not None:
            out = hand(u, term)
        elif term == "hessian":
            out = hess(u)
        elif term == "gauss_newton":
            out = gn(u)
        else:
            out = hess(u) - gn(u)
        return out.detach().to(dtype=v.dtype, device=v.device)

    return SymmetricOperator(matvec, landscape.D, landscape.dtype, landscape.device, _TERM_NAMES[term])


# ---------------------------------------------------------------------------
# the top of the spectrum


def top_eigenvalues(
    landscape: Landscape,
    theta: torch.Tensor,
    k: int,
    *,
    eigenvectors: bool = False,
    tol: float = 1e-6,
    max_steps: int | None = None,
    seed: int = 0,
    term: str = "hessian",
    idx=None,
    block_size: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` algebraically largest eigenvalues of the Hessian (or of one of its terms) at ``theta``.

    Block Lanczos with full re-orthogonalisation from a seeded random block of
    ``block_size`` vectors (default 2), grown one block of Hessian-vector
    products at a time until the residual norm of each of the top ``k`` Ritz
    pairs is below ``tol * ||A||`` (``||A||`` estimated by the largest
    ``|Ritz value|``), or until the Krylov space is all of ``R^D`` (then the
    result is exact). Eigenvalue errors are of the order of the squared
    residual divided by the gap to the rest of the spectrum, so they are
    usually far below ``tol``.

    **Multiplicities.** The eigenvalues are returned with their multiplicity:
    an eigenvalue of multiplicity ``mult`` appears ``mult`` times (as far as
    the top ``k`` reach). A Krylov method started from ``p`` vectors finds
    ``min(mult, p)`` copies of a repeated eigenvalue, so the answer is
    certified: if a cluster of equal Ritz values (within ``2 tol ||A||``) that
    ends inside the top ``k`` has as many members as the block has vectors,
    the iteration starts again with a block of ``max(2 p, size + 1)`` vectors;
    if that block does not fit into ``max_steps`` (or the iteration did not
    converge), a :class:`~lsl.curvature.lanczos.MultiplicityWarning` says so. Lost directions at a
    breakdown (an invariant subspace, as on the toy model, whose Hessian has
    two distinct eigenvalues) are replaced by random vectors orthogonal to
    the basis, so the space keeps growing. As with any Krylov method, an
    eigenvector almost orthogonal to every start vector can be missed; a
    different ``seed`` is a check.

    For a network the Hessian is that of the eval-mode loss (dropout off,
    batch norm with its fixed running statistics; see the module docstring).

    Args:
        landscape: the toy model or a network landscape.
        theta: the point ``[D]``.
        k: how many eigenvalues, ``1 <= k <= D``.
        eigenvectors: also return the orthonormal eigenvectors.
        tol: residual tolerance, relative to ``||A||``.
        max_steps: the largest Krylov dimension (default ``D``); a
            ``RuntimeWarning`` is raised if it is reached before convergence.
        seed: seed of the random start vectors.
        term: ``"hessian"``, ``"gauss_newton"`` (G) or ``"rest"`` (the
            rest, ``H - G``); see the module docstring.
        idx: optional indices of a subset of the training examples.
        block_size: the first block size (default :data:`~lsl.curvature.lanczos.DEFAULT_BLOCK` = 2); a larger
            one saves restarts when the top eigenvalue is known to be highly degenerate.

    Returns:
        The eigenvalues ``[k]`` in descending order, or ``(values, vectors)`` with
        ``vectors`` ``[k, D]`` (row ``i`` belongs to ``values[i]``; the sign is
        fixed so that its largest-magnitude entry is positive), in the
        landscape's dtype and on its device.

    Raises:
        ValueError: for ``k`` outside ``[1, D]``, an unknown ``term`` or a batch of points.

    Warns:
        RuntimeWarning: if the residuals are not below ``tol`` within ``max_steps``.
        MultiplicityWarning: if a repeated eigenvalue could have more copies than were found.
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    return _top_k_operator(matvec, landscape.D, k, eigenvectors=eigenvectors, tol=tol, max_steps=max_steps,
                           seed=seed, device=landscape.device, out_dtype=landscape.dtype,
                           block_size=block_size)


def exact_hessian(
    landscape: Landscape,
    theta: torch.Tensor,
    *,
    term: str = "hessian",
    idx=None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """The exact ``[D, D]`` Hessian (or one of its terms), from batched Hessian-vector products.

    The identity is multiplied in chunks of ``chunk_size`` columns (each chunk a batch of
    Hessian-vector products, vectorised as the evaluation policy of :mod:`lsl.batching` allows);
    the result is symmetrised, ``(A + A^T) / 2``.

    Args:
        landscape: any landscape, with ``D <= 20000``.
        theta: the point ``[D]``.
        term: ``"hessian"``, ``"gauss_newton"`` (G) or ``"rest"`` (``H - G``).
        idx: optional indices of a subset of the training examples.
        chunk_size: how many columns of the identity to multiply at once (bounds memory; ``None``:
            as many as the device's budget of parameter values allows, :func:`lsl.batching.points_per_batch`).

    Returns:
        The symmetric matrix ``[D, D]`` in the landscape's dtype.

    Raises:
        ValueError: if ``D > 20000`` (use :func:`top_eigenvalues` or :func:`~lsl.curvature.spectrum.spectral_density`).
    """
    _check_term(term)
    theta = _check_point(landscape, theta)
    D = landscape.D
    if D > MAX_EXACT_D:
        raise ValueError(
            f"the exact Hessian of D={D} parameters would hold {D * D:.3g} entries (limit D <= {MAX_EXACT_D}); "
            f"use top_eigenvalues, layer_spectra or spectral_density, which need only Hessian-vector products"
        )
    if chunk_size is None:
        chunk_size = batching.points_per_batch(landscape.device, D, D)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    H = torch.empty(D, D, dtype=landscape.dtype, device=landscape.device)
    for start in range(0, D, chunk_size):
        stop = min(D, start + chunk_size)
        E = torch.zeros(stop - start, D, dtype=landscape.dtype, device=landscape.device)
        E[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
        H[start:stop] = matvec(E)
    return (H + H.T) / 2


# ---------------------------------------------------------------------------
# per-layer spectra


def _groups(landscape: NetworkLandscape, by: str) -> dict[str, list]:
    if by not in ("parameter", "module"):
        raise ValueError(f"by must be 'parameter' or 'module', got {by!r}")
    groups: dict[str, list] = {}
    for slot in landscape.view.slots:
        key = slot.name if by == "parameter" else (slot.name.rpartition(".")[0] or slot.name)
        groups.setdefault(key, []).append(slot)
    return groups


def layer_spectra(
    landscape: NetworkLandscape,
    theta: torch.Tensor,
    k: int,
    *,
    by: str = "parameter",
    tol: float = 1e-6,
    max_steps: int | None = None,
    seed: int = 0,
    term: str = "hessian",
    idx=None,
    block_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Top eigenvalues of the diagonal Hessian block of each parameter tensor (or module).

    For a block ``b`` of coordinates, ``H[b, b]`` (:meth:`~lsl.curvature.matrix_free.SymmetricOperator.block`)
    is applied by embedding a block vector into ``D`` zeros, taking a Hessian-vector product and
    keeping the block's entries; its top eigenvalues come from the same Lanczos iteration as
    :func:`top_eigenvalues`. These are the curvatures of the loss when only
    that layer moves.

    Args:
        landscape: a network landscape (its :class:`~lsl.landscape.FlatView` names the blocks).
        theta: the point ``[D]``.
        k: eigenvalues per block (fewer for a block with fewer than ``k`` entries).
        by: ``"parameter"`` (one block per parameter tensor, e.g. ``"1.weight"``)
            or ``"module"`` (a module's parameters together, e.g. ``"1"`` for its
            weight and bias).
        tol: residual tolerance.
        max_steps: the largest Krylov dimension per block.
        seed: seed of the random start vectors.
        term: ``"hessian"``, ``"gauss_newton"`` or ``"rest"``.
        idx: optional indices of a subset of the training examples.
        block_size: the first block size of the block Lanczos iteration (see :func:`top_eigenvalues`).

    Returns:
        ``{name: eigenvalues}`` in flat-vector order, each descending.
    """
    if not isinstance(landscape, NetworkLandscape):
        raise TypeError(f"layer_spectra needs a NetworkLandscape (with named parameters), got {type(landscape).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _check_term(term)
    theta = _check_point(landscape, theta)
    matvec = curvature_operator(landscape, theta, term=term, idx=idx)
    out: dict[str, torch.Tensor] = {}
    for name, slots in _groups(landscape, by).items():
        block = matvec.block(torch.cat([torch.arange(s.start, s.stop) for s in slots]), name=f"block {name!r}")
        d = block.dim
        out[name] = _top_k_operator(block, d, min(k, d), eigenvectors=False, tol=tol, max_steps=max_steps,
                                    seed=seed, device=landscape.device, out_dtype=landscape.dtype,
                                    what=f"the block {name!r}", block_size=block_size)
    return out
