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
# (chapter-connectors)=
# # m-connectors: where many optima meet
#
# ```{admonition} What you will learn
# :class: tip
# - how $m+1$ independently trained optima are joined by a whole $m$-dimensional simplex, an
#   {term}`m-connector` (Section 4.3 of Fort & Jastrzebski {cite}`fort2019large`), how it compares with
#   the straight simplex between them, and what it takes to make the whole simplex low, not only its grid;
# - what the wedge model predicts for the number of {term}`short directions <short direction>` where
#   wedges meet (about $2s$ for two, more for more), and whether trained connectors go there;
# - whether the paper's Figure 4 holds once the loss is held fixed: more short directions at the
#   centre of an m-connector the larger $m$, and in the middle of a tunnel than at its ends, with a
#   spread over independent sets of optima.
# ```
#
# **Prerequisites:** {ref}`chapter-tunnels` (tunnels between two optima, the paper's short-direction
# count along them, and its catch: the tunnel's vertices sit higher in loss than the optima) and
# {ref}`chapter-toy-model` (wedges). Short directions are counted from the largest eigenvalues of the
# Hessian (`lsl.curvature.hessian`), as in the tunnels chapter.
#
# The first cell prepares the chapter. On Google Colab it installs `lsl` at the version this book
# was built from; everywhere it picks the device (the GPU if there is one) and the {term}`profile`
# (`quick`, minutes on any machine, GPU or not, unless you set `LSL_PROFILE`) and prints its choice.
# To switch to the papers' datasets and sizes (hours, best on a GPU), run
# `import os; os.environ["LSL_PROFILE"] = "paper"` before it.

# %%
# Set-up. On a fresh Google Colab runtime: install lsl (the package lsl-book) at v0.1.0, the version
# this book was built from. Everywhere: choose the device and the profile, and print the choice.
import sys, subprocess
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "lsl-book @ git+https://github.com/lsl-book/lsl@v0.1.0"], check=True)
import lsl.book
P, cfg, device = lsl.book.setup("connectors")

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

import lsl
from lsl.curvature import short_directions
from lsl.data import nets
from lsl.paths import connectors, orthogonal, tunnels
from lsl.book import glue, plots, report
from lsl.book.verdicts import Spread
from lsl.settings import SUBSPACE_DEFAULTS, TrainSettings, TUNNEL_DEFAULTS
from lsl.toy import WedgeLandscape
from lsl.training.trainer import train

# %% [markdown]
# ## Independent optima, in several sets
#
# As in {ref}`chapter-tunnels`, we train copies of one network from independent initialisations,
# all as one batch. An $m$-connector for $m$ up to {glue:text}`con_max_m` needs {glue:text}`con_n_optima`
# optima; we train {glue:text}`con_seeds` independent sets of them, so that the counts at the end of
# the chapter come with a spread. The first set is "the" optima of the chapter (A and B are its first
# two).

# %%
n_optima = cfg.max_m + 1                                  # an m-connector joins m + 1 optima
data = lsl.data.datasets.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, device=device)
L = nets.network(data, cfg.arch, seed=0, device=device, **cfg.net)()
inits = torch.stack([nets.network(data, cfg.arch, seed=seed, device=device, **cfg.net)().theta0
                     for seed in range(cfg.seeds * n_optima)])
optima_sets = train(L, inits, settings=TrainSettings(steps=cfg.steps, lr=cfg.lr, schedule="cosine", batch_size=cfg.batch_size), cache=True).theta.view(cfg.seeds, n_optima, L.D)
optima = optima_sets[0]
opt_loss, opt_acc = L.loss(optima), L.accuracy(optima, "test")
print(f"{cfg.arch} on {cfg.dataset}, D = {L.D}: {cfg.seeds} sets of {n_optima} optima; the first set's training loss "
      f"{opt_loss.min():.3f}-{opt_loss.max():.3f}, test accuracy {opt_acc.min():.3f}-{opt_acc.max():.3f}")
glue("con_n_optima", n_optima)
glue("con_seeds", cfg.seeds)
glue("con_D", L.D)
glue("con_opt_loss", opt_loss.max().item(), 2)
glue("con_opt_acc", 100 * opt_acc.mean().item(), 2)

# %% [markdown]
# ## m-connectors: a simplex between m + 1 optima, below the straight one
#
# Section 4.3 generalises the tunnel. Take $m+1$ optima; their convex hull is an $m$-dimensional
# simplex. Put a grid on it (vertices, edge points, face points), and optimise every grid point inside
# the $(D-m)$-dimensional affine subspace through it orthogonal to the simplex
# (`lsl.paths.connectors.m_connectors`: all grid points of every $m$ as one batch). The connector is the piecewise-linear
# map of the simplex through the optimised points; `lsl.paths.connectors.evaluate_simplex` measures it on
# {glue:text}`con_simplex_random` random points of the simplex and on every edge, not only at the
# optimised points.

