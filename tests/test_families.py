"""Tests for lsl.training.families: members against lone runs of lsl.training.trainer.train, the matched-loss protocol,
the cache, non-finite losses, the tunnel widths of a family, and member_table (a per-member quantity of several seeds'
families as one table). The row-wise trainer under it: tests/test_rows.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsl import settings
from lsl.data import nets
from lsl.probes.radial import tunnel_widths
from lsl.training import families
from lsl.training.rows import train_rows
from lsl.training.trainer import NonFiniteLossError, train
from tests.reference import SquaredNorm
from lsl.settings import FAMILY_DEFAULTS, TrainSettings

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("private_cache")   # ds, build and private_cache: tests/conftest.py


def rel_close(a, b, rtol=1e-10):
    assert a.shape == b.shape
    err = float((a - b).norm() / b.norm().clamp_min(1e-300))
    assert err < rtol, f"relative difference {err:.3g} >= {rtol}"


def sgd(land, theta0, steps, **kw):
    """The independent reference: a lone run of lsl.training.trainer.train with constant-rate SGD."""
    return train(land, theta0, settings=TrainSettings(steps=steps, optimizer="sgd", schedule="constant", **kw)).theta


# ---------------------------------------------------------------------------
# members equal lone runs


def test_per_row_l2_equals_separate_runs_with_l2(build):
    land = build()
    l2s = [0.0, 0.1, 1.0]
    fam = families.train_family(land, "l2", l2s, settings=FAMILY_DEFAULTS.replace(lr=0.2, batch_size=12, steps=30, seed=1), cache=False, stack=True)
    refs = [sgd(land, land.theta0, 30, lr=0.2, l2=c, batch_size=12, seed=1) for c in l2s]
    for m, ref, c in zip(fam, refs, l2s):
        rel_close(m.theta, ref)
        assert m.settings["l2"] == c and m.settings["lr"] == 0.2
    assert float(refs[2].norm()) < float(refs[0].norm())  # L2 shrinks the weights


def test_stacked_equals_unstacked(build):
    land = build()
    kw = dict(settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=400, seed=0), target_loss=0.5, check_every=5,
              cache=False)
    a = families.train_family(land, "lr", [0.05, 0.1, 0.4], **kw, stack=True)
    b = families.train_family(land, "lr", [0.05, 0.1, 0.4], **kw, stack=False)
    for ma, mb in zip(a, b):
        assert ma.steps == mb.steps
        rel_close(ma.theta, mb.theta)


def test_batch_size_dropout_and_width_members_equal_lone_runs(build):
    land = build()
    fam = families.train_family(build, "batch_size", [4, 16], settings=FAMILY_DEFAULTS.replace(lr=0.1, steps=20, seed=5), cache=False)
    for m, bs in zip(fam, [4, 16]):
        rel_close(m.theta, sgd(land, land.theta0, 20, lr=0.1, batch_size=bs, seed=5))
    fam = families.train_family(build, "dropout", [0.0, 0.3], settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=20, seed=5), cache=False)
    assert torch.equal(fam.landscapes[0].theta0, fam.landscapes[1].theta0)  # dropout adds no parameters
    for m, p in zip(fam, [0.0, 0.3]):
        lone = build(dropout=p)
        rel_close(m.theta, sgd(lone, lone.theta0, 20, lr=0.1, batch_size=8, seed=5))
    assert float((fam[0].theta - fam[1].theta).norm()) > 1e-3  # the dropout masks mattered
    fam = families.train_family(build, "width", [3, 9], settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=20, seed=5), cache=False)
    assert [m.theta.shape[0] for m in fam] == [fam.landscapes[0].D, fam.landscapes[1].D]
    assert fam.landscapes[0].D < fam.landscapes[1].D
    for m, w in zip(fam, [3, 9]):
        lone = build(width=w)
        rel_close(m.theta, sgd(lone, lone.theta0, 20, lr=0.1, batch_size=8, seed=5))


# ---------------------------------------------------------------------------
# the matched-loss protocol


def test_training_stops_at_the_first_check_below_the_target(build):
    land = build()
    target, k = 0.45, 5
    fam = families.train_family(land, "lr", [0.05, 0.2], settings=FAMILY_DEFAULTS.replace(batch_size=8, steps=2000, seed=0), target_loss=target, check_every=k,
                                cache=False)
    assert fam.all_reached
    for m in fam:
        assert m.reached is True and not m.capped and not m.diverged
        assert m.steps > 0 and m.steps % k == 0 and int(m.check_steps[-1]) == m.steps
        assert m.check_steps.tolist() == list(range(0, m.steps + 1, k))
        assert m.train_loss < target and float(m.check_losses[-1]) < target
        assert float(m.check_losses[-2]) >= target  # one check earlier it was not below
        # independent reference: a lone SGD run of exactly that many steps, and one check fewer
        ref = sgd(land, land.theta0, m.steps, lr=m.value, batch_size=8, seed=0)
        rel_close(m.theta, ref)
        assert float(land.loss(ref)) == pytest.approx(m.train_loss, rel=1e-10)
        before = sgd(land, land.theta0, m.steps - k, lr=m.value, batch_size=8, seed=0)
        assert float(land.loss(before)) >= target
        assert 0 <= m.train_accuracy <= 1 and 0 <= m.test_accuracy <= 1
    assert fam[0].steps > fam[1].steps  # the smaller learning rate needs longer


def test_cap_flag_when_the_target_is_not_reached(build):
    fam = families.train_family(build, "lr", [0.1], settings=FAMILY_DEFAULTS.replace(batch_size=8, steps=20), target_loss=1e-9, check_every=7, cache=False)
    m = fam[0]
    assert m.reached is False and m.capped and not m.diverged and not fam.all_reached
    assert m.steps == 20 and m.check_steps.tolist() == [0, 7, 14, 20]
    assert "cap hit" in fam.summary()
    # without a target everyone trains max_steps steps and nobody is flagged
    fam = families.train_family(build, "lr", [0.1], settings=FAMILY_DEFAULTS.replace(batch_size=8, steps=20), cache=False)
    assert fam[0].reached is None and not fam[0].capped and fam.all_reached and fam[0].steps == 20


# ---------------------------------------------------------------------------
# the cache


def test_cache_hit_returns_identical_tensors_without_training(build, private_cache, monkeypatch):
    kw = dict(settings=FAMILY_DEFAULTS.replace(batch_size=8, steps=500, seed=0), target_loss=0.6, check_every=5, stack=True)
    first = families.train_family(build, "lr", [0.05, 0.2], **kw)
    assert not any(m.from_cache for m in first)
    assert len(list(private_cache.glob("*.pt"))) == 2

    def boom(*args, **kwargs):
        raise AssertionError("train_rows must not be called on a cache hit")

    real = train_rows
    monkeypatch.setattr(families, "train_rows", boom)
    second = families.train_family(build, "lr", [0.05, 0.2], **kw)
    for a, b in zip(first, second):
        assert b.from_cache
        assert torch.equal(a.theta, b.theta) and torch.equal(a.check_losses, b.check_losses)
        assert torch.equal(a.check_steps, b.check_steps)
        assert (a.steps, a.reached, a.train_loss, a.test_accuracy) == (b.steps, b.reached, b.train_loss, b.test_accuracy)
    with pytest.raises(AssertionError, match="cache hit"):  # another setting is another key
        families.train_family(build, "lr", [0.05, 0.2], **{**kw, "target_loss": 0.5})
    # only the missing member is trained
    rows = []
    monkeypatch.setattr(families, "train_rows", lambda land, theta0, **k: rows.append(theta0.shape[0]) or real(land, theta0, **k))
    third = families.train_family(build, "lr", [0.05, 0.2, 0.1], **kw)
    assert rows == [1] and [m.from_cache for m in third] == [True, True, False]
    # the width family caches each member under its own landscape
    families.train_family(build, "width", [3, 5], settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=10))
    monkeypatch.setattr(families, "train_rows", boom)
    again = families.train_family(build, "width", [3, 5], settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=10))
    assert all(m.from_cache for m in again)


def test_cache_off(build, private_cache, monkeypatch):
    monkeypatch.setenv("LSL_CACHE", "0")
    families.train_family(build, "lr", [0.1], settings=FAMILY_DEFAULTS.replace(steps=3))
    assert not list(private_cache.glob("*.pt"))


# ---------------------------------------------------------------------------
# tunnel widths of a family (against closed forms: tests/test_radial.py)


def test_tunnel_widths_of_a_family(build):
    fam = families.train_family(build, "width", [3, 8], settings=FAMILY_DEFAULTS.replace(lr=0.2, batch_size=8, steps=1000), target_loss=0.6, check_every=5,
                                cache=False)
    tw = tunnel_widths(fam.landscapes, fam.thetas, n_directions=6, rise=0.2, n_radii=30)
    assert tw.widths.shape == (2, 6) and bool(torch.isfinite(tw.widths).all())
    torch.testing.assert_close(tw.angular_widths, tw.widths / tw.theta_norms.unsqueeze(1))
    for i, m in enumerate(fam):
        assert tw.base_losses[i] == pytest.approx(m.train_loss, rel=1e-6)


# ---------------------------------------------------------------------------
# a per-member quantity of several seeds' families as one table


def _family(seed: int, values=(0.1, 0.2, 0.4), accuracy=True) -> families.Family:
    """A hand-made family: member j of seed s has steps 10 s + j, loss s + j / 10 and accuracy (s + j) / 10."""
    members = [families.Member(hparam="lr", value=v, theta=torch.zeros(2), steps=10 * seed + j, train_loss=seed + j / 10,
                               train_accuracy=None, test_accuracy=(seed + j) / 10 if accuracy else None, reached=True,
                               diverged=False, check_steps=torch.zeros(1), check_losses=torch.zeros(1))
               for j, v in enumerate(values)]
    return families.Family("lr", list(values), members, [None] * len(values), 0.5, 0.0)


def _widths(seed: int, M: int = 3, K: int = 4):
    from lsl.probes.radial import TunnelWidths

    gen = torch.Generator().manual_seed(seed)
    w = torch.rand(M, K, generator=gen, dtype=torch.float32) + 1
    norms = torch.rand(M, generator=gen, dtype=F64) + 5
    ones = torch.ones(M, dtype=F64)
    return TunnelWidths(w, w / norms.float().unsqueeze(1), ones, ones, norms, ones, [])


def test_member_table_stacks_a_quantity_per_seed_and_value_like_a_loop():
    seeds = [0, 1]
    fams, tws = [_family(s) for s in seeds], [_widths(s) for s in seeds]
    loop = [[m.steps for m in f] for f in fams]                                   # the reference: plain loops
    t = families.member_table(fams, "steps")
    assert t.dtype == np.float64 and t.shape == (2, 3) and t.tolist() == [[0, 1, 2], [10, 11, 12]] == loop
    assert families.member_table(fams, "test_accuracy").tolist() == [[(s + j) / 10 for j in range(3)] for s in seeds]
    assert families.member_table(fams, lambda m: m.train_loss * 2).tolist() == [[2 * (s + j / 10) for j in range(3)]
                                                                                  for s in seeds]
    ang = families.member_table(tws, "angular_width")                            # a property of TunnelWidths, [M]
    assert np.array_equal(ang, np.stack([tw.angular_widths.mean(1).double().numpy() for tw in tws]))
    assert np.array_equal(families.member_table(tws, "theta_norms"), np.stack([tw.theta_norms.numpy() for tw in tws]))
    assert np.array_equal(families.member_table(tws, lambda tw: tw.widths.amax(1)),
                          np.stack([tw.widths.amax(1).double().numpy() for tw in tws]))
    assert np.isnan(families.member_table([_family(0, accuracy=False)], "test_accuracy")).all()


def test_member_table_refuses_ragged_or_empty_rows():
    with pytest.raises(ValueError, match="different numbers of members"):
        families.member_table([_family(0), _family(1, values=(0.1, 0.2))], "steps")
    with pytest.raises(ValueError, match="at least one row"):
        families.member_table([], "steps")
    with pytest.raises(ValueError, match="one number per member"):
        families.member_table([_widths(0)], "widths")                            # [M, K]: one number per direction
    with pytest.raises(AttributeError):
        families.member_table([_family(0)], "no_such_quantity")


# ---------------------------------------------------------------------------
# errors


def test_errors(build):
    land = build()
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        families.train_family(land, "momentum", [0.9])
    with pytest.raises(TypeError, match="pass a builder"):
        families.train_family(land, "width", [3, 4])
    with pytest.raises(TypeError, match="integers"):
        families.train_family(build, "batch_size", [4.5])


def test_base_member_is_shared_between_families_and_cpu_default_stacks_layer_stacks_only(build, ds, monkeypatch):
    real, rows = train_rows, []
    monkeypatch.setattr(families, "train_rows", lambda land, theta0, **k: rows.append(theta0.shape[0]) or real(land, theta0, **k))
    kw = dict(settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=10, seed=0))
    lr_fam = families.train_family(build, "lr", [0.1, 0.2], **kw)
    assert rows == [2]  # stack=None on a CPU: a layer stack (gradients written out) trains the family as one batch
    drop = families.train_family(build, "dropout", [0.0, 0.2], **kw)
    assert drop[0].from_cache and not drop[1].from_cache and rows == [2, 1]
    gelu = nets.network(ds, "mlp", width=6, depth=1, activation="gelu", seed=0, dtype=F64)  # autograd (vmap)
    families.train_family(gelu, "lr", [0.1, 0.2], **kw)
    assert rows == [2, 1, 1, 1]  # ... and other networks one member at a time
    assert torch.equal(drop[0].theta, lr_fam[0].theta)  # build(dropout=0.0) is the base network
    assert drop[1].settings["dropout"] == 0.2


# ---------------------------------------------------------------------------
# several seeds' families trained together


@pytest.mark.parametrize("hparam, values, calls", [
    ("lr", [0.1, 0.3], [4]),                # every member of every seed: one call of 2 x 2 rows
    ("dropout", [0.0, 0.2], [2, 2]),        # one call per value, the seeds as rows
    ("batch_size", [8, 16], [2, 2]),        # one call per batch size
])
def test_train_families_equals_one_family_per_seed(ds, hparam, values, calls, monkeypatch):
    builds = [nets.network(ds, "mlp", width=6, depth=1, activation="tanh", seed=s, dtype=F64) for s in (0, 1)]
    settings = FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=30)
    kw = dict(check_every=10, cache=False)
    real, rows = train_rows, []
    monkeypatch.setattr(families, "train_rows", lambda land, theta0, **k: rows.append(theta0.shape[0]) or real(land, theta0, **k))
    together = families.train_families(builds, hparam, values, seeds=[0, 1], settings=settings, **kw)
    assert sorted(rows) == sorted(calls)
    for k, seed in enumerate((0, 1)):
        alone = families.train_family(builds[k], hparam, values, settings=settings.replace(seed=seed), stack=False, **kw)
        for m, ref in zip(together[k], alone):
            assert m.settings == ref.settings and m.steps == ref.steps
            if hparam != "dropout" or m.value == 0.0:  # dropout masks of rows trained together: another draw
                rel_close(m.theta, ref.theta)
    assert float((together[0][0].theta - together[1][0].theta).norm()) > 1e-2  # the seeds differ


def test_train_families_shares_the_cache_with_train_family(ds):
    builds = [nets.network(ds, "mlp", width=6, depth=1, activation="tanh", seed=s, dtype=F64) for s in (0, 1)]
    settings = FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=20)
    kw = dict(settings=settings, check_every=10)
    first = families.train_families(builds, "l2", [0.0, 1e-3], seeds=[0, 1], **kw)
    assert not any(m.from_cache for f in first for m in f)
    again = families.train_family(builds[1], "l2", [0.0, 1e-3], settings=settings.replace(seed=1), check_every=10)
    assert all(m.from_cache for m in again)
    assert all(torch.equal(a.theta, b.theta) for a, b in zip(again, first[1]))
    with pytest.raises(ValueError, match="one build per seed"):
        families.train_families(builds, "l2", [0.0], seeds=[0], **kw)


def test_train_family_raises_and_records(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    quad = SquaredNorm()
    theta0 = torch.ones(3, dtype=F64)
    with pytest.raises(NonFiniteLossError, match="learning rate 3"):
        families.train_family(quad, "lr", [0.5, 3.0], theta0=theta0, settings=FAMILY_DEFAULTS.replace(steps=2000), check_every=100)
    fam = families.train_family(quad, "lr", [0.5, 3.0], theta0=theta0, settings=FAMILY_DEFAULTS.replace(steps=2000), check_every=100,
                                nonfinite="record")
    assert [m.diverged for m in fam] == [False, True]
    with pytest.raises(NonFiniteLossError, match=r"lr=3.0 \(loaded from the cache\) diverged"):
        families.train_family(quad, "lr", [0.5, 3.0], theta0=theta0, settings=FAMILY_DEFAULTS.replace(steps=2000), check_every=100)


def test_the_cache_key_of_a_family_member_is_the_one_of_before(build, monkeypatch):
    """A member's key with settings= is the one of the keywords, built from the same names and values as before."""
    net = build()
    keys = []
    real = families._member_key
    monkeypatch.setattr(families, "_member_key", lambda *a, **k: keys.append(a[2]) or real(*a, **k))
    monkeypatch.setenv("LSL_CACHE", "1")
    families.train_family(net, "lr", [0.05], settings=FAMILY_DEFAULTS.replace(steps=2), check_every=1)
    families.train_family(net, "lr", [0.05], settings=settings.FAMILY_DEFAULTS.replace(steps=2), check_every=1)
    assert keys[0] == keys[1] == {"lr": 0.05, "l2": 0.0, "batch_size": None, "momentum": 0.0, "target_loss": None,
                                  "check_every": 1, "max_steps": 2, "seed": 0}


