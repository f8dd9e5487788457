"""Bad input gets a clear error: every public entry point fed non-finite, empty, wrong-shape, wrong-type,
out-of-range and absurd-size arguments raises at its door, with the error's type and a message that names the
argument (issue 31). Extend this file with each new public function.

Each case is ``(call, error type, pattern the message must match)``; a case that returned a value, or failed
with another type or an unclear message, would be a silent wrong answer or a confusing one.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lsl import arguments
from lsl.curvature import hessian, linear_operators
from lsl.data import datasets, files, nets
from lsl.network import NetworkLandscape
from lsl.paths import connectors, permutations, tunnels
from lsl.probes import planes, radial
from lsl.settings import ROWS_DEFAULTS, SUBSPACE_DEFAULTS, TrainSettings, TUNNEL_DEFAULTS
from lsl.subspaces import hyperplanes
from lsl.toy import WedgeLandscape
from lsl.training import rows, trainer

F64 = torch.float64


@pytest.fixture(scope="module")
def net() -> NetworkLandscape:
    torch.manual_seed(0)
    x = torch.randn(24, 4, dtype=F64)
    y = torch.arange(24) % 3
    model = nets.MLP(4, 3, width=5, depth=1).to(F64)
    return NetworkLandscape(model, x, y, x_test=x[:8], y_test=y[:8])


def _nan(D: int, at: int = 1, rows_: int | None = None) -> torch.Tensor:
    t = torch.zeros(D, dtype=F64) if rows_ is None else torch.zeros(rows_, D, dtype=F64)
    t.view(-1)[at] = float("nan")
    return t


def _cases(L: NetworkLandscape) -> list[tuple[str, object, type, str]]:
    D = L.D
    ok = L.theta0.detach()
    nan = _nan(D)
    two = torch.stack([ok, ok + 0.1])
    return [
        # non-finite points, directions, optima, radii
        ("direction_plane: NaN directions", lambda: planes.direction_plane(L, ok, _nan(D, rows_=2), n=3),
         ValueError, r"directions has non-finite entries at \[\(0, 1\)\] \(1 of"),
        ("direction_plane: NaN origin", lambda: planes.direction_plane(L, nan, torch.ones(2, D, dtype=F64), n=3),
         ValueError, r"theta has non-finite entries at \[1\]"),
        ("loss_plane: inf corner", lambda: planes.loss_plane(L, ok, ok.clone().fill_(float("inf")), ok + 1, n=3),
         ValueError, r"b has non-finite entries .*inf"),
        ("radial_profile: NaN radii", lambda: radial.radial_profile(L, ok, torch.tensor([0.1, float("nan")]), n_directions=2),
         ValueError, r"radii has non-finite entries at \[1\]"),
        ("radial_profile: empty radii", lambda: radial.radial_profile(L, ok, torch.tensor([]), n_directions=2),
         ValueError, r"radii must be a non-empty"),
        ("tunnel_widths: NaN optimum", lambda: radial.tunnel_widths(L, [nan], n_directions=2, n_radii=3, max_radius=1.0, rise=0.1),
         ValueError, r"theta has non-finite entries"),
        ("exact_hessian: NaN theta", lambda: hessian.exact_hessian(L, nan), ValueError, r"theta has non-finite entries at \[1\]"),
        ("top_eigenvalues: NaN theta", lambda: hessian.top_eigenvalues(L, nan, 2), ValueError, r"theta has non-finite entries"),
        ("m_connector: NaN optima", lambda: connectors.m_connector(L, torch.stack([ok, nan, ok + 1]), settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1)),
         ValueError, r"non-finite entries at \[\(1, 1\)\]"),
        ("build_tunnel: NaN end", lambda: tunnels.build_tunnel(L, ok, nan, n_points=3, settings=TUNNEL_DEFAULTS.replace(steps=1, lr=0.1)),
         ValueError, r"theta_b has non-finite entries"),
        ("weight_matching: NaN theta_b", lambda: permutations.weight_matching(L, ok, nan), ValueError,
         r"theta_b has non-finite entries"),
        ("train: NaN start", lambda: trainer.train(L, nan, settings=TrainSettings(steps=2, lr=0.1)), ValueError,
         r"theta0 has non-finite entries at \[1\].*cannot start from a non-finite point"),
        ("train_rows: NaN start", lambda: rows.train_rows(L, _nan(D, rows_=2), settings=ROWS_DEFAULTS.replace(lr=0.1, steps=2)), ValueError,
         r"theta0 has non-finite entries"),
        ("filter_normalized_directions: NaN theta", lambda: planes.filter_normalized_directions(L, nan), ValueError,
         r"theta has non-finite entries"),
        # wrong shape and type
        ("exact_hessian: wrong D", lambda: hessian.exact_hessian(L, torch.zeros(D + 1, dtype=F64)), ValueError,
         rf"theta must have shape \[D\] or \[B, D\] with D={D}"),
        ("train: a list", lambda: trainer.train(L, [0.0] * D, settings=TrainSettings(steps=1, lr=0.1)), TypeError, r"theta0 must be a torch.Tensor"),
        ("direction_plane: integer directions", lambda: planes.direction_plane(L, ok, torch.ones(2, D, dtype=torch.long), n=3),
         TypeError, r"directions must be a floating-point tensor"),
        # out of range and absurd
        ("train: lr too large for float32", lambda: trainer.train(_float32(L), _float32(L).theta0, settings=TrainSettings(steps=1, lr=1e39)),
         ValueError, r"lr=1e\+39 is too large for torch.float32"),
        ("TrainSettings: NaN lr", lambda: TrainSettings(lr=float("nan")), ValueError, r"lr must be > 0, a finite number"),
        ("intrinsic_dimension: no dims", lambda: hyperplanes.intrinsic_dimension(L, ok, [], n_planes=1, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), reference=0.9),
         ValueError, r"dims is empty"),
        ("intrinsic_dimension: n_planes=0", lambda: hyperplanes.intrinsic_dimension(L, ok, [2], n_planes=0, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), reference=0.9),
         ValueError, r"n_planes must be an integer >= 1, got 0"),
        ("intrinsic_dimension: fractional dim", lambda: hyperplanes.intrinsic_dimension(L, ok, [2.5], n_planes=1, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), reference=0.9),
         TypeError, r"dims\[0\] must be an integer"),
        ("intrinsic_dimension: level=1.5", lambda: hyperplanes.intrinsic_dimension(L, ok, [2], n_planes=1, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), reference=0.9, level=1.5),
         ValueError, r"level must be a number > 0 and <= 1, got 1.5"),
        ("intrinsic_dimension: reference=nan", lambda: hyperplanes.intrinsic_dimension(L, ok, [2], n_planes=1, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), reference=float("nan")),
         ValueError, r"reference must be a finite number"),
        ("intrinsic_dimension: dim above D", lambda: hyperplanes.intrinsic_dimension(L, ok, [D + 1], n_planes=1, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), reference=0.9),
         ValueError, rf"dims\[0\] must be an integer in \[1, {D}\]"),
        ("dimension_sweep: tol=-1", lambda: hyperplanes.dimension_sweep(L, ok, [2], n_planes=1, settings=SUBSPACE_DEFAULTS.replace(steps=1, lr=0.1), tol=-1),
         ValueError, r"tol must be a number > 0, got -1"),
    ]


def _float32(L: NetworkLandscape) -> NetworkLandscape:
    model = nets.MLP(4, 3, width=5, depth=1)
    return NetworkLandscape(model, L.x.float(), L.y)


def _case_ids():
    torch.manual_seed(0)
    return [c[0] for c in _cases(_tiny())]


def _tiny() -> NetworkLandscape:
    torch.manual_seed(0)
    x = torch.randn(24, 4, dtype=F64)
    y = torch.arange(24) % 3
    return NetworkLandscape(nets.MLP(4, 3, width=5, depth=1).to(F64), x, y, x_test=x[:8], y_test=y[:8])


@pytest.mark.parametrize("k", range(len(_case_ids())), ids=_case_ids())
def test_a_bad_argument_is_refused_at_the_door_with_a_message_naming_it(net, k):
    name, call, error, pattern = _cases(net)[k]
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: datasets.load("mnist1d", n_train=10**9), ValueError, r"mnist1d: .* need about .* GiB .* more than the limit"),
    (lambda: datasets.load("gaussian_mixture", dim=10**9, n_train=64, n_test=32), ValueError,
     r"gaussian_mixture: .*dim=1000000000.* more than the limit"),
    (lambda: datasets.load("gaussian_mixture", separation=float("inf")), ValueError, r"separation and noise must be finite"),
    (lambda: datasets.load("gaussian_mixture", noise="loud"), TypeError, r"noise must be a number"),
    (lambda: datasets.load("digits", flatten="no"), TypeError, r"flatten must be True or False, got 'no'"),
    (lambda: datasets.load("digits", n_train=0), ValueError, r"n_train must be a positive int"),
    (lambda: datasets.load("digits", n_train=2.5), ValueError, r"n_train must be a positive int"),
], ids=["mnist1d-1e9", "mixture-dim-1e9", "separation-inf", "noise-str", "flatten-no", "n_train-0", "n_train-float"])
def test_datasets_refuse_absurd_and_mistyped_requests_before_work_starts(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_the_size_limit_says_the_estimate_and_the_limit(monkeypatch):
    monkeypatch.setenv("LSL_DATA_MAX_BYTES", str(10**6))
    assert datasets.memory_limit() == 10**6
    with pytest.raises(ValueError, match=r"5000 examples of 320 numbers .* more than the limit of 0.000931 GiB"):
        datasets.load("mnist1d")


def test_a_dataset_pickle_cannot_claim_more_memory_than_its_file_holds(tmp_path):
    """A CIFAR-format batch whose pickle calls numpy.ndarray(shape) directly (uninitialised memory of any size)."""

    class Huge:
        def __reduce__(self):
            return (np.ndarray, ((300_160, 3072), "u1"))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Huge(), b"labels": [0]}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"asks for an array of 922091520 bytes .* more than the \d+ bytes"):
        files._read_pickle(path)
    # a real array (rebuilt by numpy's own reconstruction) still loads
    good = tmp_path / "good"
    good.write_bytes(pickle.dumps({b"data": np.arange(3072, dtype=np.uint8).reshape(1, 3072), b"labels": [1]}, protocol=2))
    x, y = files._read_cifar_batches([good], b"labels")
    assert x.shape == (1, 3, 32, 32) and y.tolist() == [1]


def test_a_damaged_plane_file_says_so_without_unsafe_advice(tmp_path, net):
    path = tmp_path / "plane.npz"
    gen = torch.Generator().manual_seed(0)
    b, c = (net.theta0 + torch.randn(net.D, generator=gen, dtype=F64) for _ in range(2))
    planes.save_plane(planes.loss_plane(net, net.theta0, b, c, n=3), path)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"damaged or truncated") as err:
        planes.load_plane(path)
    assert "allow_pickle" not in str(err.value)


def test_the_scipy_operator_refuses_complex_vectors(net):
    op = linear_operators.as_linear_operator(net, net.theta0.detach())
    with pytest.raises(TypeError, match="real symmetric operator"):
        op.matvec(np.ones(net.D) * (1 + 1j))
    assert np.isrealobj(op.matvec(np.ones(net.D)))


def test_the_toy_model_refuses_non_finite_points_in_experiments():
    toy = WedgeLandscape(20, 12, dtype=F64)
    with pytest.raises(ValueError, match=r"theta_a has non-finite entries at \[1\]"):
        tunnels.build_tunnel(toy, _nan(20), torch.ones(20, dtype=F64), n_points=3, settings=TUNNEL_DEFAULTS.replace(steps=1, lr=0.1))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: arguments.integer("n", True), TypeError, r"n must be an integer, got True"),
    (lambda: arguments.integer("n", 2.0), TypeError, r"n must be an integer"),
    (lambda: arguments.integer("n", -1, low=0), ValueError, r"n must be an integer >= 0, got -1"),
    (lambda: arguments.number("x", float("inf")), ValueError, r"x must be a finite number"),
    (lambda: arguments.number("x", "1"), TypeError, r"x must be a number"),
    (lambda: arguments.number("x", 0.0, low=0.0, low_open=True), ValueError, r"x must be a number > 0"),
    (lambda: arguments.flag("f", "no"), TypeError, r"f must be True or False, got 'no'"),
    (lambda: arguments.integers("d", []), ValueError, r"d is empty"),
    (lambda: arguments.integers("d", "12"), TypeError, r"d must be a sequence of integers"),
])
def test_the_argument_checks(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_the_argument_checks_pass_good_values_through():
    assert arguments.integer("n", np.int64(3), low=1) == 3 and isinstance(arguments.integer("n", np.int64(3)), int)
    assert arguments.number("x", 1, low=0.0, high=1.0) == 1.0
    assert arguments.integers("d", torch.tensor([3, 1])) == [3, 1]
    assert arguments.flag("f", False) is False


@pytest.mark.parametrize("old, new", [("full", "hessian"), ("G", "gauss_newton"), ("gn", "gauss_newton"), ("H", "rest")])
def test_one_vocabulary_for_curvature_terms_and_the_old_spellings_say_the_new_one(net, old, new):
    """hessian, gauss_newton and rest everywhere in lsl.curvature ("H" used to mean H - G, "gn" the same as "G")."""
    theta = net.theta0.detach()
    for call in (lambda t: hessian.exact_hessian(net, theta, term=t),
                 lambda t: linear_operators.as_linear_operator(net, theta, t),
                 lambda t: linear_operators.minibatch_hvp(net, theta, torch.ones(net.D, dtype=F64), batch_size=8, term=t)):
        with pytest.raises(ValueError, match=rf"term='{old}' is an old name: write term='{new}'"):
            call(old)
    H = hessian.exact_hessian(net, theta, term="hessian")
    G = hessian.exact_hessian(net, theta, term="gauss_newton")
    torch.testing.assert_close(G + hessian.exact_hessian(net, theta, term="rest"), H)
    dense = torch.as_tensor(linear_operators.as_linear_operator(net, theta, "gauss_newton") @ np.eye(net.D))
    torch.testing.assert_close(dense, G, atol=1e-10, rtol=1e-8)


# ---------------------------------------------------------------------------
# every public function that takes points, directions, optima or radii refuses a NaN in each of them


_POINTS = {"theta", "theta0", "theta_a", "theta_b", "optima", "points", "directions", "thetas", "a", "b", "c", "origin",
           "snapshots", "start", "end", "radii", "x0", "v", "control"}
#: functions the sweep does not call, with the reason (a new public function is swept unless listed here)
_NOT_SWEPT = {
    "probes.planes.save_plane": "writes a plane that was computed (its points were checked when it was)",
    "training.trainer.minimize": "takes an objective, not a landscape: x0 is checked by its own test above",
    "paths.tunnels.bezier_points": "the curve's formula, evaluated at every step of bezier_curve, whose ends are checked at its door",
}


def _public_point_functions():
    import importlib
    import inspect

    import lsl

    out = []
    for fam in lsl.FAMILIES:
        for m in importlib.import_module(f"lsl.{fam}").MODULES:
            mod = importlib.import_module(f"lsl.{fam}.{m}")
            for n in mod.__all__:
                f = getattr(mod, n)
                if inspect.isfunction(f) and f"{fam}.{m}.{n}" not in _NOT_SWEPT:
                    for p in inspect.signature(f).parameters:
                        if p in _POINTS:
                            out.append((f"{fam}.{m}.{n}", p))
    return out


def _arguments(fn, L: NetworkLandscape) -> dict:
    """Finite arguments for every parameter of ``fn`` the sweep knows (a tiny float64 MLP)."""
    import inspect

    from lsl.paths import permutations as perms
    from lsl.subspaces import projections

    gen = torch.Generator().manual_seed(0)
    t0 = L.theta0.detach()
    pts = lambda k: t0 + 0.1 * torch.randn(k, L.D, generator=gen, dtype=F64)  # noqa: E731
    known = dict(
        landscape=L, build=L, theta=t0, theta0=t0, theta_a=t0, theta_b=pts(1)[0], origin=t0, start=t0, end=pts(1)[0], x0=t0,
        control=pts(1)[0], thetas=pts(2), optima=pts(3), points=pts(3), snapshots=pts(3), a=t0, b=pts(1)[0],
        c=pts(1)[0], directions=torch.randn(2, L.D, generator=gen, dtype=F64), v=torch.ones(L.D, dtype=F64),
        radii=torch.tensor([0.1, 0.2], dtype=F64), k=2, n_points=3, steps=1, lr=0.1, d=2, dims=[2], n_planes=1,
        reference=0.9, tol=0.1, eps=1.0, delta=0.5, batch_size=8, per_segment=2, n_directions=2, n_radii=3, max_radius=1.0,
        rise=0.1, cycles=1, cycle_steps=1, max_lrs=[0.1], scales=[1.0], alpha=1.0, t=torch.tensor([0.0, 0.5, 1.0], dtype=F64),
        d_curv=2, n_curv_planes=1, d_train=2, batches=[(L.x[:8], L.y[:8])],
        x=L.x, loader_x=L.x, hparam="lr", values=[0.1], n_vectors=2, n=3, split="train", idx=torch.arange(8),
        snapshot_every=1, every=1,
        perm=perms.identity_permutation(perms.permutation_spec(L)),
        projection=projections.make_projection("dense", L.D, 2, seed=0, dtype=F64),
    )
    params = inspect.signature(fn).parameters
    always = {"steps", "lr", "cycle_steps", "rise", "max_radius", "n_radii", "n_directions", "k", "n_points", "n"}
    out = {p: known[p] for p, spec in params.items()
           if p in known and (spec.default is spec.empty or p in _POINTS or p in always)}
    if "settings" in params:  # a trainer: one short run of its defaults
        d = params["settings"].default
        if d is inspect.Parameter.empty:      # settings required (e.g. spectra_along_run): plain training's defaults
            from lsl.settings import TRAIN_DEFAULTS as d
        cyclic = d.schedule == "cyclic"
        out["settings"] = d.replace(steps=None if cyclic else 1, cycle_steps=1 if cyclic else d.cycle_steps,
                                    lr=None if "max_lrs" in params else 0.1)
    return out


@pytest.mark.parametrize("where, param", _public_point_functions(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_public_function_refuses_a_nan_in_each_point_argument(net, where, param):
    import importlib

    fam, m, n = where.split(".")
    fn = getattr(importlib.import_module(f"lsl.{fam}.{m}"), n)
    kwargs = _arguments(fn, net)
    value = kwargs[param].clone()
    value.view(-1)[min(1, value.numel() - 1)] = float("nan")
    kwargs[param] = value
    with pytest.raises(ValueError, match=r"non-finite entries"):
        fn(**kwargs)
