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
#   {term}`m-connector` (Section 4.3 of Fort & Jastrzebski {cite}`fort2019large`), far lower than the
#   straight simplex between them, and what it takes to make the whole simplex low, not only its grid;
# - what the wedge model predicts for the number of {term}`short directions <short direction>` where
#   wedges meet (about $2s$ for two, more for more), and whether trained connectors go there;
# - whether the paper's Figure 4 holds once the loss is held fixed: more short directions at the
#   centre of an m-connector the larger $m$, but not in the middle of a tunnel, with a spread over
#   independent sets of optima.
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
import matplotlib.pyplot as plt
import numpy as np
import torch

import lsl
from lsl.curvature import short_directions
from lsl.data import nets
from lsl.paths import connectors, orthogonal, tunnels
from lsl.book import glue, plots, report
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
                   whole_acc=ev_whole.accuracy.min().item(), corner_acc=opt_acc[: m + 1].min().item())
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
# The assertion: trained as a whole, the highest loss anywhere on the simplex is at most half the
# paper's connector's, for every $m$. We had also stated, before measuring, that the lowest test
# accuracy anywhere on the simplex would stay within 5 points of its optima's; that held only for
# some $m$ ({glue:text}`con_whole_acc_verdict`), so it is reported here rather than asserted.
# Whether the simplex is "low-loss" in the paper's sense, as low as the optima, is reported too.

# %% tags=["hide-input"]
for m in ms:
    P.check_at_scale(conn[m]["max_loss"] < 0.5 * conn[m]["straight_max"], f"the {m}-connector stays far below the straight simplex")
    P.check_at_scale(conn[m]["whole_max"] < 0.5 * conn[m]["max_loss"],
                                f"the {m}-connector trained as a whole halves the highest loss of the paper's")
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
glue("con_whole_acc_verdict", "; ".join(f"m = {m}: {report.fmt(d, 2)} points{'' if d <= 5 else ', more than 5'}"
                                        for m, d in acc_drops.items()))
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
for (k, m), r in toy_conn.items():
    P.check_at_scale(r["max"] < 0.2 * r["straight"], f"toy: the whole {m}-connector stays below a fifth of the straight simplex")
glue("con_toy_resolution", cfg.toy_resolution)
glue("con_toy_max_m", max(cfg.toy_ms))
glue("con_toy_ms", report.listing(list(cfg.toy_ms)))
glue("con_toy_seeds", cfg.seeds)
glue("con_toy_opt_max", toy_opt_max, 1)
glue("con_toy_zero_m", max([m for m in cfg.toy_ms if all(toy_conn[k, m]["max"] < 1e-3 for k in range(cfg.seeds))], default=0))
glue("con_toy_conn_top", max(r["max"] for r in toy_conn.values()), 2)
glue("con_toy_conn_inside", max(r["inside"] for r in toy_conn.values()), 2)
glue("con_toy_conn_straight", min(r["straight"] for r in toy_conn.values()), 3)

# %% [markdown]
# On the toy model ($m$ = {glue:text}`con_toy_ms`; optima at losses below {glue:text}`con_toy_opt_max`)
# the connectors trained as a whole lie entirely in the wedges, loss below $10^{-3}$ everywhere, up to
# $m$ = {glue:text}`con_toy_zero_m` in every set of optima; beyond, the highest loss anywhere on the simplex is at most
# {glue:text}`con_toy_conn_top` (at most {glue:text}`con_toy_conn_inside` at random interior points;
# the rest is on the edges, which a high-dimensional simplex's random points seldom approach),
# against {glue:text}`con_toy_conn_straight` or more for the straight simplex. Low-loss $m$-connectors
# exist in the wedge model, as the paper says; finding them needs the whole simplex trained and a
# grid fine enough for $m$.


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

# %%
# the tolerance: the profile's, or twice the highest loss among the points counted if that is larger
# (points trained only briefly, as in the smoke test, are not yet inside a wedge)
# a tunnel between the first two optima (as in the tunnels chapter's toy model), to count its vertices too
ta, tb = toy_sets[0, 0], toy_sets[0, 1]
toy_tun = tunnels.build_tunnel(toy, ta, tb, n_points=cfg.toy_tunnel_points,
                               settings=TUNNEL_DEFAULTS.replace(steps=cfg.toy_steps, lr=0.01), per_segment=20)
counted = torch.cat([toy_sets.flatten(0, 1), toy_tun.points, torch.stack([r["centre"] for r in toy_conn.values()])])
delta_toy = max(cfg.toy_short_delta, 2 * toy.loss(counted).max().item())
corner = toy.connector(ta, tb)[1]                      # ta with the axes outside both wedges set to zero
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
      f"(D - |S_a & S_b| = {toy_short['corner_pred']}; 2s - s^2/D = {two_s:.1f}, 2s = {2 * toy.s})")
