"""Probing a landscape along random directions: radial profiles and tunnel widths.

"Living on a wedge, probing randomly, seeing a hole" (Fort & Jastrzebski,
Section 3.3): in high dimension the loss along a random direction from a
point depends on the distance, hardly on the direction, so every point looks
like the bottom of a round well. :func:`radial_profile` measures that in one
batched evaluation of ``n_directions x n_radii`` points.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .landscape import Landscape

__all__ = ["random_directions", "radial_profile", "RadialProfile"]


def random_directions(D: int, k: int, *, seed: int = 0, device=None, dtype=torch.float32) -> torch.Tensor:
    """``k`` independent uniformly random unit vectors in ``R^D`` (``[k, D]``), seeded."""
    if D < 1 or k < 1:
        raise ValueError(f"need D >= 1 and k >= 1, got D={D}, k={k}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(k, D, generator=gen, dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).to(device=device, dtype=dtype)


@dataclass
class RadialProfile:
    """Loss along random rays from a point.

    Attributes:
        radii: distances ``[R]``.
        losses: loss at ``theta + r v`` for every direction and radius ``[K, R]``.
        base_loss: loss at ``theta`` itself.
        theta_norm: ``||theta||``, to turn widths into angles.
    """

    radii: torch.Tensor
    losses: torch.Tensor
    base_loss: float
    theta_norm: float

    def spread(self) -> torch.Tensor:
        """Relative spread of the loss over directions at each radius, std / mean ``[R]``."""
        return self.losses.std(0) / self.losses.mean(0).abs().clamp_min(torch.finfo(self.losses.dtype).tiny)

    def width(self, threshold: float) -> torch.Tensor:
        """Per direction, the first radius at which the loss exceeds ``threshold`` ``[K]``.

        Directions that never exceed it within the probed radii get ``inf``.
        Between probed radii the crossing is interpolated linearly.
        """
        above = self.losses > threshold
        first = torch.where(above.any(1), above.float().argmax(1), torch.full_like(above[:, 0], -1, dtype=torch.long))
        out = torch.full((self.losses.shape[0],), float("inf"), dtype=self.radii.dtype)
        for k, j in enumerate(first.tolist()):
            if j == 0:
                out[k] = self.radii[0]
            elif j > 0:
                l0, l1 = self.losses[k, j - 1], self.losses[k, j]
                frac = (threshold - l0) / (l1 - l0)
                out[k] = self.radii[j - 1] + frac * (self.radii[j] - self.radii[j - 1])
        return out

    def angular_width(self, threshold: float) -> torch.Tensor:
        """:meth:`width` divided by ``||theta||`` (the tunnel's width as an angle, in radians for small values)."""
        return self.width(threshold) / self.theta_norm


def radial_profile(
    landscape: Landscape,
    theta: torch.Tensor,
    radii: torch.Tensor,
    *,
    n_directions: int = 100,
    seed: int = 0,
    directions: torch.Tensor | None = None,
    max_elements: int = 2**25,
) -> RadialProfile:
    """The loss at ``theta + r v`` for ``n_directions`` random unit vectors ``v`` and every radius ``r``.

    The ``n_directions * len(radii)`` points are evaluated as a few large batches
    (one, unless they would exceed ``max_elements`` values).

    Args:
        landscape: the landscape.
        theta: the centre ``[D]``.
        radii: distances to probe ``[R]`` (any order; kept as given).
        n_directions: number of random directions (ignored when ``directions`` is given).
        seed: seeds the directions.
        directions: explicit unit directions ``[K, D]``.
        max_elements: bound on the number of parameter values materialised at once; the
            points are evaluated in batches of whole directions under this bound.
    """
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError("radial_profile takes one centre point theta [D]")
    radii = torch.as_tensor(radii, dtype=landscape.dtype, device=landscape.device)
    if directions is None:
        directions = random_directions(landscape.D, n_directions, seed=seed, device=landscape.device, dtype=landscape.dtype)
    else:
        directions = landscape.check_theta(directions, "directions")
    K, R = directions.shape[0], radii.shape[0]
    # Evaluate in chunks of whole directions so that at most ~max_elements parameters are in memory.
    per_chunk = max(1, max_elements // max(1, R * landscape.D))
    rows = []
    with torch.no_grad():
        for dirs in directions.split(per_chunk):
            points = theta + radii.view(1, R, 1) * dirs.view(dirs.shape[0], 1, -1)
            rows.append(landscape.loss(points.reshape(-1, landscape.D)).view(dirs.shape[0], R))
        losses = torch.cat(rows)
        base = float(landscape.loss(theta))
    return RadialProfile(radii.cpu(), losses.cpu(), base, float(theta.norm()))
