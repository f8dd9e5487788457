"""Benchmark: the training loss on a 51 x 51 grid of the plane through three optima.

Three methods compute the loss at the same 2,601 parameter points of the same network:

(a) lsl: ``lsl.probes.planes.loss_plane(L, a, b, c, n=51)`` -- the grid is evaluated as a few
    large batches of parameter vectors (``torch.func.vmap`` over ``functional_call``);
(b) ``loss-landscapes`` (PyPI ``loss-landscapes``): ``planar_interpolation`` through three
    models with its ``metrics.Loss`` wrapper, run under ``torch.no_grad()`` (its best case:
    without it every evaluation also records an autograd graph). It moves one model's
    parameters in place from point to point and evaluates one point at a time;
(c) a plain loop: for each grid point, copy the point into an ``nn.Module``
    (``vector_to_parameters``) and evaluate it, under ``torch.no_grad()``.

``planar_interpolation(start, end_one, end_two, steps=n)`` evaluates
``start + i (end_one - start) / n + j (end_two - start) / n``; we choose the three models so
that these are lsl's grid points ``start = point(u_0, v_0)``, ``end_one = start + n (u_1 - u_0)
e_1``, ``end_two = start + n (v_1 - v_0) e_2``. Its walk through the grid is a snake, and it
steps along ``e_2`` before its first evaluation of every even column, so column ``i`` holds
``v_1 .. v_n`` for even ``i`` and ``v_0 .. v_{n-1}`` for odd ``i``: we compare the
``n^2 - ceil(n/2)`` points the two grids share (``v_n`` lies outside lsl's grid).

(d) the physical limit: the plane's matrix-multiply arithmetic (``2 N_examples (40*64 + 64*64 +
    64*10)`` FLOP per point, the per-point loop's) at this machine's measured float32
    matrix-multiply throughput (a 2048 x 2048 ``torch.mm``, best of 5). lsl does less than that
    arithmetic (the first layer once per direction), so it could in principle beat this row;
    the ratio says how close a batched evaluation gets to the machine;
(e) lsl's general path: the same ``loss_plane`` with the layer-stack evaluation switched off
    (``landscape.stack = None``), i.e. ``torch.func.vmap`` over ``functional_call`` in chunks,
    which every network that is not a layer stack (a CNN) still takes.

Accuracy: the largest absolute difference between the loss grids (lsl against each peer) on
their common points. The three optima are copies of an MLP trained together for a few hundred
Adam steps (``lsl.training.trainer.train`` with a ``[3, D]`` start).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from lsl.data import datasets, nets
from lsl.probes import planes
from lsl.network import NetworkLandscape
from lsl.training.trainer import train
from lsl.settings import TrainSettings

try:
    from . import common
except ImportError:  # run as python benchmarks/loss_plane_51.py
    import common  # type: ignore[no-redef]

N = 51
FULL = dict(n_train=4000, width=64, train_steps=500)
QUICK = dict(n_train=500, width=32, train_steps=50)


def build(cfg: dict, device: torch.device):
    ds = datasets.load("mnist1d", n_train=cfg["n_train"], device=device)
    models = [nets.make("mlp", ds.input_shape, ds.n_classes, seed=s, width=cfg["width"], depth=2, activation="tanh")
              for s in range(3)]
    land = NetworkLandscape(models[0], ds.x_train, ds.y_train, device=device)
    starts = torch.stack([land.theta_of(m) for m in models])
    optima = train(land, starts, settings=TrainSettings(steps=cfg["train_steps"], lr=3e-3, batch_size=128)).theta
    return land, optima


def module_at(land: NetworkLandscape, theta: torch.Tensor) -> nn.Module:
    m = copy.deepcopy(land.model)
    nn.utils.vector_to_parameters(theta.detach().clone(), m.parameters())
    return m.eval()


def run_lsl(land, a, b, c):
    return planes.loss_plane(land, a, b, c, n=N)


def run_vmap(land, a, b, c):
    """lsl's general (vmap) path: the layer-stack evaluation switched off for this call."""
    stack, land.stack = land.stack, None
    try:
        return planes.loss_plane(land, a, b, c, n=N)
    finally:
        land.stack = stack


