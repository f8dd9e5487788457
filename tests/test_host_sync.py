"""The training loops keep their per-step work on the device (no host round trip per step) and
compute exactly what they computed before: minibatch indices moved once per epoch, the active rows of
``rows.train_rows`` worked out once per check, the Bezier curve's samples of ``t`` drawn at once,
and path barriers computed in one vectorised expression. Each is checked against an independent,
step-by-step reference."""

from __future__ import annotations

import torch

from lsl.data import datasets, nets
from lsl.paths import tunnels
from lsl.ensembles.averaging import pairwise_barriers
from lsl.landscape import Landscape
from lsl.training.rows import train_rows
from lsl.toy import WedgeLandscape
from lsl.training.trainer import landscape_objective, minimize, train

F64 = torch.float64


class Recorder(Landscape):
    """A landscape with ``n`` examples that records the minibatch indices it is asked for."""

    def __init__(self, n: int):
        self.D, self.device, self.dtype, self.n_train = 2, torch.device("cpu"), F64, n
        self.seen: list[torch.Tensor] = []

    def _loss_batch(self, theta, *, idx=None, train=False):
        self.seen.append(idx)
        return (theta**2).sum(-1)


def test_minibatch_indices_equal_a_per_step_reference_and_live_on_the_device():
    n, bs, seed = 11, 3, 4
    rec = Recorder(n)
    obj = landscape_objective(rec, batch_size=bs, seed=seed)
    for _ in range(10):  # three full epochs of three batches (the ragged one dropped), and one more batch
        obj(torch.zeros(2, dtype=F64))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    expected: list[torch.Tensor] = []
    while len(expected) < 10:
        batches = list(torch.randperm(n, generator=gen).split(bs))
        expected.extend(batches[:-1] if batches[-1].numel() < bs else batches)
    assert len(rec.seen) == 10
    for got, want in zip(rec.seen, expected[:10]):
        assert got.device == rec.device and torch.equal(got, want)


def test_train_rows_equals_lone_runs_when_rows_stop_at_different_checks():
    ds = datasets.load("gaussian_mixture", n_train=40, n_test=10, n_classes=3, dim=4, separation=2.0, dtype=F64)
    land = nets.network(ds, "mlp", width=5, depth=1, activation="tanh", seed=0, dtype=F64)()
    lrs, l2s = [0.5, 0.1, 0.2], [0.01, 0.0, 0.0]  # the L2 row is the fast one: after it stops, no row has L2
    res = train_rows(land, torch.stack([land.theta0] * 3), lr=lrs, l2=l2s, batch_size=8, target_loss=0.4,
                     check_every=5, max_steps=400, seed=1)
    steps = res.steps.tolist()
    assert bool(res.reached.all()) and steps[0] < steps[2] < steps[1]  # rows stopped at different checks
    for b in range(3):
        lone = train(land, land.theta0, steps=steps[b], lr=lrs[b], l2=l2s[b], optimizer="sgd", schedule="constant",
                     batch_size=8, seed=1).theta
        torch.testing.assert_close(res.theta[b], lone, rtol=1e-12, atol=1e-12)


def test_bezier_curve_samples_equal_one_draw_per_step():
    land = WedgeLandscape(12, 6, dtype=F64)
    gen = torch.Generator().manual_seed(2)
    a, b = torch.randn(2, 12, generator=gen, dtype=F64)
    steps, n_samples, seed = 25, 3, 7
    res = tunnels.bezier_curve(land, a, b, steps=steps, lr=0.05, n_samples=n_samples, seed=seed)
    # the reference: the same training with the samples of t drawn at every step
    objective = landscape_objective(land, seed=seed)
    tgen = torch.Generator(device="cpu").manual_seed(seed)

    def curve_objective(control, step):
        t = torch.rand(n_samples, generator=tgen, dtype=F64)
        return objective(tunnels.bezier_points(a, control, b, t)).mean()

    ref = minimize(curve_objective, 0.5 * (a + b), steps=steps, lr=0.05, optimizer="adam").theta
    assert torch.equal(res.control, ref)


def test_pairwise_barriers_equal_the_barrier_of_each_path():
    land = WedgeLandscape(6, 3, dtype=F64)
    thetas = torch.randn(4, 6, generator=torch.Generator().manual_seed(0), dtype=F64)
    res = pairwise_barriers(land, thetas, n_points=7, pairs="all")
    expected = torch.tensor([tunnels.barrier(row) for row in res.losses], dtype=res.losses.dtype)
    assert res.barriers.device.type == "cpu" and torch.equal(res.barriers, expected)