# %%
ms = np.arange(1, cfg.max_m + 1)
# every m as one batch: first the paper's construction, then the same connectors trained as a whole
paper_conn = connectors.m_connectors(L, [optima[: m + 1] for m in ms],
                                     settings=SUBSPACE_DEFAULTS.replace(steps=cfg.connector_steps, lr=cfg.tunnel_lr, batch_size=cfg.batch_size), resolution=cfg.connector_resolution)
whole_conn = connectors.train_simplices(L, paper_conn,
                                        settings=SUBSPACE_DEFAULTS.replace(steps=cfg.simplex_steps, lr=cfg.tunnel_lr, batch_size=cfg.batch_size), n_samples=cfg.simplex_samples)
conn = {}
for m, res, whole in zip(ms, paper_conn, whole_conn):
    ev = connectors.evaluate_simplex(L, res, n_random=cfg.simplex_random, n_edge=cfg.simplex_edge, split="test")
    ev_whole = connectors.evaluate_simplex(L, whole, n_random=cfg.simplex_random, n_edge=cfg.simplex_edge, split="test",
                                           seed=1000)  # other random points than the training drew (seeds 0, 1, ...)
    conn[m] = dict(max_loss=ev.loss.max().item(), straight_max=ev.straight_loss.max().item(),
                   random_mean=ev.loss[ev.random].mean().item(), whole_max=ev_whole.loss.max().item(),
                   whole_mean=ev_whole.loss[ev_whole.random].mean().item(),
                   whole_acc=ev_whole.accuracy.min().item(), corner_acc=opt_acc[: m + 1].min().item(),
                   # the barriers at the random points of the simplex, above the optima's highest loss
                   whole_barrier=ev_whole.loss[ev_whole.random].max().item() - opt_loss[: m + 1].max().item(),
                   straight_barrier=ev_whole.straight_loss[ev_whole.random].max().item() - opt_loss[: m + 1].max().item())
    print(f"m={m}: highest loss on the simplex: straight {conn[m]['straight_max']:.3f}, paper's connector "
          f"{conn[m]['max_loss']:.3f}, trained as a whole {conn[m]['whole_max']:.3f} (mean at random points "
          f"{conn[m]['random_mean']:.3f} -> {conn[m]['whole_mean']:.3f}); lowest test accuracy {conn[m]['whole_acc']:.3f} "
          f"(its optima: {conn[m]['corner_acc']:.3f})")

# %% [markdown]
# The paper's construction optimises only the grid points (here the vertices and edge midpoints);
# between them the connector is merely interpolated, and there its loss is high. So we also train
# the connector *as a whole* (`lsl.paths.connectors.train_simplex`; here every $m$ as one batch with `train_simplices`): every step draws
# {glue:text}`con_simplex_samples` uniformly random points of the simplex and descends their mean
# loss with respect to all grid points, as a Bezier curve is trained (Garipov et al.; Benton et al.
# {cite}`benton2021loss` train whole simplices this way). Both are measured at random points of the
# simplex that neither optimised.
#
# Nothing about these losses is asserted: how low the connectors get is the claim's outcome. Its
# verdict is decided by the criterion declared in the book's list of claims (`lsl/book/claims.yml`):
# the barrier of a connector is its highest training loss at the random points of the simplex above
# its optima's highest loss, and the claim is reproduced if the worst connector's barrier is at most the
# optima's own loss (a path never more than twice as high as the worse optimum), partly if it is at most
# half the barrier of the straight simplex. The lowest test accuracy anywhere on a simplex, against its
# optima's, is reported beside it ({glue:text}`con_whole_acc_drops` points lower).

# %% tags=["hide-input"]
assert all(math.isfinite(v) for m in ms for v in conn[m].values()), "the simplices' losses are finite"
glue("con_simplex_random", cfg.simplex_random)
glue("con_simplex_samples", cfg.simplex_samples)
glue("con_max_m", cfg.max_m)
glue("con_conn_max", max(conn[m]["max_loss"] for m in ms), 3)
glue("con_conn_ratio", max(conn[m]["max_loss"] / conn[m]["straight_max"] for m in ms), 2)
glue("con_whole_max", max(conn[m]["whole_max"] for m in ms), 3)
glue("con_whole_min", min(conn[m]["whole_max"] for m in ms), 3)
glue("con_whole_gain", min(conn[m]["max_loss"] / conn[m]["whole_max"] for m in ms), 2)
glue("con_whole_acc_drop", 100 * max(conn[m]["corner_acc"] - conn[m]["whole_acc"] for m in ms), 2)
acc_drops = {int(m): 100 * (conn[m]["corner_acc"] - conn[m]["whole_acc"]) for m in ms}
glue("con_whole_acc_drops", "; ".join(f"m = {m}: {report.fmt(d, 2)}" for m, d in acc_drops.items()))
glue("con_eps", cfg.short_eps)
glue("con_delta", cfg.short_delta)
glue("con_hessian_examples", cfg.hessian_examples)
glue("con_resolution", cfg.connector_resolution)

