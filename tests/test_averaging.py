"""Tests for lsl.ensembles.averaging against independent references: hand loops, brute-force counts,
explicit formulas and lsl.training.trainer.train. (The snapshots and their weight average: tests/test_swa.py.)"""

from __future__ import annotations

import pytest
import torch

from lsl.data import datasets
from lsl.data.nets import MLP
from lsl.ensembles.averaging import (compare_averages, deep_ensemble, disagreement, disagreement_matrix, displacement_cosines,
                                     ensemble_metrics, pairwise_barriers, prediction_average)
from lsl.landscape import Landscape
from lsl.network import NetworkLandscape
from lsl.toy import WedgeLandscape
from lsl.training.trainer import train
from lsl.settings import ENSEMBLE_DEFAULTS, TrainSettings

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("private_cache")   # tests/conftest.py


def mixture_net(seed: int = 0, width: int = 8) -> NetworkLandscape:
    ds = datasets.load("gaussian_mixture", n_train=96, n_test=60, n_classes=3, dim=4, dtype=F64)
    torch.manual_seed(seed)
    model = MLP(4, 3, width=width, depth=1, activation="tanh").to(F64)
    return NetworkLandscape(model, ds.x_train, ds.y_train, x_test=ds.x_test, y_test=ds.y_test)


def random_members(land, M, seed=0, scale=0.5):
    gen = torch.Generator().manual_seed(seed)
    return land.theta0 + scale * torch.randn(M, land.D, generator=gen, dtype=F64)


class Quadratic(Landscape):
    """A convex quadratic 0.5 (theta - c)^T A (theta - c) with A positive definite."""

    def __init__(self, D=5, seed=0):
        gen = torch.Generator().manual_seed(seed)
        Q = torch.randn(D, D, generator=gen, dtype=F64)
        self.A = Q @ Q.T + 0.1 * torch.eye(D, dtype=F64)
        self.c = torch.randn(D, generator=gen, dtype=F64)
        self.D, self.device, self.dtype = D, torch.device("cpu"), F64

    def _loss_batch(self, theta, **kwargs):
        d = theta - self.c
        return 0.5 * ((d @ self.A) * d).sum(-1)

    def fingerprint(self):
        return {"kind": "quadratic", "A": self.A.tolist(), "c": self.c.tolist()}


# ---------------------------------------------------------------------------
# prediction averaging


def test_prediction_average_equals_hand_loop_over_members():
    land = mixture_net()
    thetas = random_members(land, 4)
    x, _ = land.split("test")
    by_hand = torch.zeros(x.shape[0], 3, dtype=F64)
    for theta in thetas:
        params = land.view.unflatten(theta)
        out = torch.func.functional_call(land.model, params, (x,))
        by_hand += torch.softmax(out, dim=-1) / len(thetas)
    got = prediction_average(land, thetas, "test")
    assert got.shape == (60, 3)
    torch.testing.assert_close(got, by_hand)
    torch.testing.assert_close(got.sum(-1), torch.ones(60, dtype=F64))
    # an ensemble of one is that model's softmax
    torch.testing.assert_close(prediction_average(land, thetas[0], "train"),
                               torch.softmax(land.logits(thetas[0]), -1))


def test_ensemble_metrics_against_explicit_formulas():
    land = mixture_net()
    thetas = random_members(land, 3, seed=1, scale=1.0)
    m = ensemble_metrics(land, thetas, "test")
    _, y = land.split("test")
    p = prediction_average(land, thetas, "test")
    assert m.accuracy == pytest.approx(float((p.argmax(-1) == y).double().mean()))
    assert m.nll == pytest.approx(float(-torch.log(p[torch.arange(len(y)), y]).mean()))
    for k in range(3):
        assert float(m.member_accuracy[k]) == pytest.approx(float(land.accuracy(thetas[k], "test")))
        assert float(m.member_nll[k]) == pytest.approx(float(land.eval_loss(thetas[k], "test")))
    assert m.best_member == int(m.member_accuracy.argmax())
    # by concavity of log, the ensemble's NLL is at most the members' mean NLL
    assert m.nll <= float(m.member_nll.mean()) + 1e-12


def test_ensemble_of_identical_members_is_the_member():
    land = mixture_net()
    theta = random_members(land, 1, seed=2)[0]
    m = ensemble_metrics(land, torch.stack([theta, theta]), "train")
    assert m.accuracy == pytest.approx(float(land.accuracy(theta)))
    assert m.nll == pytest.approx(float(land.eval_loss(theta)))


# ---------------------------------------------------------------------------
# diversity


