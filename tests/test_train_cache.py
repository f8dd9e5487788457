"""Trained optima are cached on disk under a key of everything that determines them."""

import pytest
import torch

import lsl
from lsl.data import nets
from lsl.training import trainer
from lsl.toy import WedgeLandscape
from lsl.settings import TrainSettings


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
    kw = dict(settings=TrainSettings(steps=20, lr=1e-2, batch_size=10, seed=3), snapshot_every=5)
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
    kw = dict(settings=TrainSettings(steps=10, lr=1e-2, batch_size=10, seed=0, l2=0.0))
    trainer.train(net, net.theta0, cache=True, **kw)
    theta0 = net.theta0
    if change == "theta0":
        theta0 = theta0 + 1e-3
    elif change == "data":
        net = _net(seed=1)
    else:
        kw["settings"] = kw["settings"].replace(**{change: {"lr": 2e-2, "seed": 1, "steps": 11, "l2": 1e-3}[change]})
    trainer.train(net, theta0, cache=True, **kw)
    assert counted["n"] == 2, f"changing {change} must not reuse the cached optimum"


def test_corrupt_optimum_is_recomputed(cache_dir, counted):
    toy = WedgeLandscape(20, 10, dtype=torch.float64)
    theta0 = torch.randn(20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    good = trainer.train(toy, theta0, settings=TrainSettings(steps=30, lr=0.05), cache=True).theta
    (entry,) = cache_dir.glob("*.pt")
    entry.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="recomputing"):
        again = trainer.train(toy, theta0, settings=TrainSettings(steps=30, lr=0.05), cache=True).theta
    assert torch.equal(good, again) and counted["n"] == 2
    assert torch.equal(trainer.train(toy, theta0, settings=TrainSettings(steps=30, lr=0.05), cache=True).theta, good) and counted["n"] == 2


# ---------------------------------------------------------------------------
# the key is the computation (issue 31, item 1): three collisions of the old keys


def _mixture():
    from lsl.data import datasets

    return datasets.load("gaussian_mixture", n_train=64, n_test=32, n_classes=3, dim=6)


def test_two_lambda_losses_get_their_own_results(cache_dir, counted):
    import torch.nn.functional as F

    ds = _mixture()
    mk = lambda: nets.make("mlp", ds.input_shape, 3, width=8, depth=2)  # noqa: E731
    A = lsl.NetworkLandscape(mk(), ds.x_train, ds.y_train, loss=lambda z, y: F.cross_entropy(z, y))
    B = lsl.NetworkLandscape(mk(), ds.x_train, ds.y_train,
                             loss=lambda z, y: F.cross_entropy(z, y) + 10 * (z ** 2).mean())
    ra = trainer.train(A, A.theta0, settings=TrainSettings(steps=30, lr=0.05), cache=True)
    rb = trainer.train(B, B.theta0, settings=TrainSettings(steps=30, lr=0.05), cache=True)
    assert counted["n"] == 2, "B must not be handed A's cached optimum"
    fresh = trainer.train(B, B.theta0, settings=TrainSettings(steps=30, lr=0.05))
    assert torch.equal(rb.theta, fresh.theta) and torch.equal(rb.losses, fresh.losses)
    assert not torch.equal(ra.theta, rb.theta)
    assert float(B.loss(rb.theta)) == pytest.approx(float(rb.losses[-1]), rel=0.5)
    # the same loss written again is the same computation: its entry is found
    A2 = lsl.NetworkLandscape(mk(), ds.x_train, ds.y_train, loss=lambda z, y: F.cross_entropy(z, y))
    assert torch.equal(trainer.train(A2, A2.theta0, settings=TrainSettings(steps=30, lr=0.05), cache=True).theta, ra.theta)
    assert counted["n"] == 3  # (the fresh run above)


def test_an_edited_forward_gets_its_own_result(cache_dir, counted):
    from torch import nn

    ds = _mixture()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(x)))

    first = lsl.NetworkLandscape(Net(), ds.x_train, ds.y_train)
    r1 = trainer.train(first, first.theta0, settings=TrainSettings(steps=20, lr=0.05), cache=True)

    class Net(nn.Module):  # the notebook cell edited and run again: the same class name and repr
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    second = lsl.NetworkLandscape(Net(), ds.x_train, ds.y_train)
    assert repr(first.model) == repr(second.model) and torch.equal(first.theta0, second.theta0)
    r2 = trainer.train(second, second.theta0, settings=TrainSettings(steps=20, lr=0.05), cache=True)
    assert counted["n"] == 2, "the edited network must not be handed the old network's optimum"
    assert torch.equal(r2.theta, trainer.train(second, second.theta0, settings=TrainSettings(steps=20, lr=0.05)).theta)
    assert not torch.equal(r1.theta, r2.theta)


def test_a_loss_that_cannot_be_digested_is_trained_and_not_cached(cache_dir, counted):
    import torch.nn.functional as F

    class Weights:  # an object with arbitrary state: nothing says what it holds
        def __init__(self):
            self.w = torch.tensor([1.0, 2.0, 3.0])

    weights = Weights()
    net = _net()
    land = lsl.NetworkLandscape(net.model, net.x, net.y, loss=lambda z, y: F.cross_entropy(z, y, weight=weights.w.double()))
    with pytest.warns(UserWarning, match=r"not cached.*'weights' that the loss .* closes over is a .*Weights object"):
        res = trainer.train(land, land.theta0, settings=TrainSettings(steps=5, lr=0.05), cache=True)
    assert not list(cache_dir.glob("*.pt"))
    assert torch.equal(res.theta, trainer.train(land, land.theta0, settings=TrainSettings(steps=5, lr=0.05)).theta)


