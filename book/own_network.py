# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (guide-own-network)=
# # Your own network
#
# ```{admonition} What this page shows
# :class: tip
# - how to hand `lsl` a network and data of your own: an `nn.Module` and tensors, or a `DataLoader`
#   for data that do not fit in one batch;
# - every phenomenon of the book measured on that network in a few calls each: training, the loss
#   along a line and a tunnel between two optima, the top of the Hessian spectrum and its density,
#   gradient confinement, loss planes, short directions, radial width, intrinsic dimension and
#   weight matching;
# - what each call costs (time and memory as functions of the number of parameters $D$, of examples
#   $N$ and of points) and what to expect to see.
# ```
#
# The network here is a small ResNet with batch norm on the book's offline data set (mnist1d), kept
# small so that the whole page runs in a minute or two on two CPU cores; replace `model`, `x` and `y`
# by yours and raise the sizes. The times quoted are those of this run, measured as it ran; the last
# section adds them up.
#
# The first cell prepares the page, as in every chapter: on Google Colab it installs `lsl`; everywhere
# it picks the device and the {term}`profile` and prints its choice.

# %%
# Set-up. On a fresh Google Colab runtime: install lsl (the package lsl-book) at v0.1.0, the version
# this book was built from. Everywhere: choose the device and the profile, and print the choice.
import sys, subprocess
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "lsl-book @ git+https://github.com/lsl-book/lsl@v0.1.0"], check=True)
import lsl.book
P, cfg, device = lsl.book.setup("own_network")

# %%
import math
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import lsl
from lsl.book import glue, plots, report
from lsl.settings import SUBSPACE_DEFAULTS, TrainSettings, TUNNEL_DEFAULTS
from lsl.curvature import hessian, linear_operators, short_directions, spectrum
from lsl.data import nets
from lsl.network import NetworkLandscape
from lsl.paths import permutations, tunnels
from lsl.probes import planes, radial
from lsl.subspaces import hyperplanes
from lsl.training.trainer import train

seconds = {}


