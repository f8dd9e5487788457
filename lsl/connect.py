"""Paths between optima: linear interpolations and low-loss tunnels (Fort & Jastrzebski, Section 4.2).

The tunnel builder is the paper's algorithm: divide the straight line between
two optima into segments; at each division point, put up the ``(D-1)``-
dimensional hyperplane normal to the line and minimise the loss inside it,
starting on the line; connect the optimised points by straight segments.
All division points are optimised together as one batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import batching
from .landscape import Landscape
from .orthogonal import optimize_orthogonal
from .settings import FROM_SETTINGS, SUBSPACE_DEFAULTS, TUNNEL_DEFAULTS, TrainSettings, resolve

__all__ = ["barrier", "linear_path", "polyline", "path_losses", "tunnel", "build_tunnel", "TunnelResult", "deviation_cosines",
           "bezier_curve", "bezier_points", "BezierResult", "simplex_grid", "m_connector", "MConnectorResult",
           "connector_points", "train_simplex", "evaluate_simplex", "SimplexEvaluation", "LabelHandOver", "label_hand_over"]


def barrier(losses: torch.Tensor) -> float:
    """Height of the highest loss along a path above the higher of its two endpoints.

    Args:
        losses: the loss sampled along the path, endpoints first and last ``[M]``.
    """
    return float(losses.max() - losses[[0, -1]].max())


def linear_path(theta_a: torch.Tensor, theta_b: torch.Tensor, n_points: int = 21) -> torch.Tensor:
    """``n_points`` evenly spaced points ``[K, D]`` on the straight line from ``theta_a`` to ``theta_b`` (both included)."""
    if n_points < 2:
        raise ValueError(f"a path needs at least 2 points, got n_points={n_points}")
    if theta_a.shape != theta_b.shape or theta_a.dim() != 1:
        raise ValueError(f"theta_a and theta_b must be two points of the same shape [D]; got {tuple(theta_a.shape)} and {tuple(theta_b.shape)}")
    t = torch.linspace(0, 1, n_points, dtype=theta_a.dtype, device=theta_a.device).unsqueeze(1)
    return (1 - t) * theta_a + t * theta_b


def polyline(points: torch.Tensor, per_segment: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Densely sample the piecewise-linear path through ``points`` ``[K, D]``.

    Returns:
        ``(s, samples)``: the position along the path in ``[0, 1]`` (by segment
        index, so each segment has equal length in ``s``) and the ``[M, D]`` samples,
        which include every vertex.
    """
    if points.dim() != 2 or points.shape[0] < 2:
        raise ValueError(f"points must be [K, D] with K >= 2, got {tuple(points.shape)}")
    K = points.shape[0]
    w = torch.linspace(0, 1, per_segment + 1, dtype=points.dtype, device=points.device)[:-1].unsqueeze(1)
    seg = [(1 - w) * points[k] + w * points[k + 1] for k in range(K - 1)]
    samples = torch.cat(seg + [points[-1:]])
    s = torch.linspace(0, 1, samples.shape[0], dtype=points.dtype, device=points.device)
    return s, samples