def gemm_gflops(device: torch.device, size: int = 2048, repeat: int = 5) -> float:
    """This machine's float32 matrix-multiply throughput: a ``size``-square ``torch.mm``, best of ``repeat``."""
    g = torch.Generator(device=device).manual_seed(0)
    A = torch.randn(size, size, device=device, generator=g)
    B = torch.randn(size, size, device=device, generator=g)
    _, t, _ = common.best_of(lambda: torch.mm(A, B), device, repeat)
    return 2 * size**3 / t / 1e9


def plane_flop(n_train: int, width: int) -> float:
    """The per-point loop's matrix-multiply arithmetic for the whole grid (FLOP): 2 per multiply-add."""
    macs = 40 * width + width * width + width * 10
    return N * N * n_train * 2 * macs


def run_loop(land, plane: planes.LossPlane):
    """The plain loop over grid points (rows follow ``v``, as ``LossPlane.loss``)."""
    model = module_at(land, plane.origin)
    params = list(model.parameters())
    crit = nn.CrossEntropyLoss()
    e1, e2 = plane.basis
    out = []
    with torch.no_grad():
        for y in plane.v.tolist():
            for x in plane.u.tolist():
                nn.utils.vector_to_parameters(plane.origin + x * e1 + y * e2, params)
                out.append(crit(model(land.x), land.y))
    return torch.stack(out).view(N, N).cpu()


def peer_models(land, plane: planes.LossPlane):
    """Three modules whose ``planar_interpolation`` grid is lsl's grid (see the module docstring)."""
    u0, u1, v0, v1 = float(plane.u[0]), float(plane.u[1]), float(plane.v[0]), float(plane.v[1])
    start = plane.point(u0, v0)
    e1, e2 = plane.basis
    return (module_at(land, start), module_at(land, start + N * (u1 - u0) * e1),
            module_at(land, start + N * (v1 - v0) * e2))


def run_loss_landscapes(land, models):
    import loss_landscapes
    from loss_landscapes.metrics import Loss

    metric = Loss(nn.CrossEntropyLoss(), land.x, land.y)
    with torch.no_grad():
        return np.asarray(loss_landscapes.planar_interpolation(*models, metric, steps=N, deepcopy_model=True))


def compare_with_peer(lsl_grid: torch.Tensor, peer: np.ndarray) -> float:
    """Largest |lsl - peer| over the points both grids hold: peer[i, j] is at (u_i, v_{j + [i even]})."""
    lg = lsl_grid.double().numpy()  # [v, u]
    diffs = []
    for i in range(N):
        if i % 2 == 0:
            diffs.append(np.abs(peer[i, : N - 1] - lg[1:, i]))
        else:
            diffs.append(np.abs(peer[i, :] - lg[:, i]))
    return float(np.max(np.concatenate(diffs)))


