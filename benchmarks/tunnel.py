"""Benchmark: one low-loss path between two optima -- the paper's tunnel against a trained Bezier curve.

Two independently initialised MLPs are trained to optima A and B (together, ``lsl.training.trainer.train``
with a ``[2, D]`` start; not timed). Then:

- **tunnel** (Fort & Jastrzebski 2019, Section 4.2): ``lsl.paths.tunnels.build_tunnel(L, A, B,
  n_points=11, steps=S)`` optimises the 9 interior division points of the straight line, each in
  the hyperplane normal to the line, as one batch of 9 points per step: ``9 S`` gradient
  evaluations (one point on one minibatch each). Its barrier is measured on the polyline through
  the vertices, 10 samples per segment.
- **Bezier curve** (Garipov et al. 2018): ``lsl.paths.tunnels.bezier_curve(L, A, B, n_samples=4)``
  trains the control point of a quadratic Bezier curve on 4 random points of the curve per step
  (``4`` gradient evaluations per step), barrier measured at 61 evenly spaced points of the curve.
  It is first run with a budget of twice the tunnel's gradient evaluations, recording its barrier
  every ``budget / 30`` steps; the first recorded step where its barrier is at or below the
  tunnel's gives the evaluations it needs, and a second run of exactly that many steps (no
  recording) gives its wall time.

Both use Adam with the same learning rate and minibatch size. ``speedup`` = the Bezier curve's
time to reach the tunnel's barrier / the tunnel's time (below 1: the curve gets there faster).
If the curve never reaches the tunnel's barrier within its budget, its time for the whole budget is
reported and the row says so.
"""

from __future__ import annotations


import torch

from lsl.data import datasets, nets
from lsl.paths import tunnels
from lsl.network import NetworkLandscape
from lsl.training.trainer import train
from lsl.settings import TUNNEL_DEFAULTS, TrainSettings

try:
    from . import common
except ImportError:  # run as python benchmarks/tunnel.py
    import common  # type: ignore[no-redef]

FULL = dict(n_train=4000, width=64, optimum_steps=3000, tunnel_points=11, tunnel_steps=1500, batch_size=128,
            lr=3e-3, bezier_samples=4)
QUICK = dict(n_train=500, width=32, optimum_steps=300, tunnel_points=11, tunnel_steps=100, batch_size=64,
             lr=3e-3, bezier_samples=4)


