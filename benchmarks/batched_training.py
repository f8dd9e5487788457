"""Benchmark: training K = 8 copies of a small network at once against one after the other.

Two families of eight models, each trained for the same number of minibatch steps on the same
minibatch sequence:

- **seeds**: eight initialisations (seeds 0-7), Adam with one learning rate. lsl:
  ``lsl.training.trainer.train(L, theta0, ...)`` with ``theta0`` of shape ``[8, D]`` (one vectorised loss per
  step, ``torch.func.vmap`` over the stacked parameters, Adam acting element-wise).
- **one model**: one initialisation, one SGD learning rate: the cost of a single training step,
  ``lsl.training.rows.train_rows(L, theta0[1, D])`` against one plain loop. For a layer stack lsl computes
  the gradient by back-propagation written out (``lsl.stack.LayerStack.loss_and_grad``), not autograd.
- **learning rates**: one initialisation, eight SGD learning rates. lsl:
  ``lsl.training.rows.train_rows(L, theta0, lr=[...])`` (row-wise SGD; it also measures the full-batch loss
  of every row at the start and the end).

The peer is the ordinary PyTorch loop, run for the eight models one after the other: an
``nn.Module`` per model, ``torch.optim.Adam`` / ``SGD``, ``loss.backward()``, with the data on
the device and the same seeded epoch-wise minibatch permutation as
``lsl.training.trainer.landscape_objective`` (moved to the device once per epoch).

Equal accuracy: the same seeds and data order make the two computations the same up to
floating-point rounding, so the final parameters and the final full-batch training losses are
compared (largest absolute differences). The networks use tanh, so the two runs stay together
over many steps (with ReLU a unit that sits at its kink can flip on a rounding difference and,
under Adam, move a whole model apart).

Throughput is models x steps per second; ``speedup`` = sequential time / batched time.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from lsl.data import datasets, nets
from lsl.network import NetworkLandscape
from lsl.training.rows import train_rows
from lsl.training.trainer import train
from lsl.settings import ROWS_DEFAULTS, TrainSettings

try:
    from . import common
except ImportError:  # run as python benchmarks/batched_training.py
    import common  # type: ignore[no-redef]

K = 8
FULL = dict(n_train=4000, width=64, steps=1000, batch_size=128)
QUICK = dict(n_train=500, width=32, steps=50, batch_size=64)
ADAM_LR = 3e-3
SGD_LRS = [float(x) for x in np.geomspace(0.01, 0.2, K)]


def _models(ds, cfg, seeds, device):
    return [nets.make("mlp", ds.input_shape, ds.n_classes, seed=s, width=cfg["width"], depth=2,
                      activation="tanh").to(device) for s in seeds]


def sequential(ds, models, *, steps, batch_size, optimizer, lrs, seed=0):
    """The ordinary loop, one model after the other; returns the final flat parameters ``[K, D]``."""
    out = []
    crit = nn.CrossEntropyLoss()
    x, y = ds.x_train, ds.y_train
    n = x.shape[0]
    for model, lr in zip(models, lrs):
        model = copy.deepcopy(model).train()
        opt = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam"
               else torch.optim.SGD(model.parameters(), lr=lr))
        gen = torch.Generator(device="cpu").manual_seed(seed)  # the order of lsl.training.trainer.landscape_objective
        batches: list[torch.Tensor] = []
        for _ in range(steps):
            if not batches:
                perm = torch.randperm(n, generator=gen).to(x.device)
                batches = list(perm.split(batch_size))
                if len(batches) > 1 and batches[-1].numel() < batch_size:
                    batches.pop()
            idx = batches.pop(0)
            opt.zero_grad(set_to_none=True)
            crit(model(x[idx]), y[idx]).backward()
            opt.step()
        out.append(nn.utils.parameters_to_vector(model.parameters()).detach())
    return torch.stack(out)


def run(device: torch.device | str = "cpu", quick: bool = False, repeat: int = 2, *, verbose: bool = True) -> list[dict]:
    """The benchmark on one device: a row per family (seeds with Adam, learning rates with SGD)."""
    device = torch.device(device)
    cfg = QUICK if quick else FULL
    steps, bs = cfg["steps"], cfg["batch_size"]
    ds = datasets.load("mnist1d", n_train=cfg["n_train"], device=device)
    seeds_models = _models(ds, cfg, range(K), device)
    land = NetworkLandscape(seeds_models[0], ds.x_train, ds.y_train, device=device)
    theta_seeds = torch.stack([land.theta_of(m) for m in seeds_models])
    size = {"K": K, "D": land.D, "steps": steps, "batch_size": bs, "n_train": cfg["n_train"],
            "model": f"MLP 40-{cfg['width']}-{cfg['width']}-10 tanh", "dataset": "mnist1d", "dtype": "float32",
            "quick": quick}
    rows = []
    families = [
        ("seeds", "seeds, Adam",
         lambda: train(land, theta_seeds, settings=TrainSettings(steps=steps, lr=ADAM_LR, optimizer="adam", batch_size=bs)).theta,
         lambda: sequential(ds, seeds_models, steps=steps, batch_size=bs, optimizer="adam", lrs=[ADAM_LR] * K),
         f"lsl.training.trainer.train(L, theta0[{K}, D], optimizer='adam')"),
        ("one model", "1 model, SGD",
         lambda: train_rows(land, theta_seeds[:1], settings=ROWS_DEFAULTS.replace(lr=SGD_LRS[-1], batch_size=bs, steps=steps), check_every=steps).theta,
         lambda: sequential(ds, seeds_models[:1], steps=steps, batch_size=bs, optimizer="sgd", lrs=SGD_LRS[-1:]),
         "lsl.training.rows.train_rows(L, theta0[1, D], lr=...)"),
        ("learning rates", "lrs, SGD",
         lambda: train_rows(land, theta_seeds[:1].expand(K, -1), settings=ROWS_DEFAULTS.replace(batch_size=bs, steps=steps), lrs=SGD_LRS, check_every=steps).theta,
         lambda: sequential(ds, seeds_models[:1] * K, steps=steps, batch_size=bs, optimizer="sgd", lrs=SGD_LRS),
         f"lsl.training.rows.train_rows(L, theta0[{K}, D], lr=[{K} values])"),
    ]
    for name, what, lsl_fn, peer_fn, lsl_config in families:
        lsl_fn()  # warm-up (first vmap traces, allocator)
        # alternate the two so that a change in the machine's load hits both alike
        t_lsl = t_peer = float("inf")
        c_lsl = c_peer = 0.0
        for _ in range(max(1, repeat)):
            th_lsl, w, c = common.timed(lsl_fn, device)
            if w < t_lsl:
                t_lsl, c_lsl = w, c
            th_peer, w, c = common.timed(peer_fn, device)
            if w < t_peer:
                t_peer, c_peer = w, c
        d_theta = float((th_lsl - th_peer).abs().max())
        scale = float(th_peer.abs().max())
        with torch.no_grad():
            l_lsl, l_peer = land.loss(th_lsl), land.loss(th_peer)
        d_loss = float((l_lsl - l_peer).abs().max())
        note = (f"same seeds and minibatch order: max |theta_lsl - theta_peer| = {d_theta:.1e} (max |theta| "
                f"{scale:.1f}); final full-batch losses {float(l_peer.min()):.3f}-{float(l_peer.max()):.3f}, "
                f"max difference {d_loss:.1e}")
        rows.append(common.record(
            "batched_training_k8", f"{'1 torch loop' if name == 'one model' else '8 torch loops'} ({what})",
            device, t_lsl, t_peer, note, size,
            accuracy_short=f"max diff. {d_theta:.0e} (params), {d_loss:.0e} (loss)",
            family=name, lsl_config=lsl_config,
            peer_config="8 x (nn.Module + torch.optim + backward), data on the device",
            lsl_cpu_seconds=round(c_lsl, 3), peer_cpu_seconds=round(c_peer, 3), repeats=repeat,
            lsl_model_steps_per_s=round(K * steps / t_lsl, 1), peer_model_steps_per_s=round(K * steps / t_peer, 1),
            max_abs_param_diff=d_theta, max_abs_loss_diff=d_loss,
        ))
        models = 1 if name == "one model" else K
        rows[-1]["lsl_model_steps_per_s"] = round(models * steps / t_lsl, 1)
        rows[-1]["peer_model_steps_per_s"] = round(models * steps / t_peer, 1)
        if verbose:
            print(f"# batched_training_k8 [{name}] on {device}: lsl {t_lsl:.2f}s, sequential {t_peer:.2f}s "
                  f"({t_peer / t_lsl:.2f}x); {note}", flush=True)
    return rows


def main() -> None:
    """Run this benchmark on its own and print its rows as JSON."""
    common.standalone(run, __doc__, repeat=2)


if __name__ == "__main__":
    main()
