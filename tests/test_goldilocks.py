"""Tests for lsl.subspaces.goldilocks: the restricted Hessian against the exact Hessian, the curvature statistics against
explicit eigenvalues, and the Goldilocks scan's handling of divergence."""

from __future__ import annotations

import math

import pytest
import torch

from lsl.subspaces.goldilocks import curvature_stats, goldilocks_scan, restricted_hessian
from lsl.network import NetworkLandscape
from lsl.data.nets import MLP
from lsl.subspaces.projections import make_projection
from lsl.subspaces.hyperplanes import train_in_hyperplanes
from lsl.training.trainer import NonFiniteLossError
from tests.test_projections import tiny_net
from lsl.settings import SUBSPACE_DEFAULTS

F64 = torch.float64


@pytest.mark.parametrize("kind", ["dense", "fastfood"])
def test_restricted_hessian_matches_exact_hessian(kind):
    L = tiny_net()
    theta = L.theta0 + 0.1 * torch.randn(L.D, generator=torch.Generator().manual_seed(3), dtype=F64)
    proj = make_projection(kind, L.D, 4, n_planes=2, seed=1, dtype=F64)
    got = restricted_hessian(L, theta, proj)

    def f(t):
        return L.loss(t)

    H = torch.autograd.functional.hessian(f, theta)
    M = proj.matrix()
    want = M.transpose(1, 2) @ H @ M
    torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10)


def test_curvature_stats_against_explicit_eigenvalues():
    h = torch.diag(torch.tensor([3.0, 1.0, -1.0, 0.5], dtype=F64))
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=F64))
    stats = curvature_stats((q @ h @ q.T)[None])
    torch.testing.assert_close(stats["fraction_positive"], torch.tensor([0.75], dtype=F64))
    want = 3.5 / math.sqrt(9 + 1 + 1 + 0.25)
    torch.testing.assert_close(stats["trace_ratio"], torch.tensor([want], dtype=F64))


def test_goldilocks_scan_records_divergence_instead_of_raising():
    """Far outside the zone, SGD at a large rate diverges: that is an outcome of the scan, not an error."""
    torch.manual_seed(0)
    model = MLP(3, 3, width=5, depth=2, activation="relu")          # float32, unbounded: overflows
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(20, 3, generator=gen), torch.randint(0, 3, (20,), generator=gen)
    L = NetworkLandscape(model, x, y)
    with pytest.raises(NonFiniteLossError):      # the same training, asked to raise, does
        train_in_hyperplanes(L, 100.0 * L.theta0, 4, n_planes=2, settings=SUBSPACE_DEFAULTS.replace(steps=30, lr=1e6, optimizer="sgd"))
    scan = goldilocks_scan(L, L.theta0, [1e-3, 100.0], d_curv=3, n_curv_planes=1, d_train=4, n_planes=2,
                           settings=SUBSPACE_DEFAULTS.replace(steps=30, lr=1e6, optimizer="sgd", seed=0), split="train")
    assert scan.diverged.shape == (2, 2) and bool(scan.diverged[1].all())
    assert torch.isinf(scan.final_loss[scan.diverged]).all()
    assert torch.isfinite(scan.final_loss[~scan.diverged]).all()
    majority = torch.bincount(y).max().item() / y.numel()
    assert torch.allclose(scan.accuracy[scan.diverged], torch.tensor(majority))
    assert torch.isfinite(scan.accuracy).all()