def run(device: torch.device | str = "cpu", quick: bool = False, repeat: int = 3, *, verbose: bool = True) -> list[dict]:
    """The benchmark on one device: a row for the loss-landscapes package and one for the plain loop."""
    from importlib.metadata import version

    device = torch.device(device)
    cfg = QUICK if quick else FULL
    land, optima = build(cfg, device)
    a, b, c = optima
    plane = run_lsl(land, a, b, c)  # warm-up, and the grid for the other two
    models = peer_models(land, plane)
    got = common.interleaved({"lsl": lambda: run_lsl(land, a, b, c), "loop": lambda: run_loop(land, plane),
                              "peer": lambda: run_loss_landscapes(land, models),
                              "vmap": lambda: run_vmap(land, a, b, c)}, device, repeat)
    plane, t_lsl, c_lsl = got["lsl"]
    loop_grid, t_loop, c_loop = got["loop"]
    peer_grid, t_peer, c_peer = got["peer"]
    vmap_plane, t_vmap, c_vmap = got["vmap"]
    gflops = gemm_gflops(device)
    flop = plane_flop(cfg["n_train"], cfg["width"])
    t_limit = flop / (gflops * 1e9)
    d_loop = float((loop_grid.double() - plane.loss.double()).abs().max())
    d_vmap = float((vmap_plane.loss.double() - plane.loss.double()).abs().max())
    d_peer = compare_with_peer(plane.loss, peer_grid)
    size = {"grid": f"{N} x {N}", "points": N * N, "D": land.D, "n_train": cfg["n_train"],
            "model": f"MLP 40-{cfg['width']}-{cfg['width']}-10 tanh", "dataset": "mnist1d", "dtype": "float32",
            "loss_range": [round(float(plane.loss.min()), 4), round(float(plane.loss.max()), 4)], "quick": quick}
    common_points = N * N - (N + 1) // 2

    def same_grid_row(peer: str, t_peer_: float, c_peer_: float, diff: float, what: str, config: str) -> dict:
        """A row for a peer that evaluates exactly lsl's grid (all N x N points)."""
        return common.record("loss_plane_51", peer, device, t_lsl, t_peer_,
                             f"max |{what}| of the loss over all {N * N} grid points: {diff:.1e} (float32)", size,
                             accuracy_short=f"max diff. {diff:.0e}", lsl_cpu_seconds=round(c_lsl, 3),
                             peer_cpu_seconds=round(c_peer_, 3), repeats=repeat, max_abs_diff=diff,
                             lsl_config=f"probe.loss_plane(L, a, b, c, n={N})", peer_config=config)

    rows = [
        common.record("loss_plane_51", "loss-landscapes", device, t_lsl, t_peer,
                      f"max |lsl - peer| of the loss over the {common_points} grid points both evaluate: {d_peer:.1e} "
                      f"(float32; the peer moves its parameters by repeated in-place steps)", size,
                      accuracy_short=f"max diff. {d_peer:.0e}",
                      peer_version=version("loss-landscapes"), lsl_cpu_seconds=round(c_lsl, 3),
                      peer_cpu_seconds=round(c_peer, 3), repeats=repeat, max_abs_diff=d_peer,
                      lsl_config=f"probe.loss_plane(L, a, b, c, n={N})",
                      peer_config=f"planar_interpolation(3 models, metrics.Loss, steps={N}) under no_grad"),
        same_grid_row("per-point loop", t_loop, c_loop, d_loop, "lsl - loop",
                      "for each point: vector_to_parameters + forward, under no_grad"),
        same_grid_row("lsl's vmap path", t_vmap, c_vmap, d_vmap, "stack - vmap",
                      "the same call with landscape.stack = None (torch.func.vmap over functional_call)"),
        common.record("loss_plane_51", "matmul limit", device, t_lsl, t_limit,
                      f"the loop's {flop / 1e9:.0f} GFLOP of matrix products at this machine's measured "
                      f"{gflops:.0f} GFLOP/s (2048 x 2048 torch.mm): lsl runs at {t_limit / t_lsl:.0%} of that limit",
                      size, accuracy_short="(arithmetic only)", gemm_gflops=round(gflops, 1),
                      plane_gflop=round(flop / 1e9, 1), repeats=repeat,
                      lsl_config=f"probe.loss_plane(L, a, b, c, n={N})",
                      peer_config="FLOP / measured torch.mm throughput (no activations, no loss, no memory traffic)"),
    ]
    if verbose:
        print(f"# loss_plane_51 on {device}: {size}")
        print(f"# lsl {t_lsl:.2f}s | loss-landscapes {t_peer:.2f}s (diff {d_peer:.1e}) | loop {t_loop:.2f}s "
              f"(diff {d_loop:.1e}) | vmap {t_vmap:.2f}s | matmul limit {t_limit:.2f}s at {gflops:.0f} GFLOP/s",
              flush=True)
    return rows


def main() -> None:
    """Run this benchmark on its own and print its rows as JSON."""
    common.standalone(run, __doc__, repeat=3)


if __name__ == "__main__":
    main()
