"""The n-wedge toy model of Fort & Jastrzebski (2019), Section 3.

The low-loss set is the union of all axis-aligned ``n``-dimensional coordinate
subspaces of ``R^D`` (the *n-wedges*): every choice of ``n`` of the ``D`` axes
spans one wedge, and all of them meet at the origin. The surrogate loss of a
point is its Euclidean distance to the nearest wedge, computed without storing
any wedge: sort ``|theta|``, keep the ``D - n`` smallest components, take the
square root of the sum of their squares.
"""

from __future__ import annotations

import numbers

import torch

from lsl.landscape import Landscape

__all__ = ["WedgeLandscape"]


class WedgeLandscape(Landscape):
    """Distance to the nearest axis-aligned n-wedge in ``R^D`` (the surrogate loss of Section 3.2).

    Args:
        D: dimension of the space (number of parameters), ``D >= 2``.
        n: dimension of each wedge (its number of long directions), ``1 <= n < D``.
            Every point has ``s = D - n`` short directions.
        device, dtype: where and in which precision the loss is evaluated.

    ``loss`` accepts one point ``[D]`` (returns a scalar) or a batch ``[B, D]``
    (returns ``[B]``), on CPU or GPU. At a point off the wedges the loss is
    differentiable, with gradient ``theta_S / L`` on the short coordinates
    ``S`` and zero elsewhere; exactly on a wedge the gradient is taken as zero
    (the Hessian is undefined there: ``hvp`` returns NaN, ``hessian_closed_form`` raises).
    """

    def __init__(self, D: int, n: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in (D, n)):
            raise TypeError(f"D and n must be integers, got D={D!r}, n={n!r}")
        D, n = int(D), int(n)
        if D < 2:
            raise ValueError(f"D must be at least 2, got D={D}")
        if not 1 <= n < D:
            raise ValueError(
                f"the wedge dimension n must satisfy 1 <= n < D (a wedge has at least one short "
                f"direction); got n={n}, D={D}. Choose n in [1, {D - 1}]."
            )
        self.D, self.n = D, n
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.dtype = dtype

    @property
    def s(self) -> int:
        """Number of short directions, ``D - n`` (the d_lim of random-hyperplane training)."""
        return self.D - self.n

    def short_indices(self, theta: torch.Tensor) -> torch.Tensor:
        """Indices of the ``D - n`` smallest-magnitude coordinates (the short directions of the nearest wedge)."""
        theta = self.check_theta(theta, finite=False)
        return torch.topk(theta.detach().abs(), self.s, dim=-1, largest=False).indices

    def long_indices(self, theta: torch.Tensor) -> torch.Tensor:
        """Indices of the ``n`` largest-magnitude coordinates: the axes spanning the nearest wedge."""
        theta = self.check_theta(theta, finite=False)
        return torch.topk(theta.detach().abs(), self.n, dim=-1, largest=True).indices

    def _loss_batch(self, theta: torch.Tensor, **_) -> torch.Tensor:
        idx = torch.topk(theta.detach().abs(), self.s, dim=-1, largest=False).indices
        small = theta.gather(-1, idx)
        return torch.linalg.vector_norm(small, dim=-1)

    def project(self, theta: torch.Tensor) -> torch.Tensor:
        """The nearest point on the nearest wedge (short coordinates set to zero)."""
        theta = self.check_theta(theta, finite=False)
        return theta.detach().scatter(-1, self.short_indices(theta), 0.0)

    def shared_long_axes(self, points: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Fraction of each point's long axes (its nearest wedge) that are also long axes of ``reference``.

        1 means the point sits on the same wedge as ``reference``; two random wedges share
        about ``n / D`` of their axes. Returns a scalar for one point, ``[B]`` for a batch.
        """
        ref = self.long_indices(reference)
        if ref.dim() != 1:
            raise ValueError("reference must be a single point [D]")
        mask = torch.zeros(self.D, dtype=torch.bool, device=self.device)
        mask[ref] = True
        return mask[self.long_indices(points)].to(self.dtype).mean(-1)

    def connector(self, theta_a: torch.Tensor, theta_b: torch.Tensor) -> torch.Tensor:
        """A zero-loss path between two points on wedges, through the wedges' intersection.

        Returns the 4 vertices ``[4, D]`` of the polyline ``a -> a' -> b' -> b`` where
        ``a'`` and ``b'`` keep only the coordinates long in *both* nearest wedges.
        Each segment lies inside one wedge, so the loss is zero all along
        (the in-built connectivity of Section 3.1).
        """
        a, b = self.project(theta_a), self.project(theta_b)
        if a.dim() != 1 or b.dim() != 1:
            raise ValueError("connector takes two single points [D]")
        shared = torch.zeros(self.D, dtype=torch.bool, device=self.device)
        la, lb = self.long_indices(a), self.long_indices(b)
        shared[la[torch.isin(la, lb)]] = True
        return torch.stack([a, a * shared, b * shared, b])

    def short_directions(self, theta: torch.Tensor, delta: float) -> torch.Tensor | int:
        """The number of short directions of the low-loss set at ``theta``, within tolerance ``delta``.

        Fort & Jastrzebski (Section 3.1) count short directions of the low-loss
        *objects*: a wedge has ``s = D - n``, the intersection of two wedges about
        ``2 s``. At a point this needs a tolerance: the object at ``theta`` is
        the intersection of every wedge within distance ``delta`` of it (the
        wedges it lies in). That intersection is a coordinate subspace; its
        missing axes are the short directions, along which any step leaves at
        least one of those wedges. The Hessian cannot count them: on a wedge the
        loss is a cone (not twice differentiable), and the union of the wedges
        is flat in more directions than any one of them.

        Axis ``i`` belongs to every wedge within ``delta`` exactly when the
        nearest wedge *without* it (short on ``i`` and on the ``s - 1`` smallest
        other coordinates) is at least ``delta`` away. A point on one wedge with
        its ``n`` long coordinates above ``delta`` has ``s`` short directions;
        a point whose coordinates outside two wedges' shared axes are zero has
        ``D - |S_1 & S_2|``, about ``2 s - s^2 / D``.

        Args:
            theta: a point ``[D]`` or a batch ``[B, D]``, each within ``delta`` of a wedge.
            delta: the tolerance, ``> 0`` (a loss at which a point still counts as on a wedge).

        Returns:
            An ``int`` for one point, an integer tensor ``[B]`` for a batch.
        """
        theta = self.check_theta(theta, finite=False)
        if not (isinstance(delta, (int, float)) and 0 < delta < float("inf")):
            raise ValueError(f"delta must be a positive number, got {delta!r}")
        loss = self.loss(theta).detach()
        if bool((loss >= delta).any()):
            raise ValueError(
                f"a point is {loss.max().item():.3g} from the nearest wedge, not within delta = {delta}: short "
                f"directions are counted on the low-loss set; train the point first or raise delta"
            )
        sq = theta.detach().to(torch.float64) ** 2
        srt, order = sq.sort(dim=-1)
        rank = torch.empty_like(order).scatter_(-1, order, torch.arange(self.D, device=order.device).expand_as(order))
        smallest_s = srt[..., : self.s].sum(-1, keepdim=True)
        smallest_s1 = srt[..., : self.s - 1].sum(-1, keepdim=True)
        # the s - 1 smallest coordinates other than i: drop i if it is among the s smallest
        others = torch.where(rank < self.s, smallest_s - sq, smallest_s1)
        forced = (sq + others) >= delta**2
        count = self.D - forced.sum(-1)
        return int(count) if count.dim() == 0 else count

    def hessian_closed_form(self, theta: torch.Tensor) -> torch.Tensor:
        """The exact Hessian at a point off the wedges, ``(I_S - u u^T) / L`` on the short block.

        Here ``u = theta_S / L`` and ``L`` is the loss; all other entries are zero.
        Its eigenvalues are ``1/L`` (``D - n - 1`` times) and ``0``.
        """
        theta = self.check_theta(theta, finite=False)
        if theta.dim() != 1:
            raise ValueError("hessian_closed_form takes a single point [D]")
        idx = self.short_indices(theta)
        small = theta.detach()[idx]
        L = torch.linalg.vector_norm(small)
        if L == 0:
            raise ValueError("the Hessian is undefined exactly on a wedge (loss 0)")
        u = small / L
        block = (torch.eye(self.s, dtype=self.dtype, device=self.device) - torch.outer(u, u)) / L
        H = torch.zeros(self.D, self.D, dtype=self.dtype, device=self.device)
        H[idx.unsqueeze(1), idx.unsqueeze(0)] = block
        return H

    def fingerprint(self) -> dict:
        """The toy landscape is determined by ``D``, ``n`` and the precision (and a subclass by what it defines)."""
        out = {"kind": "wedge", "D": self.D, "n": self.n, "dtype": str(self.dtype)}
        if type(self) is not WedgeLandscape:
            from lsl import cache

            out["class"] = cache.value_digest(type(self), where=f"the landscape class {type(self).__qualname__}")
        return out

    def __repr__(self) -> str:
        return f"WedgeLandscape(D={self.D}, n={self.n}, device={self.device}, dtype={self.dtype})"
