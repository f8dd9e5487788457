"""Benchmark: the top-20 Hessian eigenvalues of an MLP on mnist1d, lsl against PyHessian and curvlinops.

Not a test. ``make bench`` installs the peers and runs it with the other benchmarks
(``python -m benchmarks.run --only hessian_top20``); on its own, in the same environment::

    .venv/bin/python -m benchmarks.hessian_top20 [--quick] [--device cuda]

The same model, data and point (a briefly trained MLP 40-100-100-10, tanh,
on 4000 mnist1d examples, float64, full batch, D = 15,210) for every method:

(a) ``lsl.curvature.hessian.top_eigenvalues`` -- Lanczos with full re-orthogonalisation
    on forward-over-reverse HVPs, stopped when the top-20 relative residuals are
    below ``tol``;
(b) PyHessian ``hessian.eigenvalues(top_n=20)`` -- power iteration with
    deflation, stopped per eigenvalue when the Rayleigh quotient changes by
    less than ``tol`` (relative) or after ``maxIter`` iterations; run with its
    defaults (``tol=1e-3, maxIter=100``) and with ``tol`` matched to lsl's
    (``maxIter=500``);
(c) curvlinops ``HessianLinearOperator`` + ``scipy.sparse.linalg.eigsh``
    (implicitly restarted Lanczos, ARPACK), ``which="LA"`` and the same ``tol``.

Accuracy is measured against a reference: ARPACK with ``tol=1e-13`` on the
curvlinops operator, cross-checked with lsl at ``tol=1e-11`` (an independent
implementation; their largest disagreement is printed). Each method's
eigenvectors are also checked through their residuals ``||H v - lambda v||``.
:func:`run` returns one row per peer for ``benchmarks/results.json`` (see
``benchmarks/run.py``); run on its own, the script prints the rows and a table
and writes them as JSON lines to ``benchmarks/results_hessian_top20.json``.
Times are the best of ``--repeat`` runs (wall clock, with that run's CPU
time). On a small shared machine, intra-op threads that compete with other
processes can slow every method down several-fold and unevenly; there,
``OMP_NUM_THREADS=1`` gives reproducible ratios (the JSON records the setting).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lsl.curvature import hessian
from lsl.data import datasets, nets

try:  # run as python -m benchmarks.hessian_top20 or through benchmarks.run
    from . import common
except ImportError:  # run as python benchmarks/hessian_top20.py
    import common  # type: ignore[no-redef]
from lsl.network import NetworkLandscape

K = 20
OUT = Path(__file__).with_name("results_hessian_top20.json")


#: sizes of the full benchmark and of ``--quick`` (a smoke test of the mechanics)
FULL = dict(n_train=4000, width=100, train_steps=200, tol=1e-6, pyhessian_max_iter=500, eigenthings_max_iter=100)
QUICK = dict(n_train=500, width=32, train_steps=50, tol=1e-6, pyhessian_max_iter=30, eigenthings_max_iter=100)
#: the numbers of Lanczos steps tried for hessian-eigenthings (the fewest that reach lsl's accuracy is timed)
EIGENTHINGS_STEPS = (40, 45, 50, 55, 60, 65, 70, 80, 90, 100)


def build(n_train: int, width: int, train_steps: int, dtype: torch.dtype, device=None):
    ds = datasets.load("mnist1d", n_train=n_train, dtype=dtype, device=device)
    model = nets.make("mlp", ds.input_shape, ds.n_classes, seed=0, width=width, depth=2, activation="tanh").to(dtype)
    land = NetworkLandscape(model, ds.x_train, ds.y_train, device=device)
    theta = land.theta0.clone()
    opt_state = torch.zeros_like(theta), torch.zeros_like(theta)
    lr, b1, b2 = 3e-3, 0.9, 0.999
    for t in range(1, train_steps + 1):  # full-batch Adam, enough to leave the initialisation
        g = land.grad(theta)
        m, v = opt_state
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        theta -= lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + 1e-8)
    return ds, land, theta


def module_at(land: NetworkLandscape, theta: torch.Tensor) -> nn.Module:
    m = copy.deepcopy(land.model)
    torch.nn.utils.vector_to_parameters(theta.detach().clone(), m.parameters())
    return m.eval()


class Counter:
    def __init__(self):
        self.n = 0


def run_lsl(land, theta, tol):
    count = Counter()
    make_operator = hessian.curvature_operator

    def counting_operator(*args, **kw):  # counts the HVPs top_eigenvalues makes
        matvec = make_operator(*args, **kw)

        def counted(v):
            count.n += 1 if v.dim() == 1 else v.shape[0]
            return matvec(v)

        return counted

    hessian.curvature_operator = counting_operator
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        vals, vecs = hessian.top_eigenvalues(land, theta, K, eigenvectors=True, tol=tol)
        seconds = time.perf_counter() - t0, time.process_time() - c0
    finally:
        hessian.curvature_operator = make_operator
    return vals.double().cpu().numpy(), vecs, seconds, count.n


def run_pyhessian(land, theta, tol, max_iter):
    import importlib

    ph_mod = importlib.import_module("pyhessian.hessian")  # the module (pyhessian.hessian is also the class)

    count = Counter()
    original = ph_mod.hessian_vector_product

    def counted(gradsH, params, v):
        count.n += 1
        return original(gradsH, params, v)

    ph_mod.hessian_vector_product = counted
    previous = torch.get_default_dtype()
    torch.set_default_dtype(land.dtype)  # PyHessian draws its start vectors with torch.randn
    torch.manual_seed(0)
    try:
        model = module_at(land, theta)
        t0, c0 = time.perf_counter(), time.process_time()
        h = ph_mod.hessian(model, nn.CrossEntropyLoss(), data=(land.x, land.y), cuda=land.device.type == "cuda")
        vals, vecs = h.eigenvalues(maxIter=max_iter, tol=tol, top_n=K)
        seconds = time.perf_counter() - t0, time.process_time() - c0
    finally:
        ph_mod.hessian_vector_product = original
        torch.set_default_dtype(previous)
    V = torch.stack([torch.cat([p.reshape(-1) for p in v]) for v in vecs]).to(land.dtype)
    vals = np.asarray(vals, dtype=np.float64)
    order = np.argsort(-vals)
    return vals[order], V[torch.as_tensor(order.copy())], seconds, count.n


def run_curvlinops(land, theta, tol):
    from curvlinops import HessianLinearOperator
    from scipy.sparse.linalg import LinearOperator, eigsh

    model = module_at(land, theta)
    params = [p for p in model.parameters() if p.requires_grad]
    count = Counter()
    t0, c0 = time.perf_counter(), time.process_time()
    op = HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(land.x, land.y)],
                               check_deterministic=False)
    sp = op.to_scipy(dtype=np.float64)

    def mv(v):
        count.n += 1 if v.ndim == 1 or v.shape[-1] == 1 else v.shape[-1]
        return sp.matvec(v)

    A = LinearOperator(sp.shape, matvec=mv, dtype=np.float64)
    vals, vecs = eigsh(A, k=K, which="LA", tol=tol, v0=np.random.default_rng(0).standard_normal(sp.shape[0]))
    seconds = time.perf_counter() - t0, time.process_time() - c0
    order = np.argsort(-vals)
    V = torch.as_tensor(vecs[:, order].T.copy(), dtype=land.dtype)
    return vals[order], V, seconds, count.n


def run_eigenthings(land, theta, max_iter):
    """hessian-eigenthings 1.0: its ``lanczos`` (one start vector, a fixed number of steps) on its ``HessianOperator``."""
    import hessian_eigenthings as he

    model = module_at(land, theta)
    count = Counter()
    t0, c0 = time.perf_counter(), time.process_time()
    op = he.HessianOperator(model, [(land.x, land.y)], he.supervised_loss(nn.CrossEntropyLoss()))
    matvec = op.matvec

    def counted(v):
        count.n += 1
        return matvec(v)

    op.matvec = counted
    res = he.lanczos(op, k=K, max_iter=max_iter, tol=1e-6, reorthogonalize=True, which="LA", seed=0)
    seconds = time.perf_counter() - t0, time.process_time() - c0
    vals = res.eigenvalues.double().cpu().numpy()
    order = np.argsort(-vals)
    V = res.eigenvectors.to(land.dtype)
    return vals[order], V[torch.as_tensor(order.copy())], seconds, count.n


def product_times(land, theta, repeat: int = 9) -> dict:
    """Median seconds of one gradient and of one Hessian-vector product for lsl and each peer (interleaved).

    On the CPU these are CPU seconds of this process (the benchmark runs on one thread, where they equal
    the wall time of a quiet machine and are far less disturbed by other processes than wall times);
    on a GPU, wall seconds. ``gradient`` is lsl's (``loss_and_grad``, back-propagation written out).
    """
    import statistics

    from curvlinops import HessianLinearOperator

    v = torch.randn(land.D, dtype=land.dtype, generator=torch.Generator().manual_seed(0)).to(land.device)
    op = hessian.curvature_operator(land, theta)
    op(v)  # builds what is kept between products
    V2 = torch.stack([v, v.flip(0)])
    fns = {"gradient": lambda: land.loss_and_grad(theta), "lsl": lambda: op(v), "lsl (block of 2, per vector)": lambda: op(V2)}
    model = module_at(land, theta)
    params = [p for p in model.parameters() if p.requires_grad]
    cl = HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(land.x, land.y)], check_deterministic=False)
    fns["curvlinops"] = lambda: cl @ v
    try:
        import hessian_eigenthings as he

        he_op = he.HessianOperator(model, [(land.x, land.y)], he.supervised_loss(nn.CrossEntropyLoss()))
        fns["hessian-eigenthings"] = lambda: he_op.matvec(v)
    except ImportError:
        pass
    try:
        import importlib

        ph_mod = importlib.import_module("pyhessian.hessian")
        ph = ph_mod.hessian(module_at(land, theta), nn.CrossEntropyLoss(), data=(land.x, land.y),
                            cuda=land.device.type == "cuda")
        vs = [t.reshape(p.shape) for t, p in zip(v.split([p.numel() for p in ph.params]), ph.params)]
        fns["pyhessian"] = lambda: ph_mod.hessian_vector_product(ph.gradsH, ph.params, vs)
    except ImportError:
        pass
    times = {k: [] for k in fns}
    clock = time.perf_counter if land.device.type == "cuda" else time.process_time
    for _ in range(repeat):
        for name, fn in fns.items():
            common.sync(land.device)
            t0 = clock()
            fn()
            common.sync(land.device)
            times[name].append(clock() - t0)
    out = {k: statistics.median(t) for k, t in times.items()}
    out["lsl (block of 2, per vector)"] /= 2
    return out


def residuals(land, theta, vals, V) -> float:
    """Largest ``||H v - lambda v|| / |lambda_1|`` over the returned pairs."""
    HV = land.hvp(theta, V.to(land.dtype))
    r = (HV - torch.as_tensor(vals, dtype=land.dtype)[:, None] * V).norm(dim=1)
    return float(r.max() / abs(vals[0]))


def run(device: torch.device | str = "cpu", quick: bool = False, repeat: int = 3, *, sizes: dict | None = None,
        skip_pyhessian_matched: bool = False, verbose: bool = True) -> list[dict]:
    """The benchmark on one device: one row per peer (``results.json`` format, see ``benchmarks/common.py``).

    Args:
        device: where the model, the data and every method's products live.
        quick: the small sizes of :data:`QUICK` instead of :data:`FULL`.
        repeat: runs of lsl, curvlinops and PyHessian-defaults (best wall time); PyHessian with
            the matched tolerance runs once (it is the slowest by far).
        sizes: overrides of the sizes (keys of :data:`FULL`).
    """
    device = torch.device(device)
    cfg = {**(QUICK if quick else FULL), **(sizes or {})}
    tol = cfg["tol"]
    dtype = torch.float64

    def say(msg):
        if verbose:
            print(msg, flush=True)

    ds, land, theta = build(cfg["n_train"], cfg["width"], cfg["train_steps"], dtype, device)
    loss = float(land.loss(theta))
    acc = float(land.accuracy(theta))
    land.hvp(theta, torch.randn(land.D, dtype=dtype, device=device))  # warm-up of torch.func
    width = cfg["width"]
    size = {"D": land.D, "n_train": cfg["n_train"], "k": K, "model": f"MLP 40-{width}-{width}-10 tanh",
            "dataset": "mnist1d", "dtype": "float64", "tol": tol, "loss_at_point": round(loss, 6),
            "train_accuracy_at_point": acc, "quick": quick}
    say(f"# hessian_top20 on {device}: {size}")

    # reference: ARPACK, very tight, on the peer's operator; cross-checked with a tight lsl run
    ref, _, ref_s, ref_n = run_curvlinops(land, theta, 1e-13)
    ref_lsl, _, _, _ = run_lsl(land, theta, 1e-11)
    disagreement = float(np.max(np.abs(ref_lsl - ref) / np.abs(ref)))
    say(f"# reference (eigsh tol=1e-13, {ref_n} HVPs, {ref_s[0]:.1f}s) vs lsl tol=1e-11: max rel diff {disagreement:.2e}")

    def err(vals):
        return float(np.max(np.abs(vals - ref) / np.abs(ref)))

    results = {}

    def measure(fns: dict, n: int):
        """Runs of the methods in turn (a, b, a, b, ...); median wall time with that run's CPU time."""
        runs = {name: [] for name in fns}
        for _ in range(max(1, n)):
            for name, (fn, config) in fns.items():
                common.sync(device)
                vals, V, (wall, cpu), hvps = fn()
                runs[name].append((wall, cpu, vals, V, hvps))
        for name, (fn, config) in fns.items():
            rs = sorted(runs[name], key=lambda r: r[0])
            wall, cpu, vals, V, hvps = rs[len(rs) // 2]
            r = dict(seconds=wall, cpu_seconds=cpu, hvps=hvps, rel_err=err(vals),
                     residual=residuals(land, theta, vals, V), repeats=max(1, n), config=config,
                     all_seconds=[round(x[0], 4) for x in runs[name]])
            results[name] = r
            say(f"# {name}: {r}")

    he_iter = cfg["eigenthings_max_iter"]
    if importlib.util.find_spec("hessian_eigenthings") is not None:
        # hessian-eigenthings' lanczos runs a fixed number of steps: the fewest of a ladder whose eigenvalues are
        # as accurate as lsl's (untimed calibration runs)
        target = max(err(run_lsl(land, theta, tol)[0]), 1e-14)
        for steps in EIGENTHINGS_STEPS:
            if steps > land.D - 1:
                break
            he_iter = steps
            if err(run_eigenthings(land, theta, steps)[0]) <= target:
                break
        say(f"# hessian-eigenthings: {he_iter} Lanczos steps reach lsl's accuracy ({target:.1e})")
    interleaved = {
        "lsl": (lambda: run_lsl(land, theta, tol), f"curvature.top_eigenvalues(k={K}, tol={tol:g})"),
        "curvlinops+eigsh": (lambda: run_curvlinops(land, theta, tol),
                             f"HessianLinearOperator + eigsh(which='LA', tol={tol:g})"),
    }
    if importlib.util.find_spec("hessian_eigenthings") is not None:
        interleaved["hessian-eigenthings"] = (lambda: run_eigenthings(land, theta, he_iter),
                                              f"HessianOperator + lanczos(k={K}, max_iter={he_iter}, reorthogonalize)")
    else:
        say("# hessian-eigenthings is not installed: its row is skipped")
    measure(interleaved, repeat)
    measure({"pyhessian-defaults": (lambda: run_pyhessian(land, theta, 1e-3, 100),
                                    f"eigenvalues(top_n={K}, tol=1e-3, maxIter=100)")}, min(repeat, 1 if quick else 2))
    if not skip_pyhessian_matched:
        mi = cfg["pyhessian_max_iter"]
        measure({"pyhessian-matched": (lambda: run_pyhessian(land, theta, tol, mi),
                                       f"eigenvalues(top_n={K}, tol={tol:g}, maxIter={mi})")}, 1)
    per = product_times(land, theta)
    say(f"# seconds per gradient and per Hessian-vector product (median, interleaved): {per}")
    ratio = {k: round(t / per["gradient"], 2) for k, t in per.items() if k != "gradient"}

    from importlib.metadata import version

    lsl_r = results["lsl"]
    rows = []
    for peer, r in results.items():
        if peer == "lsl":
            continue
        note = (f"top-{K} eigenvalues vs a reference (eigsh tol=1e-13 on the curvlinops operator; lsl at tol=1e-11 "
                f"agrees to {disagreement:.1e}): max relative error lsl {lsl_r['rel_err']:.1e}, peer "
                f"{r['rel_err']:.1e}; max ||Hv - lambda v|| / lambda_1 lsl {lsl_r['residual']:.1e}, peer "
                f"{r['residual']:.1e}; HVPs lsl {lsl_r['hvps']}, peer {r['hvps']}; one product / one gradient: "
                f"lsl {ratio['lsl']}, peer {ratio.get(peer.split('+')[0].replace('-defaults', '').replace('-matched', ''), '?')}")
        rows.append(common.record(
            "hessian_top20", peer, device, lsl_r["seconds"], r["seconds"], note, size,
            accuracy_short=f"rel. error {lsl_r['rel_err']:.0e} / {r['rel_err']:.0e}",
            peer_version=version({"pyhessian": "PyHessian", "hessian": "hessian-eigenthings"}.get(
                peer.split("-")[0], "curvlinops-for-pytorch")),
            seconds_per_gradient=round(per["gradient"], 5), seconds_per_product=per,
            product_to_gradient=ratio, lsl_all_seconds=lsl_r["all_seconds"], peer_all_seconds=r["all_seconds"],
            lsl_config=lsl_r["config"], peer_config=r["config"],
            lsl_cpu_seconds=round(lsl_r["cpu_seconds"], 3), peer_cpu_seconds=round(r["cpu_seconds"], 3),
            repeats={"lsl": lsl_r["repeats"], "peer": r["repeats"]},
            omp_num_threads=os.environ.get("OMP_NUM_THREADS", "unset"),
            lsl_hvps=lsl_r["hvps"], peer_hvps=r["hvps"], lsl_max_rel_err=lsl_r["rel_err"],
            peer_max_rel_err=r["rel_err"], lsl_max_residual=lsl_r["residual"], peer_max_residual=r["residual"],
        ))
    if verbose:
        print("| method | config | wall s | CPU s | HVPs | max rel. error (top-20) | max residual / lambda_1 |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for name, r in results.items():
            print(f"| {name} | {r['config']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['hvps']} | "
                  f"{r['rel_err']:.1e} | {r['residual']:.1e} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--device", default="cpu")
    for key, value in FULL.items():
        ap.add_argument("--" + key.replace("_", "-"), type=type(value), default=None)
    ap.add_argument("--skip-pyhessian-matched", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs of lsl, curvlinops and PyHessian-defaults (best wall time)")
    args = ap.parse_args()
    sizes = {k: getattr(args, k) for k in FULL if getattr(args, k) is not None}
    rows = run(args.device, args.quick, args.repeat, sizes=sizes, skip_pyhessian_matched=args.skip_pyhessian_matched)
    with open(OUT, "w") as fh:
        for row in rows:
            line = json.dumps(row)
            print(line)
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
