"""Tests for lsl.settings: the defaults documented are the dataclass's, replace, the checks of invalid settings,
every trainer taking its optimiser settings only as ``settings=`` (an optimiser keyword is refused with a message
that says what to pass), starting from its documented defaults, and honouring the settings.

The cache keys that train and train_family build from the settings: tests/test_trainer.py, tests/test_families.py;
the result convention of every dataclass: tests/test_results.py."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import re

import pytest
import torch

from lsl import settings
from lsl.data import datasets, nets
from lsl.ensembles import averaging, snapshots, swa
from lsl.paths import connectors, orthogonal, tunnels
from lsl.settings import check_settings, ROWS_DEFAULTS, SUBSPACE_DEFAULTS, TrainSettings, TUNNEL_DEFAULTS
from lsl.subspaces import goldilocks, hyperplanes
from lsl.toy import WedgeLandscape
from lsl.training import families, rows, trainer

F64 = torch.float64


@pytest.fixture(autouse=True)
def no_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LSL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LSL_CACHE", "0")


# ds: tests/conftest.py


@pytest.fixture(scope="module")
def net(ds):
    return nets.network(ds, "mlp", width=6, depth=1, activation="tanh", seed=0, dtype=F64)()


@pytest.fixture(scope="module")
def toy():
    return WedgeLandscape(8, 3, dtype=F64)


def points(D: int, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed), dtype=F64)


# ---------------------------------------------------------------------------
# the documented defaults


def _table(doc: str) -> dict[str, str]:
    """The rows ``field default ...`` of the first simple table of a docstring."""
    lines = doc.splitlines()
    rules = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*=+(\s+=+)+\s*", line)]
    assert len(rules) >= 3, "the docstring of TrainSettings has no table of defaults"
    rows = [line.split() for line in lines[rules[1] + 1:rules[2]] if line.strip()]
    return {row[0]: row[1] for row in rows}


def test_the_table_of_defaults_is_the_dataclass():
    table = _table(TrainSettings.__doc__)
    fields = {f.name: f.default for f in dataclasses.fields(TrainSettings)}
    assert list(table) == list(fields), "the table must list every field, in the order of the dataclass"
    for name, text in table.items():
        assert ast.literal_eval(text) == fields[name], f"{name}: the table says {text}, the dataclass {fields[name]!r}"
        assert type(ast.literal_eval(text)) is type(fields[name]), name


def test_every_field_is_documented_under_attributes():
    attributes = TrainSettings.__doc__.split("Attributes:")[1]
    for f in dataclasses.fields(TrainSettings):
        assert re.search(rf"^\s+{f.name}:", attributes, re.M), f"{f.name} is not documented under Attributes"


def test_each_trainers_defaults_are_documented_in_the_module():
    """The module docstring's list (``:data:`NAME` (``k=v, ...``)``) says how each constant differs from the defaults."""
    listed = re.findall(r":data:`(\w+)` \(``([^`]*)``\)", settings.__doc__)
    names = [name for name, _ in listed]
    assert sorted(names) == sorted(n for n in settings.__all__ if n.endswith("_DEFAULTS"))
    for name, text in listed:
        call = ast.parse(f"f({text})", mode="eval").body
        changes = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        assert getattr(settings, name) == TrainSettings(**changes), name


def test_trainers_take_settings_and_no_optimiser_keyword():
    """A trainer's signature has settings (its defaults, one TrainSettings) and no optimiser keyword of its own."""
    fields = {f.name for f in dataclasses.fields(TrainSettings)} | {"max_steps"}
    for f in TRAINERS:
        params = inspect.signature(f).parameters
        assert "settings" in params and params["settings"].default is f.defaults, f.__qualname__
        assert isinstance(f.defaults, TrainSettings), f.__qualname__
        assert not [p for p in params if p in fields], f"{f.__qualname__} keeps optimiser keywords"
        assert not [p for p in params.values() if p.kind is p.VAR_KEYWORD and p.name != "net_options"], \
            f"{f.__qualname__} passes **keywords through"
        # the docstring says which settings the trainer uses, and its defaults
        assert re.search(r"^    Settings\b.*?_DEFAULTS", f.__doc__, re.M | re.S), \
            f"{f.__qualname__} does not say which settings it uses"


# ---------------------------------------------------------------------------
# replace, resolve and the checks