def test_disagreement_is_zero_with_itself_and_matches_brute_force():
    land = mixture_net()
    a, b = random_members(land, 2, seed=7, scale=1.5)
    assert disagreement(land, a, a) == 0.0
    x, _ = land.split("test")
    count = 0
    for i in range(x.shape[0]):
        pa = int(torch.func.functional_call(land.model, land.view.unflatten(a), (x[i : i + 1],)).argmax())
        pb = int(torch.func.functional_call(land.model, land.view.unflatten(b), (x[i : i + 1],)).argmax())
        count += pa != pb
    assert count > 0
    assert disagreement(land, a, b) == pytest.approx(count / x.shape[0])
    mat = disagreement_matrix(land, torch.stack([a, b, a]))
    assert mat.shape == (3, 3)
    torch.testing.assert_close(mat.diagonal(), torch.zeros(3, dtype=F64))
    assert float(mat[0, 1]) == pytest.approx(count / x.shape[0]) and float(mat[0, 2]) == 0.0
    torch.testing.assert_close(mat, mat.T)


def test_displacement_cosines_against_explicit_formula():
    gen = torch.Generator().manual_seed(0)
    thetas, origin = torch.randn(4, 7, generator=gen, dtype=F64), torch.randn(7, generator=gen, dtype=F64)
    cos = displacement_cosines(thetas, origin)
    for i in range(4):
        for j in range(4):
            u, v = thetas[i] - origin, thetas[j] - origin
            assert float(cos[i, j]) == pytest.approx(float(u @ v / (u.norm() * v.norm())))
    # hand-made geometry: orthogonal and opposite displacements
    o = torch.tensor([1.0, 1.0, 1.0], dtype=F64)
    pts = o + torch.tensor([[2.0, 0, 0], [0, 3.0, 0], [-1.0, 0, 0]], dtype=F64)
    expected = torch.tensor([[1.0, 0, -1], [0, 1, 0], [-1, 0, 1]], dtype=F64)
    torch.testing.assert_close(displacement_cosines(pts, o), expected)
    with pytest.raises(ValueError):
        displacement_cosines(pts, o[:2])


def test_barrier_on_a_convex_quadratic_is_zero_and_positive_between_wedges():
    quad = Quadratic()
    gen = torch.Generator().manual_seed(1)
    thetas = torch.randn(4, quad.D, generator=gen, dtype=F64)
    res = pairwise_barriers(quad, thetas, n_points=9)
    assert res.pairs == [(0, 1), (1, 2), (2, 3)]
    assert res.losses.shape == (3, 9) and res.barriers.shape == (3,)
    # a convex function never rises above the higher endpoint on a line
    assert float(res.barriers.max()) <= 1e-12
    torch.testing.assert_close(res.losses[:, 0], quad.loss(thetas[:3]))
    torch.testing.assert_close(res.losses[1, 4], quad.loss(0.5 * (thetas[1] + thetas[2])))
    assert len(pairwise_barriers(quad, thetas, pairs="all").pairs) == 6
    # two points on different 1-wedges of the toy model in R^2: the midpoint is off both wedges
    toy = WedgeLandscape(2, 1, dtype=F64)
    pts = torch.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=F64)
    r = pairwise_barriers(toy, pts, n_points=3)
    assert float(r.barriers[0]) == pytest.approx(1.0)  # distance of (1, 1) to the nearest axis
    # ... and on the same wedge there is no barrier
    same = pairwise_barriers(toy, torch.tensor([[2.0, 0.0], [-3.0, 0.0]], dtype=F64))
    assert float(same.barriers[0]) == 0.0
    with pytest.raises(ValueError):
        pairwise_barriers(quad, thetas[:1])
    with pytest.raises(ValueError):
        pairwise_barriers(quad, thetas, pairs="neighbours")


# ---------------------------------------------------------------------------
# deep ensembles and the comparison of averages


def test_deep_ensemble_members_equal_independent_runs():
    ds = datasets.load("gaussian_mixture", n_train=96, n_test=60, n_classes=3, dim=4)
    ens = deep_ensemble(ds, "mlp", members=3, settings=ENSEMBLE_DEFAULTS.replace(steps=12, lr=0.05, batch_size=32, seed=10), width=6, depth=1,
                        cache=False)
    assert ens.members.shape == (3, ens.landscape.D) and ens.seeds == [10, 11, 12]
    assert ens.steps_per_member == 12 and ens.total_steps == 36
    assert ens.epochs_per_member == pytest.approx(4.0) and ens.total_epochs == pytest.approx(12.0)
    assert ens.diverged.tolist() == [False] * 3
    from lsl.data import nets

    for k, s in enumerate(ens.seeds):
        model = nets.make("mlp", ds.input_shape, ds.n_classes, seed=s, width=6, depth=1)
        alone = NetworkLandscape(model, ds.x_train, ds.y_train)
        torch.testing.assert_close(ens.theta0[k], alone.theta0)
        ref = train(alone, alone.theta0, settings=TrainSettings(steps=12, lr=0.05, optimizer="sgd", momentum=0.9, schedule="cosine", batch_size=32, seed=10))
        torch.testing.assert_close(ens.members[k], ref.theta, rtol=1e-4, atol=1e-5)
    # independently initialised members differ
    assert float((ens.theta0[0] - ens.theta0[1]).norm()) > 0