# ---------------------------------------------------------------------------
# the cache key is the computation and entries are checked by content (issue 31)


def test_a_family_on_another_loss_gets_its_own_members(ds, private_cache, monkeypatch):
    import torch.nn.functional as F

    from lsl.network import NetworkLandscape

    model = nets.make("mlp", ds.input_shape, 3, width=6, depth=1, activation="tanh", seed=0).to(F64)
    A = NetworkLandscape(model, ds.x_train, ds.y_train, loss=lambda z, y: F.cross_entropy(z, y))
    B = NetworkLandscape(model, ds.x_train, ds.y_train, loss=lambda z, y: F.cross_entropy(z, y) + 10 * (z ** 2).mean())
    kw = dict(settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=20, seed=0))
    fam_a = families.train_family(A, "lr", [0.1, 0.2], **kw)
    fam_b = families.train_family(B, "lr", [0.1, 0.2], **kw)
    assert not any(m.from_cache for m in fam_b), "B's members must not be A's cached members"
    fresh = families.train_family(B, "lr", [0.1, 0.2], cache=False, **kw)
    for m, ref, a in zip(fam_b, fresh, fam_a):
        assert torch.equal(m.theta, ref.theta) and not torch.equal(m.theta, a.theta)


def test_a_family_whose_key_cannot_be_trusted_is_trained_and_not_cached(ds, private_cache):
    import torch.nn.functional as F

    from lsl.network import NetworkLandscape

    class Holder:
        scale = 1.0

    holder = Holder()
    model = nets.make("mlp", ds.input_shape, 3, width=6, depth=1, activation="tanh", seed=0).to(F64)
    land = NetworkLandscape(model, ds.x_train, ds.y_train, loss=lambda z, y: holder.scale * F.cross_entropy(z, y))
    with pytest.warns(UserWarning, match="a member of the lr family is computed and not cached.*Holder"):
        fam = families.train_family(land, "lr", [0.1, 0.2], settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=10, seed=0))
    assert not list(private_cache.glob("*.pt")) and not any(m.from_cache for m in fam)