print(f"vertices of the trained tunnel: {toy_short['tunnel']}")
for j, m in enumerate(cfg.toy_ms):
    print(f"m = {m:2d}: centre of the trained connector {report.spread(centres[:, j])} (sets: {centres[:, j].tolist()}); "
          f"where all m+1 wedges meet {report.spread(meet[:, j])} (random wedges: {toy.D * (1 - (toy.n / toy.D) ** (m + 1)):.0f})")
P.check_at_scale(all(c == toy.s for c in toy_short["optima"]), "every optimum lies inside one wedge: s short directions")
P.check_at_scale(toy_short["corner"] == toy_short["corner_pred"], "the intersection lacks exactly the axes outside both wedges")
P.check_at_scale(abs(toy_short["corner"] - two_s) < 0.15 * two_s, "the intersection has about 2s - s^2/D")
P.check_at_scale(max(toy_short["tunnel"]) < toy_short["corner"],
                            "the trained tunnel does not pass through the intersection of the two wedges")
centre_mean = centres.mean(0)
grows_per_set = [bool(np.all(np.diff(row) > 0)) for row in centres]   # the paper's claim, set by set
toy_grows = all(grows_per_set)
P.check_at_scale(bool(np.all(centres[:, 1:] < meet[:, 1:])),
                            "the centres of trained m-connectors (m > 1) are wider than where all m+1 wedges meet")
glue("con_toy_delta", delta_toy)
glue("con_toy_s", toy.s)
glue("con_toy_corner", toy_short["corner"])
glue("con_toy_two_s", two_s, 3)
glue("con_toy_tunnel_short", report.listing(sorted(set(toy_short["tunnel"]))))
glue("con_toy_centres", report.listing([report.spread(col) for col in centres.T]))
glue("con_toy_meet", report.listing([report.spread(col) for col in meet.T]))
glue("con_toy_grow", f"growing with m in {sum(grows_per_set)} of {cfg.seeds} sets")
report.verdict("fj-toy-intersection-short", "reproduced" if abs(toy_short["corner"] - two_s) < 0.15 * two_s else "not reproduced",
               measured=f"{toy_short['corner']} short directions where two wedges meet; s = {toy.s}, 2s - s²/D = {two_s:.1f}")
report.verdict("fj-toy-mconnector-short", "reproduced" if toy_grows else "not reproduced",
               measured=f"centres of trained m-connectors (m = {report.listing(list(cfg.toy_ms))}; mean ± sd over "
                        f"{cfg.seeds} sets of optima): {report.listing([report.spread(col) for col in centres.T])}, growing with m "
                        f"in {sum(grows_per_set)} of {cfg.seeds} sets; where all m + 1 wedges meet: "
                        f"{report.listing([report.spread(col) for col in meet.T])}",
               note="" if toy_grows else "the trained connectors do not pass through the meeting of all m + 1 wedges")

# %% [markdown]
# With $\delta$ = {glue:text}`con_toy_delta`, every optimum has exactly $s$ = {glue:text}`con_toy_s`
# short directions, and the intersection of two optima's wedges, through which the connector of
# Section 3.1 runs, has {glue:text}`con_toy_corner` against $2s - s^2/D$ = {glue:text}`con_toy_two_s`:
# about $2s$, as the paper says, less the axes short in both wedges (here $s/D$ = 1/4 is not small).
# But the *trained* paths do not go there. The tunnel's vertices have {glue:text}`con_toy_tunnel_short`
# short directions: each lies inside a single wedge, and the tunnel changes wedge by swapping axes
# between neighbouring vertices, not by passing through the two wedges' intersection. The centres
# of the $m$-connectors trained as a whole have {glue:text}`con_toy_centres` short directions for
# $m$ = {glue:text}`con_toy_ms` (mean ± standard deviation over the {glue:text}`con_toy_seeds` sets of
# optima): more than an optimum, but far fewer than where all $m+1$ wedges meet
# ({glue:text}`con_toy_meet`), and {glue:text}`con_toy_grow` (the paper's claim asks each to grow). So the toy model holds points with $2s$ and
# more short directions, as the paper says, but a connector trained to low loss need not visit them:
# {glue:text}`verdict-fj-toy-mconnector-short` for the growth with $m$ at the centres of trained
# connectors.