# %% [markdown]
# The same on the toy model, where the optima's loss is zero and "low-loss" can be taken literally:
# $m + 1$ optima of the wedge model (independent starts, as above), the paper's connector on a grid
# of resolution {glue:text}`con_toy_resolution`, then trained as a whole, for $m$ up to
# {glue:text}`con_toy_max_m`, on {glue:text}`con_toy_seeds` independent sets of optima (all of them
# one batch, `lsl.paths.connectors.train_simplices`; the loss printed is the worst of the sets).

# %%
toy = WedgeLandscape(cfg.toy_D, cfg.toy_n, device=device)
# cfg.seeds independent sets of optima, every m of every set as one batch
toy_sets = train(toy, torch.randn(cfg.seeds * (max(cfg.toy_ms) + 1), toy.D, generator=torch.Generator().manual_seed(1)).to(device),
                 settings=TrainSettings(steps=cfg.toy_steps, lr=0.05, schedule="cosine")).theta.view(cfg.seeds, max(cfg.toy_ms) + 1, toy.D)
simplices = [(k, m, toy_sets[k, : m + 1]) for k in range(cfg.seeds) for m in cfg.toy_ms]
paper_toy = connectors.m_connectors(toy, [corners for _, _, corners in simplices],
                                    settings=SUBSPACE_DEFAULTS.replace(steps=cfg.toy_connector_steps, lr=0.01),
                                    resolution=cfg.toy_resolution)
whole_toy = connectors.train_simplices(toy, paper_toy,
                                       settings=SUBSPACE_DEFAULTS.replace(steps=cfg.toy_simplex_steps, lr=0.01),
                                       n_samples=cfg.toy_simplex_samples)
toy_conn = {}                                               # (seed, m) -> the trained connector's measurements
for (k, m, _), whole in zip(simplices, whole_toy):
    ev_toy = connectors.evaluate_simplex(toy, whole, n_random=cfg.simplex_random, n_edge=cfg.simplex_edge, seed=1000)
    centre = connectors.connector_points(whole, torch.full((1, m + 1), 1.0 / (m + 1), device=device))[0]
    toy_conn[k, m] = dict(max=ev_toy.loss.max().item(), inside=ev_toy.loss[ev_toy.random].max().item(),
                          straight=ev_toy.straight_loss.max().item(), centre=centre)
for m in cfg.toy_ms:
    rows = [toy_conn[k, m] for k in range(cfg.seeds)]
    print(f"m={m:2d}: highest loss on the simplex {max(r['max'] for r in rows):.4f} (at random interior points "
          f"{max(r['inside'] for r in rows):.4f}); straight simplex {min(r['straight'] for r in rows):.3f} "
          f"(worst of {cfg.seeds} sets)")
toy_opt_max = toy.loss(toy_sets.flatten(0, 1)).max().item()
toy_low = 1e-3                                             # "in the wedges": a loss below this everywhere on the simplex
zero_m = max([m for m in cfg.toy_ms if all(toy_conn[k, m]["max"] < toy_low for k in range(cfg.seeds))], default=0)
glue("con_toy_resolution", cfg.toy_resolution)
glue("con_toy_max_m", max(cfg.toy_ms))
glue("con_toy_ms", report.listing(list(cfg.toy_ms)))
glue("con_toy_seeds", cfg.seeds)
glue("con_toy_opt_max", toy_opt_max, 1)
glue("con_toy_zero_m", zero_m)
glue("con_toy_low", toy_low)
glue("con_toy_exist", "Connectors with every point in the wedges exist in the wedge model, as the paper says, up to that m"
     if zero_m else "No connector trained here lies in the wedges everywhere")
glue("con_toy_conn_top", max(r["max"] for r in toy_conn.values()), 2)
glue("con_toy_conn_inside", max(r["inside"] for r in toy_conn.values()), 2)
glue("con_toy_conn_straight", min(r["straight"] for r in toy_conn.values()), 3)

# %% [markdown]
# On the toy model ($m$ = {glue:text}`con_toy_ms`; optima at losses below {glue:text}`con_toy_opt_max`)
# the connectors trained as a whole lie entirely in the wedges, loss below {glue:text}`con_toy_low`
# everywhere, up to $m$ = {glue:text}`con_toy_zero_m` in every set of optima (0: for none). Over all $m$,
# the highest loss anywhere on the simplex is at most {glue:text}`con_toy_conn_top` (at most
# {glue:text}`con_toy_conn_inside` at random interior points; the rest is on the edges, which a
# high-dimensional simplex's random points seldom approach), against {glue:text}`con_toy_conn_straight`
# or more for the straight simplex. {glue:text}`con_toy_exist`; where they exist, finding them needs
# the whole simplex trained and a grid fine enough for $m$.