@pytest.mark.parametrize("damage", ["flip a bit", "truncate", "nan in theta", "swap a shape", "remove a key"])
def test_a_damaged_member_is_retrained_with_a_warning(build, private_cache, damage):
    kw = dict(settings=FAMILY_DEFAULTS.replace(lr=0.1, batch_size=8, steps=20, seed=0))
    fresh = families.train_family(build, "lr", [0.1], cache=False, **kw)
    families.train_family(build, "lr", [0.1], **kw)
    (entry,) = private_cache.glob("*.pt")
    payload = torch.load(entry, weights_only=True)
    tensors = {k[2:]: v for k, v in payload.items() if k.startswith("t/")}
    if damage == "flip a bit":
        raw = bytearray(entry.read_bytes())
        at = bytes(raw).find(tensors["theta"].numpy().tobytes())
        raw[at + 7] ^= 0x08
        entry.write_bytes(bytes(raw))
    elif damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:100])
    else:
        if damage == "nan in theta":
            tensors["theta"][2] = float("nan")
        elif damage == "swap a shape":
            tensors["theta"] = tensors["theta"][:-1]
        else:
            del tensors["check_losses"]
        from lsl import cache

        torch.save({"key": payload["key"], "digest": cache.content_digest(tensors),
                    **{f"t/{k}": v for k, v in tensors.items()}}, entry)
    with pytest.warns(UserWarning, match=rf"recomputing it .*{entry.name}"):
        again = families.train_family(build, "lr", [0.1], **kw)
    assert not again[0].from_cache and torch.equal(again[0].theta, fresh[0].theta)
    assert torch.equal(again[0].check_losses, fresh[0].check_losses)
    assert families.train_family(build, "lr", [0.1], **kw)[0].from_cache  # rewritten