def test_replace_gives_a_checked_copy_and_the_object_is_frozen():
    base = TrainSettings(steps=10, lr=0.1)
    other = base.replace(lr=0.2, schedule="cosine")
    assert other == TrainSettings(steps=10, lr=0.2, schedule="cosine") and base.lr == 0.1
    assert base.replace() == base
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.lr = 0.3
    with pytest.raises(TypeError, match=r"no field 'learning_rate'.*\['steps', 'lr'"):
        base.replace(learning_rate=0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        base.replace(lr=-0.1)
    # values are kept as given (they reach cache keys): no conversion of ints to floats
    assert TrainSettings(lr=1).lr == 1 and type(TrainSettings(lr=1).lr) is int


@pytest.mark.parametrize("changes,error,match", [
    ({"lr": -0.1}, ValueError, r"lr must be > 0.*got -0.1.*Pass a positive step size"),
    ({"lr": 0.0}, ValueError, r"lr must be > 0"),
    ({"lr": float("nan")}, ValueError, r"lr must be > 0, a finite number"),
    ({"lr": True}, ValueError, r"lr must be > 0"),
    ({"steps": -1}, ValueError, r"steps must be >= 0.*Pass e.g. steps=1000"),
    ({"steps": 2.5}, ValueError, r"steps must be >= 0, an integer"),
    ({"optimizer": "rmsprop"}, ValueError, r"unknown optimizer 'rmsprop'; choose one of \('adam', 'sgd'\)"),
    ({"schedule": "step"}, ValueError, r"unknown schedule 'step'; choose one of \('constant', 'cosine', 'cyclic'\)"),
    ({"lr_min": -1.0}, ValueError, r"lr_min must be >= 0"),
    ({"lr": 0.1, "lr_min": 0.2}, ValueError, r"lr_min must be <= lr.*Lower lr_min"),
    ({"cycle_steps": 0}, ValueError, r"cycle_steps must be an integer >= 1"),
    ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\).*0 is plain SGD"),
    ({"momentum": -0.5}, ValueError, r"momentum must be in \[0, 1\)"),
    ({"batch_size": 2.5}, TypeError, r"batch_size must be an int or None"),
    ({"l2": -1.0}, ValueError, r"l2 must be >= 0"),
    ({"seed": 1.5}, ValueError, r"seed must be an integer"),
])
def test_invalid_settings_say_what_is_wrong_and_what_to_pass(changes, error, match):
    with pytest.raises(error, match=match):
        TrainSettings(**changes)


def test_check_settings_checks_the_type_and_the_needed_fields():
    mine = TrainSettings(steps=5, lr=0.3)
    assert check_settings(mine, who="t") is mine
    with pytest.raises(ValueError, match=r"t needs steps and lr: pass settings whose steps and lr are given, "
                                         r"e\.g\. settings=TrainSettings\(steps=\.\.\., lr=\.\.\.\)"):
        check_settings(TrainSettings(), who="t")
    with pytest.raises(TypeError, match="settings must be a lsl.settings.TrainSettings"):
        check_settings({"lr": 0.1}, who="t")
    with pytest.raises(TypeError, match="train: settings must be a lsl.settings.TrainSettings"):
        trainer.train(WedgeLandscape(4, 2), torch.zeros(4), settings=None)


def test_trainers_check_the_settings_before_training(net, toy):
    with pytest.raises(ValueError, match="unknown schedule 'cosin'"):
        trainer.train(toy, points(toy.D, 1)[0], settings=TrainSettings(steps=3, lr=0.1, schedule="cosin"))
    with pytest.raises(ValueError, match="build_tunnel needs"):
        tunnels.build_tunnel(toy, *points(toy.D, 2), settings=TrainSettings(steps=5))
    with pytest.raises(ValueError, match="train needs lr"):
        trainer.train(toy, points(toy.D, 1)[0], settings=TrainSettings(steps=3))
    with pytest.raises(ValueError, match=r"train_rows runs plain SGD.*optimizer='adam'"):
        rows.train_rows(toy, points(toy.D, 1)[0], settings=TrainSettings(steps=3, lr=0.1))
    with pytest.raises(ValueError, match=r"train_family runs plain SGD.*schedule='cosine'"):
        families.train_family(net, "lr", [0.1], settings=settings.FAMILY_DEFAULTS.replace(schedule="cosine"), cache=False)
    with pytest.raises(ValueError, match="cyclic_snapshots trains with the cyclic schedule"):
        swa.cyclic_snapshots(toy, points(toy.D, 1)[0], cycles=2, settings=TrainSettings(lr=0.1, cycle_steps=3))
    with pytest.raises(ValueError, match=r"cycles \* cycle_steps = 6 steps.*steps=7"):
        swa.cyclic_snapshots(toy, points(toy.D, 1)[0], cycles=2, settings=settings.SNAPSHOT_DEFAULTS.replace(lr=0.1, cycle_steps=3, steps=7).replace(batch_size=None))