# %% [markdown]
# ### Short directions on the toy model
#
# The paper counts short directions of the low-loss *objects*: a wedge has $s = D - n$, the
# intersection of two wedges "$\approx 2s$" when $s \ll D$ (Section 3.1), and the middle of an
# $m$-connector more the larger $m$ "on our toy model" (Section 4.3). The Hessian cannot count them
# here: on a wedge the loss is a cone, not twice differentiable, and the union of all wedges is flat
# in more directions than any one of them. So we count by the definition, with a tolerance
# $\delta$: the object at a point is the intersection of every wedge within $\delta$ of it, and its
# short directions are the axes it lacks, along which any step leaves one of those wedges
# (`WedgeLandscape.short_directions`, tested against all wedges of small models). Two random
# $n$-subsets of $D$ axes share about $n^2/D$, so the intersection of two wedges has about
# $D - n^2/D = 2s - s^2/D$ short directions, and that of $m+1$ wedges $D(1 - (n/D)^{m+1})$.
#
# Where is "the intersection" of two optima's wedges? We do not build the point; we find it, as the point
# of both wedges nearest the middle of the straight line between the optima: starting there, plain
# gradient descent on the sum of the squared distances to A's wedge and to B's (each the coordinate
# subspace of its optimum's long axes) moves to the nearest point that lies in both. The cell asserts
# only what the optimiser must achieve (the point is in both wedges) and the model's exact answer at the
# optima (a point inside one wedge has exactly $s$ short directions); how many short directions the
# intersection has, and where trained connectors go, are measured.

# %%
# the tolerance: the profile's, or twice the highest loss among the points counted if that is larger
# (points trained only briefly, as in the smoke test, are not yet inside a wedge)
# a tunnel between the first two optima (as in the tunnels chapter's toy model), to count its vertices too
ta, tb = toy_sets[0, 0], toy_sets[0, 1]
toy_tun = tunnels.build_tunnel(toy, ta, tb, n_points=cfg.toy_tunnel_points,
                               settings=TUNNEL_DEFAULTS.replace(steps=cfg.toy_steps, lr=0.01), per_segment=20)
counted = torch.cat([toy_sets.flatten(0, 1), toy_tun.points, torch.stack([r["centre"] for r in toy_conn.values()])])
delta_toy = max(cfg.toy_short_delta, 2 * toy.loss(counted).max().item())
# the point of both wedges nearest the line's middle, found by gradient descent on the summed squared distances
wedge_a = torch.zeros(toy.D, dtype=torch.bool, device=device)
wedge_b = torch.zeros(toy.D, dtype=torch.bool, device=device)
wedge_a[toy.long_indices(ta)], wedge_b[toy.long_indices(tb)] = True, True
x = ((ta + tb) / 2).detach().clone().requires_grad_(True)
opt_corner = torch.optim.SGD([x], lr=0.1)
for _ in range(300):
    opt_corner.zero_grad()
    (x[~wedge_a].square().sum() + x[~wedge_b].square().sum()).backward()
    opt_corner.step()
corner = x.detach()
corner_dist = max(corner[~wedge_a].norm().item(), corner[~wedge_b].norm().item())
assert corner_dist < 1e-6 * corner.norm().item(), f"the optimiser did not reach both wedges ({corner_dist:.1e} away)"
shared_ab = set(toy.long_indices(ta).tolist()) & set(toy.long_indices(tb).tolist())
toy_short = dict(optima=toy.short_directions(toy_sets.flatten(0, 1), delta_toy).tolist(),
                 corner=toy.short_directions(corner, delta_toy), corner_pred=toy.D - len(shared_ab),
                 tunnel=toy.short_directions(toy_tun.points, delta_toy).tolist())
# per set of optima (rows) and m (columns): short directions at the trained connector's centre, and where all m+1 wedges meet
centres = np.array([[toy.short_directions(toy_conn[k, m]["centre"], delta_toy) for m in cfg.toy_ms] for k in range(cfg.seeds)])
long_axes = [[set(toy.long_indices(p).tolist()) for p in toy_sets[k]] for k in range(cfg.seeds)]
meet = np.array([[toy.D - len(set.intersection(*long_axes[k][: m + 1])) for m in cfg.toy_ms] for k in range(cfg.seeds)])
two_s = 2 * toy.s - toy.s**2 / toy.D
print(f"delta = {delta_toy}; s = D - n = {toy.s}")
print(f"optima: {sorted(set(toy_short['optima']))}; the intersection of two optima's wedges: {toy_short['corner']} "
      f"(axes outside both: D - |S_a & S_b| = {toy_short['corner_pred']}; 2s - s^2/D = {two_s:.1f}, 2s = {2 * toy.s})")