def test_the_toy_landscapes_key_names_its_sizes_and_precision(cache_dir, counted):
    fp = lambda *a, **k: WedgeLandscape(*a, **k).fingerprint()  # noqa: E731
    assert fp(20, 10) == fp(20, 10)
    assert len({repr(fp(20, 10)), repr(fp(20, 11)), repr(fp(21, 10)), repr(fp(20, 10, dtype=torch.float64))}) == 4

    class Shifted(WedgeLandscape):  # another loss under the same sizes
        def _loss_batch(self, theta, **kw):
            return super()._loss_batch(theta, **kw) + 1.0

    assert Shifted(20, 10).fingerprint() != fp(20, 10)
    theta0 = torch.randn(20, generator=torch.Generator().manual_seed(0))
    trainer.train(WedgeLandscape(20, 10), theta0, settings=TrainSettings(steps=5, lr=0.05), cache=True)
    trainer.train(WedgeLandscape(20, 10), theta0, settings=TrainSettings(steps=5, lr=0.05), cache=True)
    trainer.train(WedgeLandscape(20, 11), theta0, settings=TrainSettings(steps=5, lr=0.05), cache=True)
    assert counted["n"] == 2


# ---------------------------------------------------------------------------
# a cached optimum is checked by content (issue 31, item 2)


def _swap(tensors):
    tensors["theta"], tensors["snapshots"] = tensors["snapshots"], tensors["theta"]  # [S, D] where [D] belongs


def _rewrite(path, change):
    payload = torch.load(path, weights_only=True)
    tensors = {k[2:]: v for k, v in payload.items() if k.startswith("t/")}
    change(tensors)
    torch.save({"key": payload["key"], "digest": lsl.cache.content_digest(tensors),
                **{f"t/{k}": v for k, v in tensors.items()}}, path)


def _flip(path, theta):
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(theta.numpy().tobytes())
    assert at >= 0
    raw[at + 6] ^= 0x20  # a high bit of the first entry
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["flip a bit", "truncate", "swap a shape", "nan in theta", "remove a key",
                                    "snapshots without steps"])
def test_a_damaged_optimum_is_retrained_with_a_warning(cache_dir, counted, damage):
    net = _net()
    kw = dict(settings=TrainSettings(steps=12, lr=1e-2, batch_size=10, seed=3), snapshot_every=4)
    fresh = trainer.train(net, net.theta0, **kw)
    trainer.train(net, net.theta0, cache=True, **kw)
    (entry,) = cache_dir.glob("*.pt")
    if damage == "flip a bit":
        _flip(entry, fresh.theta)
    elif damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:-200])
    elif damage == "swap a shape":
        _rewrite(entry, _swap)
    elif damage == "nan in theta":
        _rewrite(entry, lambda t: t["theta"].__setitem__(0, float("nan")))
    elif damage == "remove a key":
        _rewrite(entry, lambda t: t.pop("theta"))
    else:
        _rewrite(entry, lambda t: t.update(snapshot_steps=t["snapshot_steps"][:1]))
    assert counted["n"] == 2
    with pytest.warns(UserWarning, match=rf"recomputing it .*{entry.name}"):
        again = trainer.train(net, net.theta0, cache=True, **kw)
    assert counted["n"] == 3
    assert torch.equal(again.theta, fresh.theta) and torch.equal(again.losses, fresh.losses)
    assert torch.equal(again.snapshots, fresh.snapshots) and again.snapshot_steps == fresh.snapshot_steps
    loaded = trainer.train(net, net.theta0, cache=True, **kw)  # rewritten: loaded, silently
    assert counted["n"] == 3 and torch.equal(loaded.theta, fresh.theta)


def test_a_diverged_run_recorded_with_nan_is_not_taken_for_damage(cache_dir, counted):
    from tests.reference import Quadratic

    class Quad(Quadratic):
        def fingerprint(self):
            return {"kind": "quadratic", "A": self.A.tolist(), "center": self.center.tolist()}

    quad = Quad(torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    kw = dict(settings=TrainSettings(steps=200, lr=1e3, optimizer="sgd"), cache=True, nonfinite="record")  # |1 - lr| = 999 per step: overflow
    first = trainer.train(quad, torch.ones(3, dtype=torch.float64), **kw)
    assert not bool(torch.isfinite(first.theta).all()) and not bool(torch.isfinite(first.losses).all())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = trainer.train(quad, torch.ones(3, dtype=torch.float64), **kw)
    assert counted["n"] == 1 and torch.equal(first.losses.isnan(), again.losses.isnan())


def test_with_the_cache_off_a_loss_that_cannot_be_digested_is_not_reported(cache_dir, monkeypatch):
    import warnings

    class Opaque:
        pass

    thing = Opaque()
    net = _net()
    land = lsl.NetworkLandscape(net.model, net.x, net.y, loss=lambda z, y: z.logsumexp(1).mean() + 0 * (thing is None))
    monkeypatch.setenv("LSL_CACHE", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.train(land, land.theta0, settings=TrainSettings(steps=2, lr=0.05), cache=True)
