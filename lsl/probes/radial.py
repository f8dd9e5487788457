"""Probing a landscape along random directions: radial profiles and tunnel widths.

"Living on a wedge, probing randomly, seeing a hole" (Fort & Jastrzebski,
Section 3.3): in high dimension the loss along a random direction from a
point depends on the distance, hardly on the direction, so every point looks
like the bottom of a round well. :func:`radial_profile` measures that in one
batched evaluation of ``n_directions x n_radii`` points.

**Tunnel widths** (Fort & Jastrzebski, Section 4.4 and Figure 5): at an optimum,
how far one can walk along a random direction before the loss rises past a
threshold (the width of the radial tunnel), and that width as an angle,
width / ``||theta||``. :func:`tunnel_widths` measures both at many optima, e.g.
the members of a :class:`lsl.training.families.Family` trained at matched loss.

**Sweeps**: :func:`angular_sweep` trains a family of optima per hyperparameter at matched loss
(:func:`lsl.training.families.train_family`) and measures the angular width of every member, the
experiment behind Figure 5 on one network and seed.

The loss on a plane through three points is in :mod:`lsl.probes.planes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from lsl import seeds
from lsl import batching
from lsl.landscape import Landscape, check_finite
from lsl.settings import FAMILY_DEFAULTS, TrainSettings

__all__ = ["random_directions", "radial_profile", "RadialProfile", "tunnel_widths", "TunnelWidths",
           "angular_sweep", "AngularSweep"]


def random_directions(D: int, k: int, *, seed: int = 0, device=None, dtype=torch.float32) -> torch.Tensor:
    """``k`` independent uniformly random unit vectors in ``R^D`` (``[k, D]``), seeded."""
    if D < 1 or k < 1:
        raise ValueError(f"need D >= 1 and k >= 1, got D={D}, k={k}")
    gen = torch.Generator(device="cpu").manual_seed(seeds.shifted(seed))
    v = torch.randn(k, D, generator=gen, dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).to(device=device, dtype=dtype)


@dataclass(frozen=True)
class RadialProfile:
    """Loss along random rays from a point (see :func:`radial_profile`).

    ``radii`` and ``losses`` are on the CPU.

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
    max_elements: int | None = None,
) -> RadialProfile:
    """The loss at ``theta + r v`` for ``n_directions`` random unit vectors ``v`` and every radius ``r``.

    The ``n_directions * len(radii)`` points are evaluated as a few large batches of whole
    directions (one, unless they would exceed the evaluation policy's budget, :mod:`lsl.batching`).

    Args:
        landscape: the landscape.
        theta: the centre ``[D]``.
        radii: distances to probe ``[R]`` (any order; kept as given).
        n_directions: number of random directions (ignored when ``directions`` is given).
        seed: seeds the directions.
        directions: explicit unit directions ``[K, D]``.
        max_elements: bound on the number of parameter values materialised at once (``None``: the
            device's budget); the points are evaluated in batches of whole directions under this bound.
    """
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError("radial_profile takes one centre point theta [D]")
    radii = torch.as_tensor(radii, dtype=landscape.dtype, device=landscape.device)
    if radii.dim() != 1 or radii.numel() == 0:
        raise ValueError(f"radii must be a non-empty 1-D sequence of distances, got shape {tuple(radii.shape)}")
    check_finite(radii, "radii")
    if directions is None:
        directions = random_directions(landscape.D, n_directions, seed=seed, device=landscape.device, dtype=landscape.dtype)
    else:
        directions = landscape.check_theta(directions, "directions")
    K, R = directions.shape[0], radii.shape[0]
    # Evaluate in batches of whole directions, each within the budget of parameter values in memory.
    per_chunk = batching.points_per_batch(landscape.device, landscape.D, K, per_point=R, max_elements=max_elements)
    rows = []
    with torch.no_grad():
        for dirs in directions.split(per_chunk):
            points = theta + radii.view(1, R, 1) * dirs.view(dirs.shape[0], 1, -1)
            rows.append(landscape.loss(points.reshape(-1, landscape.D)).view(dirs.shape[0], R))
        losses = torch.cat(rows)
        base = float(landscape.loss(theta))
    return RadialProfile(radii.cpu(), losses.cpu(), base, float(theta.norm()))