# ---------------------------------------------------------------------------
# every trainer: optimiser keywords are refused, the settings are honoured


def assert_same(a, b, where="result"):
    """Bitwise equality of two results (tensors, dataclasses, lists), NaN equal to NaN; wall times and landscapes skipped."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and a.device == b.device, where
        assert torch.equal(torch.nan_to_num(a, nan=0.5), torch.nan_to_num(b, nan=0.5)), where
        assert torch.equal(a.isnan(), b.isnan()), where
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if f.name not in ("wall_time", "landscape", "landscapes", "projection"):
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def _cases(net, toy, ds):
    """``(name, call, keywords, settings)``: ``call(settings=settings)`` trains; ``keywords`` are the optimiser keywords
    the trainer took before it took settings only (``call(**keywords)`` must be refused)."""
    a, b = points(toy.D, 2)
    na = net.theta0
    nb = na + 0.3 * points(net.D, 1, seed=1)[0]
    mix = datasets.load("gaussian_mixture", n_train=64, n_test=30, n_classes=3, dim=4)
    mc = connectors.m_connector(toy, points(toy.D, 3, seed=2), settings=SUBSPACE_DEFAULTS.replace(steps=10, lr=0.02))
    S = TrainSettings
    return [
        ("train", lambda **k: trainer.train(net, torch.stack([na, nb]), snapshot_every=4, **k),
         dict(steps=8, lr=0.1, optimizer="sgd", momentum=0.9, batch_size=16, l2=1e-3, seed=3, schedule="cyclic",
              cycle_steps=4, lr_min=0.01),
         S(steps=8, lr=0.1, optimizer="sgd", momentum=0.9, batch_size=16, l2=1e-3, seed=3, schedule="cyclic",
           cycle_steps=4, lr_min=0.01)),
        ("minimize", lambda **k: trainer.minimize(lambda x, s: (x * x).sum(-1), a, **k),
         dict(steps=6, lr=0.1, schedule="cosine"), S(steps=6, lr=0.1, schedule="cosine")),
        ("train_rows", lambda **k: rows.train_rows(net, torch.stack([na, nb]), target_loss=0.9, check_every=4, **k),
         dict(lr=0.1, l2=1e-2, batch_size=16, momentum=0.5, max_steps=12, seed=2),
         settings.ROWS_DEFAULTS.replace(lr=0.1, l2=1e-2, batch_size=16, momentum=0.5, steps=12, seed=2)),
        ("train_family", lambda **k: families.train_family(net, "l2", [0.0, 0.01], check_every=4, cache=False, **k),
         dict(lr=0.2, batch_size=16, momentum=0.5, max_steps=8, seed=1),
         settings.FAMILY_DEFAULTS.replace(lr=0.2, batch_size=16, momentum=0.5, steps=8, seed=1)),
        ("train_families", lambda **k: families.train_families([net, net], "l2", [0.0, 0.01], seeds=[1, 2], check_every=4,
                                                               cache=False, **k),
         dict(lr=0.2, batch_size=16, max_steps=8), settings.FAMILY_DEFAULTS.replace(lr=0.2, batch_size=16, steps=8)),
        ("m_connectors", lambda **k: connectors.m_connectors(toy, [points(toy.D, 3, seed=2)], **k),
         dict(steps=10, lr=0.02), settings.SUBSPACE_DEFAULTS.replace(steps=10, lr=0.02)),
        ("train_simplices", lambda **k: connectors.train_simplices(toy, [mc], n_samples=3, **k),
         dict(steps=8, lr=0.01, seed=3), settings.SUBSPACE_DEFAULTS.replace(steps=8, lr=0.01, seed=3)),
        ("build_tunnel", lambda **k: tunnels.build_tunnel(net, na, nb, n_points=4, **k),
         dict(steps=10, lr=0.05, batch_size=16, seed=1),
         settings.TUNNEL_DEFAULTS.replace(steps=10, lr=0.05, batch_size=16, seed=1)),
        ("tunnel", lambda **k: tunnels.tunnel(toy, a, b, n_points=4, **k),
         dict(steps=10, lr=0.02, optimizer="sgd", schedule="constant"), S(steps=10, lr=0.02, optimizer="sgd")),
        ("bezier_curve", lambda **k: tunnels.bezier_curve(net, na, nb, n_samples=3, eval_every=4, n_points=5, **k),
         dict(steps=8, lr=0.05, batch_size=16, seed=2), S(steps=8, lr=0.05, batch_size=16, seed=2)),
        ("m_connector", lambda **k: connectors.m_connector(toy, points(toy.D, 3, seed=2), **k),
         dict(steps=10, lr=0.02), settings.SUBSPACE_DEFAULTS.replace(steps=10, lr=0.02)),
        ("train_simplex", lambda **k: connectors.train_simplex(toy, mc, n_samples=3, **k),
         dict(steps=8, lr=0.01, seed=3, schedule="constant"), S(steps=8, lr=0.01, seed=3)),
        ("optimize_orthogonal", lambda **k: orthogonal.optimize_orthogonal(net, torch.stack([na, nb]), nb - na,
                                                                           target_loss=0.99, check_every=4, **k),
         dict(steps=8, lr=0.05, batch_size=16), settings.SUBSPACE_DEFAULTS.replace(steps=8, lr=0.05, batch_size=16)),
        ("train_in_hyperplanes", lambda **k: hyperplanes.train_in_hyperplanes(net, na, [2, 3], n_planes=2, **k),
         dict(steps=6, lr=0.05, seed=4, batch_size=16),
         settings.SUBSPACE_DEFAULTS.replace(steps=6, lr=0.05, seed=4, batch_size=16)),
        ("train_in_hyperplane", lambda **k: hyperplanes.train_in_hyperplane(toy, a, 3, **k),
         dict(steps=8, lr=0.05, seed=1, optimizer="sgd"), settings.SUBSPACE_DEFAULTS.replace(steps=8, lr=0.05, seed=1,
                                                                                             optimizer="sgd")),
        ("dimension_sweep", lambda **k: hyperplanes.dimension_sweep(toy, a, [1, 3], n_planes=2, tol=0.5, **k),
         dict(steps=8, lr=0.05, seed=2), settings.SUBSPACE_DEFAULTS.replace(steps=8, lr=0.05, seed=2)),
        ("intrinsic_dimension", lambda **k: hyperplanes.intrinsic_dimension(net, na, [2, 4], n_planes=2, reference=0.9,
                                                                         projection="dense", max_batch=3, **k),
         dict(steps=5, lr=0.05, batch_size=16, seed=1),
         settings.SUBSPACE_DEFAULTS.replace(steps=5, lr=0.05, batch_size=16, seed=1)),
        ("goldilocks_scan", lambda **k: goldilocks.goldilocks_scan(net, na, [0.5, 1.0], d_curv=2, n_curv_planes=2,
                                                                   d_train=2, n_planes=2, projection="dense", **k),
         dict(steps=5, lr=0.05, batch_size=16, optimizer="sgd", seed=1),
         settings.SUBSPACE_DEFAULTS.replace(steps=5, lr=0.05, batch_size=16, optimizer="sgd", seed=1)),
        ("cyclic_snapshots", lambda **k: swa.cyclic_snapshots(net, na, cycles=2, cache=False, **k),
         dict(cycle_steps=3, lr=0.05, batch_size=16), settings.SNAPSHOT_DEFAULTS.replace(cycle_steps=3, lr=0.05,
                                                                                         batch_size=16)),
        ("snapshot_sweep", lambda **k: snapshots.snapshot_sweep(net, torch.stack([na, nb]), [0.05, 0.1], cycles=2,
                                                                     cache=False, **k),
         dict(cycle_steps=3, batch_size=16, seed=1), settings.SNAPSHOT_DEFAULTS.replace(cycle_steps=3, batch_size=16,
                                                                                        seed=1)),
        ("deep_ensemble", lambda **k: averaging.deep_ensemble(mix, "mlp", members=2, width=6, depth=1, cache=False, **k),
         dict(steps=4, lr=0.05, batch_size=32, seed=10),
         settings.ENSEMBLE_DEFAULTS.replace(steps=4, lr=0.05, batch_size=32, seed=10)),
    ]


#: Every trainer that takes settings=.
TRAINERS = [trainer.train, trainer.minimize, rows.train_rows, families.train_family, families.train_families,
            tunnels.build_tunnel, tunnels.tunnel, tunnels.bezier_curve, connectors.m_connectors,
            connectors.train_simplices, connectors.m_connector, connectors.train_simplex, orthogonal.optimize_orthogonal,
            hyperplanes.train_in_hyperplanes, hyperplanes.train_in_hyperplane, hyperplanes.dimension_sweep,
            hyperplanes.intrinsic_dimension, goldilocks.goldilocks_scan, swa.cyclic_snapshots,
            snapshots.snapshot_sweep, averaging.deep_ensemble]


#: The name under which each trainer's defaults are suggested in the error.
DEFAULT_NAMES = {"train_families": "FAMILY_DEFAULTS", "train": "TRAIN_DEFAULTS", "minimize": "TRAIN_DEFAULTS", "bezier_curve": "TRAIN_DEFAULTS",
                 "tunnel": "TUNNEL_DEFAULTS", "build_tunnel": "TUNNEL_DEFAULTS", "train_rows": "ROWS_DEFAULTS",
                 "train_family": "FAMILY_DEFAULTS", "cyclic_snapshots": "SNAPSHOT_DEFAULTS",
                 "snapshot_sweep": "SNAPSHOT_DEFAULTS", "deep_ensemble": "ENSEMBLE_DEFAULTS"}


def differs(a, b) -> bool:
    try:
        assert_same(a, b)
    except AssertionError:
        return True
    return False


def test_every_trainer_refuses_optimiser_keywords_with_a_clear_message(net, toy, ds):
    cases = _cases(net, toy, ds)
    assert {name for name, *_ in cases} >= {f.__name__ for f in TRAINERS}
    for name, call, keywords, s in cases:
        defaults = DEFAULT_NAMES.get(name, "SUBSPACE_DEFAULTS")
        for key, value in keywords.items():
            field = "steps" if key == "max_steps" else key
            with pytest.raises(TypeError, match=rf"{name}\(\) takes its optimiser settings only as settings=.*not as "
                                                rf"{key}=: pass settings=lsl\.settings\.{defaults}\.replace\({field}=\.\.\.\)"):
                call(**{key: value})
            with pytest.raises(TypeError, match=rf"not as {key}="):  # also beside settings: never silently ignored
                call(settings=s, **{key: value})


def test_every_trainer_honours_its_settings(net, toy, ds):
    """A different learning rate (for snapshot_sweep, whose rates are max_lrs: a different cycle length) changes
    what every trainer returns, and the same settings give bitwise the same result."""
    for name, call, _, s in _cases(net, toy, ds):
        first = call(settings=s)
        assert_same(call(settings=s), first, name)
        other = s.replace(cycle_steps=s.cycle_steps + 1) if name == "snapshot_sweep" else s.replace(lr=s.lr * 2)
        assert differs(call(settings=other), first), f"{name} ignores its settings"


def test_steps_0_returns_the_start(toy):
    a, b = points(toy.D, 2)
    zero = TrainSettings(steps=0, lr=0.1)
    assert torch.equal(trainer.train(toy, a, settings=zero).theta, a)
    assert torch.equal(trainer.minimize(lambda x, s: (x * x).sum(-1), a, settings=zero).theta, a)
    assert torch.equal(rows.train_rows(toy, a, settings=ROWS_DEFAULTS.replace(steps=0, lr=0.1)).theta, a)
    tun = tunnels.build_tunnel(toy, a, b, n_points=4, settings=TUNNEL_DEFAULTS.replace(steps=0))
    assert torch.equal(tun.points, tun.line)
    res = hyperplanes.train_in_hyperplanes(toy, a, 3, n_planes=2, settings=SUBSPACE_DEFAULTS.replace(steps=0, lr=0.1))
    assert torch.equal(res.theta, a.expand(2, -1))


def test_per_row_and_per_run_values_are_arguments_and_never_clash_with_the_settings(net, toy):
    a = points(toy.D, 2)
    # train_rows: lrs, l2s and seeds take the place of the settings' field, which must be left alone
    both = rows.train_rows(toy, a, settings=ROWS_DEFAULTS.replace(steps=5), lrs=[0.01, 0.02]).theta
    alone = [trainer.train(toy, a[i], settings=TrainSettings(steps=5, lr=lr, optimizer="sgd")).theta
             for i, lr in enumerate([0.01, 0.02])]
    torch.testing.assert_close(both, torch.stack(alone), rtol=1e-12, atol=1e-12)
    for extra, match in [(dict(lrs=[0.1, 0.2]), "settings.lr=0.1 and lrs="), (dict(l2s=[0.0, 0.1]), None),
                         (dict(seeds=[1, 2]), None)]:
        s = ROWS_DEFAULTS.replace(steps=2, lr=0.1, **({"l2": 0.5} if "l2s" in extra else {}),
                                  **({"seed": 3} if "seeds" in extra else {}))
        if "lrs" not in extra:
            with pytest.raises(ValueError, match=rf"train_rows got both settings\.\w+=.* and \w+s= \(one per row\)"):
                rows.train_rows(toy, a, settings=s, **extra)
        else:
            with pytest.raises(ValueError, match=match):
                rows.train_rows(toy, a, settings=s, **extra)
    with pytest.raises(TypeError, match="seeds must be a sequence"):
        rows.train_rows(toy, a, settings=ROWS_DEFAULTS.replace(steps=2, lr=0.1), seeds=3)
    # train_families: one seed per family; snapshot_sweep: one learning rate per run
    with pytest.raises(ValueError, match="train_families takes one seed per family as seeds="):
        families.train_families([net], "lr", [0.1], seeds=[0], settings=settings.FAMILY_DEFAULTS.replace(seed=2))
    with pytest.raises(ValueError, match="snapshot_sweep takes its learning rates as max_lrs"):
        snapshots.snapshot_sweep(net, net.theta0, [0.1], cycles=1,
                                 settings=settings.SNAPSHOT_DEFAULTS.replace(cycle_steps=2, lr=0.1))


def test_trainers_without_settings_start_from_their_defaults(toy):
    a, b = points(toy.D, 2)
    # a tunnel without settings is TUNNEL_DEFAULTS: 1000 steps at 0.01 with a cosine decay
    assert_same(tunnels.build_tunnel(toy, a, b, n_points=4), tunnels.build_tunnel(toy, a, b, n_points=4,
                                                                                 settings=settings.TUNNEL_DEFAULTS))
    assert_same(tunnels.build_tunnel(toy, a, b, n_points=4, settings=TUNNEL_DEFAULTS.replace(steps=30)),
                tunnels.build_tunnel(toy, a, b, n_points=4, settings=TrainSettings(steps=30, lr=0.01, schedule="cosine")))
    # and differs from the plain defaults (a constant learning rate)
    const = tunnels.build_tunnel(toy, a, b, n_points=4, settings=TrainSettings(steps=30, lr=0.01))
    assert not torch.equal(const.points, tunnels.build_tunnel(toy, a, b, n_points=4, settings=TUNNEL_DEFAULTS.replace(steps=30)).points)
    # train_rows: SGD, at most 1000 steps; a row equals lsl.training.trainer.train with SGD at a constant rate
    lone = trainer.train(toy, a, settings=TrainSettings(steps=1000, lr=0.01, optimizer="sgd")).theta
    torch.testing.assert_close(rows.train_rows(toy, a, settings=ROWS_DEFAULTS.replace(lr=0.01)).theta, lone, rtol=1e-12, atol=1e-12)


def test_settings_that_were_not_keywords_reach_every_trainer(toy):
    """Momentum, L2 and the schedule's floor (never keywords of the tunnel, curve, connector and plane
    trainers) each change what they train."""
    a, b = points(toy.D, 2)
    mc = connectors.m_connector(toy, points(toy.D, 3, seed=2), settings=SUBSPACE_DEFAULTS.replace(steps=5, lr=0.02))
    calls = {
        "build_tunnel": lambda s: tunnels.build_tunnel(toy, a, b, n_points=4, settings=s).points,
        "bezier_curve": lambda s: tunnels.bezier_curve(toy, a, b, n_points=5, settings=s).control,
        "m_connector": lambda s: connectors.m_connector(toy, points(toy.D, 3, seed=2), settings=s).points,
        "train_simplex": lambda s: connectors.train_simplex(toy, mc, settings=s).points,
        "train_in_hyperplanes": lambda s: hyperplanes.train_in_hyperplanes(toy, a, 3, n_planes=2, settings=s).theta,
    }
    base = TrainSettings(steps=10, lr=0.05, optimizer="sgd", schedule="cosine")
    for name, call in calls.items():
        plain = call(base)
        for change in (dict(momentum=0.9), dict(l2=0.5), dict(lr_min=0.04)):
            assert not torch.equal(call(base.replace(**change)), plain), f"{name} ignores {change}"


# ---------------------------------------------------------------------------
# cache keys: built from the same names and values as before the settings object