print(f"vertices of the trained tunnel: {toy_short['tunnel']}")
for j, m in enumerate(cfg.toy_ms):
    print(f"m = {m:2d}: centre of the trained connector {report.spread(centres[:, j])} (sets: {centres[:, j].tolist()}); "
          f"where all m+1 wedges meet {report.spread(meet[:, j])} (random wedges: {toy.D * (1 - (toy.n / toy.D) ** (m + 1)):.0f})")
P.check_at_scale(all(c == toy.s for c in toy_short["optima"]), "every optimum lies inside one wedge: s short directions")
centre_mean = centres.mean(0)
grows_per_set = [bool(np.all(np.diff(row) > 0)) for row in centres]   # the paper's claim, set by set
tunnel_below_corner = max(toy_short["tunnel"]) < toy_short["corner"]
centres_below_meet = bool(np.all(centres[:, 1:] < meet[:, 1:]))
glue("con_toy_delta", delta_toy)
glue("con_toy_s", toy.s)
glue("con_toy_corner", toy_short["corner"])
glue("con_toy_two_s", two_s, 3)
glue("con_toy_tunnel_short", report.listing(sorted(set(toy_short["tunnel"]))))
glue("con_toy_centres", report.listing([report.spread(col) for col in centres.T]))
glue("con_toy_meet", report.listing([report.spread(col) for col in meet.T]))
glue("con_toy_grow", f"growing with m in {sum(grows_per_set)} of {cfg.seeds} sets")
glue("con_toy_corner_pred", toy_short["corner_pred"])
glue("con_toy_s_over_D", f"{toy.s}/{toy.D}")
glue("con_toy_tunnel_vs_corner", "fewer" if tunnel_below_corner else "not fewer")
glue("con_toy_centres_vs_meet", "fewer than" if centres_below_meet else "not fewer than")
report.verdict("fj-toy-intersection-short",
               shown=f"{toy_short['corner']} short directions where two wedges meet; s = {toy.s}, 2s - s²/D = {two_s:.1f}",
               corner_short=toy_short["corner"], two_s=two_s)
report.verdict("fj-toy-mconnector-short",
               shown=f"centres of trained m-connectors (m = {report.listing(list(cfg.toy_ms))}; mean ± sd over "
                     f"{cfg.seeds} sets of optima): {report.listing([report.spread(col) for col in centres.T])}, growing with m "
                     f"in {sum(grows_per_set)} of {cfg.seeds} sets; where all m + 1 wedges meet: "
                     f"{report.listing([report.spread(col) for col in meet.T])}",
               centre_short=Spread(centres))

# %% [markdown]
# With $\delta$ = {glue:text}`con_toy_delta`, every optimum has exactly $s$ = {glue:text}`con_toy_s`
# short directions (asserted: the model's exact answer). The point of both optima's wedges nearest the
# line's middle, through which a connector of Section 3.1 can run, has {glue:text}`con_toy_corner`
# against $2s - s^2/D$ = {glue:text}`con_toy_two_s` from the paper's argument (the axes outside both
# wedges number {glue:text}`con_toy_corner_pred`; here $s/D$ = {glue:text}`con_toy_s_over_D`, so the
# correction $s^2/D$ to "about $2s$" is not negligible): {glue:text}`verdict-fj-toy-intersection-short-lower`
# by the criterion declared for the claim. An axis counts as long there only if the point's coordinate
# on it is at least $\delta$, so the count can fall below the number of axes outside both wedges where
# the two optima's coordinates nearly cancel at the middle.
#
# Do the *trained* paths go there? The tunnel's vertices have {glue:text}`con_toy_tunnel_short`
# short directions, {glue:text}`con_toy_tunnel_vs_corner` than the intersection: a vertex inside a single
# wedge has $s$, and a tunnel that changes wedge by swapping axes between neighbouring vertices never
# needs to pass through the two wedges' intersection. The centres of the $m$-connectors trained as a
# whole have {glue:text}`con_toy_centres` short directions for $m$ = {glue:text}`con_toy_ms` (mean ±
# standard deviation over the {glue:text}`con_toy_seeds` sets of optima), {glue:text}`con_toy_centres_vs_meet`
# where all $m+1$ wedges meet (for $m > 1$; {glue:text}`con_toy_meet`), {glue:text}`con_toy_grow`. The
# claim that they grow with $m$ is {glue:text}`verdict-fj-toy-mconnector-short-lower` by its declared
# criterion (the mean count over the sets must grow with $m$; partly if it merely tends to rise).

# %% tags=["hide-input"]
conn_max = max(conn[m]["whole_max"] for m in ms)
report.verdict("fj-m-connectors",
               shown=f"m = 1 to {cfg.max_m}: highest loss {report.fmt(max(conn[m]['max_loss'] for m in ms))} for the "
                     f"paper's construction, {report.fmt(conn_max)} trained as a whole (optima "
                     f"{report.fmt(opt_loss.max().item())}); test accuracy within "
                     f"{report.fmt(100 * max(conn[m]['corner_acc'] - conn[m]['whole_acc'] for m in ms), 2)} points of the optima's",
               path_barrier=max(conn[m]["whole_barrier"] for m in ms),
               line_barrier=min(conn[m]["straight_barrier"] for m in ms),
               optima_loss=opt_loss.max().item())