class clock:
    """Time a block: ``with clock("train"): ...`` stores its wall time in ``seconds["train"]``."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        seconds[self.name] = time.perf_counter() - self.t0


# %% [markdown]
# ## A model and data of your own
#
# `lsl` needs two things: an `nn.Module` (any architecture whose examples are independent along the
# first dimension, apart from batch norm) and the training inputs and labels as tensors. Here the
# module is `lsl.data.nets.ResNet` (a stem, two stages of residual blocks with batch norm, average
# pooling, a linear head) and the data come from a `DataLoader`, as they would from your own code. A
# data set that fits in memory but not in one batch is simply concatenated from the loader's batches;
# {class}`~lsl.network.NetworkLandscape` then holds it and decides itself how many examples and points
# go into one vectorised call ({mod}`lsl.batching`).

# %%
data = lsl.data.datasets.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, device=device)
loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=cfg.loader_batch, shuffle=False)
x = torch.cat([xb for xb, _ in loader])
y = torch.cat([yb for _, yb in loader])
model = nets.make("resnet", data.input_shape, data.n_classes, seed=0, channels=cfg.channels)
L = NetworkLandscape(model, x, y, x_test=data.x_test, y_test=data.y_test)
print(model)
print(f"x {tuple(x.shape)}, y {tuple(y.shape)} ({len(loader)} batches of the loader); D = {L.D} parameters")
assert torch.equal(x, data.x_train) and L.D == sum(p.numel() for p in model.parameters())
glue("own_D", L.D)
glue("own_n_train", L.n_train)
glue("own_batches", len(loader))
glue("own_C", data.n_classes)

# %% [markdown]
# The landscape is the loss as a function of a flat vector of all {glue:text}`own_D` parameters: `L.theta0`
# is the module's initialisation, `L.theta_of(module)` flattens any module of the same architecture (a
# checkpoint you load with `module.load_state_dict(torch.load(path))`) and `L.module_at(theta)` gives a
# module back. **Batch norm** follows one policy in `lsl`: the loss at $\theta$ is that of the network
# whose batch-norm statistics are the training data's statistics at $\theta$, so a trained network
# evaluates as trained and the loss is a deterministic function of $\theta$ (see
# {ref}`architecture`, rule 9). For data that do not fit in memory at all, curvature can be taken over
# the loader's batches: `lsl.curvature.linear_operators.minibatch_operator` adds up Hessian-vector
# products chunk by chunk (memory of one chunk's forward and backward pass, whatever $N$), and
# `hvp_over_batches` takes the batches of any iterable. We check below that the chunked product equals
# the one over all examples at once.

# %% [markdown]
# ## Training two networks
#
# `train(L, theta0, settings=TrainSettings(...))` runs minibatch training (Adam by default) and returns
# the final point; a batch of starting points `[B, D]` trains B networks at once, each on its own
# minibatches. Cost: each step is a forward and backward pass over one minibatch, time
# $\propto$ steps $\times$ batch size $\times$ the network's cost per example, memory that of one
# minibatch's activations plus a few copies of $D$. Expect the training loss to fall well below
# $\ln C$ = {glue:text}`own_lnC` and the test accuracy to rise well above chance (1/C).

# %%
settings = TrainSettings(steps=cfg.steps, lr=cfg.lr, batch_size=cfg.batch_size, schedule="cosine")
with clock("train"):
    inits = torch.stack([L.theta_of(nets.make("resnet", data.input_shape, data.n_classes, seed=s, channels=cfg.channels))
                         for s in (0, 1)])
    optima = train(L, inits, settings=settings).theta
theta_a, theta_b = optima
losses, accs = L.loss(optima), L.accuracy(optima, "test")
print(f"training losses {report.numbers(losses, 3)}, test accuracies {report.numbers(accs, 3)} ({seconds['train']:.1f} s)")
assert torch.isfinite(losses).all()
P.check_at_scale(bool((losses < 0.6 * math.log(data.n_classes)).all()), "both networks train")
P.check_at_scale(bool((accs > 3 / data.n_classes).all()), "and both predict far better than chance")
glue("own_lnC", math.log(data.n_classes), 2)
glue("own_steps", cfg.steps)
glue("own_loss_a", losses[0].item(), 3)
glue("own_loss_b", losses[1].item(), 3)
glue("own_acc", report.listing([f"{100 * a:.0f}%" for a in accs.tolist()]))
glue("own_t_train", seconds["train"], 2)

# %% [markdown]
# The two networks ({glue:text}`own_steps` steps each, from two seeds) reach training losses
# {glue:text}`own_loss_a` and {glue:text}`own_loss_b` and test accuracies {glue:text}`own_acc`, in
# {glue:text}`own_t_train` s together.
#
# ## The line between them, and a tunnel
#
# `tunnels.linear_path(a, b, n)` gives `n` points on the straight line; `L.loss` evaluates all of
# them as one batch `[n, D]` (time $\propto n N$, memory that of a forward pass of a chunk of points and
# examples). Expect a wall: the loss in the middle of the line well above both ends
# ({ref}`chapter-tunnels`). `tunnels.build_tunnel` trains the interior vertices of a polygonal path
# between the two optima (time $\propto$ steps $\times$ vertices $\times$ batch size, memory a few
# copies of vertices $\times D$); expect its barrier far below the line's.

# %%
with clock("line"):
    line = L.loss(tunnels.linear_path(theta_a, theta_b, cfg.path_points))
with clock("tunnel"):
    tun = tunnels.build_tunnel(L, theta_a, theta_b, n_points=cfg.tunnel_points,
                               settings=TUNNEL_DEFAULTS.replace(steps=cfg.tunnel_steps, lr=cfg.lr, batch_size=cfg.batch_size))
line_barrier = tunnels.barrier(line)
print(f"barrier on the line {line_barrier:.3f} ({seconds['line']:.2f} s), on the tunnel {tun.tunnel_barrier:.3f} "
      f"({seconds['tunnel']:.1f} s)")
assert torch.allclose(line[[0, -1]], losses, rtol=1e-4, atol=1e-5), "the line's ends are the two optima"
assert math.isfinite(line_barrier) and math.isfinite(tun.tunnel_barrier)

# %% tags=["remove-output", "hide-input"]
fig, ax = plots.figure()
plots.path_loss(ax, torch.linspace(0, 1, cfg.path_points), line, label="straight line")
plots.path_loss(ax, tun.s, tun.tunnel_loss, points_t=tun.t, points_loss=L.loss(tun.points), label="tunnel")
ax.set(xlabel="position on the path", ylabel="training loss")
ax.legend()
report.figure("own_paths", fig)
glue("own_line_barrier", line_barrier, 3)
glue("own_tunnel_barrier", tun.tunnel_barrier, 3)
glue("own_t_line", seconds["line"], 2)
glue("own_t_tunnel", seconds["tunnel"], 2)
glue("own_path_points", cfg.path_points)
glue("own_tunnel_points", cfg.tunnel_points)

# %% [markdown]
# ```{glue:figure} own_paths
# :name: fig-own-paths
#
# The training loss along the straight line between the two networks and along a tunnel of
# {glue:text}`own_tunnel_points` vertices (dots) trained between them.
# ```
#
# The line's barrier is {glue:text}`own_line_barrier` (its {glue:text}`own_path_points` points took
# {glue:text}`own_t_line` s), the tunnel's {glue:text}`own_tunnel_barrier` ({glue:text}`own_t_tunnel` s).
#
# ## The top of the Hessian spectrum, its density and gradient confinement
#
# Curvature comes from Hessian-vector products (`torch.func`, never the $D \times D$ matrix): each costs
# about two passes over the examples, memory a few copies of $D$ plus the activations. We take it on the
# first {glue:text}`own_curv_n` examples, `L.subset(n)` (a landscape of its own, whose batch-norm
# statistics are those of its examples). `hessian.top_eigenvalues` runs Lanczos (time $\propto$ steps
# $\times$ one product; memory $k \times D$ for $k$ eigenvectors). `spectrum.spectral_density` estimates
# the whole density by stochastic Lanczos quadrature (time $\propto$ vectors $\times$ steps products).
# Expect, as in {ref}`chapter-local-geometry`, about C = {glue:text}`own_C` outliers above a bulk
# near zero (`spectrum.largest_gap` finds the largest relative gap in the top eigenvalues), and a
# gradient largely confined to the top eigenvectors (`spectrum.subspace_fraction`: the fraction of its
# squared norm there; a random direction would put about $C/D$ there).

# %%
Lc = L.subset(cfg.curvature_examples)
with clock("top"):
    ev, vecs = hessian.top_eigenvalues(Lc, theta_a, cfg.n_top, eigenvectors=True, tol=1e-3)
with clock("slq"):
    density = spectrum.spectral_density(Lc, theta_a, n_vectors=cfg.slq_vectors, n_steps=cfg.slq_steps)
gap = spectrum.largest_gap(ev)
C = data.n_classes
frac = spectrum.subspace_fraction(Lc.grad(theta_a), vecs[:C])
print(f"top eigenvalues {report.numbers(ev, 2)} ({seconds['top']:.1f} s); largest gap after "
      f"{gap}; gradient fraction in the top {C}: {frac:.2f}; density {seconds['slq']:.1f} s")
assert torch.isfinite(ev).all() and bool((ev[:-1] >= ev[1:]).all()), "eigenvalues finite and sorted"
assert 0.0 <= frac <= 1.0 + 1e-6
hv = linear_operators.minibatch_hvp(L, theta_a, vecs[0], batch_size=cfg.loader_batch)
assert torch.allclose(hv, L.hvp(theta_a, vecs[0]), rtol=1e-3, atol=1e-4), "chunked product = full product"

# %% tags=["remove-output", "hide-input"]
fig, (ax1, ax2) = plots.figure(2)
plots.spectrum(ax1, ev)
ax1.set(xlabel="index", ylabel="Hessian eigenvalue", title="top of the spectrum")
ax2.semilogy(density.grid.numpy(), np.maximum(density.density.numpy(), 1e-6))
ax2.set(xlabel="eigenvalue", ylabel="density", title="spectral density")
report.figure("own_spectrum", fig)
glue("own_curv_n", Lc.n_train)
glue("own_top", report.listing(ev[:3].tolist(), 3))
glue("own_gap", gap)
glue("own_frac", frac, 2)
glue("own_random_frac", C / L.D, 2)
glue("own_t_top", seconds["top"], 2)
glue("own_t_slq", seconds["slq"], 2)
glue("own_n_top", cfg.n_top)

# %% [markdown]
# ```{glue:figure} own_spectrum
# :name: fig-own-spectrum
#
# Left: the top {glue:text}`own_n_top` Hessian eigenvalues of the first network. Right: the density of
# the whole spectrum (stochastic Lanczos quadrature, log scale).
# ```
#
# The top eigenvalues start at {glue:text}`own_top` ({glue:text}`own_t_top` s); the largest gap falls
# after eigenvalue {glue:text}`own_gap` (C = {glue:text}`own_C` is the papers' count; on a small ResNet
# after a short run the top is often less cleanly separated than on the book's MLPs). The density took
# {glue:text}`own_t_slq` s. A fraction {glue:text}`own_frac` of the gradient's squared norm lies in
# the top C eigenvectors, against {glue:text}`own_random_frac` for a random direction.
#
# ## Loss planes
#
# A plane through $\theta$ along two directions, evaluated on an $n \times n$ grid as batches of points
# (time $\propto n^2 N$, memory one chunk of points and examples). `planes.filter_normalized_directions`
# draws random directions scaled filter by filter to the weights' norms (Li et al.); the top two
# Hessian eigenvectors from above give the most curved cross-section. Expect a basin around the optimum
# in both, much narrower along the Hessian axes.

# %%
with clock("planes"):
    fplane = planes.direction_plane(L, theta_a, planes.filter_normalized_directions(L, theta_a, 2, seed=0),
                                    n=cfg.plane_n, span=1.0, kind="filter-normalized")
    hplane = planes.direction_plane(L, theta_a, vecs[:2], n=cfg.plane_n, span=1.0, kind="hessian")
assert torch.isfinite(fplane.loss).all() and torch.isfinite(hplane.loss).all()
centre = cfg.plane_n // 2
assert abs(fplane.loss[centre, centre].item() - losses[0].item()) < 1e-3, "the plane's centre is the optimum"

# %% tags=["remove-output", "hide-input"]
fig, axes = plots.figure(2)
for ax, plane, name in zip(axes, (fplane, hplane), ("filter-normalised", "top Hessian eigenvectors")):
    cs = plots.loss_plane(ax, plane.u, plane.v, plane.loss, clip=3 * math.log(C), anchors=[[0.0, 0.0]])
    ax.set(title=name, xlabel="first direction", ylabel="second direction")
fig.colorbar(cs, ax=axes)
report.figure("own_planes", fig)
glue("own_plane_n", cfg.plane_n)
glue("own_t_planes", seconds["planes"], 2)

# %% [markdown]
# ```{glue:figure} own_planes
# :name: fig-own-planes
#
# The training loss on two planes through the first network (star): along two filter-normalised random
# directions and along the top two Hessian eigenvectors, {glue:text}`own_plane_n` points per axis.
# ```
#
# Both planes took {glue:text}`own_t_planes` s together.
#
# ## Short directions
#
# A unit direction is *short* if a step of length $\epsilon$ along it raises the loss by more than
# $\delta$, i.e. to second order if its curvature exceeds $2\delta/\epsilon^2$
# ({ref}`chapter-connectors`). `short_directions.count_short_directions` counts the Hessian eigenvalues
# above that threshold, computing more of them until one falls below (time and memory as for the top
# eigenvalues, with $k$ up to `k_max`). Expect a count small against $D$ that grows as the threshold
# falls; if every computed eigenvalue is above the threshold the count is a lower bound.

# %%
with clock("short"):
    short = short_directions.count_short_directions(Lc, theta_a, eps=cfg.short_eps, delta=cfg.short_delta,
                                                    k_max=cfg.short_k_max)
print(f"{short.count} short directions (threshold {short.threshold}; lower bound: {short.lower_bound}), "
      f"{seconds['short']:.1f} s")
assert 0 <= short.count <= L.D
glue("own_short", f"at least {short.count}" if short.lower_bound else short.count)
glue("own_short_eps", cfg.short_eps)
glue("own_short_delta", cfg.short_delta)
glue("own_t_short", seconds["short"], 2)

# %% [markdown]
# With $\epsilon$ = {glue:text}`own_short_eps` and $\delta$ = {glue:text}`own_short_delta`, the first network
# has {glue:text}`own_short` short directions out of {glue:text}`own_D` ({glue:text}`own_t_short` s).
#
# ## Radial width
#
# `radial.tunnel_widths` walks out from each optimum along random directions and records the distance at
# which the loss first rises by a given amount ({ref}`chapter-widths`); time $\propto$ optima $\times$
# directions $\times$ radii $\times N$, all evaluated as batches of points. Expect widths of a few
# hundredths to a tenth of the weights' norm (the angular width), of the same order for the two networks.

# %%
with clock("radial"):
    widths = radial.tunnel_widths(L, optima, n_directions=cfg.n_directions, n_radii=cfg.n_radii, rise=cfg.rise)
print(f"radial widths {report.numbers(widths.width, 3)}, angular {report.numbers(widths.angular_width, 3)} "
      f"({seconds['radial']:.1f} s)")
assert bool((widths.width > 0).all())
glue("own_width", report.listing(widths.width.tolist(), 2))
glue("own_angular", report.listing(widths.angular_width.tolist(), 2))
glue("own_rise", cfg.rise)
glue("own_t_radial", seconds["radial"], 2)

# %% [markdown]
# The loss rises by {glue:text}`own_rise` at distances {glue:text}`own_width` from the two networks
# (angular widths {glue:text}`own_angular`), in {glue:text}`own_t_radial` s.
#
# ## Intrinsic dimension on a budget
#
# `hyperplanes.intrinsic_dimension` trains the network inside random $d$-dimensional hyperplanes through
# its initialisation (Fastfood projections: memory a few copies of $D$ per plane, time $\propto$ planes
# $\times$ steps $\times$ batch size) and finds the smallest $d$ that reaches 90% of the full network's
# test accuracy ({ref}`chapter-hyperplanes`). On a budget take a few small $d$ and one plane each;
# expect the accuracy to rise with $d$; if even the largest $d$ tried falls short of 90%, $d_{int90}$ is
# only known to lie above it: raise the grid (and the steps) when you have the time.

# %%
with clock("idim"):
    idim = hyperplanes.intrinsic_dimension(L, L.theta0, cfg.dims, n_planes=cfg.n_planes,
                                           settings=SUBSPACE_DEFAULTS.replace(steps=cfg.plane_steps, lr=cfg.plane_lr, batch_size=cfg.batch_size, seed=1), reference=accs[0].item())
print(f"accuracy at d = {report.numbers(cfg.dims)}: {report.numbers(idim.mean_accuracy, 3)}; d_int90 = {idim.d_int()} "
      f"({seconds['idim']:.1f} s)")
assert torch.isfinite(idim.mean_accuracy).all()
glue("own_dims", report.listing(cfg.dims))
glue("own_idim_acc", report.listing([f"{100 * a:.0f}%" for a in idim.mean_accuracy.tolist()]))
d_int = idim.d_int()
glue("own_d_int", f"{d_int:.0f}" if math.isfinite(d_int) else f"above {max(cfg.dims)}, the largest d tried")
glue("own_idim_target", f"{100 * idim.target:.0f}%")
glue("own_t_idim", seconds["idim"], 2)

# %% [markdown]
# At $d$ = {glue:text}`own_dims` the test accuracy is {glue:text}`own_idim_acc` (90% of the full
# network's is {glue:text}`own_idim_target`); $d_{int90}$ is {glue:text}`own_d_int`
# ({glue:text}`own_t_idim` s).
#
# ## Weight matching before interpolation
#
# `permutations.weight_matching(L, a, b)` reorders the hidden units of `b` to match `a` before the line
# is drawn ({ref}`chapter-permutations`); each sweep solves one assignment problem per layer (time
# $\propto$ layers $\times$ width$^3$, memory a width $\times$ width cost matrix). It supports chains of
# linear and convolutional layers with element-wise activations, and refuses the ResNet (its residual
# connections and batch norm tie the permutations of several layers together):

# %%
try:
    permutations.permutation_spec(L)
    refused = None
except (TypeError, ValueError) as err:
    refused = str(err)
print(refused)
assert refused is not None

# %% [markdown]
# So we show it on a batch-norm-free twin: an MLP of width {glue:text}`own_twin_width` on the same data,
# two seeds. Expect the aligned line's barrier well below the unaligned one.

# %%
with clock("matching"):
    twin = [nets.make("mlp", data.input_shape, C, seed=s, width=cfg.twin_width, depth=2) for s in (0, 1)]
    Lt = NetworkLandscape(twin[0], x, y, x_test=data.x_test, y_test=data.y_test)
    ta, tb = train(Lt, torch.stack([Lt.theta_of(m) for m in twin]),
                   settings=TrainSettings(steps=cfg.twin_steps, lr=cfg.lr, batch_size=cfg.batch_size)).theta
    aligned = permutations.weight_matching(Lt, ta, tb)
    before = tunnels.barrier(Lt.loss(tunnels.linear_path(ta, tb, cfg.path_points)))
    after = tunnels.barrier(Lt.loss(tunnels.linear_path(ta, aligned, cfg.path_points)))
print(f"twin: barrier {before:.3f} before, {after:.3f} after weight matching ({seconds['matching']:.1f} s)")
assert abs(Lt.loss(aligned).item() - Lt.loss(tb).item()) < 1e-4, "a permuted network has the same loss"
glue("own_twin_width", cfg.twin_width)
glue("own_before", before, 3)
glue("own_after", after, 3)
glue("own_t_matching", seconds["matching"], 2)

# %% [markdown]
# On the twin the barrier falls from {glue:text}`own_before` to {glue:text}`own_after` once the second
# network's units are matched to the first's ({glue:text}`own_t_matching` s, training included).
#
# ## What it cost
#
# The table lists the time of each step of this run (on {glue:text}`own_device`); everything together
# took {glue:text}`own_t_total` s.

# %%
scales = {"train": "steps x batch size (x networks)", "line": "points x N", "tunnel": "steps x vertices x batch size",
          "top": "Lanczos steps x N (memory k x D)", "slq": "vectors x steps x N", "planes": "n^2 x N",
          "short": "Lanczos steps x N (memory k_max x D)", "radial": "optima x directions x radii x N",
          "idim": "planes x steps x batch size", "matching": "training + sweeps x layers x width^3"}
glue("own_t_total", sum(seconds.values()), 2)
glue("own_device", str(device))
report.table([{"step": k, "seconds": f"{v:.1f}", "time grows with": scales[k]} for k, v in seconds.items()])
