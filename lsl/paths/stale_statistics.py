"""Stale batch-norm statistics on the straight line between two networks.

Interpolating two batch-norm networks ``(1 - t) theta_a + t theta_b`` the way one interpolates their
whole state -- the parameters *and* the stored running statistics -- evaluates the point in between with
the statistics ``(1 - t) mean_a + t mean_b`` and ``(1 - t) var_a + t var_b``, which are not the statistics
of that network's own activations: they are *stale*. Git Re-Basin (Ainsworth et al. 2023) recompute the
statistics at every point of the line, and Jordan et al. (2023, REPAIR) call this RESET; without it the
interpolated network's units are normalised by the wrong mean and spread.

``lsl``'s batch-norm policy (:class:`~lsl.network.NetworkLandscape`) always evaluates a point with the
training data's statistics at that point, i.e. with the statistics reset, so ``L.loss(linear_path(a, b, n))``
is the line with reset statistics. :func:`stale_line_loss` is the same line with the endpoints' statistics
interpolated (each endpoint's statistics are its own policy statistics, so the two agree at ``t = 0`` and
``t = 1``).

Typical use::

    reset = L.loss(tunnels.linear_path(a, b, 11))
    stale = stale_statistics.stale_line_loss(L, a, b, torch.linspace(0, 1, 11))
"""

from __future__ import annotations

import torch

from lsl.network import NetworkLandscape

__all__ = ["interpolated_statistics", "stale_line_loss"]


def interpolated_statistics(landscape: NetworkLandscape, theta_a: torch.Tensor, theta_b: torch.Tensor,
                            t: float) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The endpoints' batch-norm statistics interpolated: ``{layer: ((1 - t) mean_a + t mean_b, (1 - t) var_a + t var_b)}``.

    Args:
        landscape: a network landscape (empty result without batch norm).
        theta_a, theta_b: the endpoints ``[D]``; their statistics are the policy's
            (:meth:`~lsl.network.NetworkLandscape.batchnorm_statistics`).
        t: the position on the line.
    """
    sa = landscape.batchnorm_statistics(landscape.check_theta(theta_a, "theta_a").detach())
    sb = landscape.batchnorm_statistics(landscape.check_theta(theta_b, "theta_b").detach())
    return {k: ((1 - t) * sa[k][0] + t * sb[k][0], (1 - t) * sa[k][1] + t * sb[k][1]) for k in sa}


def stale_line_loss(landscape: NetworkLandscape, theta_a: torch.Tensor, theta_b: torch.Tensor,
                    t: torch.Tensor, *, split: str = "train") -> torch.Tensor:
    """The loss on the straight line from ``theta_a`` to ``theta_b`` with the endpoints' batch-norm statistics interpolated.

    Each point ``(1 - t) theta_a + t theta_b`` is evaluated as a torch module in evaluation mode whose running
    statistics are :func:`interpolated_statistics` (the whole state interpolated, as a naive merge of two
    checkpoints does), instead of the statistics of its own activations (the landscape's policy).

    Args:
        landscape: a network landscape (without batch norm the result equals ``landscape.loss`` on the line).
        theta_a, theta_b: the endpoints ``[D]``.
        t: positions ``[K]``.
        split: ``"train"`` or ``"test"``: the examples the loss is measured on.

    Returns:
        the losses ``[K]`` (no gradient).

    Raises:
        ValueError: for points of the wrong shape, positions that are not one-dimensional, or an unknown split.
    """
    a = landscape.check_theta(theta_a, "theta_a").detach()
    b = landscape.check_theta(theta_b, "theta_b").detach()
    if a.dim() != 1 or b.dim() != 1:
        raise ValueError("stale_line_loss takes two single points [D]")
    t = torch.as_tensor(t, dtype=a.dtype)
    if t.dim() != 1:
        raise ValueError(f"t must be one-dimensional positions [K], got shape {tuple(t.shape)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    x, y = (landscape.x, landscape.y) if split == "train" else (landscape.x_test, landscape.y_test)
    sa = landscape.batchnorm_statistics(a)
    sb = landscape.batchnorm_statistics(b)
    out = []
    with torch.no_grad():
        for ti in t.tolist():
            module = landscape.module_at((1 - ti) * a + ti * b)
            for name in sa:
                m = module.get_submodule(name)
                m.running_mean.copy_((1 - ti) * sa[name][0] + ti * sb[name][0])
                m.running_var.copy_((1 - ti) * sa[name][1] + ti * sb[name][1])
            out.append(landscape.criterion(module(x), y))
    return torch.stack(out).detach()