glue("con_whole_barrier", max(conn[m]["whole_barrier"] for m in ms), 2)
glue("con_straight_barrier", min(conn[m]["straight_barrier"] for m in ms), 2)


# %% [markdown]
# ## Where wedges meet, at matched loss
#
# The optimised centroid of an $m$-connector is where all $m+1$ wedges meet; the paper finds more
# short directions there the more optima it joins (Figure 4, middle). Counting short directions is
# only fair between points of equal loss, since a point higher up a basin has a different Hessian.
# So every centroid, for $m$ = 1 to {glue:text}`con_max_m`, is optimised inside its $(D-m)$-dimensional
# subspace *until its training loss first falls to the higher of A's and B's training losses*
# (`optimize_orthogonal(..., target_loss=...)`, checked every {glue:text}`con_check_every` steps, all
# centroids as one batch with their own constraints), and its short directions are counted as in
# {ref}`chapter-tunnels` ($\epsilon$ = {glue:text}`con_eps`, $\delta$ = {glue:text}`con_delta`, on the
# first {glue:text}`con_hessian_examples` training examples). The $m = 1$ centroid is the midpoint of the
# tunnel from A to B, so the same run also repeats the tunnel's comparison of the middle with the
# ends at matched loss. One set of optima would give one count per $m$ and no idea of its spread, so
# we repeat it on {glue:text}`con_seeds` independent sets of optima (trained with the first, above),
# each matched to the loss of its own A and B ({glue:text}`con_target`). The cell asserts only that
# every centroid reached its target loss. The claims are judged by the criteria declared before
# measuring: for the $m$-connectors, the mean count over the sets must grow with $m$ and the mean slope
# of the count against $m$ must be more than noise (in standard errors over the sets); for the tunnel,
# the middle must have more short directions than the mean of its two ends, on average over the sets.

# %%
L_h = L.subset(cfg.hessian_examples)                     # the Hessian of the first examples, as in the tunnels chapter
short = dict(eps=cfg.short_eps, delta=cfg.short_delta, k_max=400)
# every set of optima (rows) and m (columns) as one batch; each set's centroids stop at the loss of its own A and B
S = cfg.seeds
set_loss = L.loss(optima_sets.flatten(0, 1)).view(S, n_optima)
targets = set_loss[:, :2].max(1).values                                  # per set: the higher loss of its A and B
centroids = orthogonal.optimize_orthogonal(
    L, torch.stack([optima_sets[k, : m + 1].mean(0) for k in range(S) for m in ms]),
    [optima_sets[k, 1 : m + 1] - optima_sets[k, 0] for k in range(S) for m in ms],
    settings=SUBSPACE_DEFAULTS.replace(steps=cfg.centroid_steps, lr=cfg.tunnel_lr, batch_size=cfg.batch_size), target_loss=targets.repeat_interleave(len(ms)), check_every=cfg.check_every)
centroid_loss = L.loss(centroids).view(S, len(ms))
centroid_short = np.array([short_directions.count_short_directions(L_h, c, **short).count for c in centroids]).reshape(S, len(ms))
# the ends A and B of every set
end_short = np.array([[short_directions.count_short_directions(L_h, optima_sets[k, i], **short).count for i in (0, 1)] for k in range(S)])
slopes = np.array([np.polyfit(ms, row, 1)[0] for row in centroid_short])   # per set: short directions per unit of m
slope, slope_se = slopes.mean(), slopes.std(ddof=1) / np.sqrt(S)
for k in range(S):
    print(f"set {k}: target loss {targets[k]:.4f}; centroid losses {[round(x, 4) for x in centroid_loss[k].tolist()]}; "
          f"short directions {centroid_short[k].tolist()} (trend {slopes[k]:+.2f} per unit of m); ends {end_short[k].tolist()}")
print(f"trend over the {S} sets: {slope:+.2f} ± {slope_se:.2f} (standard error) per unit of m")

# %% tags=["hide-input"]
P.check_at_scale(bool((centroid_loss <= targets[:, None]).all()), "every centroid reached its set's matched loss")
glue("con_target", report.listing([report.fmt(x, 3) for x in targets.tolist()]))
glue("con_check_every", cfg.check_every)
glue("con_centroid_loss", f"{centroid_loss.min().item():.3f} to {centroid_loss.max().item():.3f}")
glue("con_conn_short", report.listing([report.spread(col) for col in centroid_short.T]))
glue("con_conn_slope", f"{report.fixed(slope, 2, sign=True)} ± {report.fixed(slope_se, 2)}")
glue("con_conn_slopes", report.listing([report.fixed(x, 2, sign=True) for x in slopes]))
glue("con_mid_matched", report.spread(centroid_short[:, 0]))
glue("con_ends_matched", report.spread(end_short.mean(1)))
ends_mean = end_short.mean(1)
glue("con_mid_minus_ends", report.spread(centroid_short[:, 0] - ends_mean))

