"""Loss planes through one point along chosen directions, and grids saved to and loaded from ``.npz``.

:func:`loss_plane` draws the plane through three points (as Fort & Jastrzebski's Figure 2
does). The loss-landscape literature also draws planes through one point ``theta`` along two
*directions*, ``theta + alpha d_1 + beta d_2``, and three choices of
directions are standard:

- :func:`filter_normalized_directions` -- random directions, each filter
  rescaled to the norm of the corresponding filter of ``theta`` (Li, Xu,
  Taylor, Studer & Goldstein 2018, Section 4). For networks with batch
  normalisation or ReLUs the loss is invariant to rescaling a layer's
  filters; filter normalisation makes the picture invariant too, so planes of
  different networks can be compared. Pick it to compare sharpness across
  networks.
- :func:`hessian_directions` -- the top two Hessian eigenvectors (unit
  vectors): the plane of the steepest curvature. Pick it to see the most
  curved cross-section and to read the top eigenvalues off a picture.
- :func:`trajectory_directions` -- the top two principal directions of a
  training trajectory (Li et al. 2018, Section 7): PCA of the snapshots'
  displacements from the final point. Pick it to draw the optimiser's path
  on the landscape; the explained variance says how much of the path the
  plane holds.

:func:`direction_plane` evaluates any such plane (as one batched call per
chunk, like :func:`loss_plane`) and returns a :class:`DirectionPlane`,
a :class:`LossPlane` that also records how its directions were
chosen. :func:`save_plane` and :func:`load_plane` write and read any
``LossPlane`` (from either function) to and from a ``.npz`` file.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lsl import seeds
from lsl import batching
from lsl.landscape import Landscape
from lsl.network import NetworkLandscape

__all__ = [
    "loss_plane",
    "LossPlane",
    "filter_normalized_directions",
    "hessian_directions",
    "trajectory_directions",
    "TrajectoryPCA",
    "direction_plane",
    "DirectionPlane",
    "save_plane",
    "load_plane",
    "rescaled_point",
    "rescalable",
]


# ---------------------------------------------------------------------------
# The loss on a 2-D plane through three points


@dataclass(frozen=True)
class LossPlane:
    """The loss on an ``n x n`` grid of the plane through three points (see :func:`loss_plane`).

    The plane is ``origin + x e_1 + y e_2`` with ``origin = a`` and ``(e_1, e_2)`` the
    Gram-Schmidt orthonormalisation of ``b - a`` and ``c - a``, so ``a`` sits at ``(0, 0)``
    and ``b`` on the positive ``x`` axis.

    ``u``, ``v``, ``loss`` and ``accuracy`` are on the CPU; ``anchors``, ``basis`` and ``origin`` on the
    landscape's device (on the device given to :func:`load_plane` for a plane read from a file).

    Attributes:
        u: grid coordinates along ``e_1`` ``[n]``.
        v: grid coordinates along ``e_2`` ``[n]``.
        loss: ``loss[i, j]`` is the loss at ``point(u[j], v[i])`` ``[n, n]`` (rows follow ``v``,
            so ``plt.contourf(u, v, loss)`` draws the plane with ``x`` horizontal).
        accuracy: the accuracy on the same grid ``[n, n]``, or ``None`` when not requested.
        anchors: the plane coordinates of ``a``, ``b`` and ``c`` ``[3, 2]`` (rows in that order).
        basis: the orthonormal basis ``(e_1, e_2)`` as rows ``[2, D]`` (``None`` for a plane saved without
            its directions, :func:`lsl.probes.planes.save_plane`).
        origin: the point at coordinates ``(0, 0)``, i.e. ``a`` ``[D]`` (``None`` like ``basis``).
        split: the split on which ``accuracy`` was measured, or ``None``.
    """

    u: torch.Tensor
    v: torch.Tensor
    loss: torch.Tensor
    accuracy: torch.Tensor | None
    anchors: torch.Tensor
    basis: torch.Tensor
    origin: torch.Tensor
    split: str | None = None

    def coords(self, theta: torch.Tensor) -> torch.Tensor:
        """The plane coordinates ``(x, y)`` of the orthogonal projection of points onto the plane.

        Args:
            theta: one point ``[D]`` or a batch ``[B, D]``.

        Returns:
            ``[2]`` or ``[B, 2]``.
        """
        if theta.shape[-1] != self.basis.shape[1] or theta.dim() not in (1, 2):
            raise ValueError(f"theta must have shape [D] or [B, D] with D={self.basis.shape[1]}; got {tuple(theta.shape)}")
        theta = theta.to(device=self.basis.device, dtype=self.basis.dtype)
        return (theta - self.origin) @ self.basis.T

    def point(self, x: float | torch.Tensor, y: float | torch.Tensor) -> torch.Tensor:
        """The point ``origin + x e_1 + y e_2`` of the full space.

        Args:
            x: coordinate along ``e_1`` (a number, or a tensor ``[B]``).
            y: coordinate along ``e_2`` (same shape as ``x``).

        Returns:
            ``[D]`` for numbers, ``[B, D]`` for tensors ``[B]``.
        """
        xy = torch.stack(torch.broadcast_tensors(torch.as_tensor(x, dtype=self.basis.dtype, device=self.basis.device),
                                                 torch.as_tensor(y, dtype=self.basis.dtype, device=self.basis.device)), -1)
        return self.origin + xy @ self.basis


def loss_plane(
    landscape: Landscape,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    *,
    n: int = 51,
    margin: float = 0.2,
    split: str | None = None,
    max_elements: int | None = None,
) -> LossPlane:
    """The loss (and optionally accuracy) on the 2-D plane through three points.

    The grid spans the bounding box of the three points in the plane's coordinates,
    extended on every side by ``margin`` times the box's extent along that axis. The
    ``n * n`` grid points are evaluated as a few large batches (sized by the evaluation
    policy, :mod:`lsl.batching`), never one point at a time.

    Args:
        landscape: the landscape.
        a: the first point ``[D]``, the plane's origin.
        b: the second point ``[D]``, on the positive ``x`` axis.
        c: the third point ``[D]``, not on the line through ``a`` and ``b``.
        n: grid points per axis (``n >= 2``).
        margin: relative extension of the grid beyond the points (``>= 0``).
        split: if given (``"train"`` or ``"test"``), also measure the landscape's
            ``accuracy`` on that split at every grid point (needs a landscape with
            an ``accuracy`` method, e.g. :class:`~lsl.network.NetworkLandscape`).
        max_elements: bound on the number of parameter values materialised at once (``None``: the
            device's budget, :func:`lsl.batching.points_per_batch`).

    Returns:
        a :class:`LossPlane`.

    Raises:
        ValueError: if a point is not one vector ``[D]``, the points are collinear,
            ``n < 2``, ``margin < 0``, or ``split`` is given for a landscape without accuracy.
    """
    pts = []
    for name, p in (("a", a), ("b", b), ("c", c)):
        p = landscape.check_theta(p, name)
        if p.dim() != 1:
            raise ValueError(f"{name} must be a single point [D] with D={landscape.D}; got shape {tuple(p.shape)}")
        pts.append(p)
    a, b, c = pts
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if split is not None and not hasattr(landscape, "accuracy"):
        raise ValueError(f"split={split!r} asks for accuracy, but {type(landscape).__name__} has no accuracy method")
    # Gram-Schmidt in float64 for a clean basis, then back to the landscape's precision.
    d1, d2 = (b - a).double(), (c - a).double()
    n1 = d1.norm()
    if float(n1) == 0.0:
        raise ValueError("a and b are the same point: three distinct, non-collinear points span a plane")
    e1 = d1 / n1
    r2 = d2 - (d2 @ e1) * e1
    scale = max(float(n1), float(d2.norm()))
    if float(r2.norm()) <= 1e-6 * scale:
        raise ValueError("a, b and c are (numerically) collinear: they do not span a plane")
    e2 = r2 / r2.norm()
    basis64 = torch.stack([e1, e2])
    anchors = torch.stack([torch.zeros(2, dtype=torch.float64, device=d1.device), basis64 @ d1, basis64 @ d2])
    lo, hi = anchors.min(0).values, anchors.max(0).values
    ext = (hi - lo) * margin
    u = torch.linspace(float(lo[0] - ext[0]), float(hi[0] + ext[0]), n, dtype=torch.float64)
    v = torch.linspace(float(lo[1] - ext[1]), float(hi[1] + ext[1]), n, dtype=torch.float64)
    basis = basis64.to(dtype=landscape.dtype)
    # Grid point (row i, column j) is at (u[j], v[i]).
    xy = torch.stack(torch.meshgrid(v, u, indexing="ij")[::-1], -1).reshape(-1, 2)
    xy = xy.to(device=landscape.device, dtype=landscape.dtype)
    per_chunk = batching.points_per_batch(landscape.device, landscape.D, xy.shape[0], max_elements=max_elements)
    accs = []
    with torch.no_grad():
        loss = landscape.loss_affine(a, basis, xy, max_elements=max_elements).view(n, n).cpu()
        if split is not None:
            accs = [landscape.accuracy(a + chunk @ basis, split) for chunk in xy.split(per_chunk)]
    acc = torch.cat(accs).view(n, n).cpu() if split is not None else None
    dt = landscape.dtype
    return LossPlane(u.to(dt), v.to(dt), loss, acc, anchors.to(device=landscape.device, dtype=dt), basis, a.detach(), split)

_BIAS = ("zero", "copy")


def filter_normalized_directions(landscape: NetworkLandscape, theta: torch.Tensor, k: int = 2, *, seed: int = 0,
                                 bias: str = "zero") -> torch.Tensor:
    """``k`` random directions normalised filter by filter (Li et al. 2018).

    A Gaussian direction ``d`` is drawn for every parameter; then for every
    parameter tensor with two or more dimensions (a linear layer's weight
    ``[out, in]``, a convolution's ``[out, in, *kernel]``), each *filter* --
    the slice belonging to one output unit or channel, ``d[i]`` -- is
    rescaled to the norm of the same filter of ``theta``:
    ``d[i] <- d[i] / ||d[i]|| * ||theta[i]||``. A filter whose weights are all
    zero gets a zero direction. One-dimensional parameters (biases, batch-norm
    scales and shifts) are handled as in Li et al.'s code: ``bias="zero"``
    sets the direction to zero there (their ``ignore='biasbn'``, the usual
    choice), ``bias="copy"`` sets it to the parameter itself (their default).

    Args:
        landscape: a :class:`~lsl.network.NetworkLandscape` (its flat view names the filters).
        theta: the point ``[D]``.
        k: how many directions.
        seed: seed of the Gaussian draws.
        bias: ``"zero"`` or ``"copy"`` for one-dimensional parameters.

    Returns:
        The directions ``[k, D]`` in the landscape's dtype (not orthogonal, not unit length).
    """
    if not isinstance(landscape, NetworkLandscape):
        raise TypeError(f"filter normalisation needs a NetworkLandscape (named parameters), got {type(landscape).__name__}")
    if bias not in _BIAS:
        raise ValueError(f"bias must be 'zero' (Li et al.'s ignore='biasbn') or 'copy', got {bias!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    theta = _one_point(landscape, theta).double()
    gen = torch.Generator().manual_seed(seeds.shifted(int(seed)))
    d = torch.randn(k, landscape.D, generator=gen, dtype=torch.float64).to(theta.device)
    for s in landscape.view.slots:
        block = d[:, s.start : s.stop]
        w = theta[s.start : s.stop]
        if len(s.shape) <= 1:
            block.copy_(w.expand_as(block) if bias == "copy" else torch.zeros_like(block))
            continue
        filt = block.reshape(k, s.shape[0], -1)
        wn = w.reshape(s.shape[0], -1).norm(dim=1)
        dn = filt.norm(dim=2)
        d[:, s.start : s.stop] = (filt * (wn / dn.clamp_min(1e-300))[..., None]).reshape(k, -1)
    return d.to(landscape.dtype)


def hessian_directions(landscape: Landscape, theta: torch.Tensor, k: int = 2, *, tol: float = 1e-4, seed: int = 0,
                       idx=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The top ``k`` Hessian eigenvectors at ``theta`` (unit vectors) and their eigenvalues.

    Computed by :func:`lsl.curvature.hessian.top_eigenvalues` (Lanczos).

    Args:
        landscape: any landscape.
        theta: the point ``[D]``.
        k: how many directions.
        tol: Lanczos residual tolerance.
        seed: Lanczos start-vector seed.
        idx: optional subset of the training examples.

    Returns:
        ``(directions [k, D], eigenvalues [k])``, descending.
    """
    from lsl.curvature.hessian import top_eigenvalues

    theta = _one_point(landscape, theta)
    vals, vecs = top_eigenvalues(landscape, theta, k, eigenvectors=True, tol=tol, seed=seed, idx=idx)
    return vecs, vals


@dataclass(frozen=True)
class TrajectoryPCA:
    """The principal directions of a trajectory (see :func:`trajectory_directions`).

    Every tensor is on the trajectory's device, in its dtype.

    Attributes:
        directions: the top two principal directions ``[2, D]`` (orthonormal rows).
        explained_variance: the fraction of the variance each explains ``[2]``.
        coords: the coordinates of every trajectory point in the plane through the
            final point spanned by ``directions`` ``[T, 2]`` (the final point is ``(0, 0)``).
        origin: the final point ``[D]``.
    """

    directions: torch.Tensor
    explained_variance: torch.Tensor
    coords: torch.Tensor
    origin: torch.Tensor


def trajectory_directions(trajectory: torch.Tensor, *, center: bool = True) -> TrajectoryPCA:
    """The top two principal directions of a training trajectory (Li et al. 2018, Section 7).

    With snapshots ``theta_0, ..., theta_n`` (``theta_n`` the final point) the
    matrix ``M = [theta_0 - theta_n; ...; theta_{n-1} - theta_n]`` is
    decomposed by an SVD. With ``center=True`` (the default, what Li et al.'s
    code does through scikit-learn's ``PCA``) the mean row is removed first;
    ``center=False`` uses ``M`` itself. The directions are the top two right
    singular vectors, with the sign chosen so that the first snapshot has
    non-negative coordinates; the explained variance is ``s_i^2 / sum_j s_j^2``.

    Args:
        trajectory: the snapshots ``[T, D]`` in training order, ``T >= 3``, the last one the final point.
        center: subtract the mean displacement before the SVD.

    Returns:
        A :class:`TrajectoryPCA`.
    """
    if not isinstance(trajectory, torch.Tensor) or trajectory.dim() != 2 or trajectory.shape[0] < 3:
        raise ValueError("trajectory must be a tensor [T, D] of T >= 3 snapshots in training order")
    traj = trajectory.detach().double()
    origin = traj[-1]
    M = traj[:-1] - origin
    if center:
        M = M - M.mean(0)
    _, s, Vh = torch.linalg.svd(M, full_matrices=False)
    var = s**2
    if float(var.sum()) == 0:
        raise ValueError("the trajectory does not move: all snapshots are equal")
    dirs = Vh[:2]
    first = (traj[0] - origin) @ dirs.T
    dirs = dirs * torch.where(first < 0, -1.0, 1.0).to(dirs.dtype)[:, None]
    coords = (traj - origin) @ dirs.T
    dt = trajectory.dtype
    return TrajectoryPCA(dirs.to(dt), (var[:2] / var.sum()).to(dt), coords.to(dt), trajectory[-1].detach())


@dataclass(frozen=True)
class DirectionPlane(LossPlane):
    """A :class:`~lsl.probes.planes.LossPlane` through ``origin`` along two chosen directions (see :func:`direction_plane`).

    Point ``(x, y)`` is ``origin + x d_1 + y d_2`` with ``basis = (d_1, d_2)``,
    which need not be orthonormal (filter-normalised directions are neither
    unit nor exactly orthogonal); :meth:`coords` then solves the least-squares
    problem. ``anchors`` are ``(0, 0)``, ``(1, 0)`` and ``(0, 1)``.

    ``u``, ``v``, ``loss`` and ``accuracy`` are on the CPU; ``anchors``, ``basis`` and ``origin`` on the
    landscape's device (on the device given to :func:`load_plane` for a plane read from a file).

    Attributes:
        u, v, loss, accuracy, split: as in :class:`~lsl.probes.planes.LossPlane` (coordinates in units of the
            directions).
        anchors: the plane coordinates of ``origin``, ``origin + d_1`` and ``origin + d_2`` ``[3, 2]``.
        basis: the directions ``(d_1, d_2)`` as rows ``[2, D]`` (``None`` for a plane saved without them).
        origin: the centre ``[D]``, at coordinates ``(0, 0)`` (``None`` like ``basis``).
        kind: how the directions were chosen: ``"filter-normalized"``, ``"hessian"``,
            ``"trajectory-pca"`` or ``"directions"`` (given by the caller).
        meta: JSON-able facts about the directions (seed, bias handling,
            eigenvalues, explained variance, trajectory coordinates, ...).
    """

    kind: str = "directions"
    meta: dict = field(default_factory=dict)

    def coords(self, theta: torch.Tensor) -> torch.Tensor:
        """The coordinates ``(x, y)`` of the point of the plane closest to ``theta`` (``[2]`` or ``[B, 2]``)."""
        if self.basis is None or self.origin is None:
            raise ValueError("this plane was saved without its directions (save_plane(..., directions=False))")
        if theta.shape[-1] != self.basis.shape[1] or theta.dim() not in (1, 2):
            raise ValueError(f"theta must have shape [D] or [B, D] with D={self.basis.shape[1]}; got {tuple(theta.shape)}")
        B = self.basis.double()
        rhs = (theta.to(B.device, torch.float64) - self.origin.double()) @ B.T
        out = torch.linalg.solve(B @ B.T, rhs.reshape(-1, 2).T).T
        return out.reshape(rhs.shape).to(self.basis.dtype)


def direction_plane(landscape: Landscape, theta: torch.Tensor, directions: torch.Tensor, *, n: int = 21,
                    span: float | tuple[float, float, float, float] = 1.0, split: str | None = None, idx=None,
                    kind: str = "directions", meta: dict | None = None,
                    max_elements: int | None = None) -> DirectionPlane:
    """The loss on the ``n x n`` grid ``theta + x d_1 + y d_2``.

    Args:
        landscape: the landscape.
        theta: the centre ``[D]`` (coordinates ``(0, 0)``).
        directions: ``[2, D]``, linearly independent.
        n: grid points per axis (``>= 2``).
        span: ``s`` for the square ``[-s, s]^2``, or ``(x_min, x_max, y_min, y_max)``, in units of the directions.
        split: also measure the accuracy on ``"train"`` or ``"test"``.
        idx: optional subset of the training examples for the loss (e.g. to keep a plane cheap).
        kind: recorded in the result (see :class:`DirectionPlane`).
        meta: recorded in the result.
        max_elements: bound on the number of parameter values materialised at once (``None``: the
            device's budget, :func:`lsl.batching.points_per_batch`).

    Returns:
        A :class:`DirectionPlane`; ``loss[i, j]`` is at ``(u[j], v[i])``.
    """
    theta = _one_point(landscape, theta)
    dirs = landscape.check_theta(directions, "directions")
    if dirs.dim() != 2 or dirs.shape[0] != 2:
        raise ValueError(f"directions must be two vectors [2, D]; got shape {tuple(dirs.shape)}")
    gram = dirs.double() @ dirs.double().T
    if float(torch.linalg.det(gram)) <= 1e-12 * float(gram[0, 0] * gram[1, 1]):
        raise ValueError("the two directions are (numerically) parallel or zero: they do not span a plane")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    box = (-float(span), float(span), -float(span), float(span)) if np.ndim(span) == 0 else tuple(map(float, span))
    if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
        raise ValueError(f"span must be a positive number or (x_min, x_max, y_min, y_max) with min < max; got {span!r}")
    if split is not None and not hasattr(landscape, "accuracy"):
        raise ValueError(f"split={split!r} asks for accuracy, but {type(landscape).__name__} has no accuracy method")
    u = torch.linspace(box[0], box[1], n, dtype=torch.float64)
    v = torch.linspace(box[2], box[3], n, dtype=torch.float64)
    xy = torch.stack(torch.meshgrid(v, u, indexing="ij")[::-1], -1).reshape(-1, 2)
    xy = xy.to(device=landscape.device, dtype=landscape.dtype)
    per_chunk = batching.points_per_batch(landscape.device, landscape.D, xy.shape[0], max_elements=max_elements)
    kw = {} if idx is None else {"idx": idx}
    accs = []
    with torch.no_grad():
        losses = [landscape.loss_affine(theta, dirs, xy, max_elements=max_elements, **kw)]
        if split is not None:
            accs = [landscape.accuracy(theta + chunk @ dirs, split) for chunk in xy.split(per_chunk)]
    dt = landscape.dtype
    anchors = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=dt, device=landscape.device)
    return DirectionPlane(u.to(dt), v.to(dt), torch.cat(losses).view(n, n).cpu(),
                          torch.cat(accs).view(n, n).cpu() if split is not None else None,
                          anchors, dirs.detach().clone(), theta.detach().clone(), split, kind, dict(meta or {}))


def rescaled_point(landscape: NetworkLandscape, theta: torch.Tensor, alpha: float, *, layer: int = 0) -> torch.Tensor:
    """The same function at another point: a ReLU layer's units scaled by ``alpha``, the next layer's inputs by ``1 / alpha``.

    ReLU is positively homogeneous, ``relu(alpha h) = alpha relu(h)`` for ``alpha > 0``, so multiplying
    the weights and bias of linear layer ``layer`` by ``alpha`` and the weights of the next linear
    layer by ``1 / alpha`` leaves the network's outputs unchanged while the parameters (and the
    Hessian) change. This is the symmetry that filter normalisation (:func:`filter_normalized_directions`)
    is designed to see through: the filter-normalised plane at the rescaled point is the rescaled
    plane at ``theta``, so both draw the same picture.

    Args:
        landscape: the landscape of a layer stack (an :class:`lsl.data.nets.MLP`, see :mod:`lsl.stack`) whose
            layer ``layer`` is followed by a ReLU.
        theta: the point ``[D]``.
        alpha: the scale, ``> 0``.
        layer: which linear layer's units to scale (0 is the first).

    Returns:
        The rescaled point ``[D]``.

    Raises:
        ValueError: if the network is not a layer stack, the layer is not followed by a ReLU and
            another linear layer, or ``alpha <= 0``.
    """
    stack = getattr(landscape, "stack", None)
    if stack is None:
        raise ValueError("rescaled_point needs a layer stack (an MLP of Linear layers and activations); "
                         "convolutional networks and networks with normalisation layers are not supported")
    if not alpha > 0:
        raise ValueError(f"alpha must be positive (ReLU is only positively homogeneous), got {alpha}")
    if not rescalable(landscape, layer):
        raise ValueError(f"layer {layer} must be a linear layer followed by a ReLU and another linear layer; "
                         f"this stack has {len(stack.layers)} linear layers with activations "
                         f"{[type(lay.activation).__name__ if lay.activation else None for lay in stack.layers]}")
    out = _one_point(landscape, theta).clone()
    this, nxt = stack.layers[layer], stack.layers[layer + 1]
    out[this.weight] *= alpha
    if this.bias is not None:
        out[this.bias] *= alpha
    out[nxt.weight] /= alpha
    return out


def rescalable(landscape: Landscape, layer: int = 0) -> bool:
    """Whether :func:`rescaled_point` applies: a layer stack whose linear layer ``layer`` is followed by a ReLU."""
    stack = getattr(landscape, "stack", None)
    return (stack is not None and 0 <= layer < len(stack.layers) - 1
            and isinstance(stack.layers[layer].activation, nn.ReLU))


def _one_point(landscape: Landscape, theta: torch.Tensor) -> torch.Tensor:
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError(f"theta must be one point [D]; got shape {tuple(theta.shape)}")
    return theta.detach()


# ---------------------------------------------------------------------------
# persistence

_FORMAT = "lsl-plane-1"


def save_plane(plane: LossPlane, path: str | Path, *, directions: bool = True) -> Path:
    """Write a loss plane (grid, axes, coordinates, directions and their metadata) to a ``.npz`` file.

    Stored arrays: ``u``, ``v``, ``loss``, ``accuracy`` (if measured), ``anchors``,
    and, with ``directions=True``, ``basis`` ``[2, D]`` and ``origin`` ``[D]``;
    ``kind``, ``split`` and ``meta`` (JSON) describe how the plane was made. Works
    for :class:`~lsl.probes.planes.LossPlane` (three points) and :class:`DirectionPlane`.

    Args:
        plane: the plane.
        path: the file (``.npz`` is appended by NumPy when missing).
        directions: also store ``basis`` and ``origin`` (``2 D + D`` numbers);
            without them the reloaded plane can be drawn but not mapped back to parameters.

    Returns:
        The path written.
    """
    if not isinstance(plane, LossPlane):
        raise TypeError(f"plane must be a LossPlane, got {type(plane).__name__}")
    kind = getattr(plane, "kind", "three points")
    meta = getattr(plane, "meta", {})
    try:
        meta_json = json.dumps(meta)
    except TypeError as e:
        raise ValueError(f"the plane's meta must be JSON-able (numbers, strings, lists, dicts): {e}") from None
    arrays = {
        "format": np.array(_FORMAT),
        "kind": np.array(kind),
        "split": np.array("" if plane.split is None else plane.split),
        "meta": np.array(meta_json),
        "u": _np(plane.u), "v": _np(plane.v), "loss": _np(plane.loss), "anchors": _np(plane.anchors),
    }
    if plane.accuracy is not None:
        arrays["accuracy"] = _np(plane.accuracy)
    if directions and plane.basis is not None:
        arrays["basis"], arrays["origin"] = _np(plane.basis), _np(plane.origin)
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_plane(path: str | Path, *, device=None) -> LossPlane:
    """Read a plane written by :func:`save_plane`.

    Args:
        path: the ``.npz`` file.
        device: where to put ``basis``, ``origin`` and ``anchors`` (default CPU).

    Returns:
        A :class:`DirectionPlane` (``kind`` as saved), or a :class:`~lsl.probes.planes.LossPlane` for a three-point plane.
        ``basis`` and ``origin`` are ``None`` if they were not saved.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as f:
            if "format" not in f.files or str(f["format"]) != _FORMAT:
                raise ValueError(f"{path} is not a loss plane written by lsl.probes.planes.save_plane")
            get = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        if "is not a loss plane" in str(exc):
            raise
        # numpy's own message for a damaged file suggests allow_pickle=True: unsafe, and not the cause
        raise ValueError(f"{path} cannot be read as a loss plane: the file is damaged or truncated "
                         f"({type(exc).__name__}); compute the plane again and save it with save_plane") from None
    t = lambda a, dev=None: torch.from_numpy(np.array(a)).to(dev or "cpu")  # noqa: E731
    split = str(get["split"]) or None
    common = dict(u=t(get["u"]), v=t(get["v"]), loss=t(get["loss"]),
                  accuracy=t(get["accuracy"]) if "accuracy" in get else None,
                  anchors=t(get["anchors"], device),
                  basis=t(get["basis"], device) if "basis" in get else None,
                  origin=t(get["origin"], device) if "origin" in get else None, split=split)
    kind = str(get["kind"])
    if kind == "three points":
        return LossPlane(**common)
    return DirectionPlane(**common, kind=kind, meta=json.loads(str(get["meta"])))


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()
