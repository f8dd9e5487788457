"""Paths between optima: linear interpolations and low-loss tunnels (Fort & Jastrzebski, Section 4.2).

The tunnel builder is the paper's algorithm: divide the straight line between
two optima into segments; at each division point, put up the ``(D-1)``-
dimensional hyperplane normal to the line and minimise the loss inside it,
starting on the line; connect the optimised points by straight segments.
All division points are optimised together as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .landscape import Landscape
from .subspace import optimize_orthogonal

__all__ = ["linear_path", "polyline", "path_losses", "tunnel", "build_tunnel", "TunnelResult", "deviation_cosines"]


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


@dataclass
class TunnelResult:
    """A tunnel between two optima and its diagnostics.

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
        return float(self.line_loss.max() - self.line_loss[[0, -1]].max())

    @property
    def tunnel_barrier(self) -> float:
        """Height of the loss barrier on the tunnel above the higher endpoint."""
        return float(self.tunnel_loss.max() - self.tunnel_loss[[0, -1]].max())

    def cosines(self) -> torch.Tensor:
        """Cosines between the deviation vectors of the interior vertices (Figure 3, middle)."""
        return deviation_cosines(self.deviations)


def build_tunnel(
    landscape: Landscape,
    theta_a: torch.Tensor,
    theta_b: torch.Tensor,
    *,
    n_points: int = 21,
    steps: int = 1000,
    lr: float = 0.01,
    optimizer: str = "adam",
    schedule: str = "cosine",
    batch_size: int | None = None,
    per_segment: int = 10,
    seed: int = 0,
) -> TunnelResult:
    """Build the low-loss tunnel of Section 4.2 and measure it against the straight line.

    Args:
        landscape: the loss landscape.
        theta_a, theta_b: the two optima ``[D]``.
        n_points: number of vertices, endpoints included (``n_points - 2`` are optimised).
        steps, lr, optimizer, schedule, batch_size, seed: the in-hyperplane optimisation.
        per_segment: samples per segment when measuring the loss along the paths.
    """
    theta_a = landscape.check_theta(theta_a, "theta_a")
    theta_b = landscape.check_theta(theta_b, "theta_b")
    if n_points < 3:
        raise ValueError(f"a tunnel needs at least one interior point: n_points >= 3, got {n_points}")
    direction = theta_b - theta_a
    if float(direction.norm()) == 0.0:
        raise ValueError("theta_a and theta_b are the same point: there is nothing to connect")
    line = linear_path(theta_a, theta_b, n_points)
    inner = optimize_orthogonal(landscape, line[1:-1], direction, steps=steps, lr=lr, optimizer=optimizer,
                                schedule=schedule, batch_size=batch_size, seed=seed)
    points = torch.cat([theta_a[None], inner, theta_b[None]])
    s, line_loss = path_losses(landscape, line, per_segment)
    _, tunnel_loss = path_losses(landscape, points, per_segment)
    t = torch.linspace(0, 1, n_points, dtype=line.dtype, device=line.device)
    return TunnelResult(points, line, t, inner - line[1:-1], s, line_loss, tunnel_loss)


def tunnel(landscape: Landscape, theta_a: torch.Tensor, theta_b: torch.Tensor, *, n_points: int = 21, **options) -> torch.Tensor:
    """The low-loss tunnel between two optima as a ``[K, D]`` tensor of points from ``theta_a`` to ``theta_b``.

    ``K = n_points`` (default 21). Options are those of :func:`build_tunnel`,
    which also returns the diagnostics (barriers, deviations).
    """
    return build_tunnel(landscape, theta_a, theta_b, n_points=n_points, **options).points
