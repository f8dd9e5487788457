"""Paths between two optima: straight lines, low-loss tunnels (Fort & Jastrzebski, Section 4.2), Bezier curves.

The tunnel builder is the paper's algorithm: divide the straight line between
two optima into segments; at each division point, put up the ``(D-1)``-
dimensional hyperplane normal to the line and minimise the loss inside it,
starting on the line; connect the optimised points by straight segments.
All division points are optimised together as one batch. A quadratic Bezier
curve (Garipov et al. 2018) is trained along its whole length instead.

Simplices between ``m + 1`` optima (the m-connectors of Section 4.3) are in :mod:`lsl.paths.connectors`;
``lsl.paths.connectors.m_connector`` and its companions still work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lsl import seeds
from lsl import batching
from lsl.landscape import Landscape, check_finite
from lsl.paths.orthogonal import optimize_orthogonal
from lsl.settings import TRAIN_DEFAULTS, check_settings, trainer, TrainSettings, TUNNEL_DEFAULTS

__all__ = ["barrier", "linear_path", "polyline", "path_losses", "tunnel", "build_tunnel", "TunnelResult", "deviation_cosines",
           "bezier_curve", "bezier_points", "BezierResult", "LabelHandOver", "label_hand_over"]


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
    check_finite(theta_a, "theta_a")
    check_finite(theta_b, "theta_b")
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
    check_finite(points, "points")
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
        grad_evals: point-gradients spent training: ``steps * (K - 2)`` (each a gradient of the
            minibatch loss at one interior vertex; all of them are trained at every step), as
            :attr:`BezierResult.grad_evals` counts them for a curve.
        line_barrier, tunnel_barrier: the maximum loss along each, minus the larger endpoint loss.
    """

    points: torch.Tensor
    line: torch.Tensor
    t: torch.Tensor
    deviations: torch.Tensor
    s: torch.Tensor
    line_loss: torch.Tensor
    tunnel_loss: torch.Tensor
    grad_evals: int

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
    check_finite(points, "points")
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


@trainer(TUNNEL_DEFAULTS)
def build_tunnel(
    landscape: Landscape,
    theta_a: torch.Tensor,
    theta_b: torch.Tensor,
    *,
    n_points: int = 21,
    settings: TrainSettings = TUNNEL_DEFAULTS,
    per_segment: int = 10,
) -> TunnelResult:
    """Build the low-loss tunnel of Section 4.2 and measure it against the straight line.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.TUNNEL_DEFAULTS`:
    1000 steps of Adam at 0.01 with a cosine decay): all of them, for the in-hyperplane
    optimisation (:func:`lsl.paths.orthogonal.optimize_orthogonal`).

    Args:
        landscape: the loss landscape.
        theta_a, theta_b: the two optima ``[D]``.
        n_points: number of vertices, endpoints included (``n_points - 2`` are optimised).
        settings: the optimiser settings (default :data:`~lsl.settings.TUNNEL_DEFAULTS`).
        per_segment: samples per segment when measuring the loss along the paths.

    Returns:
        a :class:`TunnelResult`, on the landscape's device; its ``grad_evals`` is ``steps * (n_points - 2)``.
    """
    s = check_settings(settings, who="build_tunnel")
    theta_a = landscape.check_theta(theta_a, "theta_a")
    theta_b = landscape.check_theta(theta_b, "theta_b")
    if n_points < 3:
        raise ValueError(f"a tunnel needs at least one interior point: n_points >= 3, got {n_points}")
    direction = theta_b - theta_a
    if float(direction.norm()) == 0.0:
        raise ValueError("theta_a and theta_b are the same point: there is nothing to connect")
    line = linear_path(theta_a, theta_b, n_points)
    inner = optimize_orthogonal(landscape, line[1:-1], direction, settings=s)
    grad_evals = s.steps * inner.shape[0]  # every interior vertex at every step (no early stop without a target loss)
    points = torch.cat([theta_a[None], inner, theta_b[None]])
    s, line_loss = path_losses(landscape, line, per_segment)
    _, tunnel_loss = path_losses(landscape, points, per_segment)
    t = torch.linspace(0, 1, n_points, dtype=line.dtype, device=line.device)
    return TunnelResult(points, line, t, inner - line[1:-1], s, line_loss, tunnel_loss, grad_evals)


@trainer(TUNNEL_DEFAULTS)
def tunnel(landscape: Landscape, theta_a: torch.Tensor, theta_b: torch.Tensor, *, n_points: int = 21,
           settings: TrainSettings = TUNNEL_DEFAULTS, per_segment: int = 10) -> torch.Tensor:
    """The low-loss tunnel between two optima as a ``[K, D]`` tensor of points from ``theta_a`` to ``theta_b``.

    ``K = n_points`` (default 21). The arguments are those of :func:`build_tunnel`, which also
    returns the diagnostics (barriers, deviations).

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.TUNNEL_DEFAULTS`): as
    :func:`build_tunnel`.
    """
    return build_tunnel(landscape, theta_a, theta_b, n_points=n_points, settings=settings,
                        per_segment=per_segment).points


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


@trainer(TRAIN_DEFAULTS)
def bezier_curve(
    landscape: Landscape,
    theta_a: torch.Tensor,
    theta_b: torch.Tensor,
    *,
    settings: TrainSettings = TRAIN_DEFAULTS,
    n_samples: int = 4,
    n_points: int = 61,
    eval_every: int | None = None,
) -> BezierResult:
    """Train the quadratic Bezier curve of Garipov et al. (2018) between two optima.

    The curve is ``phi(t) = (1-t)^2 a + 2 t (1-t) m + t^2 b``. Its control point ``m`` starts at
    the midpoint ``(a + b) / 2`` (so the curve starts as the straight line) and is trained to
    minimise the expected loss ``E_{t ~ U(0, 1)} L(phi(t))``: each step draws ``n_samples``
    values of ``t`` and evaluates the curve's points there as one batch.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.TRAIN_DEFAULTS`: Adam at a constant
    learning rate): all of them; ``seed`` seeds the samples of ``t`` and the minibatches.

    Args:
        landscape: the loss landscape.
        theta_a: the first optimum ``[D]``.
        theta_b: the second optimum ``[D]``.
        settings: the optimiser settings (default :data:`~lsl.settings.TRAIN_DEFAULTS`); ``steps`` and ``lr`` must be
            given.
        n_samples: values of ``t`` drawn per step.
        n_points: number of evenly spaced ``t`` (ends included) at which the finished curve,
            and the history, are measured (in one batched evaluation).
        eval_every: if given, also measure the barrier every this many steps (and at the
            start), for plots of barrier versus gradient evaluations.

    Returns:
        a :class:`BezierResult`.
    """
    s = check_settings(settings, who="bezier_curve")
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
    from lsl.training.trainer import landscape_objective, minimize

    t_eval = torch.linspace(0, 1, n_points, dtype=landscape.dtype, device=landscape.device)
    objective = landscape_objective(landscape, batch_size=s.batch_size, l2=s.l2, seed=seed)
    gen = torch.Generator(device="cpu").manual_seed(seeds.shifted(seed))
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