# %% tags=["hide-input"]
conn_max = max(conn[m]["whole_max"] for m in ms)
report.verdict("fj-m-connectors", "reproduced" if conn_max <= 2 * opt_loss.max().item() else "partly",
               measured=f"m = 1 to {cfg.max_m}: highest loss {report.fmt(max(conn[m]['max_loss'] for m in ms))} for the "
                        f"paper's construction, {report.fmt(conn_max)} trained as a whole (optima "
                        f"{report.fmt(opt_loss.max().item())}); test accuracy within "
                        f"{report.fmt(100 * max(conn[m]['corner_acc'] - conn[m]['whole_acc'] for m in ms), 2)} points of the optima's",
               note="" if conn_max <= 2 * opt_loss.max().item() else
                    "low in test accuracy, not in training loss: far above the optima's loss")


# %% [markdown]
# ## Where wedges meet, at matched loss
#
# The optimised centroid of an $m$-connector is where all $m+1$ wedges meet; the paper finds more
# short directions there the more optima it joins (Figure 4, middle). Counting short directions is
# only fair between points of equal loss, since a point higher up a basin has a different Hessian.
# So every centroid, for $m$ = 1 to {glue:text}`con_max_m`, is optimised inside its $(D-m)$-dimensional
# subspace *until its training loss first falls to the loss of the deeper optimum of A and B*
# (`optimize_orthogonal(..., target_loss=...)`, checked every {glue:text}`con_check_every` steps, all
# centroids as one batch with their own constraints), and its short directions are counted as in
# {ref}`chapter-tunnels` ($\epsilon$ = {glue:text}`con_eps`, $\delta$ = {glue:text}`con_delta`, on the
# first {glue:text}`con_hessian_examples` training examples). The $m = 1$ centroid is the midpoint of the
# tunnel from A to B, so the same run also repeats the tunnel's comparison of the middle with the
# ends at matched loss. One set of optima would give one count per $m$ and no idea of its spread, so
# we repeat it on {glue:text}`con_seeds` independent sets of optima (trained with the first, above),
# each matched to the loss of its own A and B ({glue:text}`con_target`). Before measuring we stated
# the assertion: the count rises with $m$ in every set, and the mean trend is more than two standard
# errors above zero.

# %%
L_h = L.subset(cfg.hessian_examples)                     # the Hessian of the first examples, as in the tunnels chapter
short = dict(eps=cfg.short_eps, delta=cfg.short_delta, k_max=400)
# every set of optima (rows) and m (columns) as one batch; each set's centroids stop at the loss of its own A and B
S = cfg.seeds
set_loss = L.loss(optima_sets.flatten(0, 1)).view(S, n_optima)
targets = set_loss[:, :2].max(1).values                                  # per set: the deeper of its A and B
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
# the paper's claim, as strongly as it is stated: more short directions where more wedges meet, in every set of
# optima, and a mean trend more than two standard errors above zero
P.check_at_scale(bool((slopes > 0).all() and (centroid_short[:, -1] > centroid_short[:, 0]).all()),
               "more short directions where more wedges meet, in every set of optima")
P.check_at_scale(slope > 2 * slope_se, "the mean trend is more than two standard errors above zero")
glue("con_target", report.listing([report.fmt(x, 3) for x in targets.tolist()]))
glue("con_check_every", cfg.check_every)
glue("con_centroid_loss", f"{centroid_loss.min().item():.3f} to {centroid_loss.max().item():.3f}")
glue("con_conn_short", report.listing([report.spread(col) for col in centroid_short.T]))
glue("con_conn_slope", f"{report.fixed(slope, 2, sign=True)} ± {report.fixed(slope_se, 2)}")
glue("con_conn_slopes", report.listing([report.fixed(x, 2, sign=True) for x in slopes]))
glue("con_mid_matched", report.spread(centroid_short[:, 0]))
glue("con_ends_matched", report.spread(end_short.mean(1)))
# the matched-loss comparison of the tunnel's middle with its ends, asserted as measured (flat, within a
# fifth of the ends' count, in every set), so that a change in either direction is caught
ends_mean = end_short.mean(1)
P.check_at_scale(bool((np.abs(centroid_short[:, 0] - ends_mean) <= 0.2 * ends_mean).all()),
               "at matched loss the tunnel's middle has as many short directions as its ends (as measured), in every set")

# %% tags=["hide-input"]
report.verdict("fj-fig4-mconnector-short", "reproduced" if (slopes > 0).all() and slope > 2 * slope_se else "not reproduced",
               measured=f"{report.listing([report.spread(col) for col in centroid_short.T])} short directions for "
                        f"m = 1, 2, … (mean ± sd over {S} sets of optima); trend {report.fixed(slope, 2, sign=True)} ± "
                        f"{report.fixed(slope_se, 2)} per unit of m")
