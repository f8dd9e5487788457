"""Tests for lsl.probes.hessian_subspace: the top-eigenspace projection is the span of the dense Hessian's top
eigenvectors (autograd Hessian of a tiny network, torch.linalg.eigh), projected training stays in (or out of) it
for one recomputation interval, and projected_runs' measures against the plain computation."""

from __future__ import annotations

import torch

from lsl.curvature import spectrum
from lsl.probes.hessian_subspace import ProjectedRuns, projected_runs, top_subspace
from lsl.settings import TrainSettings
from lsl.training.trainer import train
from tests.reference import cross_entropy, tanh_mlp_hessian, tanh_mlp_logits, tiny_tanh_net

F64 = torch.float64
IN, WIDTH, C, N = 4, 6, 3, 30


def tiny_net():
    return tiny_tanh_net(IN, WIDTH, C, N)


def dense_top_vectors(theta, x, y, k):
    H = tanh_mlp_hessian(theta, x, y, IN, WIDTH, C)
    return torch.linalg.eigh(H).eigenvectors[:, -k:].T


def test_the_basis_spans_the_dense_top_eigenspace():
    net, x, y = tiny_net()
    proj = top_subspace(net, C, tol=1e-10)
    V = proj.subspace(net.theta0, 0)
    U = dense_top_vectors(net.theta0, x, y, C)
    # the same subspace: the projectors agree
    assert torch.allclose(V.T @ V, U.T @ U, atol=1e-8)


def test_dom_and_bulk_stay_in_and_out_of_the_subspace_between_recomputations():
    net, x, y = tiny_net()
    s = TrainSettings(steps=5, lr=0.2, optimizer="sgd")
    U = dense_top_vectors(net.theta0, x, y, 2)
    for keep in ("onto", "out"):
        run = train(net, net.theta0, settings=s, project=top_subspace(net, 2, keep=keep, every=5, tol=1e-10))
        d = run.theta - net.theta0
        inside = U.T @ (U @ d)
        rest = d - inside if keep == "onto" else inside
        assert float(rest.norm()) < 1e-7 * float(d.norm()) and float(d.norm()) > 1e-4


def test_projected_runs_measures():
    net, x, y = tiny_net()
    s = TrainSettings(steps=20, lr=0.2, optimizer="sgd", batch_size=10)
    got = projected_runs(net, 2, settings=s, every=10, tol=1e-10)
    assert isinstance(got, ProjectedRuns) and got.steps == (0, 10) and got.k == 2
    plain = train(net, net.theta0, settings=s, snapshot_every=10)
    assert torch.equal(got.runs["plain"].theta, plain.theta)
    for point, frac in zip([net.theta0, plain.snapshots[0]], got.fractions):
        g = torch.func.grad(lambda t: cross_entropy(tanh_mlp_logits(t, x, IN, WIDTH, C), y))(point)
        assert abs(frac - spectrum.subspace_fraction(g, dense_top_vectors(point, x, y, 2))) < 1e-7
    start = float(net.loss(net.theta0))
    for name in ("plain", "dom", "bulk"):
        assert got.losses[name] == (start, float(net.loss(got.runs[name].theta)))
    assert got.progress("plain") == 1.0
    drop = start - got.losses["plain"][1]
    assert abs(got.progress("dom") - (start - got.losses["dom"][1]) / drop) < 1e-12