def path_losses(landscape: Landscape, points: torch.Tensor, per_segment: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss along the piecewise-linear path through ``points``, in one batched evaluation.

    Returns:
        ``(s, loss)`` with ``s`` in ``[0, 1]`` as in :func:`polyline`.
    """
    s, samples = polyline(landscape.check_theta(points, "points"), per_segment)
    with torch.no_grad():
        return s, landscape.loss(samples)


def deviation_cosines(deviations: torch.Tensor) -> torch.Tensor:
    """Cosine similarity matrix ``[K, K]`` between deviation vectors ``[K, D]`` (rows)."""
    unit = deviations / deviations.norm(dim=1, keepdim=True).clamp_min(torch.finfo(deviations.dtype).tiny)
    return unit @ unit.T


@dataclass(frozen=True)
class TunnelResult:
    """A tunnel between two optima and its diagnostics, its tensors on the landscape's device.

    Attributes:
        points: the tunnel's vertices ``[K, D]``, from ``theta_a`` to ``theta_b``.
        line: the corresponding points on the straight line ``[K, D]``.
        t: interpolation coefficient of each vertex ``[K]``.
        deviations: ``points - line`` for the interior vertices ``[K-2, D]``.
        s, line_loss, tunnel_loss: the loss sampled densely along the line and along the tunnel.
        line_barrier, tunnel_barrier: the maximum loss along each, minus the larger endpoint loss.
    """

    points: torch.Tensor
    line: torch.Tensor
    t: torch.Tensor
    deviations: torch.Tensor
    s: torch.Tensor
    line_loss: torch.Tensor
    tunnel_loss: torch.Tensor

    @property
    def line_barrier(self) -> float:
        """Height of the loss barrier on the straight line above the higher endpoint."""
        return barrier(self.line_loss)

    @property
    def tunnel_barrier(self) -> float:
        """Height of the loss barrier on the tunnel above the higher endpoint."""
        return barrier(self.tunnel_loss)

    def cosines(self) -> torch.Tensor:
        """Cosines between the deviation vectors of the interior vertices (Figure 3, middle)."""
        return deviation_cosines(self.deviations)

    def half_cosines(self) -> tuple[float, float]:
        """The two-halves structure of the deviations (Figure 3, middle) in two numbers.

        With ``h = (K - 2) // 2`` interior vertices in each half (the first ``h`` and the last ``h``;
        with an odd number of interior vertices the middle one belongs to neither):

        Returns:
            ``(within, across)``: the mean cosine between two different deviations of the same half
            (both halves together), and the mean cosine between a deviation of the first half and
            one of the second. A mean over no pairs is NaN: ``within`` with one interior vertex per
            half (``n_points < 6``), both with fewer than two interior vertices (``n_points < 4``).
        """
        C = self.cosines()
        h = C.shape[0] // 2
        if h == 0:
            return math.nan, math.nan
        off = ~torch.eye(h, dtype=torch.bool, device=C.device)
        first, second = slice(0, h), slice(C.shape[0] - h, C.shape[0])
        within = torch.cat([C[first, first][off], C[second, second][off]]).mean().item()
        return within, C[first, second].mean().item()


@dataclass(frozen=True)
class LabelHandOver:
    """How the predicted labels hand over from one end of a path to the other (Figure 3, right).

    Attributes:
        agree_a: at each point of the path, the fraction of examples whose predicted label is the
            first point's ``[K]`` (on the CPU).
        agree_b: the same for the last point's labels ``[K]`` (on the CPU).
        before_a: the share of the whole change in ``agree_a`` (from the first point to the last)
            that has happened at the point nearest the middle, ``t = 0.5``: 1 if A's labels are all
            lost in the first half, 0.5 for a change linear in ``t``.
        after_b: the share of the change in ``agree_b`` that happens after that point.
    """

    agree_a: torch.Tensor
    agree_b: torch.Tensor
    before_a: float
    after_b: float


def label_hand_over(landscape: Landscape, points: torch.Tensor, t: torch.Tensor, split: str = "test") -> LabelHandOver:
    """Measure the hand-over of predicted labels along a path through ``points`` (e.g. a tunnel's vertices).

    Args:
        landscape: a network landscape (it has ``predict``).
        points: the path's points ``[K, D]``, from one end to the other.
        t: the position of each point along the path in ``[0, 1]`` ``[K]`` (e.g. :attr:`TunnelResult.t`).
        split: the examples whose labels are compared, ``"train"`` or ``"test"``.

    Returns:
        a :class:`LabelHandOver`.

    Raises:
        ValueError: if ``landscape`` makes no predictions, ``t`` does not match ``points``, or the labels
            of the two ends agree everywhere (there is nothing to hand over).
    """
    if not hasattr(landscape, "predict"):
        raise ValueError("label_hand_over needs a network landscape (one with predict); the toy model has no labels")
    if t.shape != points.shape[:1]:
        raise ValueError(f"t must have one entry per point: t {tuple(t.shape)} vs points {tuple(points.shape)}")
    labels = landscape.predict(points, split)
    agree_a = (labels == labels[0]).float().mean(1).cpu()
    agree_b = (labels == labels[-1]).float().mean(1).cpu()
    if agree_a[-1] == 1:
        raise ValueError("the two ends predict the same labels on every example: there is no hand-over to measure")
    mid = int((t.cpu() - 0.5).abs().argmin())
    before_a = float((agree_a[0] - agree_a[mid]) / (agree_a[0] - agree_a[-1]))
    after_b = float((agree_b[-1] - agree_b[mid]) / (agree_b[-1] - agree_b[0]))
    return LabelHandOver(agree_a, agree_b, before_a, after_b)


def build_tunnel(
    landscape: Landscape,
    theta_a: torch.Tensor,
    theta_b: torch.Tensor,
    *,
    n_points: int = 21,
    settings: TrainSettings | None = None,
    steps: int = FROM_SETTINGS,
    lr: float = FROM_SETTINGS,
    optimizer: str = FROM_SETTINGS,
    schedule: str = FROM_SETTINGS,
    batch_size: int | None = FROM_SETTINGS,
    per_segment: int = 10,
    seed: int = FROM_SETTINGS,
) -> TunnelResult:
    """Build the low-loss tunnel of Section 4.2 and measure it against the straight line.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.TUNNEL_DEFAULTS`:
    1000 steps of Adam at 0.01 with a cosine decay): all of them, for the in-hyperplane
    optimisation (:func:`lsl.orthogonal.optimize_orthogonal`).

    Args:
        landscape: the loss landscape.
        theta_a, theta_b: the two optima ``[D]``.
        n_points: number of vertices, endpoints included (``n_points - 2`` are optimised).
        settings: the optimiser settings (``None``: :data:`~lsl.settings.TUNNEL_DEFAULTS`).
        steps, lr, optimizer, schedule, batch_size, seed: each replaces the field of ``settings`` when given.
        per_segment: samples per segment when measuring the loss along the paths.

    Returns:
        a :class:`TunnelResult`, on the landscape's device.
    """
    s = resolve(settings, TUNNEL_DEFAULTS, who="build_tunnel", steps=steps, lr=lr, optimizer=optimizer,
                schedule=schedule, batch_size=batch_size, seed=seed)
    theta_a = landscape.check_theta(theta_a, "theta_a")
    theta_b = landscape.check_theta(theta_b, "theta_b")
    if n_points < 3:
        raise ValueError(f"a tunnel needs at least one interior point: n_points >= 3, got {n_points}")
    direction = theta_b - theta_a
    if float(direction.norm()) == 0.0:
        raise ValueError("theta_a and theta_b are the same point: there is nothing to connect")
    line = linear_path(theta_a, theta_b, n_points)
    inner = optimize_orthogonal(landscape, line[1:-1], direction, settings=s)
    points = torch.cat([theta_a[None], inner, theta_b[None]])
    s, line_loss = path_losses(landscape, line, per_segment)
    _, tunnel_loss = path_losses(landscape, points, per_segment)
    t = torch.linspace(0, 1, n_points, dtype=line.dtype, device=line.device)
    return TunnelResult(points, line, t, inner - line[1:-1], s, line_loss, tunnel_loss)


def tunnel(landscape: Landscape, theta_a: torch.Tensor, theta_b: torch.Tensor, *, n_points: int = 21, **options) -> torch.Tensor:
    """The low-loss tunnel between two optima as a ``[K, D]`` tensor of points from ``theta_a`` to ``theta_b``.

    ``K = n_points`` (default 21). Options are those of :func:`build_tunnel` (``settings`` and the
    optimiser keywords included, default :data:`~lsl.settings.TUNNEL_DEFAULTS`), which also returns
    the diagnostics (barriers, deviations).
    """
    return build_tunnel(landscape, theta_a, theta_b, n_points=n_points, **options).points


# ---------------------------------------------------------------------------
# Quadratic Bezier curves (Garipov et al. 2018)


def bezier_points(theta_a: torch.Tensor, control: torch.Tensor, theta_b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points ``(1-t)^2 a + 2 t (1-t) m + t^2 b`` of the quadratic Bezier curve, ``[K, D]`` for ``t`` ``[K]``."""
    t = t.to(dtype=theta_a.dtype, device=theta_a.device).unsqueeze(1)
    return (1 - t) ** 2 * theta_a + 2 * t * (1 - t) * control + t**2 * theta_b


@dataclass(frozen=True)
class BezierResult:
    """A trained quadratic Bezier curve between two optima and its diagnostics.

    ``control``, ``t``, ``points``, ``loss`` and ``line_loss`` are on the landscape's device; the
    history (``history_grad_evals``, ``history_barrier``) is on the CPU.

    Attributes:
        control: the trained control point ``m`` ``[D]``.
        t: the curve parameters at which the curve was measured ``[K]`` (from 0 to 1).
        points: the curve's points at ``t`` ``[K, D]`` (``points[0] = theta_a``, ``points[-1] = theta_b``).
        loss: the loss at ``points`` ``[K]``.
        line_loss: the loss on the straight line at the same ``t`` ``[K]``.
        grad_evals: point-gradients spent training: ``steps * n_samples`` (each a gradient of
            the minibatch loss at one point of the curve).
        history_grad_evals: gradient evaluations at each entry of the history ``[H]``
            (starting with 0, the straight line), or an empty tensor.
        history_barrier: the curve's barrier at those moments ``[H]``.
    """

    control: torch.Tensor
    t: torch.Tensor
    points: torch.Tensor
    loss: torch.Tensor
    line_loss: torch.Tensor
    grad_evals: int
    history_grad_evals: torch.Tensor
    history_barrier: torch.Tensor

    @property
    def barrier(self) -> float:
        """Height of the loss maximum along the curve above the higher endpoint."""
        return barrier(self.loss)

    @property
    def line_barrier(self) -> float:
        """Height of the loss maximum along the straight line above the higher endpoint."""
        return barrier(self.line_loss)


def _check_count(name: str, value, minimum: int) -> None:
    """Raise a ``ValueError`` unless ``value`` is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _batched_loss(landscape: Landscape, points: torch.Tensor, max_elements: int | None = None) -> torch.Tensor:
    """The loss at ``points`` ``[B, D]`` in batches sized by :func:`lsl.batching.points_per_batch`, without gradients."""
    per_chunk = batching.points_per_batch(landscape.device, landscape.D, points.shape[0], max_elements=max_elements)
    with torch.no_grad():
        return torch.cat([landscape.loss(chunk) for chunk in points.split(per_chunk)])


def bezier_curve(
    landscape: Landscape,
    theta_a: torch.Tensor,
    theta_b: torch.Tensor,
    *,
    settings: TrainSettings | None = None,
    steps: int = FROM_SETTINGS,
    lr: float = FROM_SETTINGS,
    n_samples: int = 4,
    batch_size: int | None = FROM_SETTINGS,
    seed: int = FROM_SETTINGS,
    optimizer: str = FROM_SETTINGS,
    schedule: str = FROM_SETTINGS,
    n_points: int = 61,
    eval_every: int | None = None,
) -> BezierResult:
    """Train the quadratic Bezier curve of Garipov et al. (2018) between two optima.

    The curve is ``phi(t) = (1-t)^2 a + 2 t (1-t) m + t^2 b``. Its control point ``m`` starts at
    the midpoint ``(a + b) / 2`` (so the curve starts as the straight line) and is trained to
    minimise the expected loss ``E_{t ~ U(0, 1)} L(phi(t))``: each step draws ``n_samples``
    values of ``t`` and evaluates the curve's points there as one batch.

    Settings (:class:`~lsl.settings.TrainSettings`, default ``TrainSettings()``: Adam at a constant
    learning rate): all of them; ``seed`` seeds the samples of ``t`` and the minibatches.

    Args:
        landscape: the loss landscape.
        theta_a: the first optimum ``[D]``.
        theta_b: the second optimum ``[D]``.
        settings: the optimiser settings (``None``: ``TrainSettings()``); ``steps`` and ``lr`` must be
            given, here or as keywords.
        steps, lr, batch_size, seed, optimizer, schedule: each replaces the field of ``settings`` when given.
        n_samples: values of ``t`` drawn per step.
        n_points: number of evenly spaced ``t`` (ends included) at which the finished curve,
            and the history, are measured (in one batched evaluation).
        eval_every: if given, also measure the barrier every this many steps (and at the
            start), for plots of barrier versus gradient evaluations.

    Returns:
        a :class:`BezierResult`.
    """
    s = resolve(settings, TrainSettings(), who="bezier_curve", steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                optimizer=optimizer, schedule=schedule)
    steps, seed = s.steps, s.seed
    theta_a = landscape.check_theta(theta_a, "theta_a")
    theta_b = landscape.check_theta(theta_b, "theta_b")
    if theta_a.dim() != 1 or theta_b.dim() != 1:
        raise ValueError("bezier_curve takes two single points theta_a, theta_b of shape [D]")
    if float((theta_b - theta_a).norm()) == 0.0:
        raise ValueError("theta_a and theta_b are the same point: there is nothing to connect")
    _check_count("steps", steps, 0)
    _check_count("n_samples", n_samples, 1)
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be >= 1 or None, got {eval_every}")
    from .train import landscape_objective, minimize

    t_eval = torch.linspace(0, 1, n_points, dtype=landscape.dtype, device=landscape.device)
    objective = landscape_objective(landscape, batch_size=s.batch_size, l2=s.l2, seed=seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    hist_evals: list[int] = []
    hist_barrier: list[float] = []

    def barrier_of(control: torch.Tensor) -> float:
        loss = _batched_loss(landscape, bezier_points(theta_a, control, theta_b, t_eval))
        return barrier(loss)

    # Every step's samples of t, drawn at once (the CPU generator gives the same numbers as one draw per
    # step) and moved to the device once: a host-to-device copy at every step would wait for the
    # device's queued work.
    t_steps = torch.rand(steps, n_samples, generator=gen, dtype=torch.float64).to(landscape.device)

    def curve_objective(control: torch.Tensor, step: int) -> torch.Tensor:
        return objective(bezier_points(theta_a, control, theta_b, t_steps[step])).mean()

    done = [0]

    def after_step(control: torch.Tensor) -> None:
        done[0] += 1
        if eval_every and (done[0] % eval_every == 0 or done[0] == steps):
            hist_evals.append(done[0] * n_samples)
            hist_barrier.append(barrier_of(control))

    control0 = 0.5 * (theta_a + theta_b)
    if eval_every:
        hist_evals.append(0)
        hist_barrier.append(barrier_of(control0))
    run = minimize(curve_objective, control0, settings=s, after_step=after_step, desc="bezier")
    control = run.theta.detach()
    points = bezier_points(theta_a, control, theta_b, t_eval)
    loss = _batched_loss(landscape, points)
    line_loss = _batched_loss(landscape, linear_path(theta_a, theta_b, n_points))
    return BezierResult(control, t_eval, points, loss, line_loss, steps * n_samples,
                        torch.tensor(hist_evals, dtype=torch.long), torch.tensor(hist_barrier, dtype=torch.float64))


# ---------------------------------------------------------------------------
# m-connectors between m+1 optima (Section 4.3)


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
    """

    optima: torch.Tensor
    resolution: int
    weights: torch.Tensor
    straight: torch.Tensor
    points: torch.Tensor
    straight_loss: torch.Tensor
    loss: torch.Tensor

    @property
    def m(self) -> int:
        """The connector's dimension: the number of optima minus one."""
        return self.optima.shape[0] - 1


def m_connector(
    landscape: Landscape,
    optima: torch.Tensor,
    *,
    settings: TrainSettings | None = None,
    steps: int = FROM_SETTINGS,
    lr: float = FROM_SETTINGS,
    resolution: int = 2,
    batch_size: int | None = FROM_SETTINGS,
    seed: int = FROM_SETTINGS,
    optimizer: str = FROM_SETTINGS,
    schedule: str = FROM_SETTINGS,
) -> MConnectorResult:
    """Build the m-connector of Section 4.3 between ``m + 1`` optima.

    The points of the convex hull of the optima at the barycentric grid of resolution ``r``
    (:func:`simplex_grid`; ``r = 2`` gives the vertices and the edge midpoints) are optimised,
    all as one batch, each inside the ``(D - m)``-dimensional affine subspace through it
    orthogonal to the hull's affine span (directions ``optima[1:] - optima[0]``), with
    :func:`lsl.orthogonal.optimize_orthogonal`. The optima themselves stay fixed. For ``m = 1``
    this is the tunnel of Section 4.2 with ``r + 1`` vertices.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay): all of them, for :func:`lsl.orthogonal.optimize_orthogonal`.

    Args:
        landscape: the loss landscape.
        optima: the ``m + 1`` optima ``[m + 1, D]`` (affinely independent, ``1 <= m < D``).
        settings: the optimiser settings (``None``: :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given, here or as keywords.
        steps, lr, batch_size, seed, optimizer, schedule: each replaces the field of ``settings`` when given.
        resolution: divisions of each edge, ``r >= 2`` (the grid has ``C(r + m, m)`` points).

    Returns:
        an :class:`MConnectorResult`.
    """
    s = resolve(settings, SUBSPACE_DEFAULTS, who="m_connector", steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                optimizer=optimizer, schedule=schedule)
    optima = landscape.check_theta(optima, "optima")
    if optima.dim() != 2 or optima.shape[0] < 2:
        raise ValueError(f"optima must be [m + 1, D] with at least 2 optima; got shape {tuple(optima.shape)}")
    m = optima.shape[0] - 1
    if m >= landscape.D:
        raise ValueError(f"m + 1 = {m + 1} optima need m < D = {landscape.D}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2 (r = 1 has no point to optimise), got {resolution!r}")
    directions = optima[1:] - optima[0]
    sv = torch.linalg.svdvals(directions.double())
    if float(sv.min()) <= 1e-6 * float(sv.max()):
        raise ValueError("the optima are (numerically) affinely dependent: they do not span an m-simplex")
    weights = simplex_grid(m, resolution)
    straight = weights.to(device=landscape.device, dtype=landscape.dtype) @ optima
    inner = optimize_orthogonal(landscape, straight[m + 1:], directions, settings=s)
    points = torch.cat([optima, inner])
    return MConnectorResult(optima.detach(), resolution, weights, straight, points,
                            _batched_loss(landscape, straight).cpu(), _batched_loss(landscape, points).cpu())


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
    order = frac.argsort(1, descending=True)
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


def train_simplex(
    landscape: Landscape,
    result: MConnectorResult,
    *,
    settings: TrainSettings | None = None,
    steps: int = FROM_SETTINGS,
    lr: float = FROM_SETTINGS,
    n_samples: int = 8,
    batch_size: int | None = FROM_SETTINGS,
    seed: int = FROM_SETTINGS,
    optimizer: str = FROM_SETTINGS,
    schedule: str = FROM_SETTINGS,
    faces: bool = True,
) -> MConnectorResult:
    """Train an m-connector as a whole: the expected loss at uniformly random points of the simplex.

    :func:`m_connector` optimises each grid point on its own, so the connector is low at the grid
    points and only interpolated between them. Here every step draws ``n_samples`` random
    barycentric weights ``w`` (uniform on a random face, see ``faces``), maps them through the piecewise-linear connector
    (:func:`connector_points`, which is linear in the grid points) and descends the mean loss there
    with respect to all grid points except the optima, as Garipov et al. (2018) train a curve and
    Benton et al. (2021) a simplex. Each grid point still moves only orthogonally to the simplex's
    affine span, so the connector keeps the geometry of :func:`m_connector`.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SUBSPACE_DEFAULTS`:
    Adam with a cosine decay): all of them; ``seed`` seeds the random points and the minibatches.

    Args:
        landscape: the loss landscape.
        result: the connector to start from (e.g. from :func:`m_connector`).
        settings: the optimiser settings (``None``: :data:`~lsl.settings.SUBSPACE_DEFAULTS`); ``steps``
            and ``lr`` must be given, here or as keywords.
        steps, lr, batch_size, seed, optimizer, schedule: each replaces the field of ``settings`` when given.
        n_samples: random points of the simplex per step.
        faces: draw each point on a random face of the simplex (its dimension uniform in ``1..m``)
            rather than in the whole simplex, so that edges and low-dimensional faces, which uniform
            points of a high-dimensional simplex almost never approach, are trained as well.

    Returns:
        a new :class:`MConnectorResult` with the trained points and their losses.
    """
    from .train import landscape_objective, minimize

    s = resolve(settings, SUBSPACE_DEFAULTS, who="train_simplex", steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                optimizer=optimizer, schedule=schedule)
    steps, seed = s.steps, s.seed

    _check_count("steps", steps, 0)
    _check_count("n_samples", n_samples, 1)
    m, dev, dt = result.m, landscape.device, landscape.dtype
    optima = result.optima.to(device=dev, dtype=dt)
    start = result.points.to(device=dev, dtype=dt)[m + 1:]
    straight = result.straight.to(device=dev, dtype=dt)[m + 1:]
    basis, _ = torch.linalg.qr((optima[1:] - optima[0]).double().T)  # [D, m], the simplex's directions
    basis = basis.to(dt)
    gen = torch.Generator().manual_seed(seed)
    S = steps * n_samples
    # Uniform points (a flat Dirichlet, as normalised exponentials) of a random face of the simplex: its
    # dimension uniform in 1..m, its vertices a random subset. Points drawn from the whole simplex alone
    # almost never come near its edges when m is large, and the edges would stay untrained.
    e = -torch.rand(S, m + 1, generator=gen, dtype=torch.float64).log()
    if faces and m > 1:
        k = torch.randint(2, m + 2, (S, 1), generator=gen)                       # vertices of the face
        rank = torch.rand(S, m + 1, generator=gen).argsort(1).argsort(1)         # a random order of the vertices
        e = torch.where(rank < k, e, torch.zeros_like(e))
    w = e / e.sum(1, keepdim=True)
    idx, lam = _kuhn_weights(m, result.resolution, result.weights, w)
    idx = idx.view(steps, n_samples, m + 1).to(dev)
    lam = lam.view(steps, n_samples, m + 1).to(device=dev, dtype=dt)
    objective = landscape_objective(landscape, batch_size=s.batch_size, l2=s.l2, seed=seed)

    def simplex_objective(inner: torch.Tensor, step: int) -> torch.Tensor:
        pts = torch.cat([optima, inner])
        return objective((lam[step].unsqueeze(-1) * pts[idx[step]]).sum(1)).mean()

    def keep_orthogonal(inner: torch.Tensor) -> None:
        off = inner - straight
        inner.sub_((off @ basis) @ basis.T)

    run = minimize(simplex_objective, start, settings=s, after_step=keep_orthogonal, desc="simplex")
    points = torch.cat([optima, run.theta.detach()])
    return MConnectorResult(result.optima, result.resolution, result.weights, result.straight, points,
                            result.straight_loss, _batched_loss(landscape, points).cpu())


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
    gen = torch.Generator(device="cpu").manual_seed(seed)
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