def test_compare_averages_consistent_with_parts():
    land = mixture_net()
    thetas = random_members(land, 3, seed=8, scale=0.3)
    cmp = compare_averages(land, thetas, "test")
    m = ensemble_metrics(land, thetas, "test")
    assert cmp.prediction_accuracy == pytest.approx(m.accuracy) and cmp.prediction_nll == pytest.approx(m.nll)
    assert cmp.single_accuracy == pytest.approx(float(m.member_accuracy.max()))
    avg = thetas.mean(0)
    assert cmp.weight_accuracy == pytest.approx(float(land.accuracy(avg, "test")))
    assert cmp.weight_nll == pytest.approx(float(land.eval_loss(avg, "test")))
    assert cmp.prediction_minus_weight == pytest.approx(cmp.prediction_accuracy - cmp.weight_accuracy)


def test_members_are_evaluated_in_chunks_of_examples(monkeypatch):
    # splitting the split into chunks (a ragged last one included) changes nothing
    import dataclasses

    from lsl import batching
    from lsl.ensembles import averaging

    land = mixture_net()
    thetas = random_members(land, 3, seed=11, scale=1.0)
    whole = torch.log_softmax(land.logits(thetas, land.x_test), -1)
    # the evaluation policy's slices of examples: 60 test examples in 8 slices of 7 and one of 4
    monkeypatch.setitem(batching.BUDGETS, "cpu", dataclasses.replace(batching.BUDGETS["cpu"], examples=7))
    assert batching.examples_per_call(land.device, 60) == 7
    torch.testing.assert_close(averaging._log_probs(land, thetas, "test"), whole)
    m = ensemble_metrics(land, thetas, "test")
    p = whole.exp().mean(0)
    _, y = land.split("test")
    assert m.accuracy == pytest.approx(float((p.argmax(-1) == y).double().mean()))
    torch.testing.assert_close(prediction_average(land, thetas, "test"), p)


def test_ensemble_growth_equals_ensembles_of_prefixes():
    from lsl.ensembles.averaging import ensemble_growth

    land = mixture_net()
    thetas = random_members(land, 4, seed=12, scale=1.0)
    g = ensemble_growth(land, thetas, "test")
    assert g.accuracy.shape == (4,) and g.nll.shape == (4,) and g.members.tolist() == [1, 2, 3, 4]
    for k in range(1, 5):
        m = ensemble_metrics(land, thetas[:k], "test")
        assert float(g.accuracy[k - 1]) == pytest.approx(m.accuracy)
        assert float(g.nll[k - 1]) == pytest.approx(m.nll)
    # the first entry is the first member alone
    assert float(g.nll[0]) == pytest.approx(float(land.eval_loss(thetas[0], "test")))


def test_pairwise_barriers_equal_a_brute_force_over_the_points_of_each_line():
    """The losses at the points (1 - k/(K-1)) theta_i + k/(K-1) theta_j, evaluated one point at a time, and the
    barrier of each line (its highest loss above the higher endpoint), for every pair i < j and for pairs given."""
    land = WedgeLandscape(6, 3, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    thetas = torch.stack([land.project(torch.randn(6, generator=gen, dtype=F64)) for _ in range(3)]
                         + [torch.randn(6, generator=gen, dtype=F64)])  # three members on wedges, one off them
    K = 7

    def brute_force(i, j):
        losses = [float(land.loss((1 - k / (K - 1)) * thetas[i] + k / (K - 1) * thetas[j])) for k in range(K)]
        return losses, max(losses) - max(losses[0], losses[-1])

    for pairs, expected_pairs in [("all", [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
                                  ("consecutive", [(0, 1), (1, 2), (2, 3)]), ([(3, 0), (1, 2)], [(3, 0), (1, 2)])]:
        res = pairwise_barriers(land, thetas, n_points=K, pairs=pairs)
        if pairs == "all":
            assert bool((res.barriers > 0.1).any())  # some lines do leave the low-loss set
        assert res.pairs == expected_pairs and res.barriers.device.type == "cpu"
        for p, (i, j) in enumerate(expected_pairs):
            losses, barrier = brute_force(i, j)
            torch.testing.assert_close(res.losses[p], torch.tensor(losses, dtype=F64), rtol=1e-12, atol=1e-12)
            assert float(res.barriers[p]) == pytest.approx(barrier, rel=1e-12, abs=1e-12)