def run(device: torch.device | str = "cpu", quick: bool = False, repeat: int = 1, *, verbose: bool = True) -> list[dict]:
    """The benchmark on one device: one row (tunnel against the Bezier curve)."""
    device = torch.device(device)
    cfg = QUICK if quick else FULL
    ds = datasets.load("mnist1d", n_train=cfg["n_train"], device=device)
    models = [nets.make("mlp", ds.input_shape, ds.n_classes, seed=s, width=cfg["width"], depth=2, activation="tanh")
              for s in range(2)]
    land = NetworkLandscape(models[0], ds.x_train, ds.y_train, device=device)
    starts = torch.stack([land.theta_of(m) for m in models])
    a, b = train(land, starts, settings=TrainSettings(steps=cfg["optimum_steps"], lr=cfg["lr"], schedule="cosine", batch_size=cfg["batch_size"])).theta
    bs, lr, S, P, ns = cfg["batch_size"], cfg["lr"], cfg["tunnel_steps"], cfg["tunnel_points"], cfg["bezier_samples"]

    def tunnel():
        return tunnels.build_tunnel(land, a, b, n_points=P, settings=TUNNEL_DEFAULTS.replace(steps=S, lr=lr, batch_size=bs))

    # warm-up of both (first calls of a shape pay for kernel selection and allocation)
    tunnels.build_tunnel(land, a, b, n_points=P, settings=TUNNEL_DEFAULTS.replace(steps=5, lr=lr, batch_size=bs))
    tunnels.bezier_curve(land, a, b, settings=TrainSettings(steps=5, lr=lr, batch_size=bs), n_samples=ns, n_points=61)
    tun, t_tun, c_tun = common.best_of(tunnel, device, repeat)
    tun_evals = (P - 2) * S
    tun_barrier = tun.tunnel_barrier

    budget_steps = 2 * tun_evals // ns
    every = max(1, budget_steps // 30)
    hist = tunnels.bezier_curve(land, a, b, settings=TrainSettings(steps=budget_steps, lr=lr, batch_size=bs), n_samples=ns, eval_every=every, n_points=61)
    evals, barriers = hist.history_grad_evals.tolist(), hist.history_barrier.tolist()
    reached = [e for e, bar in zip(evals, barriers) if bar <= tun_barrier]
    steps_needed = (reached[0] // ns) if reached else budget_steps
    if steps_needed == 0:
        steps_needed = 1  # the straight line already does as well: one step, for a time

    def bezier():
        return tunnels.bezier_curve(land, a, b, settings=TrainSettings(steps=steps_needed, lr=lr, batch_size=bs), n_samples=ns, n_points=61)

    bez, t_bez, c_bez = common.best_of(bezier, device, repeat)
    size = {"D": land.D, "n_train": cfg["n_train"], "model": f"MLP 40-{cfg['width']}-{cfg['width']}-10 tanh",
            "dataset": "mnist1d", "dtype": "float32", "optima_loss": [round(float(x), 4) for x in land.loss(torch.stack([a, b]))],
            "tunnel_points": P, "tunnel_steps": S, "bezier_samples_per_step": ns, "batch_size": bs, "lr": lr,
            "quick": quick}
    if reached:
        verdict = (f"Bezier reaches the tunnel's barrier after {reached[0]} gradient evaluations "
                   f"(tunnel: {tun_evals})")
    else:
        verdict = (f"Bezier does not reach the tunnel's barrier within {2 * tun_evals} gradient evaluations "
                   f"(best {min(barriers):.3g}); its time is for the whole budget")
    note = (f"barrier = max loss on the path - max endpoint loss: straight line {tun.line_barrier:.3g}, tunnel "
            f"{tun_barrier:.3g} after {tun_evals} gradient evaluations, Bezier {bez.barrier:.3g} after "
            f"{bez.grad_evals}; {verdict}")
    row = common.record(
        "tunnel", "Bezier curve", device, t_tun, t_bez, note, size,
        accuracy_short=(f"barrier {tun_barrier:.3g} / {bez.barrier:.3g}, {tun_evals} / {bez.grad_evals} grad. evals"
                        + ("" if reached else " (Bezier short of the tunnel's barrier)")),
        lsl_config=f"connect.build_tunnel(n_points={P}, steps={S})",
        peer_config=f"connect.bezier_curve(n_samples={ns}, steps={steps_needed})",
        lsl_cpu_seconds=round(c_tun, 3), peer_cpu_seconds=round(c_bez, 3), repeats=repeat,
        lsl_grad_evals=tun_evals, peer_grad_evals=bez.grad_evals, line_barrier=tun.line_barrier,
        lsl_barrier=tun_barrier, peer_barrier=bez.barrier, peer_reached=bool(reached),
        lsl_us_per_grad_eval=round(1e6 * t_tun / tun_evals, 1),
        peer_us_per_grad_eval=round(1e6 * t_bez / max(1, bez.grad_evals), 1),
        peer_history={"grad_evals": evals, "barrier": [round(x, 5) for x in barriers]},
    )
    if verbose:
        print(f"# tunnel on {device}: tunnel {t_tun:.2f}s, Bezier {t_bez:.2f}s; {note}", flush=True)
    return [row]


def main() -> None:
    """Run this benchmark on its own and print its rows as JSON."""
    common.standalone(run, __doc__, repeat=1)


if __name__ == "__main__":
    main()
