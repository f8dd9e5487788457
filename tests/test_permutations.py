"""Tests for lsl.paths.permutations: permutation symmetry of hidden units and weight matching (Git Re-Basin).

References are independent of the code under test: a permuted network is checked by its logits on
data (the function must not change); weight matching is checked against the permutation that was
applied, and against brute force over every permutation of tiny networks.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from lsl.data import nets
from lsl.paths import permutations
from lsl.network import NetworkLandscape

from .reference import tanh_mlp_logits


def landscape(arch: str, input_shape, *, n=64, n_classes=5, seed=0, dtype=torch.float64, **options) -> NetworkLandscape:
    gen = torch.Generator().manual_seed(100 + seed)
    x = torch.randn(n, *input_shape, generator=gen, dtype=dtype)
    y = torch.randint(0, n_classes, (n,), generator=gen)
    model = nets.make(arch, input_shape, n_classes, seed=seed, **options).to(dtype)
    return NetworkLandscape(model, x, y)


CASES = [
    ("mlp", (7,), dict(width=6, depth=2)),
    ("mlp", (7,), dict(width=5, depth=3, activation="tanh", dropout=0.1)),
    ("cnn1d", (16,), dict(channels=(4, 6), activation="tanh")),
    ("cnn1d", (2, 16), dict(channels=(3, 5, 4), activation="relu")),
    ("cnn", (1, 8, 8), dict(channels=(3, 4))),
]
IDS = ["mlp2", "mlp3-dropout", "cnn1d", "cnn1d-3", "cnn2d"]


@pytest.mark.parametrize("arch,shape,options", CASES, ids=IDS)
def test_a_permuted_network_computes_the_same_function(arch, shape, options):
    L = landscape(arch, shape, **options)
    theta = L.theta0
    perm = permutations.random_permutation(L, seed=3)
    assert not perm.is_identity()
    moved = permutations.apply_permutation(L, theta, perm)
    assert not torch.equal(moved, theta) and moved.shape == theta.shape
    assert torch.allclose(L.logits(moved), L.logits(theta), rtol=1e-12, atol=1e-12)
    # same multiset of numbers: a permutation moves parameters, it never changes them
    assert torch.equal(moved.sort().values, theta.sort().values)
    # the inverse undoes it exactly, and composition agrees with applying twice
    assert torch.equal(permutations.apply_permutation(L, moved, perm.inverse()), theta)
    other = permutations.random_permutation(L, seed=4)
    twice = permutations.apply_permutation(L, moved, other)
    assert torch.equal(permutations.apply_permutation(L, theta, perm.then(other)), twice)


def test_permutation_against_a_hand_written_network():
    """Depth-1 tanh MLP: permuting hidden units by hand (rows of W1, b1, columns of W2) matches the spec."""
    n_in, width, C = 5, 4, 3
    L = landscape("mlp", (n_in,), n_classes=C, width=width, depth=1, activation="tanh")
    theta = L.theta0
    p = torch.tensor([2, 0, 3, 1])
    moved = permutations.apply_permutation(L, theta, permutations.Permutation([p]))
    i = 0
    W1 = theta[: width * n_in].reshape(width, n_in); i = width * n_in
    b1 = theta[i : i + width]; i += width
    W2 = theta[i : i + C * width].reshape(C, width); i += C * width
    b2 = theta[i:]
    by_hand = torch.cat([W1[p].reshape(-1), b1[p], W2[:, p].reshape(-1), b2])
    assert torch.equal(moved, by_hand)
    assert torch.allclose(tanh_mlp_logits(moved, L.x, n_in, width, C), L.logits(theta), atol=1e-12)


def test_apply_permutation_to_a_batch_of_points():
    L = landscape("cnn1d", (16,), channels=(4, 6))
    thetas = torch.stack([L.theta0, 2 * L.theta0, -L.theta0])
    perm = permutations.random_permutation(L, seed=1)
    batch = permutations.apply_permutation(L, thetas, perm)
    for row, theta in zip(batch, thetas):
        assert torch.equal(row, permutations.apply_permutation(L, theta, perm))


@pytest.mark.parametrize("arch,shape,options", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weight_matching_recovers_a_random_permutation_exactly(arch, shape, options, seed):
    L = landscape(arch, shape, seed=seed, **options)
    theta_a = L.theta0
    perm = permutations.random_permutation(L, seed=10 + seed)
    theta_b = permutations.apply_permutation(L, theta_a, perm)
    m = permutations.match(L, theta_a, theta_b)
    assert m.permutation == perm.inverse()
    assert perm.then(m.permutation).is_identity()
    assert torch.equal(m.theta, theta_a)
    assert torch.equal(permutations.weight_matching(L, theta_a, theta_b), theta_a)
    assert m.distance == 0.0 and m.distance_identity > 0
    assert m.objective == pytest.approx(float((theta_a.double() ** 2).sum()), rel=1e-12)


@pytest.mark.parametrize("arch,shape,options", CASES, ids=IDS)
def test_weight_matching_of_unrelated_networks_never_loses_and_keeps_the_function(arch, shape, options):
    L = landscape(arch, shape, **options)
    theta_a = L.theta0
    theta_b = L.theta_of(nets.make(arch, shape, 5, seed=7, **options))
    m = permutations.match(L, theta_a, theta_b)
    assert m.objective >= m.objective_identity
    assert m.objective == pytest.approx(permutations.matching_objective(L, theta_a, m.theta), rel=1e-12)
    assert m.distance <= m.distance_identity
    # ||a - pi(b)||^2 = ||a||^2 + ||b||^2 - 2 <a, pi(b)>: distance and objective agree
    a2, b2 = float((theta_a.double() ** 2).sum()), float((theta_b.double() ** 2).sum())
    assert m.distance ** 2 == pytest.approx(a2 + b2 - 2 * m.objective, rel=1e-9)
    assert torch.allclose(L.logits(m.theta), L.logits(theta_b), rtol=1e-12, atol=1e-12)
    assert m.sweeps >= 1 and m.seconds >= 0


def _brute_force_best(L, theta_a, theta_b):
    spec = permutations.permutation_spec(L)
    best = -float("inf")
    for combo in itertools.product(*[itertools.permutations(range(n)) for n in spec.sizes]):
        perm = permutations.Permutation([list(p) for p in combo])
        best = max(best, permutations.matching_objective(L, theta_a, permutations.apply_permutation(L, theta_b, perm, spec)))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_one_hidden_layer_matching_is_the_global_optimum(seed):
    """With one hidden layer the problem is a single linear assignment: weight matching is exact."""
    L = landscape("mlp", (3,), n_classes=2, width=5, depth=1, seed=seed)
    theta_b = L.theta_of(nets.make("mlp", (3,), 2, seed=50 + seed, width=5, depth=1))
    m = permutations.match(L, L.theta0, theta_b)
    assert m.objective == pytest.approx(_brute_force_best(L, L.theta0, theta_b), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_deeper_matching_lies_between_identity_and_brute_force(seed):
    L = landscape("mlp", (3,), n_classes=2, width=4, depth=2, seed=seed)
    theta_b = L.theta_of(nets.make("mlp", (3,), 2, seed=60 + seed, width=4, depth=2))
    m = permutations.match(L, L.theta0, theta_b)
    best = _brute_force_best(L, L.theta0, theta_b)
    assert m.objective_identity <= m.objective <= best * (1 + 1e-12)


def test_spec_of_the_book_networks():
    L = landscape("cnn1d", (16,), channels=(4, 6))
    spec = permutations.permutation_spec(L)
    assert spec.sizes == (4, 6)
    assert spec.layers == ("features.0", "features.3", "head.2")
    last = spec.groups[-1]
    assert permutations.Axis("head.2.weight", 1, 4) in last.axes   # 6 channels x 4 positions flattened
    mlp = permutations.permutation_spec(nets.make("mlp", (7,), 3, width=8, depth=3))
    assert mlp.sizes == (8, 8, 8)
    assert permutations.permutation_spec(nets.make("mlp", (7,), 3, depth=0)).groups == ()


def test_unsupported_architectures_are_refused_clearly():
    with pytest.raises(TypeError, match="before any weighted layer"):
        permutations.permutation_spec(nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
    with pytest.raises(TypeError, match="after the last weighted layer"):
        permutations.permutation_spec(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2)))
    with pytest.raises(TypeError, match="LayerNorm"):
        permutations.permutation_spec(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)))

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)

        def forward(self, x):
            return x + self.a(x)

    with pytest.raises(TypeError, match="lsl.data.nets.make"):
        permutations.permutation_spec(Residual())
    with pytest.raises(TypeError, match="expected a network"):
        permutations.permutation_spec("mlp")
    with pytest.raises(TypeError, match="grouped"):
        permutations.permutation_spec(nn.Sequential(nn.Conv1d(4, 4, 3, groups=2), nn.Flatten(), nn.Linear(4, 2)))


def test_bad_permutations_and_points_are_refused():
    L = landscape("mlp", (7,), width=6, depth=2)
    with pytest.raises(ValueError, match="not a permutation"):
        permutations.Permutation([[0, 0, 1]])
    with pytest.raises(ValueError, match="sizes"):
        permutations.apply_permutation(L, L.theta0, permutations.Permutation([list(range(6))]))
    with pytest.raises(ValueError, match="shape"):
        permutations.match(L, L.theta0, L.theta0[:-1])
    with pytest.raises(ValueError, match="single points"):
        permutations.match(L, L.theta0[None], L.theta0[None])


def test_layer_stats_against_a_direct_computation():
    L = landscape("mlp", (7,), width=6, depth=2)
    stats = permutations.layer_stats(L, torch.stack([L.theta0, 0.5 * L.theta0]))
    W1 = L.view.unflatten(L.theta0)["1.weight"]
    b1 = L.view.unflatten(L.theta0)["1.bias"]
    z = L.x @ W1.T + b1
    assert torch.allclose(stats.mean[0][0], z.mean(0)) and torch.allclose(stats.std[0][0], z.std(0))
    assert torch.allclose(stats.std[0][1], 0.5 * z.std(0))
    assert stats.names == ["1", "3"] and stats.std[1].shape == (2, 6)


@pytest.mark.parametrize("arch,shape,options", [CASES[0], CASES[2]], ids=["mlp", "cnn1d"])
def test_repair_restores_the_interpolated_statistics(arch, shape, options):
    L = landscape(arch, shape, **options)
    a = L.theta0
    b = permutations.weight_matching(L, a, L.theta_of(nets.make(arch, shape, 5, seed=9, **options)))
    ends = permutations.layer_stats(L, torch.stack([a, b]))
    t = torch.tensor([0.0, 0.3, 0.5, 1.0], dtype=a.dtype)
    fixed = permutations.repair(L, a, b, t)
    stats = permutations.layer_stats(L, fixed)
    for k in range(len(stats.names)):
        target = (1 - t[:, None]) * ends.std[k][0] + t[:, None] * ends.std[k][1]
        assert torch.allclose(stats.std[k], target, rtol=1e-6, atol=1e-9)
        target_mean = (1 - t[:, None]) * ends.mean[k][0] + t[:, None] * ends.mean[k][1]
        assert torch.allclose(stats.mean[k], target_mean, rtol=1e-6, atol=1e-9)
    # the endpoints already have their own statistics: REPAIR leaves them (numerically) unchanged
    assert torch.allclose(fixed[0], a, atol=1e-9) and torch.allclose(fixed[-1], b, atol=1e-9)


def test_compare_alignment_equals_the_plain_loop():
    """compare_alignment: match, the three lines (straight, aligned, REPAIRed), barriers and distances, as in a loop."""
    from lsl.data import datasets, nets
    from lsl.paths import permutations as pm, tunnels
    from lsl.settings import TrainSettings
    from lsl.training.trainer import train

    ds = datasets.load("gaussian_mixture", n_train=60, n_test=20, n_classes=3, dim=4, separation=2.0)
    L = nets.network(ds, "mlp", width=6, depth=2, seed=0)()
    inits = torch.stack([nets.network(ds, "mlp", width=6, depth=2, seed=s)().theta0 for s in range(2)])
    a, b = train(L, inits, settings=TrainSettings(steps=40, lr=0.05)).theta
    x = ds.x_train[:30]
    got = pm.compare_alignment(L, a, b, path_points=7, x=x)
    m = pm.match(L, a, b)
    with torch.no_grad():
        line = L.loss(tunnels.linear_path(a, b, 7))
        aligned = L.loss(tunnels.linear_path(a, m.theta, 7))
        repaired = L.loss(pm.repair(L, a, m.theta, torch.linspace(0, 1, 7), x=x))
    assert torch.equal(got.matching.theta, m.theta) and got.matching.permutation == m.permutation
    assert torch.equal(got.line, line) and torch.equal(got.aligned, aligned) and torch.equal(got.repaired, repaired)
    assert (got.barrier_before, got.barrier_after, got.barrier_repaired) == \
        (tunnels.barrier(line), tunnels.barrier(aligned), tunnels.barrier(repaired))
    assert (got.distance_before, got.distance_after) == (m.distance_identity, m.distance)
    assert got.radius == 0.5 * (a.norm() + b.norm()).item() and got.seconds >= 0
    assert got.distance_after <= got.distance_before
    with pytest.raises(ValueError, match="path_points must be"):
        pm.compare_alignment(L, a, b, path_points=1)
    with pytest.raises(ValueError):
        pm.compare_alignment(L, torch.stack([a, b]), b)


# ---------------------------------------------------------------------------
# batch norm: scale and shift move with the units (parameters), running statistics too (permute_module)


def bn_landscape(seed=0, n=64, width=6, depth=2):
    return landscape("mlp", (7,), n=n, seed=seed, width=width, depth=depth, batchnorm=True)


def test_batchnorm_spec_carries_scale_and_shift():
    L = bn_landscape()
    spec = permutations.permutation_spec(L)
    assert spec.sizes == (6, 6)
    assert spec.groups[0].norms == ("2",) and spec.groups[1].norms == ("5",)
    assert permutations.Axis("2.weight", 0) in spec.groups[0].axes and permutations.Axis("2.bias", 0) in spec.groups[0].axes


def test_permuted_batchnorm_network_computes_the_same_function_on_the_landscape():
    L = bn_landscape()
    gen = torch.Generator().manual_seed(3)
    theta = L.theta0 + 0.5 * torch.randn(L.D, generator=gen, dtype=L.dtype)   # scales and shifts away from 1, 0
    perm = permutations.random_permutation(L, seed=4)
    moved = permutations.apply_permutation(L, theta, perm)
    assert (moved - theta).norm() > 0.1 * theta.norm()
    # the policy's statistics at the point (the training data's), on the training inputs and on others
    assert torch.allclose(L.logits(moved), L.logits(theta), atol=1e-10)
    other = torch.randn(9, 7, generator=gen, dtype=L.dtype)                     # other inputs, the same statistics
    assert torch.allclose(L.logits(moved, other), L.logits(theta, other), atol=1e-10)


def test_permute_module_moves_running_statistics_in_eval_and_train_mode():
    L = bn_landscape()
    model = L.module_at(L.theta0 + 0.3 * torch.randn(L.D, generator=torch.Generator().manual_seed(5), dtype=L.dtype))
    # running statistics that are not the data's: a random state, as after a torch training loop
    gen = torch.Generator().manual_seed(6)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen, dtype=L.dtype))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen, dtype=L.dtype) + 0.5)
    perm = permutations.random_permutation(L, seed=7)
    moved = permutations.permute_module(model, perm)
    x = L.x
    with torch.no_grad():
        assert torch.allclose(moved.eval()(x), model.eval()(x), atol=1e-10)
        assert torch.allclose(moved.train()(x), model.train()(x), atol=1e-10)   # batch statistics
    # the flat parameters of the permuted module are apply_permutation's
    assert torch.allclose(L.theta_of(moved), permutations.apply_permutation(L, L.theta_of(model), perm))
    with pytest.raises(ValueError, match="sizes"):
        permutations.permute_module(model, permutations.Permutation([torch.arange(3)]))


def test_weight_matching_recovers_a_permutation_of_a_batchnorm_network():
    L = bn_landscape(width=8)
    theta = L.theta0 + 0.5 * torch.randn(L.D, generator=torch.Generator().manual_seed(8), dtype=L.dtype)
    perm = permutations.random_permutation(L, seed=9)
    m = permutations.match(L, theta, permutations.apply_permutation(L, theta, perm))
    assert torch.allclose(m.theta, theta)
    assert m.distance == pytest.approx(0.0, abs=1e-10)
