"""Straight and random paths through a landscape: the line from initialisation, random detours, radial motion.

Three statements of Fort & Jastrzebski (2019) outside their figures are about paths, and this module
measures them:

- Goodfellow et al. (2015), whom they cite in Section 2: the loss along the straight line from the
  initialisation to the trained network typically falls monotonically. :func:`line_losses` evaluates a
  landscape along segments (many at once) and :func:`largest_rise` says how far a sequence of losses
  ever climbs back above its running minimum.
- Section 2: a pair of independent optima has a wall on the straight line between them "as well as on
  any random path". :func:`random_paths` draws two-segment paths between two points through random
  detours and measures each one's barrier.
- Figure 1's caption: "optimization moves the network primarily radially at first".
  :func:`radial_cosine` is the cosine between a displacement and the radial direction at its start.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lsl import batching
from lsl.arguments import integer, number
from lsl.landscape import Landscape, check_finite

__all__ = ["line_losses", "largest_rise", "relative_rise", "farther_share", "random_paths", "RandomPaths",
           "radial_cosine"]


def line_losses(landscape: Landscape, start: torch.Tensor, end: torch.Tensor, n_points: int = 51) -> torch.Tensor:
    """The loss at ``n_points`` evenly spaced points of the straight segment from ``start`` to ``end``.

    Args:
        landscape: the landscape.
        start, end: the segment's ends, ``[D]``, or ``[B, D]`` for ``B`` segments at once.
        n_points: points per segment, both ends included (at least 2).

    Returns:
        ``[n_points]`` (or ``[B, n_points]``) losses, the first at ``start`` and the last at ``end``.
    """
    n_points = integer("n_points", n_points, low=2)
    start, end = landscape.check_theta(start, "start"), landscape.check_theta(end, "end")
    if start.shape != end.shape:
        raise ValueError(f"start and end must have the same shape, got {tuple(start.shape)} and {tuple(end.shape)}")
    single = start.dim() == 1
    start, end = start.reshape(-1, landscape.D), end.reshape(-1, landscape.D)
    t = torch.linspace(0, 1, n_points, device=start.device, dtype=start.dtype).view(1, -1, 1)
    per_chunk = batching.points_per_batch(landscape.device, landscape.D, start.shape[0], per_point=n_points)
    rows = []
    with torch.no_grad():
        for s, e in zip(start.split(per_chunk), end.split(per_chunk)):
            points = s.unsqueeze(1) + t * (e - s).unsqueeze(1)
            rows.append(landscape.loss(points.reshape(-1, landscape.D)).view(s.shape[0], n_points))
    out = torch.cat(rows)
    return out[0] if single else out


def largest_rise(losses: torch.Tensor) -> torch.Tensor:
    """How far a sequence of losses climbs back above its running minimum: ``max_i (l_i - min_{j<=i} l_j)``.

    Zero exactly when the sequence never rises (a monotonically falling loss); a measure of the
    obstacles on a path from its first point to its last.

    Args:
        losses: ``[n]`` or ``[B, n]`` losses along paths, in order.

    Returns:
        a scalar tensor (or ``[B]``).
    """
    losses = torch.as_tensor(losses)
    check_finite(losses, "losses")
    if losses.dim() not in (1, 2) or losses.shape[-1] < 1:
        raise ValueError(f"losses must be [n] or [B, n] with n >= 1, got shape {tuple(losses.shape)}")
    running_min = torch.cummin(losses, dim=-1).values
    return (losses - running_min).max(dim=-1).values


def relative_rise(losses: torch.Tensor) -> torch.Tensor:
    """The largest rise of a path (:func:`largest_rise`) as a share of its total fall, first loss minus last.

    Lucas et al. (2021) ask whether the line from a network's initialisation to its trained weights
    falls monotonically; this is the size of the largest bump on it in units of the loss it loses in
    all, so that one tolerance serves networks whose losses differ.

    Args:
        losses: ``[n]`` or ``[B, n]`` losses along paths, in order, each falling overall (first > last).

    Returns:
        a scalar tensor (or ``[B]``), zero for a monotonically falling path.
    """
    losses = torch.as_tensor(losses)
    rise = largest_rise(losses)
    fall = losses[..., 0] - losses[..., -1]
    if bool((fall <= 0).any()):
        raise ValueError("relative_rise needs paths whose last loss is below their first (a fall to measure against)")
    return rise / fall


def farther_share(distance, flagged) -> float:
    """Over all pairs of one flagged and one unflagged item, the share in which the flagged one has the larger distance.

    The Mann-Whitney statistic over ``n_flagged * n_unflagged`` pairs, ties counting a half: 1 when every
    flagged item (e.g. a network whose line from initialisation is not monotone) travelled farther than
    every other, 0.5 when distance says nothing, and 0.5 when either group is empty.

    Args:
        distance: ``[N]`` numbers (e.g. each network's relative distance from its initialisation).
        flagged: ``[N]`` booleans.
    """
    d = torch.as_tensor(distance, dtype=torch.float64).flatten()
    f = torch.as_tensor(flagged, dtype=torch.bool).flatten()
    if d.shape != f.shape:
        raise ValueError(f"distance and flagged must have the same length, got {d.numel()} and {f.numel()}")
    check_finite(d, "distance")
    a, b = d[f], d[~f]
    if a.numel() == 0 or b.numel() == 0:
        return 0.5
    diff = a[:, None] - b[None, :]
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


@dataclass(frozen=True)
class RandomPaths:
    """Two-segment paths from ``a`` to ``b`` through random detours (see :func:`random_paths`). On the CPU.

    Attributes:
        losses: ``[K, 2 n_points - 1]`` losses along each path, from ``a`` to ``b``.
        barriers: ``[K]`` each path's barrier: its highest loss above the higher of its two ends.
        line_barrier: the straight line's barrier, for comparison.
        detour: the distance of every detour point from the line's midpoint, as a multiple of ``|b - a| / 2``.
    """

    losses: torch.Tensor
    barriers: torch.Tensor
    line_barrier: float
    detour: float

    def share_above(self, level: float) -> float:
        """The share of the paths whose barrier is at least ``level``."""
        return float((self.barriers >= level).float().mean())


def random_paths(landscape: Landscape, a: torch.Tensor, b: torch.Tensor, *, n_paths: int = 20, n_points: int = 26,
                 detour: float = 1.0, seed: int = 0) -> RandomPaths:
    """Barriers of random two-segment paths ``a -> m_k -> b``, ``m_k`` the line's midpoint moved at random.

    Each detour point is the midpoint of ``a`` and ``b`` plus a uniformly random direction (independent
    of the line) of length ``detour * |b - a| / 2``; ``detour = 0`` gives the straight line itself.

    Args:
        landscape: the landscape.
        a, b: the two ends ``[D]``.
        n_paths: how many random paths.
        n_points: points per segment (the middle point is shared).
        detour: the detour's length, in units of half the distance between ``a`` and ``b``.
        seed: seeds the random directions.
    """
    from lsl.probes.radial import random_directions

    n_paths = integer("n_paths", n_paths, low=1)
    n_points = integer("n_points", n_points, low=2)
    detour = number("detour", detour, low=0.0)
    a, b = landscape.check_theta(a, "a"), landscape.check_theta(b, "b")
    if a.dim() != 1 or b.dim() != 1:
        raise ValueError("random_paths takes two points a, b of shape [D]")
    half = (b - a).norm() / 2
    dirs = random_directions(landscape.D, n_paths, seed=seed, device=a.device, dtype=a.dtype)
    middles = (a + b) / 2 + detour * half * dirs
    first = line_losses(landscape, a.expand(n_paths, -1), middles, n_points)
    second = line_losses(landscape, middles, b.expand(n_paths, -1), n_points)
    losses = torch.cat([first, second[:, 1:]], dim=1).cpu()
    ends = torch.maximum(losses[:, 0], losses[:, -1])
    line = line_losses(landscape, a, b, 2 * n_points - 1).cpu()
    return RandomPaths(losses, losses.max(1).values - ends, float(line.max() - line[[0, -1]].max()), float(detour))


def radial_cosine(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """The cosine between the displacement ``end - start`` and the radial direction ``start / |start|``.

    ``+1``: the move is straight outwards from the origin; ``-1``: straight inwards; a random
    displacement in ``D`` dimensions gives about ``±1/sqrt(D)``.

    Args:
        start, end: ``[D]`` or ``[B, D]`` (rows paired).

    Returns:
        a scalar tensor (or ``[B]``).
    """
    start, end = torch.as_tensor(start), torch.as_tensor(end)
    check_finite(start, "start")
    check_finite(end, "end")
    if start.shape != end.shape:
        raise ValueError(f"start and end must have the same shape, got {tuple(start.shape)} and {tuple(end.shape)}")
    move = end - start
    norms = start.norm(dim=-1) * move.norm(dim=-1)
    if bool((norms == 0).any()):
        raise ValueError("radial_cosine needs a start away from the origin and a displacement that is not zero")
    return (move * start).sum(-1) / norms
