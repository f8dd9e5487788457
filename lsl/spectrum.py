"""Reading a sorted spectrum: where the outliers end."""

from __future__ import annotations

import torch

__all__ = ["largest_gap", "outlier_separation"]


def largest_gap(eigenvalues: torch.Tensor) -> int:
    """The number of eigenvalues above the largest multiplicative gap of a descending spectrum.

    The gap between positions ``k`` and ``k + 1`` (1-based) is ``log(lambda_k / lambda_{k+1})``;
    the result is the ``k`` with the largest gap, i.e. the number of outliers the spectrum's
    top shows. Only the positive leading part of the spectrum is considered.

    Args:
        eigenvalues: eigenvalues in descending order (e.g. from :func:`lsl.curvature.top_eigenvalues`).
    """
    ev = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()
    if ev.numel() < 2:
        raise ValueError("need at least two eigenvalues to find a gap")
    if torch.any(ev[:-1] < ev[1:]):
        raise ValueError("eigenvalues must be sorted in descending order")
    positive = int((ev > 0).sum())
    if positive < 2:
        raise ValueError("need at least two positive eigenvalues to find a gap")
    ev = ev[:positive]
    return int(torch.log(ev[:-1] / ev[1:]).argmax()) + 1


def outlier_separation(eigenvalues: torch.Tensor, k: int) -> float:
    """``lambda_k / lambda_{k+1}`` (1-based): how far the k-th eigenvalue stands above the next."""
    ev = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()
    if not 1 <= k < ev.numel():
        raise ValueError(f"k must be in [1, {ev.numel() - 1}], got {k}")
    return float(ev[k - 1] / ev[k])