mid_above = bool((centroid_short[:, 0] > end_short.max(1)).all())
report.verdict("fj-fig4-tunnel-short", "reproduced" if mid_above else "not reproduced",
               measured=f"{report.spread(centroid_short[:, 0])} in the middle at matched loss, "
                        f"{report.spread(end_short.mean(1))} at the ends (mean ± sd over {S} sets)",
               note="" if mid_above else "more only at vertices of higher loss than the optima")

# %% [markdown]
# At matched loss (the centroids end at {glue:text}`con_centroid_loss`) the centroids of $m$ = 1, 2,
# ... have {glue:text}`con_conn_short` short directions (mean ± standard deviation over the
# {glue:text}`con_seeds` sets), a trend of {glue:text}`con_conn_slope` (standard error) per unit of
# $m$; set by set {glue:text}`con_conn_slopes`. The paper's claim holds in every set, though the rise
# is modest and levels off. The tunnel's middle tells a different story: optimised to the same loss
# as its ends, it has {glue:text}`con_mid_matched` short directions against
# {glue:text}`con_ends_matched` at the ends. The "narrower middle" of the paper's protocol came from
# the vertices' higher loss, not from the meeting of two wedges. The chapter asserts this flat
# profile as measured (the middle within a fifth of the ends' count, in every set), so that a change
# either way would stop the build and be looked at.


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
#   {glue:text}`con_conn_ratio` of the straight simplex's; its highest points lie on the
#   piecewise-linear faces between grid points, which a grid of resolution
#   {glue:text}`con_resolution` spans coarsely. Trained as a whole, the connectors' highest loss
#   anywhere on the simplex fell by a factor of at least {glue:text}`con_whole_gain`, to
#   {glue:text}`con_whole_min`-{glue:text}`con_whole_max`, and test accuracy anywhere on them fell
#   at most {glue:text}`con_whole_acc_drop` points below their optima's. **Low-loss in the paper's sense
#   is not reproduced**: the simplices stay far above the optima's training loss
#   ({glue:text}`con_opt_loss`); in test accuracy they cost little (see above; these small networks
#   overfit mnist1d: low training loss, about 60% test accuracy).
# - **On the toy model**, where "low" can be taken literally, connectors trained as a whole lie in the
#   wedges (loss below $10^{-3}$ everywhere) up to $m$ = {glue:text}`con_toy_zero_m` in every set of
#   optima, and stay below {glue:text}`con_toy_conn_top` up to $m$ = {glue:text}`con_toy_max_m`
#   (straight simplex: {glue:text}`con_toy_conn_straight` or more). Where two wedges meet there are
#   {glue:text}`con_toy_corner` short directions, about $2s$ as the paper says; the centres of trained
#   connectors have {glue:text}`con_toy_centres` for $m$ = {glue:text}`con_toy_ms`,
#   {glue:text}`con_toy_grow`.
# - **Short directions where wedges meet, at matched loss.** Optimised to their optima's loss
#   ({glue:text}`con_target`), the centroids of $m$-connectors have {glue:text}`con_conn_short` short
#   directions for $m$ = 1, 2, ... (over {glue:text}`con_seeds` sets of optima; trend
#   {glue:text}`con_conn_slope` per unit of $m$, positive in every set): the paper's Figure 4 (middle)
#   reproduces, modestly. The tunnel's middle at matched loss has {glue:text}`con_mid_matched` against
#   {glue:text}`con_ends_matched` at the ends: **not reproduced** once loss is controlled; the paper's
#   protocol (and the tunnels chapter's) compares vertices that sit higher in loss than the optima.
#
# ## Exercises
#
# 1. *Going further.* Give the m-connector a finer grid (`resolution=3`) for $m = 2$, with and
#    without training it as a whole. How much lower is its highest loss over the simplex, and how
#    much more does it cost?
#
#    ```{admonition} Solution
#    :class: dropdown
#    The grid grows from 6 to 10 points. In our run (quick profile, AMD EPYC, 2 cores) the paper's
#    per-point construction did not improve at all (highest loss 2.34 at both resolutions): its
#    maximum lies between grid points, wherever they are. Trained as a whole for 3000 steps, the
#    finer grid reached 0.57 against 0.70 for resolution 2 with 1500 steps, at about twice the time
#    (9.5 s against 5 s). A finer grid helps only once the space between grid points is trained too.
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
#    {glue:text}`con_mid_matched` short directions against {glue:text}`con_ends_matched` at the ends, so
#    expect a curve that stays near the ends' counts at every vertex rather than the bump of the
#    paper's protocol, which measures how much higher the unmatched vertices sit. That is why a fair
#    comparison fixes the loss first. The chapter checks only the midpoint; running the exercise is
#    what tests the prediction at the other vertices.
#    ```