# %% tags=["hide-input"]
# a single set of optima (the smoke scale) has no standard error: its slope counts as no trend beyond noise
slope_z = slope / slope_se if S > 1 and slope_se > 0 else 0.0
report.verdict("fj-fig4-mconnector-short",
               shown=f"{report.listing([report.spread(col) for col in centroid_short.T])} short directions for "
                     f"m = 1, 2, … (mean ± sd over {S} sets of optima); trend {report.fixed(slope, 2, sign=True)} ± "
                     f"{report.fixed(slope_se, 2)} per unit of m",
               short_vs_m=Spread(centroid_short), slope_z=slope_z)
report.verdict("fj-fig4-tunnel-short",
               shown=f"{report.spread(centroid_short[:, 0])} in the middle at matched loss, "
                     f"{report.spread(ends_mean)} at the ends (mean ± sd over {S} sets)",
               middle_minus_ends=Spread(centroid_short[:, 0] - ends_mean))
glue("con_slope_z", slope_z, 2)
glue("con_mid_reading", "so at matched loss the middle of the tunnel is narrower than its ends, as the paper's protocol found"
     if report.decided("fj-fig4-tunnel-short").verdict == "reproduced" else
     "so the \"narrower middle\" of the paper's protocol, which compares vertices sitting higher in loss than the optima, "
     "does not survive holding the loss fixed")

# %% [markdown]
# At matched loss (the centroids end at {glue:text}`con_centroid_loss`) the centroids of $m$ = 1, 2,
# ... have {glue:text}`con_conn_short` short directions (mean ± standard deviation over the
# {glue:text}`con_seeds` sets), a trend of {glue:text}`con_conn_slope` (standard error) per unit of
# $m$, {glue:text}`con_slope_z` standard errors from zero; set by set {glue:text}`con_conn_slopes`. The
# paper's Figure 4 (middle) is {glue:text}`verdict-fj-fig4-mconnector-short-lower` by the claim's
# declared criterion. The tunnel's middle, optimised to the same loss as its ends, has
# {glue:text}`con_mid_matched` short directions against {glue:text}`con_ends_matched` at the ends
# (middle minus ends, set by set: {glue:text}`con_mid_minus_ends`): the claim that the middle has more
# is {glue:text}`verdict-fj-fig4-tunnel-short-lower`, {glue:text}`con_mid_reading`.


# %% tags=["remove-output", "hide-input"]
fig, axes = plots.figure(ncols=2, width=4.4)
for row in centroid_short:                                 # each set of optima, faint
    axes[0].plot(ms, row, "-", color=plots.PALETTE["blue"], alpha=0.3, lw=0.8)
axes[0].errorbar(ms, centroid_short.mean(0), yerr=centroid_short.std(0, ddof=1), fmt="o-", capsize=3,
                 label=f"optimised centroid (mean ± sd, {S} sets)")
axes[0].axhline(end_short.mean(), color="k", lw=0.8, ls=":", label="optima A, B (mean)")
axes[0].set(xlabel="$m$ (joins $m+1$ optima)", ylabel="short directions at the centroid", title="at matched loss")
axes[0].legend()
axes[1].plot(ms, [conn[m]["straight_max"] for m in ms], "s--", color="grey", label="straight simplex")
axes[1].plot(ms, [conn[m]["max_loss"] for m in ms], "o-", label="m-connector, max")
axes[1].plot(ms, [conn[m]["random_mean"] for m in ms], "^-", label="m-connector, mean")
axes[1].plot(ms, [conn[m]["whole_max"] for m in ms], "o-", label="trained as a whole, max")
axes[1].axhline(opt_loss.max().item(), color="k", lw=0.8, ls=":", label="optima")
axes[1].set(xlabel="$m$", ylabel="training loss over the simplex", title="loss over the simplex", yscale="log")
axes[1].legend()
report.figure("fig-connectors", fig)

