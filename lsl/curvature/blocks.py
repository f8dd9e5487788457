"""Block structure of the Hessian: how much of its mass lies in diagonal blocks, by output unit.

Collobert (2004) saw that the Hessian of a neural network is nearly block-diagonal when its
coordinates are grouped by unit; Dong et al. (2025, *Towards quantifying the Hessian structure of
neural networks*, arXiv 2505.02809) explain the structure at random initialisation by a random-matrix
argument and find the number of classes ``C`` to be its main driver: the off-diagonal blocks shrink
against the diagonal ones as ``C`` grows. For a linear classifier whose logits are all zero the answer
is exact: the block of classes ``i, j`` is ``(delta_ij / C - 1 / C**2) Sigma`` (``Sigma`` the inputs'
second moment), so every off-diagonal block is ``1 / (C - 1)`` times a diagonal one.

- :func:`unit_blocks` groups the coordinates of a linear layer by output unit (a row of its weight and
  its bias entry): by class for the output layer, by hidden neuron for a hidden layer.
- :func:`block_structure` measures a symmetric matrix against a partition into blocks
  (:class:`BlockStructure`: the Frobenius norm of every block, the mean off-diagonal block over the mean
  diagonal one, and the off-diagonal share of the squared mass).

Use with the exact Hessian (:func:`lsl.curvature.hessian.exact_hessian`) of a small network::

    H = hessian.exact_hessian(L, theta)
    s = blocks.block_structure(H, blocks.unit_blocks(L, "3"))     # the output layer of a depth-1 MLP
    s.ratio, s.off_mass
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lsl.network import NetworkLandscape

__all__ = ["BlockStructure", "block_structure", "unit_blocks"]


@dataclass(frozen=True)
class BlockStructure:
    """How block-diagonal a symmetric matrix is for a partition of (some of) its coordinates.

    Attributes:
        norms: the Frobenius norm of every block ``||H[b_i, b_j]||_F``, ``[K, K]`` (on the CPU, float64).
        ratio: the mean Frobenius norm of the off-diagonal blocks over the mean of the diagonal blocks'
            (Dong et al.'s comparison of one off-diagonal block with one diagonal block, averaged).
        off_mass: the off-diagonal blocks' share of the squared Frobenius mass of the blocks together,
            ``sum_{i != j} ||H_ij||^2 / sum_{i, j} ||H_ij||^2`` (0 for a block-diagonal matrix).
    """

    norms: torch.Tensor
    ratio: float
    off_mass: float


def block_structure(H: torch.Tensor, blocks: list[torch.Tensor] | list[list[int]]) -> BlockStructure:
    """Measure how much of a symmetric matrix lies in the diagonal blocks of a partition.

    Args:
        H: a square matrix ``[D, D]`` (a Hessian, or any matrix).
        blocks: ``K >= 2`` disjoint, non-empty lists (or index tensors) of coordinates; they need not cover
            every coordinate (only the submatrix they index is measured).

    Returns:
        a :class:`BlockStructure`.

    Raises:
        ValueError: for a non-square matrix, fewer than two blocks, an empty block, indices out of range
            or blocks that overlap, or diagonal blocks that are all zero.
    """
    if H.dim() != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be a square matrix, got shape {tuple(H.shape)}")
    idx = [torch.as_tensor(b, dtype=torch.long).reshape(-1).cpu() for b in blocks]
    if len(idx) < 2:
        raise ValueError(f"need at least two blocks, got {len(idx)}")
    if any(b.numel() == 0 for b in idx):
        raise ValueError("every block needs at least one coordinate")
    every = torch.cat(idx)
    if every.min() < 0 or every.max() >= H.shape[0]:
        raise ValueError(f"block indices must lie in [0, {H.shape[0]})")
    if every.unique().numel() != every.numel():
        raise ValueError("blocks must not overlap")
    A = H.detach().to("cpu", torch.float64)
    K = len(idx)
    norms = torch.empty(K, K, dtype=torch.float64)
    for i, bi in enumerate(idx):
        rows = A.index_select(0, bi)
        for j, bj in enumerate(idx):
            norms[i, j] = rows.index_select(1, bj).norm()
    diag = norms.diagonal()
    if float(diag.sum()) == 0.0:
        raise ValueError("the diagonal blocks are all zero: the ratio is undefined")
    off = ~torch.eye(K, dtype=torch.bool)
    ratio = float(norms[off].mean() / diag.mean())
    off_mass = float((norms[off] ** 2).sum() / (norms ** 2).sum())
    return BlockStructure(norms, ratio, off_mass)


def unit_blocks(landscape: NetworkLandscape, layer: str) -> list[torch.Tensor]:
    """The coordinates of a linear layer grouped by output unit: one block per row of its weight (with its bias).

    For the output layer the units are the classes (Dong et al.'s blocks ``w_i`` of a linear model); for
    a hidden layer they are its neurons.

    Args:
        landscape: a network landscape.
        layer: the layer's module name (e.g. ``"3"`` for the output layer of ``nets.MLP`` with one hidden
            layer), whose parameters are ``<layer>.weight`` ``[units, ...]`` and optionally ``<layer>.bias``.

    Returns:
        one index tensor per unit, into the flat parameter vector ``[D]``.

    Raises:
        ValueError: if the layer has no weight in the landscape's parameters.
    """
    slots = {s.name: s for s in landscape.view.slots}
    w = slots.get(f"{layer}.weight")
    if w is None:
        raise ValueError(f"no parameter {layer}.weight; the landscape has {sorted(slots)}")
    units = w.shape[0]
    per = (w.stop - w.start) // units
    out = [torch.arange(w.start + u * per, w.start + (u + 1) * per) for u in range(units)]
    b = slots.get(f"{layer}.bias")
    if b is not None:
        out = [torch.cat([o, torch.tensor([b.start + u])]) for u, o in enumerate(out)]
    return out
