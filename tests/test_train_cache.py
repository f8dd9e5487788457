"""Trained optima are cached on disk under a key of everything that determines them."""

import pytest
import torch

import lsl
from lsl.data import nets
from lsl.training import trainer
from lsl.toy import WedgeLandscape


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LSL_CACHE", "1")
    return tmp_path


@pytest.fixture
def counted(monkeypatch):
    calls = {"n": 0}
    real = trainer.minimize

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "minimize", counting)
    return calls


def _net(seed=0, n=40, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 5, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)
    model = nets.make("mlp", (5,), 3, width=8, depth=1, seed=0).to(dtype)
    return lsl.NetworkLandscape(model, x, y)


def test_cached_training_matches_and_is_reused(cache_dir, counted):
    net = _net()
    kw = dict(steps=20, lr=1e-2, batch_size=10, seed=3, snapshot_every=5)
    plain = trainer.train(net, net.theta0, **kw)
    first = trainer.train(net, net.theta0, cache=True, **kw)
    second = trainer.train(net, net.theta0, cache=True, **kw)
    assert counted["n"] == 2  # the plain run and the first cached run; the second was loaded
    for res in (first, second):
        assert torch.equal(res.theta, plain.theta)
        assert torch.equal(res.snapshots, plain.snapshots)
        assert res.snapshot_steps == plain.snapshot_steps == [5, 10, 15, 20]
    assert len(list(cache_dir.glob("*.pt"))) == 1


@pytest.mark.parametrize("change", ["lr", "seed", "theta0", "data", "steps", "l2"])
def test_every_determinant_is_in_the_key(cache_dir, counted, change):
    net = _net()
    kw = dict(steps=10, lr=1e-2, batch_size=10, seed=0, l2=0.0)
    trainer.train(net, net.theta0, cache=True, **kw)
    theta0 = net.theta0
    if change == "theta0":
        theta0 = theta0 + 1e-3
    elif change == "data":
        net = _net(seed=1)
    else:
        kw[change] = {"lr": 2e-2, "seed": 1, "steps": 11, "l2": 1e-3}[change]
    trainer.train(net, theta0, cache=True, **kw)
    assert counted["n"] == 2, f"changing {change} must not reuse the cached optimum"


def test_corrupt_optimum_is_recomputed(cache_dir, counted):
    toy = WedgeLandscape(20, 10, dtype=torch.float64)
    theta0 = torch.randn(20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    good = trainer.train(toy, theta0, steps=30, lr=0.05, cache=True).theta
    (entry,) = cache_dir.glob("*.pt")
    entry.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="recomputing"):
        again = trainer.train(toy, theta0, steps=30, lr=0.05, cache=True).theta
    assert torch.equal(good, again) and counted["n"] == 2
    assert torch.equal(trainer.train(toy, theta0, steps=30, lr=0.05, cache=True).theta, good) and counted["n"] == 2
