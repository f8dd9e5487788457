"""Tests for lsl.curvature.blocks: block structure of a matrix, and the Hessian's blocks by output unit.

References: hand-built block matrices whose norms and ratios are known by construction, and the closed form
of a linear classifier's Hessian at zero weights (every logit zero, softmax uniform), where the block of
classes i, j is (delta_ij / C - 1 / C**2) times the second moment of the inputs with a 1 appended, so that
every off-diagonal block is 1 / (C - 1) times a diagonal one.
"""

from __future__ import annotations

import pytest
import torch

from lsl.curvature import blocks, hessian
from lsl.data.nets import MLP
from lsl.network import NetworkLandscape

F64 = torch.float64


def test_hand_built_block_matrix():
    K, n, d, o = 4, 3, 2.0, -0.5
    A = torch.full((K * n, K * n), o, dtype=F64)
    for k in range(K):
        A[k * n:(k + 1) * n, k * n:(k + 1) * n] = d
    perm = torch.randperm(K * n, generator=torch.Generator().manual_seed(0))
    B = A[perm][:, perm]                      # the same matrix with its coordinates shuffled
    inv = torch.argsort(perm)
    parts = [inv[k * n:(k + 1) * n] for k in range(K)]
    s = blocks.block_structure(B, parts)
    assert s.ratio == pytest.approx(abs(o) / d, rel=1e-12)
    assert s.off_mass == pytest.approx(K * (K - 1) * o ** 2 / (K * (K - 1) * o ** 2 + K * d ** 2), rel=1e-12)
    assert torch.allclose(s.norms.diagonal(), torch.full((K,), d * n, dtype=F64))
    # a block-diagonal matrix: ratio and off-diagonal mass 0
    Z = torch.block_diag(*[torch.randn(n, n, dtype=F64) for _ in range(K)])
    z = blocks.block_structure(Z, [torch.arange(k * n, (k + 1) * n) for k in range(K)])
    assert z.ratio == 0 and z.off_mass == 0


def test_blocks_of_unequal_sizes_and_a_partial_cover():
    H = torch.arange(36, dtype=F64).reshape(6, 6)
    s = blocks.block_structure(H, [[0], [2, 3]])           # coordinates 1, 4, 5 are left out
    ref = torch.tensor([[H[0, 0].abs(), H[0, 2:4].norm()], [H[2:4, 0].norm(), H[2:4, 2:4].norm()]])
    assert torch.allclose(s.norms, ref)
    assert s.ratio == pytest.approx(float((ref[0, 1] + ref[1, 0]) / 2 / ((ref[0, 0] + ref[1, 1]) / 2)))


@pytest.mark.parametrize("C", [2, 3, 5])
def test_linear_classifier_at_zero_weights_has_ratio_one_over_c_minus_one(C):
    gen = torch.Generator().manual_seed(C)
    x = torch.randn(40, 6, generator=gen, dtype=F64)
    y = torch.randint(0, C, (40,), generator=gen)
    model = MLP(6, C, depth=0).to(F64)
    L = NetworkLandscape(model, x, y)
    theta = torch.zeros(L.D, dtype=F64)
    H = hessian.exact_hessian(L, theta)
    parts = blocks.unit_blocks(L, "1")
    assert len(parts) == C and torch.equal(torch.sort(torch.cat(parts)).values, torch.arange(L.D))
    xa = torch.cat([x, torch.ones(40, 1, dtype=F64)], 1)
    sigma = xa.T @ xa / 40                                   # second moment of (x, 1)
    for i in range(C):
        for j in range(C):
            ref = ((1.0 if i == j else 0.0) / C - 1 / C ** 2) * sigma
            assert torch.allclose(H[parts[i]][:, parts[j]], ref, atol=1e-12)
    s = blocks.block_structure(H, parts)
    assert s.ratio == pytest.approx(1 / (C - 1), rel=1e-10)


def test_unit_blocks_of_a_hidden_layer():
    model = MLP(4, 3, width=5, depth=1).to(F64)
    L = NetworkLandscape(model, torch.randn(10, 4, dtype=F64), torch.arange(10) % 3)
    parts = blocks.unit_blocks(L, "1")
    w, b = L.view.block("1.weight"), L.view.block("1.bias")
    assert len(parts) == 5
    for u, p in enumerate(parts):
        assert p.tolist() == list(range(w.start + 4 * u, w.start + 4 * u + 4)) + [b.start + u]


def test_bad_inputs():
    H = torch.eye(4, dtype=F64)
    with pytest.raises(ValueError, match="square"):
        blocks.block_structure(torch.ones(2, 3), [[0], [1]])
    with pytest.raises(ValueError, match="two blocks"):
        blocks.block_structure(H, [[0, 1]])
    with pytest.raises(ValueError, match="overlap"):
        blocks.block_structure(H, [[0, 1], [1]])
    with pytest.raises(ValueError, match="must lie in"):
        blocks.block_structure(H, [[0], [4]])
    with pytest.raises(ValueError, match="at least one"):
        blocks.block_structure(H, [[0], []])
    with pytest.raises(ValueError, match="zero"):
        blocks.block_structure(torch.zeros(4, 4), [[0], [1]])
    model = MLP(4, 3, width=5, depth=1)
    L = NetworkLandscape(model, torch.randn(10, 4), torch.arange(10) % 3)
    with pytest.raises(ValueError, match="no parameter"):
        blocks.unit_blocks(L, "7")