# ---------------------------------------------------------------------------
# Tunnel widths: where the loss along each ray first exceeds a threshold


@dataclass(frozen=True)
class TunnelWidths:
    """Radial tunnel widths of ``M`` optima, each probed along ``K`` random directions (see :func:`tunnel_widths`).

    Every tensor is on the CPU (``thresholds``, ``base_losses``, ``theta_norms`` and ``max_radii`` in float64).

    Attributes:
        widths: per optimum and direction, the distance at which the loss first exceeds the
            threshold ``[M, K]`` (:meth:`RadialProfile.width`; ``inf`` if it never does
            within the probed radii).
        angular_widths: ``widths / ||theta||`` ``[M, K]`` (:meth:`RadialProfile.angular_width`).
        thresholds: the loss threshold used for each optimum ``[M]``.
        base_losses: the loss at each optimum ``[M]``.
        theta_norms: ``||theta||`` of each optimum ``[M]``.
        max_radii: the largest probed radius for each optimum ``[M]``.
        profiles: the :class:`RadialProfile` of each optimum.
    """

    widths: torch.Tensor
    angular_widths: torch.Tensor
    thresholds: torch.Tensor
    base_losses: torch.Tensor
    theta_norms: torch.Tensor
    max_radii: torch.Tensor
    profiles: list[RadialProfile]

    @property
    def width(self) -> torch.Tensor:
        """Mean width over directions ``[M]`` (``inf`` if a direction never crossed the threshold)."""
        return self.widths.mean(1)

    @property
    def width_std(self) -> torch.Tensor:
        """Standard deviation of the width over directions ``[M]``."""
        return self.widths.std(1) if self.widths.shape[1] > 1 else torch.zeros(self.widths.shape[0])

    @property
    def angular_width(self) -> torch.Tensor:
        """Mean angular width over directions ``[M]``."""
        return self.angular_widths.mean(1)

    @property
    def angular_std(self) -> torch.Tensor:
        """Standard deviation of the angular width over directions ``[M]``."""
        a = self.angular_widths
        return a.std(1) if a.shape[1] > 1 else torch.zeros(a.shape[0])

    @property
    def spread(self) -> torch.Tensor:
        """Relative spread of the width over directions, std / mean ``[M]`` (the same for the angle)."""
        return self.width_std / self.width

    @property
    def escaped(self) -> torch.Tensor:
        """Number of directions per optimum that never crossed the threshold ``[M]``."""
        return torch.isinf(self.widths).sum(1)


def _threshold(base: float, threshold, rise, factor) -> float:
    if threshold is not None:
        return float(threshold)
    if rise is not None:
        return base + float(rise)
    return base * float(factor)


