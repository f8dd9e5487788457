"""m-connectors: low-loss simplices between ``m + 1`` optima (Fort & Jastrzebski, Section 4.3).

An m-connector generalises the tunnel of :mod:`lsl.paths.tunnels` from two optima to ``m + 1``: the
convex hull of the optima is an ``m``-simplex; a barycentric grid on it (:func:`simplex_grid`) is
optimised, each grid point inside the ``(D - m)``-dimensional affine subspace through it orthogonal
to the simplex (:func:`m_connector`, with :func:`lsl.paths.orthogonal.optimize_orthogonal`), and the
connector is the piecewise-linear map of the simplex through the optimised points
(:func:`connector_points`). :func:`train_simplex` trains the connector as a whole, at random points
of the simplex; :func:`evaluate_simplex` measures it there and on every edge, against the straight
simplex. For ``m = 1`` an m-connector is a tunnel.

These names lived in :mod:`lsl.paths.tunnels` before; ``lsl.paths.connectors.m_connector`` and the others still work.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lsl import seeds
from lsl import batching
from lsl.paths.tunnels import _batched_loss, _check_count
from lsl.landscape import Landscape
from lsl.paths.orthogonal import optimize_orthogonal
from lsl.settings import check_settings, SUBSPACE_DEFAULTS, trainer, TrainSettings

__all__ = ["simplex_grid", "m_connector", "m_connectors", "MConnectorResult", "connector_points", "train_simplex",
           "train_simplices", "evaluate_simplex", "SimplexEvaluation"]


def simplex_grid(m: int, resolution: int) -> torch.Tensor:
    """All barycentric points ``k / resolution`` (``k`` integer, ``sum k = resolution``) of the m-simplex.

    Args:
        m: dimension of the simplex (``m + 1`` vertices).
        resolution: number of divisions of each edge, ``r >= 1``.

    Returns:
        ``[C(r + m, m), m + 1]`` barycentric weights (float64), vertices first (in order), then the
        other grid points in lexicographic order of their integer coordinates.
    """
    if m < 1 or resolution < 1:
        raise ValueError(f"need m >= 1 and resolution >= 1, got m={m}, resolution={resolution}")
    rows: list[tuple[int, ...]] = []

    def rec(prefix: tuple[int, ...], left: int) -> None:
        if len(prefix) == m:
            rows.append(prefix + (left,))
            return
        for k in range(left, -1, -1):
            rec(prefix + (k,), left - k)

    rec((), resolution)
    k = torch.tensor(rows, dtype=torch.long)
    is_vertex = (k == resolution).any(1)
    vertex_order = k[is_vertex].argmax(1).argsort()
    k = torch.cat([k[is_vertex][vertex_order], k[~is_vertex]])
    return k.double() / resolution


@dataclass(frozen=True)
class MConnectorResult:
    """An m-connector: optimised points on a barycentric grid of the simplex spanned by ``m + 1`` optima.

    The connector is the piecewise-linear map of the simplex that sends every grid point
    (barycentric weights ``weights[k]``) to ``points[k]``, linear on each simplex of the
    Freudenthal (Kuhn) triangulation of the grid; see :func:`connector_points`.

    ``optima``, ``straight`` and ``points`` are on the landscape's device; ``weights``,
    ``straight_loss`` and ``loss`` are on the CPU.

    Attributes:
        optima: the ``m + 1`` optima ``[m + 1, D]`` (the simplex's vertices; not moved).
        resolution: number of divisions of each edge of the simplex.
        weights: barycentric weights of the grid points ``[P, m + 1]``; the first ``m + 1`` rows are
            the vertices.
        straight: the grid points on the straight simplex, ``weights @ optima`` ``[P, D]``.
        points: the optimised grid points ``[P, D]`` (each moved only orthogonally to the
            simplex's affine span, so its barycentric coordinates are those of ``weights``).
        straight_loss: loss at ``straight`` ``[P]``.
        loss: loss at ``points`` ``[P]``.
        grad_evals: point-gradients spent by the training that made ``points`` (each a gradient of
            the minibatch loss at one point), as :attr:`lsl.paths.tunnels.BezierResult.grad_evals` counts
            them for a curve: ``steps * (P - m - 1)`` from :func:`m_connector` (every grid point
            but the optima, at every step); ``steps * n_samples`` from :func:`train_simplex` (the
            random points of each step; the training of the connector it started from is not
            included: add that one's ``grad_evals`` for the total).
    """

    optima: torch.Tensor
    resolution: int
    weights: torch.Tensor
    straight: torch.Tensor
    points: torch.Tensor
    straight_loss: torch.Tensor
    loss: torch.Tensor
    grad_evals: int

    @property
    def m(self) -> int:
        """The connector's dimension: the number of optima minus one."""
        return self.optima.shape[0] - 1


@trainer(SUBSPACE_DEFAULTS)
def m_connector(
    landscape: Landscape,
    optima: torch.Tensor,
    *,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    resolution: int = 2,
) -> MConnectorResult:
    """Build the m-connector of Section 4.3 between ``m + 1`` optima.

    The points of the convex hull of the optima at the barycentric grid of resolution ``r``
    (:func:`simplex_grid`; ``r = 2`` gives the vertices and the edge midpoints) are optimised,
    all as one batch, each inside the ``(D - m)``-dimensional affine subspace through it
    orthogonal to the hull's affine span (directions ``optima[1:] - optima[0]``), with
    :func:`lsl.paths.orthogonal.optimize_orthogonal`. The optima themselves stay fixed. For ``m = 1``
    this is the tunnel of Section 4.2 with ``r + 1`` vertices. :func:`m_connectors` builds
    several connectors (of any ``m``) as one batch.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay): all of them, for :func:`lsl.paths.orthogonal.optimize_orthogonal`.

    Args:
        landscape: the loss landscape.
        optima: the ``m + 1`` optima ``[m + 1, D]`` (affinely independent, ``1 <= m < D``).
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
        resolution: divisions of each edge, ``r >= 2`` (the grid has ``C(r + m, m)`` points).

    Returns:
        an :class:`MConnectorResult`; its ``grad_evals`` is ``steps * (P - m - 1)`` for the ``P`` grid points.
    """
    s = check_settings(settings, who="m_connector")
    return m_connectors(landscape, [optima], settings=s, resolution=resolution)[0]


def _check_simplex(landscape: Landscape, optima: torch.Tensor, what: str) -> torch.Tensor:
    """The optima ``[m + 1, D]`` of one simplex, checked: at least two, ``m < D``, affinely independent."""
    optima = landscape.check_theta(optima, what)
    if optima.dim() != 2 or optima.shape[0] < 2:
        raise ValueError(f"{what} must be [m + 1, D] with at least 2 optima; got shape {tuple(optima.shape)}")
    m = optima.shape[0] - 1
    if m >= landscape.D:
        raise ValueError(f"{what}: m + 1 = {m + 1} optima need m < D = {landscape.D}")
    sv = torch.linalg.svdvals((optima[1:] - optima[0]).double())
    if float(sv.min()) <= 1e-6 * float(sv.max()):
        raise ValueError(f"{what}: the optima are (numerically) affinely dependent: they do not span an m-simplex")
    return optima


@trainer(SUBSPACE_DEFAULTS)
def m_connectors(
    landscape: Landscape,
    simplices,
    *,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    resolution: int = 2,
) -> list[MConnectorResult]:
    """Build several m-connectors as one batch: :func:`m_connector` for each set of optima.

    The grid points of all simplices (of any dimensions ``m``) are optimised together, each inside
    its own simplex's orthogonal subspace (:func:`lsl.paths.orthogonal.optimize_orthogonal` with one set
    of directions per point), on the same minibatches. Each connector is what :func:`m_connector`
    would build on its own, up to floating-point rounding, at a fraction of the time when the
    points are small (seeds and values of ``m`` as rows of one batch).

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`): as
    :func:`m_connector`.

    Args:
        landscape: the loss landscape.
        simplices: a sequence of optima, one ``[m_k + 1, D]`` tensor per connector.
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
        resolution: divisions of each edge, ``r >= 2``, for every connector.

    Returns:
        one :class:`MConnectorResult` per simplex, in order; each one's ``grad_evals`` counts its own points.
    """
    s = check_settings(settings, who="m_connectors")
    if isinstance(simplices, torch.Tensor) and simplices.dim() == 2:
        raise TypeError("m_connectors takes a list of simplices (one [m + 1, D] tensor each); "
                        "for one simplex call m_connector")
    simplices = [_check_simplex(landscape, o, f"simplices[{k}]" if len(simplices) > 1 else "optima")
                 for k, o in enumerate(simplices)]
    if not simplices:
        raise ValueError("simplices is empty: give at least one [m + 1, D] tensor of optima")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2 (r = 1 has no point to optimise), got {resolution!r}")
    grids, starts, directions = [], [], []
    for optima in simplices:
        m = optima.shape[0] - 1
        weights = simplex_grid(m, resolution)
        straight = weights.to(device=landscape.device, dtype=landscape.dtype) @ optima
        grids.append((weights, straight))
        starts.append(straight[m + 1:])
        directions.append(optima[1:] - optima[0])
    if len(simplices) == 1:
        inner = optimize_orthogonal(landscape, starts[0], directions[0], settings=s)
    else:
        # one set of directions per point: the same tensor for every point of a simplex
        per_point = [d for d, start in zip(directions, starts) for _ in range(start.shape[0])]
        inner = optimize_orthogonal(landscape, torch.cat(starts), per_point, settings=s)
    results = []
    for optima, (weights, straight), part in zip(simplices, grids, inner.split([x.shape[0] for x in starts])):
        points = torch.cat([optima, part])
        results.append(MConnectorResult(optima.detach(), resolution, weights, straight, points,
                                        _batched_loss(landscape, straight).cpu(), _batched_loss(landscape, points).cpu(),
                                        s.steps * part.shape[0]))
    return results


def _grid_lookup(m: int, resolution: int, weights: torch.Tensor) -> torch.Tensor:
    """Table from the cumulative integer coordinates of grid points to their row in ``weights``."""
    k = torch.round(weights * resolution).long()
    y = k.flip(1).cumsum(1).flip(1)[:, 1:]  # y_j = sum_{i >= j} k_i, j = 1..m
    table = torch.full((resolution + 1,) * m, -1, dtype=torch.long)
    table[tuple(y.T)] = torch.arange(k.shape[0])
    return table


def connector_points(result: MConnectorResult, w: torch.Tensor) -> torch.Tensor:
    """The m-connector's points at barycentric weights ``w`` ``[S, m + 1]``, as ``[S, D]``.

    The connector is piecewise linear on the Freudenthal (Kuhn) triangulation of the
    grid: in the coordinates ``y_j = r (w_j + ... + w_m)`` (``j = 1..m``), in which the
    simplex is ``r >= y_1 >= ... >= y_m >= 0`` and the grid points are the integer
    points, a point lies in the simplex with vertices ``v_0 = floor(y)``,
    ``v_k = v_{k-1} + e_{pi(k)}`` (``pi`` sorts the fractional parts ``f`` in decreasing
    order) and has weights ``1 - f_{pi(1)}, f_{pi(1)} - f_{pi(2)}, ..., f_{pi(m)}`` there.
    Every such simplex lies inside the big simplex, so the connector is continuous,
    passes through every optimised point, reduces to the optimised polyline on each edge,
    and its point at ``w`` projects onto the hull's affine span exactly at ``w @ optima``.

    Args:
        result: an :class:`MConnectorResult`.
        w: barycentric weights ``[S, m + 1]`` (non-negative, rows summing to 1).

    Returns:
        the connector's points ``[S, D]``.
    """
    idx, lam = _kuhn_weights(result.m, result.resolution, result.weights, w)
    pts = result.points
    lam = lam.to(device=pts.device, dtype=pts.dtype)
    return (lam.unsqueeze(-1) * pts[idx.to(pts.device)]).sum(1)


def _kuhn_weights(m: int, r: int, grid_weights: torch.Tensor, w) -> tuple[torch.Tensor, torch.Tensor]:
    """For barycentric weights ``w [S, m + 1]``: the grid rows ``[S, m + 1]`` of the Kuhn simplex holding each
    point and the point's weights there ``[S, m + 1]`` (see :func:`connector_points`); on the CPU."""
    w = torch.as_tensor(w, dtype=torch.float64).cpu()
    if w.dim() != 2 or w.shape[1] != m + 1:
        raise ValueError(f"w must be barycentric weights [S, m + 1] = [S, {m + 1}]; got shape {tuple(w.shape)}")
    if bool((w < -1e-9).any()) or not torch.allclose(w.sum(1), torch.ones(w.shape[0], dtype=torch.float64), atol=1e-6):
        raise ValueError("w must be barycentric weights: non-negative, each row summing to 1")
    w = w.clamp_min(0)
    w = w / w.sum(1, keepdim=True)
    y = (r * w.flip(1).cumsum(1).flip(1)[:, 1:]).clamp(0, r)  # [S, m]
    base = y.floor().clamp(max=r - 1)
    frac = y - base
    order = frac.argsort(dim=1, descending=True, stable=True)  # ties (faces of the simplex) in a fixed order
    f_sorted = frac.gather(1, order)
    lam = torch.cat([1 - f_sorted[:, :1], f_sorted[:, :-1] - f_sorted[:, 1:], f_sorted[:, -1:]], 1)  # [S, m+1]
    steps = torch.zeros(w.shape[0], m + 1, m, dtype=torch.long)
    steps[:, 1:] = torch.nn.functional.one_hot(order, m).cumsum(1)
    verts = base.long().unsqueeze(1) + steps  # [S, m+1, m]
    table = _grid_lookup(m, r, grid_weights)
    inside = (verts >= 0).all(-1) & (verts <= r).all(-1)
    idx = torch.full(verts.shape[:2], -1, dtype=torch.long)
    idx[inside] = table[tuple(verts[inside].T)]
    valid = idx >= 0
    # A vertex outside the grid can only appear with (numerically) zero weight; drop it.
    lam = torch.where(valid, lam, torch.zeros_like(lam))
    lam = lam / lam.sum(1, keepdim=True)
    return idx.clamp_min(0), lam


@trainer(SUBSPACE_DEFAULTS)
def train_simplex(
    landscape: Landscape,
    result: MConnectorResult,
    *,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    n_samples: int = 8,
    faces: bool = True,
) -> MConnectorResult:
    """Train an m-connector as a whole: the expected loss at uniformly random points of the simplex.

    :func:`m_connector` optimises each grid point on its own, so the connector is low at the grid
    points and only interpolated between them. Here every step draws ``n_samples`` random
    barycentric weights ``w`` (uniform on a random face, see ``faces``), maps them through the piecewise-linear connector
    (:func:`connector_points`, which is linear in the grid points) and descends the mean loss there
    with respect to all grid points except the optima, as Garipov et al. (2018) train a curve and
    Benton et al. (2021) a simplex. Each grid point still moves only orthogonally to the simplex's
    affine span, so the connector keeps the geometry of :func:`m_connector`. :func:`train_simplices`
    trains several connectors as one batch.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay): all of them; ``seed`` seeds the random points and the minibatches.

    Args:
        landscape: the loss landscape.
        result: the connector to start from (e.g. from :func:`m_connector`).
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
        n_samples: random points of the simplex per step.
        faces: draw each point on a random face of the simplex (its dimension uniform in ``1..m``)
            rather than in the whole simplex, so that edges and low-dimensional faces, which uniform
            points of a high-dimensional simplex almost never approach, are trained as well.

    Returns:
        a new :class:`MConnectorResult` with the trained points and their losses; its ``grad_evals`` is
        ``steps * n_samples``, this training's alone.
    """
    s = check_settings(settings, who="train_simplex")
    return train_simplices(landscape, [result], settings=s, n_samples=n_samples, faces=faces)[0]


def _simplex_samples(m: int, S: int, gen: torch.Generator, faces: bool) -> torch.Tensor:
    """``S`` random barycentric weights ``[S, m + 1]``: uniform on the simplex or, with ``faces``, on a random face.

    Uniform points (a flat Dirichlet, as normalised exponentials) of a random face of the simplex: its
    dimension uniform in ``1..m``, its vertices a random subset. Points drawn from the whole simplex alone
    almost never come near its edges when ``m`` is large, and the edges would stay untrained.
    """
    e = -torch.rand(S, m + 1, generator=gen, dtype=torch.float64).log()
    if faces and m > 1:
        k = torch.randint(2, m + 2, (S, 1), generator=gen)                       # vertices of the face
        rank = torch.rand(S, m + 1, generator=gen).argsort(1).argsort(1)         # a random order of the vertices
        e = torch.where(rank < k, e, torch.zeros_like(e))
    return e / e.sum(1, keepdim=True)


@trainer(SUBSPACE_DEFAULTS)
def train_simplices(
    landscape: Landscape,
    results,
    *,
    settings: TrainSettings = SUBSPACE_DEFAULTS,
    n_samples: int = 8,
    faces: bool = True,
) -> list[MConnectorResult]:
    """Train several m-connectors as a whole, as one batch: :func:`train_simplex` for each.

    Every step draws ``n_samples`` random points of each simplex (connector ``k`` draws those that
    :func:`train_simplex` with ``seed + k`` would draw) and descends the sum over connectors of their
    mean loss there, on one minibatch (seeded by ``seed``). Connectors share no point, so connector
    ``k`` trains as ``train_simplex(..., settings=settings.replace(seed=settings.seed + k))`` would on its own, up to floating-point
    rounding (and, on a landscape with data, the order of the minibatches). Several values of ``m``
    and several seeds' connectors then cost little more than one when the network is small.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`): as
    :func:`train_simplex`.

    Args:
        landscape: the loss landscape.
        results: a sequence of :class:`MConnectorResult` (of any ``m`` and resolution) to start from.
        settings: the optimiser settings (default :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
        n_samples: random points of each simplex per step.
        faces: as for :func:`train_simplex`.

    Returns:
        one new :class:`MConnectorResult` per connector, in order; each one's ``grad_evals`` is
        ``steps * n_samples``.
    """
    from lsl.training.trainer import landscape_objective, minimize

    s = check_settings(settings, who="train_simplices")
    steps, seed = s.steps, s.seed
    _check_count("steps", steps, 0)
    _check_count("n_samples", n_samples, 1)
    results = list(results)
    if not results or not all(isinstance(r, MConnectorResult) for r in results):
        raise TypeError("results must be a non-empty sequence of MConnectorResult (from m_connector or m_connectors)")
    dev, dt = landscape.device, landscape.dtype
    parts = []  # per connector: its optima, straight inner points, basis of its directions and its mixing weights
    for k, r in enumerate(results):
        m = r.m
        gen = torch.Generator().manual_seed(seeds.shifted(seed + k))
        optima = r.optima.to(device=dev, dtype=dt)
        basis = torch.linalg.qr((optima[1:] - optima[0]).double().T)[0].to(dt)  # [D, m], the simplex's directions
        idx, lam = _kuhn_weights(m, r.resolution, r.weights, _simplex_samples(m, steps * n_samples, gen, faces))
        parts.append(dict(optima=optima, straight=r.straight.to(device=dev, dtype=dt)[m + 1:], basis=basis,
                          n_grid=r.points.shape[0], idx=idx.view(steps, n_samples, m + 1).to(dev),
                          lam=lam.view(steps, n_samples, m + 1).to(device=dev, dtype=dt)))
    sizes = [p["n_grid"] - p["optima"].shape[0] for p in parts]
    start = torch.cat([r.points.to(device=dev, dtype=dt)[r.m + 1:] for r in results])
    objective = landscape_objective(landscape, batch_size=s.batch_size, l2=s.l2, seed=seed)

    def simplex_objective(inner: torch.Tensor, step: int) -> torch.Tensor:
        # The points as a product with a [n_samples, grid points] mixing matrix, not as pts[idx]: the
        # backward pass of indexing adds into shared rows with atomic adds on a multithreaded CPU, in an
        # order that changes from run to run, and 3000 steps amplify the last bit into other digits.
        # A matrix product's backward pass is a matrix product: the same bits every run.
        sampled = []
        for p, part in zip(parts, inner.split(sizes)):
            mix = torch.zeros(n_samples, p["n_grid"], device=dev, dtype=dt).scatter_add_(1, p["idx"][step], p["lam"][step])
            sampled.append(mix @ torch.cat([p["optima"], part]))
        return objective(torch.cat(sampled)).view(len(parts), n_samples).mean(1).sum()

    def keep_orthogonal(inner: torch.Tensor) -> None:
        for p, part in zip(parts, inner.split(sizes)):
            off = part - p["straight"]
            part.sub_((off @ p["basis"]) @ p["basis"].T)

    run = minimize(simplex_objective, start, settings=s, after_step=keep_orthogonal, desc="simplex")
    out = []
    for r, p, part in zip(results, parts, run.theta.detach().split(sizes)):
        points = torch.cat([p["optima"], part])
        out.append(MConnectorResult(r.optima, r.resolution, r.weights, r.straight, points, r.straight_loss,
                                    _batched_loss(landscape, points).cpu(), steps * n_samples))
    return out


@dataclass(frozen=True)
class SimplexEvaluation:
    """Loss (and accuracy) of an m-connector and of the straight simplex at the same barycentric points.

    All its tensors are on the CPU.

    Attributes:
        weights: barycentric weights of the samples ``[S, m + 1]``: first ``n_random`` uniform random
            points of the simplex, then ``n_edge`` evenly spaced points on each edge.
        edge: for each sample, the pair ``(i, j)`` of vertices whose edge it lies on, or
            ``(-1, -1)`` for the random samples ``[S, 2]``.
        loss: the connector's loss at the samples ``[S]``.
        straight_loss: the straight simplex's loss at the samples ``[S]``.
        accuracy: the connector's accuracy ``[S]``, or ``None``.
        straight_accuracy: the straight simplex's accuracy ``[S]``, or ``None``.
    """

    weights: torch.Tensor
    edge: torch.Tensor
    loss: torch.Tensor
    straight_loss: torch.Tensor
    accuracy: torch.Tensor | None = None
    straight_accuracy: torch.Tensor | None = None

    @property
    def random(self) -> torch.Tensor:
        """Mask of the random interior samples ``[S]``."""
        return self.edge[:, 0] < 0


def evaluate_simplex(
    landscape: Landscape,
    result: MConnectorResult,
    *,
    n_random: int = 200,
    n_edge: int = 21,
    split: str | None = None,
    seed: int = 0,
    max_elements: int | None = None,
) -> SimplexEvaluation:
    """Evaluate an m-connector over its whole simplex, not only at the optimised points.

    Samples ``n_random`` barycentric weights uniformly on the simplex (flat Dirichlet) and
    ``n_edge`` evenly spaced points (ends included) on each of its ``m (m + 1) / 2`` edges,
    maps them through the connector (:func:`connector_points`) and through the straight
    simplex (``w @ optima``), and evaluates both in batches.

    Args:
        landscape: the landscape the connector was built on.
        result: an :class:`MConnectorResult`.
        n_random: number of uniform random samples.
        n_edge: samples per edge (``>= 2``, or 0 for none).
        split: if given, also measure ``landscape.accuracy`` on that split.
        seed: seeds the random samples.
        max_elements: bound on the number of parameter values materialised at once (``None``: the
            device's budget, :func:`lsl.batching.points_per_batch`).

    Returns:
        a :class:`SimplexEvaluation`.
    """
    if n_random < 0 or n_edge < 0 or n_edge == 1:
        raise ValueError(f"need n_random >= 0 and n_edge = 0 or >= 2; got n_random={n_random}, n_edge={n_edge}")
    if n_random + n_edge == 0:
        raise ValueError("nothing to evaluate: n_random and n_edge are both 0")
    if split is not None and not hasattr(landscape, "accuracy"):
        raise ValueError(f"split={split!r} asks for accuracy, but {type(landscape).__name__} has no accuracy method")
    m = result.m
    gen = torch.Generator(device="cpu").manual_seed(seeds.shifted(seed))
    e = -torch.rand(n_random, m + 1, generator=gen, dtype=torch.float64).clamp_min(1e-300).log()
    ws = [e / e.sum(1, keepdim=True)]
    edges = [torch.full((n_random, 2), -1, dtype=torch.long)]
    if n_edge:
        s = torch.linspace(0, 1, n_edge, dtype=torch.float64)
        for i in range(m + 1):
            for j in range(i + 1, m + 1):
                w = torch.zeros(n_edge, m + 1, dtype=torch.float64)
                w[:, i], w[:, j] = 1 - s, s
                ws.append(w)
                edges.append(torch.tensor([[i, j]]).expand(n_edge, 2))
    w = torch.cat(ws)
    per_chunk = batching.points_per_batch(landscape.device, landscape.D, w.shape[0], max_elements=max_elements)
    out: dict[str, list[torch.Tensor]] = {"loss": [], "straight_loss": [], "accuracy": [], "straight_accuracy": []}
    with torch.no_grad():
        for chunk in w.split(per_chunk):
            conn = connector_points(result, chunk).to(device=landscape.device, dtype=landscape.dtype)
            flat = chunk.to(device=landscape.device, dtype=landscape.dtype) @ result.optima.to(landscape.device, landscape.dtype)
            out["loss"].append(landscape.loss(conn).cpu())
            out["straight_loss"].append(landscape.loss(flat).cpu())
            if split is not None:
                out["accuracy"].append(landscape.accuracy(conn, split).cpu())
                out["straight_accuracy"].append(landscape.accuracy(flat, split).cpu())
    acc = torch.cat(out["accuracy"]) if split is not None else None
    sacc = torch.cat(out["straight_accuracy"]) if split is not None else None
    return SimplexEvaluation(w, torch.cat(edges), torch.cat(out["loss"]), torch.cat(out["straight_loss"]), acc, sacc)