# %% [markdown]
# ```{glue:figure} fig-connectors
# :name: fig-connectors
#
# Left: number of short directions (Hessian eigenvalues above $2\delta/\epsilon^2$) at the centroid of
# m-connectors between $m+1$ optima, each optimised to the loss of its optima A and B, for independent
# sets of optima (faint lines: each set; dots and bars: mean and standard deviation; dotted: the mean
# count at A and B). Right: highest and mean training loss over each connector's simplex (random
# points and edges) for the first set of optima: the paper's construction, and the same connector
# trained as a whole, against the highest loss of the straight simplex through the same optima.
# ```
#
# ## What we found
#
# - **m-connectors** for $m$ = 1 to {glue:text}`con_max_m`: the highest loss over any connector's
#   simplex was {glue:text}`con_conn_max` with the paper's construction, at most
#   {glue:text}`con_conn_ratio` of the straight simplex's; the construction optimises only its grid
#   points, and a grid of resolution {glue:text}`con_resolution` spans the faces between them coarsely.
#   Trained as a whole, the connectors' highest loss anywhere on the simplex was
#   {glue:text}`con_whole_min`-{glue:text}`con_whole_max` (the paper's construction's over it: a
#   factor of at least {glue:text}`con_whole_gain`), and test accuracy anywhere on them fell at most
#   {glue:text}`con_whole_acc_drop` points below their optima's. Against the optima's training loss
#   ({glue:text}`con_opt_loss`), the worst barrier at random points of the trained simplices was
#   {glue:text}`con_whole_barrier`, and the straight simplices' at least
#   {glue:text}`con_straight_barrier`: low-loss $m$-connectors are
#   {glue:text}`verdict-fj-m-connectors-lower` by the claim's declared criterion. These small networks
#   fit mnist1d's training set far better than its test set (their mean test accuracy is
#   {glue:text}`con_opt_acc`%), so a connector can be far above the optima in training loss and still
#   close to them in test accuracy.
# - **On the toy model**, where "low" can be taken literally, connectors trained as a whole lie in the
#   wedges (loss below {glue:text}`con_toy_low` everywhere) up to $m$ = {glue:text}`con_toy_zero_m` in
#   every set of optima, and stay below {glue:text}`con_toy_conn_top` up to $m$ =
#   {glue:text}`con_toy_max_m` (straight simplex: {glue:text}`con_toy_conn_straight` or more). Where two
#   wedges meet there are {glue:text}`con_toy_corner` short directions against the paper's $\approx 2s$,
#   $2s - s^2/D$ = {glue:text}`con_toy_two_s` ({glue:text}`verdict-fj-toy-intersection-short-lower`);
#   the centres of trained connectors have {glue:text}`con_toy_centres` for $m$ =
#   {glue:text}`con_toy_ms`, {glue:text}`con_toy_grow` ({glue:text}`verdict-fj-toy-mconnector-short-lower`).
# - **Short directions where wedges meet, at matched loss.** Optimised to their optima's loss
#   ({glue:text}`con_target`), the centroids of $m$-connectors have {glue:text}`con_conn_short` short
#   directions for $m$ = 1, 2, ... (over {glue:text}`con_seeds` sets of optima; trend
#   {glue:text}`con_conn_slope` per unit of $m$, set by set {glue:text}`con_conn_slopes`): the paper's
#   Figure 4 (middle) is {glue:text}`verdict-fj-fig4-mconnector-short-lower`. The tunnel's middle at
#   matched loss has {glue:text}`con_mid_matched` against {glue:text}`con_ends_matched` at the ends:
#   {glue:text}`verdict-fj-fig4-tunnel-short-lower` once loss is controlled. The paper's protocol (and
#   the tunnels chapter's) compares vertices that sit higher in loss than the optima.
#
# ## Exercises
#
# 1. *Going further.* Give the m-connector a finer grid (`resolution=3`) for $m = 2$, with and
#    without training it as a whole. How much lower is its highest loss over the simplex, and how
#    much more does it cost?
#
#    ```{admonition} Solution
#    :class: dropdown
#    The grid grows from 6 to 10 points. Expect the paper's per-point construction to gain little:
#    its highest loss lies between grid points, wherever they are, and optimising the grid points
#    alone does nothing there. Trained as a whole, the finer grid has more freedom between the
#    corners and can get lower, at a cost that grows with the number of grid points and the steps
#    (time both runs with `%time`). A finer grid helps only once the space between grid points is
#    trained too.
#    ```
#
# 2. *Change this and predict.* Repeat the tunnel's short-direction count at matched loss for every
#    vertex, not only the midpoint: with `A, B = optima[0], optima[1]`, optimise the straight line's
#    interior points, `A + torch.linspace(0, 1, 11)[1:-1, None] * (B - A)`, with
#    `subspace.optimize_orthogonal(L, points, B - A, steps=cfg.centroid_steps, lr=cfg.tunnel_lr,
#    batch_size=cfg.batch_size, target_loss=targets[0])` and count at each. Predict the shape of the
#    curve before you run it.
#
#    ```{admonition} Solution
#    :class: dropdown
#    A prediction from what the chapter measured: its matched-loss midpoints have
#    {glue:text}`con_mid_matched` short directions against {glue:text}`con_ends_matched` at the ends.
#    Where those two are close, expect a curve that stays near the ends' counts at every vertex rather
#    than the bump of the paper's protocol, which measures how much higher the unmatched vertices sit;
#    where the midpoint is clearly above, expect a bump that survives matching. That is why a fair
#    comparison fixes the loss first. The chapter checks only the midpoint; running the exercise is
#    what tests the prediction at the other vertices.
#    ```