def tunnel_widths(
    landscape: Landscape | Sequence[Landscape],
    thetas: torch.Tensor | Sequence[torch.Tensor],
    *,
    n_directions: int = 50,
    radii: torch.Tensor | None = None,
    max_radius: float | None = None,
    max_angle: float | None = None,
    n_radii: int = 40,
    grow: int = 4,
    threshold: float | None = None,
    rise: float | None = None,
    factor: float | None = None,
    seed: int = 0,
    directions: torch.Tensor | None = None,
) -> TunnelWidths:
    """Width and angular width of the radial tunnel at each of ``M`` optima.

    For each optimum, :func:`radial_profile` evaluates the loss along
    ``n_directions`` random unit directions (the same directions for every optimum of the
    same ``D``: ``seed`` fixes them) at a grid of radii, and
    :meth:`~RadialProfile.width` / :meth:`~RadialProfile.angular_width`
    turn each ray into the first radius at which the loss exceeds the threshold.

    The threshold is given in exactly one of three ways: an absolute loss
    ``threshold``; a ``rise`` above the optimum's own loss (threshold = ``L(theta) +
    rise``, the convention of :func:`lsl.curvature.short_directions.count_short_directions`); or a
    ``factor`` times the optimum's loss. At matched training loss the three rank the
    members alike; ``rise`` and ``factor`` adapt to each optimum's exact loss.

    Args:
        landscape: one landscape for all optima, or one per optimum (e.g. ``Family.landscapes``).
        thetas: the optima, ``[M, D]`` or a list of ``[D]`` tensors (e.g. ``Family.thetas``).
        n_directions: random directions per optimum.
        radii: explicit radii ``[R]`` (increasing, starting at 0); then ``max_radius``, ``max_angle`` and
            ``grow`` are ignored.
        max_radius: the largest radius of the grid ``linspace(0, max_radius, n_radii)``.
        max_angle: instead of ``max_radius``, the largest radius as a multiple of each optimum's
            ``||theta||`` (default when neither is given: 1, i.e. angles up to about one radian).
        n_radii: number of radii of the grid.
        grow: if some direction never crosses the threshold within ``max_radius``, double
            ``max_radius`` and probe again, at most this many times (0: never).
        threshold, rise, factor: the threshold (exactly one of them).
        seed: seeds the directions.
        directions: explicit unit directions ``[K, D]`` instead of random ones (one ``D`` only).

    Returns:
        a :class:`TunnelWidths`.
    """
    if sum(v is not None for v in (threshold, rise, factor)) != 1:
        raise ValueError("give exactly one of threshold (absolute loss), rise (above the optimum's loss) "
                         "or factor (times the optimum's loss)")
    if rise is not None and not rise > 0:
        raise ValueError(f"rise must be > 0, got {rise}")
    if factor is not None and not factor > 1:
        raise ValueError(f"factor must be > 1, got {factor}")
    if isinstance(thetas, torch.Tensor):
        thetas = [thetas] if thetas.dim() == 1 else list(thetas)
    thetas = list(thetas)
    if isinstance(landscape, Landscape):
        lands = [landscape] * len(thetas)
    else:
        lands = list(landscape)
        if len(lands) != len(thetas):
            raise ValueError(f"got {len(lands)} landscapes for {len(thetas)} optima")
    if not thetas:
        raise ValueError("no optima given")
    if radii is not None:
        radii = torch.as_tensor(radii, dtype=torch.float64)
        if radii.dim() != 1 or radii.numel() < 2 or bool((radii.diff() <= 0).any()) or float(radii[0]) < 0:
            raise ValueError("radii must be an increasing 1-D grid of at least 2 non-negative distances")
    elif n_radii < 2:
        raise ValueError(f"n_radii must be >= 2, got {n_radii}")
    if max_radius is not None and max_angle is not None:
        raise ValueError("give max_radius or max_angle, not both")
    for name, v in (("max_radius", max_radius), ("max_angle", max_angle)):
        if v is not None and not v > 0:
            raise ValueError(f"{name} must be > 0, got {v}")

    profiles, widths, angles, thrs, bases, norms, maxr = [], [], [], [], [], [], []
    for land, theta in zip(lands, thetas):
        theta = land.check_theta(theta)
        if theta.dim() != 1:
            raise ValueError("each optimum must be one point [D]")
        kw = dict(n_directions=n_directions, seed=seed, directions=directions)
        if radii is not None:
            prof = radial_profile(land, theta, radii, **kw)
            thr = _threshold(prof.base_loss, threshold, rise, factor)
        else:
            r_max = float(max_radius) if max_radius is not None else float(max_angle or 1.0) * float(theta.norm())
            if r_max <= 0:
                raise ValueError("theta is the origin: give max_radius")
            for attempt in range(grow + 1):
                grid = torch.linspace(0.0, r_max, n_radii, dtype=torch.float64)
                prof = radial_profile(land, theta, grid, **kw)
                thr = _threshold(prof.base_loss, threshold, rise, factor)
                if attempt == grow or not bool(torch.isinf(prof.width(thr)).any()):
                    break
                r_max *= 2
        profiles.append(prof)
        widths.append(prof.width(thr))
        angles.append(prof.angular_width(thr))
        thrs.append(thr)
        bases.append(prof.base_loss)
        norms.append(prof.theta_norm)
        maxr.append(float(prof.radii.max()))
    try:
        W, A = torch.stack(widths), torch.stack(angles)
    except RuntimeError as exc:
        raise ValueError("every optimum must be probed along the same number of directions") from exc
    f64 = torch.float64
    return TunnelWidths(W, A, torch.tensor(thrs, dtype=f64), torch.tensor(bases, dtype=f64),
                        torch.tensor(norms, dtype=f64), torch.tensor(maxr, dtype=f64), profiles)


@dataclass(frozen=True)
class AngularSweep:
    """Angular widths across hyperparameter sweeps of one network and seed (see :func:`angular_sweep`).

    Attributes:
        values: per hyperparameter, the values swept (one member each).
        families: per hyperparameter, the trained :class:`lsl.training.families.Family`.
        widths: per hyperparameter, the members' :class:`TunnelWidths`.
        angles: per hyperparameter, the mean angular width of each member (a NumPy array, one per value).
    """

    values: dict[str, tuple]
    families: dict[str, Any]
    widths: dict[str, TunnelWidths]
    angles: dict[str, np.ndarray]


def angular_sweep(
    build: Landscape | Callable[..., Landscape],
    sweeps: Mapping[str, Sequence],
    *,
    settings: TrainSettings = FAMILY_DEFAULTS,
    target_loss: float | None,
    check_every: int = 50,
    cache: bool = True,
    **width_options,
) -> AngularSweep:
    """Train one family per hyperparameter at matched training loss and measure each member's angular width.

    For each ``hparam, values`` of ``sweeps`` (in order), :func:`lsl.training.families.train_family`
    trains one optimum per value, then :func:`tunnel_widths` probes them all. The plain loop::

        for h, values in sweeps.items():
            fam = train_family(build, h, values, settings=settings, target_loss=target_loss)
            angles[h] = tunnel_widths(fam.landscapes, fam.thetas, **width_options).angular_width

    Args:
        build: a builder of landscapes, ``build(**overrides)`` (:func:`lsl.data.nets.network`), or a
            landscape (then only ``"lr"``, ``"batch_size"`` and ``"l2"`` can be swept).
        sweeps: hyperparameter -> the values to sweep (``"lr"``, ``"batch_size"``, ``"l2"``, ``"dropout"``,
            ``"width"``); an ``"lr"`` sweep gives its learning rates here, not through ``settings``.
        settings: the optimiser settings shared by every member (SGD at a constant rate; ``steps`` is the
            cap per member, ``lr`` the base learning rate; default
            :data:`~lsl.settings.FAMILY_DEFAULTS`).
        target_loss: the matched full-batch training loss (``None``: train every member for ``settings.steps``).
        check_every: steps between checks of the training loss (``>= 1``).
        cache: load members from / store them in :mod:`lsl.cache`.
        **width_options: passed to :func:`tunnel_widths` (``n_directions``, ``rise``, ``max_angle``, ``n_radii``...).

    Returns:
        an :class:`AngularSweep`.

    Raises:
        TypeError: if ``settings`` is not a :class:`~lsl.settings.TrainSettings`.
        ValueError: for an empty ``sweeps``, an unknown hyperparameter, or invalid settings (see
            :func:`lsl.training.families.train_family`).
    """
    from lsl import arguments
    from lsl.training.families import train_family

    if not isinstance(settings, TrainSettings):
        raise TypeError(f"angular_sweep: settings must be a lsl.settings.TrainSettings, got {type(settings).__name__}")
    if not isinstance(sweeps, Mapping) or not sweeps:
        raise ValueError(f"sweeps must be a non-empty mapping of hyperparameter -> values, got {sweeps!r}")
    check_every = arguments.integer("check_every", check_every, low=1)
    values, fams, widths, angles = {}, {}, {}, {}
    for h, vals in sweeps.items():
        values[h] = tuple(vals)
        fams[h] = train_family(build, h, list(vals), settings=settings, target_loss=target_loss,
                               check_every=check_every, cache=cache)
        widths[h] = tunnel_widths(fams[h].landscapes, fams[h].thetas, **width_options)
        angles[h] = widths[h].angular_width.cpu().numpy()
    return AngularSweep(values, fams, widths, angles)
