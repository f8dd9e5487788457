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
# (chapter-ensembles)=
# # Ensembles and SWA in the light of the wedge model
#
# ```{admonition} What you will learn
# :class: tip
# - what snapshot ensembles {cite}`huang2017snapshot` and stochastic weight averaging (SWA)
#   {cite}`izmailov2018averaging` do with the snapshots of a cyclic learning rate: average their
#   *predictions*, or average their *weights*;
# - the prediction of Section 4.5 of Fort & Jastrzebski {cite}`fort2019large` (Figure 6): when the
#   maximum learning rate is high enough for consecutive snapshots to land on different wedges, their
#   weight average falls between the wedges, onto high loss, while their prediction average gains from
#   their diversity;
# - how to test the explanation directly, with the loss along the straight lines between snapshots
#   and with Jensen's inequality for the weight average;
# - how to find where this regime lies on a real network, relative to the learning rates where
#   training starts to break down, and what the snapshots themselves lose there;
# - how deep ensembles from independent initialisations {cite}`lakshminarayanan2017simple` compare,
#   per epoch of training spent.
# ```
#
# **Prerequisites:** {ref}`chapter-toy-model` (wedges: why the straight line between two optima on
# different wedges leaves the low-loss set) and {ref}`chapter-tunnels` (walls on the straight line
# between independently trained networks).
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
P, cfg, device = lsl.book.setup("ensembles")

# %%
import math

import numpy as np
import torch

import lsl
from lsl.ensembles import averaging, snapshots
from lsl.book import glue, plots, report
from lsl.book.verdicts import terms
from lsl.settings import ENSEMBLE_DEFAULTS, SNAPSHOT_DEFAULTS

# %% [markdown]
# ## Snapshots, their weight average and their prediction average
#
# A *cyclic* learning rate decays from a maximum $\eta_\text{max}$ to zero along a cosine, restarts at
# $\eta_\text{max}$, and repeats. At the end of each cycle, where the learning rate is lowest, the
# network sits near a minimum; that point is a *snapshot*. Two ways to use $K$ snapshots
# $\theta_1, \dots, \theta_K$:
#
# - a **snapshot ensemble** {cite}`huang2017snapshot` averages their predictions,
#   $p(y\mid x) = \frac1K \sum_k p(y\mid x;\theta_k)$: $K$ forward passes per input;
# - **SWA** {cite}`izmailov2018averaging` averages their weights, $\bar\theta = \frac1K\sum_k\theta_k$,
#   and predicts with $p(y\mid x;\bar\theta)$: one forward pass.
#
# Section 4.5 of Fort & Jastrzebski {cite}`fort2019large` reads both through the wedge model.
# Functions on different wedges make the most different predictions, so averaging predictions gains
# most from members on different wedges. The weight average instead needs the members on *one*
# wedge: a wedge is (close to) convex, so the average of points inside it is inside it, but the
# straight line between two wedges leaves the low-loss set ({ref}`chapter-toy-model`). Their
# prediction, verified with a CNN on CIFAR-10 in Figure 6: at a low maximum learning rate, the
# snapshots stay on one wedge and SWA works (panel 3); at a high one, consecutive snapshots land on
# different wedges, and their weight average performs *worse than a single snapshot* (panel 1); the
# advantage of prediction averaging over weight averaging grows with the learning rate (panel 4).
#
# `lsl` has the pieces: `lsl.ensembles.swa.cyclic_snapshots` trains with the cyclic schedule and keeps the
# snapshots, `lsl.ensembles.averaging.compare_averages` measures the best single snapshot, the weight average
# (recomputing batch-norm statistics for it, as SWA must; our network has none) and the prediction
# average, and `lsl.ensembles.averaging.pairwise_barriers` measures the loss along the straight lines between
# snapshots. `lsl.ensembles.snapshots` runs the first two over a sweep of maximum learning rates and finds
# where training breaks down.
#
# ## Starting points: independently pre-trained networks
#
# We pre-train {glue:text}`ens_seeds` copies of a tanh CNN from independent initialisations (SGD
# with momentum, cosine decay, `lsl.ensembles.averaging.deep_ensemble`; all copies as one batch, cached on
# disk). They serve twice: as the starting points of the cyclic runs (one cyclic run per copy, so
# every measurement comes with a spread over seeds), and as a *deep ensemble*, the reference at the
# end of the chapter. The test set has {glue:text}`ens_n_test` examples, more than the other
# chapters use: an accuracy $a$ measured on $N$ examples has a binomial standard error
# $\sqrt{a(1-a)/N}$, which we quote next to every difference, and the differences we look for are
# small at low learning rates.

# %%
data = lsl.data.datasets.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, device=device)
deep = averaging.deep_ensemble(data, cfg.arch, members=cfg.seeds,
                               settings=ENSEMBLE_DEFAULTS.replace(steps=cfg.pretrain_steps, lr=cfg.pretrain_lr, momentum=cfg.momentum, batch_size=cfg.batch_size), landscape_options=dict(device=device), **cfg.net)
L, start = deep.landscape, deep.members
L_loss = L.subset(cfg.loss_examples)                 # the same network on the training examples for losses
start_loss = L_loss.loss(start).mean().item()
start_acc = L.accuracy(start, "test").cpu().numpy()
n_test = len(data.y_test)


def std_error(acc):
    """Binomial standard error of an accuracy measured on the test set (an accuracy of exactly 0 or 1 counts as one
    example off, so that a difference can always be expressed in standard errors)."""
    acc = min(max(acc, 1 / n_test), 1 - 1 / n_test)
    return math.sqrt(acc * (1 - acc) / n_test)


def pp(diff):
    """A difference of accuracies in signed percentage points, for the text."""
    return report.fixed(100 * diff, 2, sign=True)


glue("ens_seeds", cfg.seeds)
glue("ens_n_test", n_test)
glue("ens_D", L.D)
glue("ens_pre_epochs", deep.epochs_per_member, 3)
glue("ens_pre_acc", 100 * start_acc.mean(), 3)
glue("ens_pre_se", 100 * std_error(start_acc.mean()), 2)
glue("ens_start_loss", start_loss, 2)
print(f"{cfg.arch} on {cfg.dataset}, D = {L.D}: {cfg.seeds} pre-trained networks, {deep.epochs_per_member:.1f} "
      f"epochs each; test accuracy {report.numbers(start_acc, 3)}, training loss {start_loss:.3f}")

# %% [markdown]
# The pre-trained networks ($D$ = {glue:text}`ens_D` parameters, {glue:text}`ens_pre_epochs` epochs
# each) reach {glue:text}`ens_pre_acc`% test accuracy on average (standard error
# {glue:text}`ens_pre_se` percentage points), with a training loss of {glue:text}`ens_start_loss`.
#
# ## Sweeping the maximum learning rate up to where training breaks down
#
# From each pre-trained network we run {glue:text}`ens_cycles` cycles of {glue:text}`ens_cycle_steps`
# steps ({glue:text}`ens_cycle_epochs` epochs per cycle), for every maximum learning rate of the
# sweep {glue:text}`ens_lrs`, and measure every snapshot, the weight average and the prediction
# average on the test set, and the training loss of the snapshots and of their weight average (on
# {glue:text}`ens_loss_examples` training examples).
#
# The effect we look for needs a learning rate large enough to throw the network out of its wedge,
# which is also what makes training unstable: with momentum $\mu$, gradient descent on a quadratic
# with curvature $\lambda$ diverges once $\eta\lambda > 2(1+\mu)$, and networks trained with large
# learning rates hover at that edge {cite}`cohen2021gradient`. So the sweep is fine near the top, and
# goes past the point where training breaks down. A tanh network rarely produces an infinite loss;
# it saturates instead, and its accuracy collapses. We say training has *broken down* at a maximum
# learning rate where the last snapshots end with a training loss (mean over seeds) more than
# {glue:text}`ens_break_factor` times that of the pre-trained starting points: cycling made the
# network worse than where it started.

# %%
n_lr, S, M = len(cfg.max_lrs), cfg.seeds, cfg.cycles
sweep = snapshots.snapshot_sweep(L, start, cfg.max_lrs, cycles=M,
                                 settings=SNAPSHOT_DEFAULTS.replace(cycle_steps=cfg.cycle_steps, momentum=cfg.momentum, batch_size=cfg.batch_size, seed=1), loss_landscape=L_loss)
runs, non_finite = dict(zip(cfg.max_lrs, sweep.runs)), sweep.any_diverged  # the cyclic run at each max lr
acc, nll, loss = sweep.accuracy.numpy(), sweep.nll.numpy(), sweep.loss.numpy()  # every snapshot [n_lr, S, M]
w_acc, w_nll, w_loss = sweep.weight_accuracy.numpy(), sweep.weight_nll.numpy(), sweep.weight_loss.numpy()  # weight average
p_acc, p_nll = sweep.prediction_accuracy.numpy(), sweep.prediction_nll.numpy()  # prediction average

best = acc.argmax(-1)                                                  # each run's best snapshot (by test accuracy)
best_acc = np.take_along_axis(acc, best[..., None], -1)[..., 0]
best_nll = np.take_along_axis(nll, best[..., None], -1)[..., 0]
jensen = sweep.jensen_gap.numpy()             # training loss of the average minus the snapshots' mean loss
last_loss = sweep.last_loss.numpy()           # the last snapshots' training loss, mean over seeds
print(" max lr | mean snapshot  best snapshot  weight avg  prediction avg | P - W (pp) | last loss  Jensen gap")
for i, lr in enumerate(cfg.max_lrs):
    print(f"  {lr:5.3f} |     {acc[i].mean():.3f}          {best_acc[i].mean():.3f}        {w_acc[i].mean():.3f}"
          f"         {p_acc[i].mean():.3f}      |   {100 * (p_acc[i] - w_acc[i]).mean():+5.1f}    |  {last_loss[i]:7.3f}"
          f"   {jensen[i].mean():+.3f}")

# %% [markdown]
# The table gives means over the seeds (test accuracies; the last snapshots' training loss; the Jensen
# gap is explained below). Now the breakdown point, and three learning rates to look at closely: the
# lowest of the sweep, the largest at which training is still stable, and one step past the breakdown.

# %% tags=["hide-input"]
rule = sweep.breakdown(start_loss, cfg.breakdown_factor)   # the first max lr whose last snapshots end above the factor
P.check_at_scale(rule.reached, "the sweep must reach the learning rate at which training breaks down")
P.check_at_scale(rule.starts_below, "... and start below it")
i_low, i_stable, i_break, i_high = rule.low, rule.stable, rule.at, rule.high
lrs = np.array(cfg.max_lrs)
glue("ens_cycles", M)
glue("ens_cycle_steps", cfg.cycle_steps)
glue("ens_cycle_epochs", runs[lrs[0]].epochs / M, 2)
glue("ens_lrs", ", ".join(f"{lr:g}" for lr in cfg.max_lrs))
glue("ens_loss_examples", L_loss.n_train)
glue("ens_break_factor", cfg.breakdown_factor)
glue("ens_lr_low", lrs[i_low])
glue("ens_lr_stable", lrs[i_stable])
glue("ens_lr_break", lrs[i_break])
glue("ens_lr_high", lrs[i_high])
glue("ens_last_loss_stable", last_loss[i_stable], 2)
glue("ens_last_loss_break", last_loss[i_break], 2)
glue("ens_non_finite", "some runs produced non-finite losses" if non_finite else "no run produced a non-finite loss")
print(f"training breaks down at max lr {lrs[i_break]} (last snapshots' training loss {last_loss[i_break]:.3f} "
      f"against {start_loss:.3f} at the start; largest stable: {lrs[i_stable]}, {last_loss[i_stable]:.3f}); "
      f"non-finite losses: {non_finite}")

# %% [markdown]
# Training breaks down at $\eta_\text{max}$ = {glue:text}`ens_lr_break`: the last snapshots end at a
# training loss of {glue:text}`ens_last_loss_break`, against {glue:text}`ens_start_loss` at the start
# ({glue:text}`ens_last_loss_stable` at {glue:text}`ens_lr_stable`, the largest stable learning rate
# of the sweep); {glue:text}`ens_non_finite`. We call {glue:text}`ens_lr_low` the *low* and
# {glue:text}`ens_lr_high` the *high* maximum learning rate: one step past the breakdown (or the
# sweep's last). Why not the breakdown itself? There the seeds are mixed: some still train stably,
# while a seed that has just collapsed is still recovering from its first restart, snapshot after
# snapshot, so that its last snapshot tends to be its best. One step further every seed is past the
# edge. We report the breakdown learning rate too.
#
# ## Figure 6, panels 1 and 3: every snapshot and the two averages
#
# {numref}`fig-ensembles-snapshots` shows, for the low and the high maximum learning rate, the test
# accuracy and test loss of every snapshot of every seed, and of the two averages of each seed's
# snapshots.

# %% tags=["remove-output", "hide-input"]
colours = [plots.PALETTE[c] for c in ("blue", "purple", "sky", "red", "lime", "aqua")]
k = np.arange(1, M + 1)
fig, axes = plots.figure(ncols=2, nrows=2, width=4.4, height=3.0)
for col, i in enumerate((i_low, i_high)):
    for row, (snap, w, p, name) in enumerate(((acc, w_acc, p_acc, "test accuracy"), (nll, w_nll, p_nll, "test loss (NLL)"))):
        ax = axes[row, col]
        ax.axvspan(M + 0.6, M + 1.4, color=plots.PALETTE["green"], alpha=0.12)
        ax.axvspan(M + 1.6, M + 2.4, color=plots.PALETTE["orange"], alpha=0.15)
        for s in range(S):
            c = colours[s % len(colours)]
            ax.plot(k, snap[i, s], "o-", color=c, ms=4, lw=1, label=f"seed {s}")
            ax.plot(M + 1, w[i, s], "s", color=c, ms=6)
            ax.plot(M + 2, p[i, s], "D", color=c, ms=6)
        ax.set_xticks(list(k) + [M + 1, M + 2], [str(j) for j in k] + ["W", "P"])
        ax.set(ylabel=name, title=f"$\\eta_{{\\mathrm{{max}}}}$ = {lrs[i]:g}" if row == 0 else None)
        if row == 1:
            ax.set(xlabel="snapshot k; W: weight average, P: prediction average")
            if nll[i].max() > 5 * nll[i].min():
                ax.set_yscale("log")
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=S)
report.figure("fig-ensembles-snapshots", fig)

# %% [markdown]
# ```{glue:figure} fig-ensembles-snapshots
# :name: fig-ensembles-snapshots
#
# Test accuracy (top) and test loss (bottom) of the snapshots at the end of each cycle (lines, one
# colour per seed), of their weight average (squares, green band) and of their prediction average
# (diamonds, orange band). Left: the low maximum learning rate; right: the high one (compare panels 3
# and 1 of Figure 6 of the paper).
# ```
#
# The paper's claims are judged by the criteria declared in the book's list of claims
# (`lsl/book/claims.yml`), from differences of test accuracy measured in standard errors of the test
# set (averaged over seeds). At the high learning rate the paper says the weight average is *worse*
# than the best single snapshot and the prediction average *better* than it. At the low learning rate
# it says the weight average performs well: at least as well as a single snapshot, and about as well
# as the prediction average. Which single snapshot? The best of {glue:text}`ens_cycles` is a maximum
# over draws, and at a low learning rate the snapshots are nearly the same function, so "at least as
# good as the best" would mostly test the noise of that maximum; "at least as good as the worst" could
# hardly fail. The criterion takes the middle reading: the *mean* snapshot (the accuracy a randomly
# picked snapshot has on average). Nothing about these outcomes is asserted; the cell measures them.

# %%
def diffs(i):
    """Seed means at the i-th max lr: (weight avg - best snapshot, prediction avg - best snapshot,
    weight avg - mean snapshot) in accuracy, and the standard error at the best snapshot's accuracy."""
    return ((w_acc[i] - best_acc[i]).mean(), (p_acc[i] - best_acc[i]).mean(), (w_acc[i] - acc[i].mean(-1)).mean(),
            std_error(best_acc[i].mean()))


for name, i in (("low", i_low), ("stable", i_stable), ("break", i_break), ("high", i_high)):
    wb, pb, wm, se = diffs(i)
    print(f"{name:6s} max lr {lrs[i]:g}: weight avg - best snapshot {100 * wb:+.2f} pp, prediction avg - best "
          f"{100 * pb:+.2f} pp, weight avg - mean snapshot {100 * wm:+.2f} pp (standard error {100 * se:.2f} pp); "
          f"test NLL: best snapshot {best_nll[i].mean():.3f}, weight avg {w_nll[i].mean():.3f}, "
          f"prediction avg {p_nll[i].mean():.3f}")
    for key, v in (("wb", wb), ("pb", pb), ("wm", wm)):
        glue(f"ens_{name}_{key}", pp(v))
    glue(f"ens_{name}_se", f"{100 * se:.2f}")
    glue(f"ens_{name}_snap", 100 * acc[i].mean(), 3)
    glue(f"ens_{name}_best", 100 * best_acc[i].mean(), 3)
    glue(f"ens_{name}_w", 100 * w_acc[i].mean(), 3)
    glue(f"ens_{name}_p", 100 * p_acc[i].mean(), 3)
    glue(f"ens_{name}_best_nll", best_nll[i].mean(), 3)
    glue(f"ens_{name}_w_nll", w_nll[i].mean(), 3)
    glue(f"ens_{name}_p_nll", p_nll[i].mean(), 3)

per_seed = [(w_acc[i_high, s] < best_acc[i_high, s] < p_acc[i_high, s]) for s in range(S)]
glue("ens_high_per_seed", sum(per_seed))
wb, pb, _, se = diffs(i_high)
_, _, wm_low, se_low = diffs(i_low)
wp_low = (w_acc[i_low] - p_acc[i_low]).mean()
trains_high = bool(rule.reached and i_high < i_break)       # training at the high max lr is below the breakdown
glue("ens_high_trains", "below" if trains_high else "at or past")

# %% tags=["hide-input"]
report.verdict("fj-fig6-swa-low",
               shown=f"max lr {lrs[i_low]:g}: weight average {report.fmt(100 * w_acc[i_low].mean(), 3)}%, prediction "
                     f"average {report.fmt(100 * p_acc[i_low].mean(), 3)}%, mean snapshot {report.fmt(100 * acc[i_low].mean(), 3)}% "
                     f"(standard error {report.fmt(100 * se_low, 2)} pp)",
               weight_minus_mean_z=wm_low / se_low, weight_minus_prediction_z=wp_low / se_low)
report.verdict("fj-fig6-swa-high",
               shown=f"max lr {lrs[i_high]:g}: weight average {pp(wb)} pp, prediction average {pp(pb)} pp from the best snapshot "
                     f"(standard error {report.fmt(100 * se, 2)} pp); training breaks down at max lr {lrs[i_break]:g}",
               weight_minus_best_z=wb / se, prediction_minus_best_z=pb / se, trains=trains_high)

# %% [markdown]
# At the low learning rate ({glue:text}`ens_lr_low`) the snapshots average
# {glue:text}`ens_low_snap`% test accuracy, the weight average reaches {glue:text}`ens_low_w`% and the
# prediction average {glue:text}`ens_low_p`%: the weight average is {glue:text}`ens_low_wm` percentage
# points from the mean snapshot (standard error {glue:text}`ens_low_se`). All snapshots make nearly
# the same predictions, and so do both averages. Just below the breakdown ({glue:text}`ens_lr_stable`)
# the weight average is at {glue:text}`ens_stable_wm` points relative to the mean snapshot and
# {glue:text}`ens_stable_wb` relative to the best one, with the prediction average at
# {glue:text}`ens_stable_pb` relative to the best (standard error {glue:text}`ens_stable_se`).
#
# At the high learning rate ({glue:text}`ens_lr_high`, {glue:text}`ens_high_trains` the breakdown of
# training), the paper's panel 1 is {glue:text}`verdict-fj-fig6-swa-high-lower`. Relative to
# the best snapshot ({glue:text}`ens_high_best`%), the weight average ({glue:text}`ens_high_w`%) is
# at {glue:text}`ens_high_wb` points and the prediction average ({glue:text}`ens_high_p`%) at
# {glue:text}`ens_high_pb` points (standard error {glue:text}`ens_high_se`); for
# {glue:text}`ens_high_per_seed` of {glue:text}`ens_seeds` seeds the order holds seed by seed. The
# test loss: {glue:text}`ens_high_w_nll` for the
# weight average, {glue:text}`ens_high_best_nll` for the best snapshot, {glue:text}`ens_high_p_nll`
# for the prediction average. At the breakdown itself ({glue:text}`ens_lr_break`) the differences
# are {glue:text}`ens_break_wb` (weight average) and {glue:text}`ens_break_pb` (prediction average)
# points from the best snapshot (standard error {glue:text}`ens_break_se`). But note the price: the
# snapshots themselves average only {glue:text}`ens_high_snap`% at the high learning rate, against
# {glue:text}`ens_low_snap`% at the low one.
#
# ## Figure 6, panel 4: the advantage of averaging predictions
#
# Across the whole sweep: the seed means of the snapshots and of both averages, and the advantage of
# the prediction average over the weight average, in accuracy and in test loss
# ({numref}`fig-ensembles-sweep`). The claim is that the advantage grows with the maximum learning
# rate. Its declared criterion asks for a rank correlation between the two of at least
# {glue:text}`ens_rho_min` over the sweep (the book's "grows with"), and an advantage at the high
# learning rate exceeding the one at the low learning rate by more than two standard errors.

# %%
adv = (p_acc - w_acc).mean(1)                                           # prediction minus weight average, per max lr
adv_nll = (w_nll - p_nll).mean(1)

rho = report.rank_correlation(lrs, adv)                                 # Spearman's rank correlation
rho_min = terms()["trend"]                                           # the book's "grows with"
se = std_error(w_acc[i_high].mean())
glue("ens_adv_low", pp(adv[i_low]))
glue("ens_adv_stable", pp(adv[i_stable]))
glue("ens_adv_high", pp(adv[i_high]))
glue("ens_adv_nll_low", report.fixed(adv_nll[i_low], 3))
glue("ens_adv_nll_high", report.fixed(adv_nll[i_high], 3))
glue("ens_adv_rho", f"{rho:.2f}")
glue("ens_rho_min", rho_min)
print("advantage of the prediction average (pp):", report.numbers(100 * adv, 2))
print("advantage in test NLL:                  ", report.numbers(adv_nll, 3))
print(f"rank correlation with the max lr {rho:.2f}; high - low {100 * (adv[i_high] - adv[i_low]):.2f} pp "
      f"(standard error {100 * se:.2f} pp)")

# %% tags=["hide-input"]
report.verdict("fj-fig6-advantage",
               shown=f"{pp(adv[i_low])} → {pp(adv[i_high])} pp; rank correlation {report.fmt(rho, 2)}",
               advantage=adv, gain_z=(adv[i_high] - adv[i_low]) / se)

# %% tags=["remove-output", "hide-input"]
fig, axes = plots.figure(ncols=3, width=3.3, height=3.0)
axes[0].plot(lrs, acc.mean((1, 2)), "o-", color="grey", label="mean snapshot")
axes[0].plot(lrs, best_acc.mean(1), "^--", color="k", label="best snapshot")
axes[0].plot(lrs, w_acc.mean(1), "s-", color=plots.PALETTE["green"], label="weight average")
axes[0].plot(lrs, p_acc.mean(1), "D-", color=plots.PALETTE["orange"], label="prediction average")
axes[0].set(xlabel="maximum learning rate", ylabel="test accuracy (mean over seeds)")
axes[0].legend(loc="lower left")
for s in range(S):
    axes[1].plot(lrs, 100 * (p_acc[:, s] - w_acc[:, s]), "o", color=colours[s % len(colours)], ms=4, alpha=0.7)
axes[1].plot(lrs, 100 * adv, "-", color=plots.PALETTE["orange"], label="mean over seeds")
axes[1].fill_between(lrs, -200 * se, 200 * se, color="grey", alpha=0.2, label="$\\pm$2 standard errors")
axes[1].set(xlabel="maximum learning rate", ylabel="prediction avg $-$ weight avg (accuracy, pp)")
axes[1].legend(loc="upper left")
axes[2].plot(lrs, adv_nll, "o-", color=plots.PALETTE["orange"])
axes[2].set(xlabel="maximum learning rate", ylabel="weight avg $-$ prediction avg (test NLL)")
axes[2].set_yscale("symlog", linthresh=1e-3)
for ax in axes:
    ax.axvline(lrs[i_break], color=plots.PALETTE["red"], lw=1, ls=":")
report.figure("fig-ensembles-sweep", fig)

# %% [markdown]
# ```{glue:figure} fig-ensembles-sweep
# :name: fig-ensembles-sweep
#
# Left: test accuracy against the maximum learning rate of the cycles, mean over seeds, for the mean
# and best snapshot and the two averages. Centre: the advantage of the prediction average over the
# weight average in accuracy (dots: seeds; the band is $\pm 2$ standard errors of one accuracy at the
# high learning rate). Right: the same advantage in test loss. The dotted red line marks where
# training breaks down (compare panel 4 of Figure 6).
# ```
#
# The advantage is {glue:text}`ens_adv_low` percentage points at the low learning rate,
# {glue:text}`ens_adv_stable` at the largest stable one and {glue:text}`ens_adv_high` at the high
# one (rank correlation with the learning rate {glue:text}`ens_adv_rho`); in test loss it grows from
# {glue:text}`ens_adv_nll_low` to {glue:text}`ens_adv_nll_high`. The claim is
# {glue:text}`verdict-fj-fig6-advantage-lower`.
#
# ## Why: one wedge, or several?
#
# The wedge explanation makes two measurable statements about the snapshots themselves.
#
# 1. **Barriers.** On one wedge the straight line between consecutive snapshots stays low; between
#    wedges it climbs above both ends. `ensembles.pairwise_barriers` evaluates the training loss at
#    {glue:text}`ens_path_points` points of each line (all lines as one batch) and reports how far the
#    loss rises above the higher endpoint.
# 2. **Jensen's inequality.** If the snapshots lie in one region where the loss is convex, the loss
#    of their average is at most their mean loss: $L(\bar\theta) \le \frac1K\sum_k L(\theta_k)$. We
#    call $L(\bar\theta) - \frac1K\sum_k L(\theta_k)$ the *Jensen gap*; a positive gap means the
#    average left the region the snapshots share, which is what "the weight average sits at high
#    loss" means. The sweep already measured it (last column of the table).
#
# Each barrier is measured against the loss of the snapshots it separates (the pre-trained networks'
# loss would be far too low a yardstick at the high learning rate, where the snapshots sit much
# higher). Below the breakdown the wedge model predicts the one-region picture: at the low learning
# rate no line between consecutive snapshots rises by more than a tenth of their own training loss,
# and the Jensen gap is at most zero for every seed, at the low and at the largest stable learning
# rate. At the high learning rate it predicts that some line rises by more than the snapshots' whole
# training loss and that the Jensen gap is positive on average over the seeds. All of these are
# statements about the network, so the cell measures them and the text below says whether they hold.

# %%
glue("ens_path_points", cfg.path_points)
bars, looks = {}, (("low", i_low), ("stable", i_stable), ("high", i_high))
for name, i in looks:
    snaps = runs[lrs[i]].snapshots
    bars[name] = [averaging.pairwise_barriers(L_loss, snaps[:, s], n_points=cfg.path_points) for s in range(S)]
    top = max(b.barriers.max().item() for b in bars[name])
    print(f"{name:6s} max lr {lrs[i]:g}: largest barrier between consecutive snapshots {top:.4f}; "
          f"Jensen gap per seed {report.numbers(jensen[i], 4)}")
    glue(f"ens_bar_{name}", top, 2)
    glue(f"ens_jensen_{name}", ", ".join(report.fixed(x, 3, sign=True) for x in jensen[i]))
bar_max = {name: max(b.barriers.max().item() for b in v) for name, v in bars.items()}
assert all(np.isfinite(v) for v in bar_max.values()), "the barriers are finite"
# the wedge model's predictions below the breakdown and at the high learning rate: measured, not asserted
low_flat = bar_max["low"] < 0.1 * last_loss[i_low]
convex = bool((jensen[i_low] <= 0).all() and (jensen[i_stable] <= 0).all())
glue("ens_low_reading", {
    (True, True): "the snapshots behave as points of one convex region",
    (True, False): "no line climbs a barrier, but some average is above the snapshots' mean loss (a positive Jensen gap)",
    (False, True): "the Jensen gaps say one convex region, but some line climbs more than a tenth of the snapshots' loss",
    (False, False): "neither the barriers nor the Jensen gaps show one convex region"}[(bool(low_flat), convex)])
climbs, gap_up = bar_max["high"] > last_loss[i_high], jensen[i_high].mean() > 0
glue("ens_last_loss_high", last_loss[i_high], 2)
glue("ens_bar_high_vs_loss", "above" if climbs else "below")
glue("ens_jensen_high_mean", report.fixed(jensen[i_high].mean(), 3, sign=True))
glue("ens_wedge_reading", {
    (True, True): "consecutive snapshots sit in different regions and their average falls between them, as the "
                  "wedge model predicts",
    (False, True): "the average leaves the region the snapshots share (a positive Jensen gap), but no straight line "
                   "between consecutive snapshots climbs above their own loss: here the evidence for separate "
                   "wedges is the Jensen gap alone, and the barriers do not show it",
    (True, False): "the lines between snapshots climb above their own loss, but the average is not above the "
                   "snapshots' mean loss: the barriers point to separate wedges, the Jensen gap does not",
    (False, False): "neither statement holds: at this scale the snapshots at the high learning rate do not show "
                    "separate wedges"}[(bool(climbs), bool(gap_up))])

# %% tags=["remove-output", "hide-input"]
fig, axes = plots.figure(ncols=2, width=4.4, height=3.2)
for (name, i), c in zip(looks, (plots.PALETTE["blue"], plots.PALETTE["green"], plots.PALETTE["red"])):
    lines = torch.cat([b.losses for b in bars[name]]).cpu().numpy()    # every pair of every seed
    axes[0].plot(bars[name][0].t.cpu(), lines.T, "-", color=c, lw=1, alpha=0.6)
    axes[0].plot([], [], "-", color=c, label=f"$\\eta_{{\\mathrm{{max}}}}$ = {lrs[i]:g}")
axes[0].set(xlabel="position on the line between consecutive snapshots", ylabel="training loss", yscale="log")
axes[0].legend(loc="upper right")
for s in range(S):
    axes[1].plot(lrs, jensen[:, s], "o-", color=colours[s % len(colours)], ms=4, lw=1, label=f"seed {s}")
axes[1].axhline(0, color="k", lw=0.8)
axes[1].axvline(lrs[i_break], color=plots.PALETTE["red"], lw=1, ls=":")
axes[1].set_yscale("symlog", linthresh=1e-2)
axes[1].set(xlabel="maximum learning rate", ylabel="Jensen gap $L(\\bar\\theta) - \\overline{L(\\theta_k)}$")
axes[1].legend(loc="upper left")
report.figure("fig-ensembles-wedges", fig)

# %% [markdown]
# ```{glue:figure} fig-ensembles-wedges
# :name: fig-ensembles-wedges
#
# Left: training loss along the straight lines between consecutive snapshots (every pair, every
# seed) at the low maximum learning rate, the largest stable one and the high one. Right: the Jensen
# gap of the weight average against the maximum learning rate, per seed (symmetric log scale; the
# dotted red line marks the breakdown).
# ```
#
# At the low learning rate the largest barrier is {glue:text}`ens_bar_low` and the Jensen gaps are
# {glue:text}`ens_jensen_low` (one per seed); at the largest stable learning rate the barrier is
# {glue:text}`ens_bar_stable` and the gaps {glue:text}`ens_jensen_stable`. Below the breakdown
# {glue:text}`ens_low_reading`. At the high learning rate the lines climb barriers of up to {glue:text}`ens_bar_high`,
# {glue:text}`ens_bar_high_vs_loss` the snapshots' own training loss ({glue:text}`ens_last_loss_high`),
# and the gaps are {glue:text}`ens_jensen_high` ({glue:text}`ens_jensen_high_mean` on average):
# {glue:text}`ens_wedge_reading`.
#
# ## Deep ensembles: the upper reference, and its cost
#
# Members on different wedges are what prediction averaging wants, and independent initialisations
# deliver them for sure ({ref}`chapter-tunnels`: independently trained networks are separated by
# walls; see also {cite}`fort2019deep`). The paper's caveat is the cost: every member is a full
# training run. {numref}`fig-ensembles-cost` puts the test accuracy of each ensemble against the
# epochs spent on it: a deep ensemble of $k$ members (our pre-trained networks) costs $k$
# pre-training runs; a snapshot ensemble of $k$ snapshots costs one pre-training run plus $k$ cycles.
# We compare the deep ensemble of all {glue:text}`ens_seeds` members with every snapshot ensemble of
# the sweep (mean over seeds).

# %% tags=["hide-input"]
pre_epochs = deep.epochs_per_member
cycle_epochs = runs[lrs[0]].epochs / M
deep_acc = averaging.ensemble_growth(L, start, "test").accuracy.cpu().numpy()  # the first 1, 2, ... members
snap_acc = {i: np.mean([averaging.ensemble_growth(L, runs[lrs[i]].snapshots[:, s], "test").accuracy.cpu().numpy()
                        for s in range(S)], axis=0) for i in (i_low, i_stable, i_high)}
i_best = int(p_acc.mean(1).argmax())                                   # the best snapshot ensemble of the sweep
snap_cost = pre_epochs + M * cycle_epochs
j_equal = min(S, max(1, round(snap_cost / pre_epochs)))                 # deep members costing about the same
glue("ens_deep_acc", 100 * deep_acc[-1], 3)
glue("ens_deep_epochs", S * pre_epochs, 3)
glue("ens_deep_equal_k", j_equal)
glue("ens_deep_equal_members", report.plural(j_equal, "member"))
glue("ens_deep_equal_acc", 100 * deep_acc[j_equal - 1], 3)
glue("ens_deep_equal_epochs", j_equal * pre_epochs, 3)
glue("ens_deep_equal_verdict", "above" if deep_acc[j_equal - 1] > p_acc[i_best].mean() else "below")
glue("ens_snapens_lr", lrs[i_best])
glue("ens_snapens_acc", 100 * p_acc[i_best].mean(), 3)
glue("ens_snapens_epochs", snap_cost, 3)
glue("ens_deep_gain_se", (deep_acc[-1] - p_acc[i_best].mean()) / std_error(deep_acc[-1]), 2)
print(f"deep ensemble: {report.numbers(deep_acc, 4)} for {S} members ({S * pre_epochs:.0f} epochs); "
      f"best snapshot ensemble: max lr {lrs[i_best]:g}, {p_acc[i_best].mean():.4f} ({snap_cost:.0f} epochs)")
glue("ens_deep_beats", "beats every" if deep_acc[-1] > p_acc.mean(1).max() else "does not beat every")

# %% tags=["hide-input"]
report.verdict("fj-cyclic-diversity",
               shown=f"prediction average {report.fmt(100 * p_acc[i_high].mean(), 3)}% at max lr {lrs[i_high]:g} against "
                     f"{report.fmt(100 * p_acc[i_stable].mean(), 3)}% at {lrs[i_stable]:g}; deep ensemble "
                     f"{report.fmt(100 * deep_acc[-1], 3)}%",
               gain_z=(p_acc[i_high].mean() - p_acc[i_stable].mean()) / std_error(p_acc[i_stable].mean()))

# %% tags=["remove-output", "hide-input"]
fig, axes = plots.figure(ncols=2, width=4.4, height=3.2)
for ax in axes:
    ax.plot(pre_epochs * np.arange(1, S + 1), deep_acc, "o-", color="k", label="deep ensemble")
    for i, c in ((i_low, plots.PALETTE["blue"]), (i_stable, plots.PALETTE["green"]), (i_high, plots.PALETTE["red"])):
        ax.plot(pre_epochs + cycle_epochs * np.arange(1, M + 1), snap_acc[i], "D-", color=c, ms=4,
                label=f"snapshots, $\\eta_{{\\mathrm{{max}}}}$ = {lrs[i]:g}")
        ax.plot(snap_cost, w_acc[i].mean(), "s", color=c, ms=7, mfc="none")
    ax.set(xlabel="epochs of training spent on the ensemble", ylabel="test accuracy (mean over seeds)")
good = np.concatenate([deep_acc, snap_acc[i_low], snap_acc[i_stable]])
axes[1].set_ylim(good.min() - 0.005, good.max() + 0.003)
axes[1].set_title("zoomed in")
axes[0].legend(loc="lower right")
report.figure("fig-ensembles-cost", fig)

# %% [markdown]
# ```{glue:figure} fig-ensembles-cost
# :name: fig-ensembles-cost
#
# Test accuracy of prediction-averaged ensembles against the epochs spent training them. Black: deep
# ensembles of 1, 2, ... independently initialised members. Diamonds: snapshot ensembles of the first
# 1, 2, ... snapshots, at three maximum learning rates (mean over seeds); open squares: the weight
# average of all snapshots, at the same cost. Right: the same, zoomed in on the best ensembles.
# ```
#
# The deep ensemble of {glue:text}`ens_seeds` members reaches {glue:text}`ens_deep_acc`% for
# {glue:text}`ens_deep_epochs` epochs; the best snapshot ensemble of the sweep (maximum learning rate
# {glue:text}`ens_snapens_lr`) reaches {glue:text}`ens_snapens_acc`% for
# {glue:text}`ens_snapens_epochs` epochs, {glue:text}`ens_deep_gain_se` standard errors below. At
# about the snapshot ensemble's cost, a deep ensemble of {glue:text}`ens_deep_equal_members`
# ({glue:text}`ens_deep_equal_epochs` epochs) reaches {glue:text}`ens_deep_equal_acc`%,
# {glue:text}`ens_deep_equal_verdict` the best snapshot ensemble; the full deep ensemble
# {glue:text}`ens_deep_beats` snapshot ensemble of the sweep. Diversity from independent
# initialisations is the surest to get, and every member costs a full training run.
#
# ## What we found
#
# - **Setting.** A tanh CNN ($D$ = {glue:text}`ens_D`) on the chapter's data set, pre-trained from
#   {glue:text}`ens_seeds` independent initialisations ({glue:text}`ens_pre_acc`% test accuracy),
#   then {glue:text}`ens_cycles` cycles of {glue:text}`ens_cycle_steps` steps at maximum learning
#   rates {glue:text}`ens_lrs`. Test-set standard error: {glue:text}`ens_low_se` percentage points
#   at the low learning rate, {glue:text}`ens_high_se` at the high one.
# - **Where training breaks down.** At {glue:text}`ens_lr_break`: the last snapshots' training loss
#   jumps to {glue:text}`ens_last_loss_break` (from {glue:text}`ens_last_loss_stable` at
#   {glue:text}`ens_lr_stable`); {glue:text}`ens_non_finite`, the tanh network saturates instead.
# - **Low learning rate (panel 3): {glue:text}`verdict-fj-fig6-swa-low-lower`.** Weight average
#   {glue:text}`ens_low_w`%, prediction average {glue:text}`ens_low_p`%, mean snapshot
#   {glue:text}`ens_low_snap`%; largest barrier between snapshots {glue:text}`ens_bar_low`, Jensen gaps
#   {glue:text}`ens_jensen_low`.
# - **High learning rate (panel 1): {glue:text}`verdict-fj-fig6-swa-high-lower`.** At
#   {glue:text}`ens_lr_high` ({glue:text}`ens_high_trains` the breakdown of training) the weight average
#   is at {glue:text}`ens_high_wb` points from the best snapshot and the prediction average at
#   {glue:text}`ens_high_pb` points (standard error {glue:text}`ens_high_se`; order held for
#   {glue:text}`ens_high_per_seed` of {glue:text}`ens_seeds` seeds individually); in test loss
#   {glue:text}`ens_high_w_nll` (weights), {glue:text}`ens_high_best_nll` (best snapshot),
#   {glue:text}`ens_high_p_nll` (predictions). The lines between consecutive snapshots climb barriers
#   of up to {glue:text}`ens_bar_high`, {glue:text}`ens_bar_high_vs_loss` the snapshots' own loss, and
#   the Jensen gaps are {glue:text}`ens_jensen_high` ({glue:text}`ens_jensen_high_mean` on average).
# - **Panel 4: {glue:text}`verdict-fj-fig6-advantage-lower`.** The advantage of prediction averaging goes
#   from {glue:text}`ens_adv_low` to {glue:text}`ens_adv_high` percentage points (rank correlation
#   {glue:text}`ens_adv_rho`).
# - **Diversity from cycling: {glue:text}`verdict-fj-cyclic-diversity-lower`.** At the largest stable
#   learning rate ({glue:text}`ens_lr_stable`) the largest barrier was {glue:text}`ens_bar_stable` and
#   the weight average was {glue:text}`ens_stable_wm` points from the mean snapshot: the SWA regime.
#   At the high learning rate the snapshots themselves average {glue:text}`ens_high_snap`% against
#   {glue:text}`ens_low_snap`% at the low one, and the prediction average reaches
#   {glue:text}`ens_high_p`% against {glue:text}`ens_stable_p`% at the largest stable learning rate. A
#   kick large enough to move the network to another wedge can also damage it; whether well-trained
#   snapshots on different wedges can be had from one cyclic run is a question for the `paper`
#   profile (longer cycles, a larger network) and for architectures that tolerate large steps better
#   (exercise 5).
# - **Deep ensembles are the upper reference.** {glue:text}`ens_deep_acc`% for
#   {glue:text}`ens_deep_epochs` epochs, against {glue:text}`ens_snapens_acc`% for the best snapshot
#   ensemble's {glue:text}`ens_snapens_epochs`; at about equal cost
#   ({glue:text}`ens_deep_equal_members`, {glue:text}`ens_deep_equal_epochs` epochs)
#   {glue:text}`ens_deep_equal_acc`%.
#
# ## Exercises
#
# 1. *Predict, then run.* Halve `cycle_steps` and rerun the sweep. Where does training break down
#    now, and what happens to the snapshots at the high learning rate?
#
#    ```{admonition} Solution
#    :class: dropdown
#    The breakdown is set by the restart to the maximum learning rate, not by the length of the
#    cycle, so it should stay at about the same point of the sweep. A shorter cycle spends fewer
#    steps at small learning rates, so below the breakdown each snapshot ends less converged (higher
#    training loss), and the Jensen gaps become more negative: the average gains more by averaging
#    out what the snapshots have not yet settled. Past the breakdown a collapsed network has less
#    time to move in each cycle; its snapshots can then stay in one region (a negative Jensen gap)
#    while being bad: a collapse is not the same thing as a change of wedge, which is why we measure
#    the wedges directly rather than infer them from the accuracy.
#    ```
#
# 2. *Conceptual.* The prediction average's test NLL is never above the mean NLL of its members.
#    Why? Why is there no such guarantee for the weight average?
#
#    ```{admonition} Solution
#    :class: dropdown
#    $-\log$ is convex, so $-\log\frac1K\sum_k p_k(y) \le \frac1K\sum_k -\log p_k(y)$ for every example
#    (Jensen). For the weight average the corresponding inequality needs the loss to be convex in the
#    *weights* on the hull of the snapshots, which holds inside one wedge (one convex region) but not
#    across wedges.
#    ```
#
# 3. *Conceptual.* At the low learning rate the weight average and the prediction average agree to
#    within a fraction of a percent. Explain with a Taylor expansion of the network's output around
#    the snapshots' mean.
#
#    ```{admonition} Solution
#    :class: dropdown
#    With $\theta_k = \bar\theta + \Delta_k$ and $\sum_k\Delta_k = 0$,
#    $\frac1K\sum_k f(\theta_k) = f(\bar\theta) + \frac1{2K}\sum_k \Delta_k^\top \nabla^2 f\, \Delta_k + \dots$:
#    the first-order terms cancel, so the two averages differ only at second order in the snapshots'
#    spread, which is tiny when they share one wedge.
#    ```
#
# 4. *Change this.* Set `momentum=0` (in the pre-training and in the cycles). Predict how far the
#    breakdown learning rate moves, then measure it.
#
#    ```{admonition} Solution
#    :class: dropdown
#    For gradient descent with momentum $\mu$ on a quadratic of curvature $\lambda$, stability needs
#    $\eta\lambda < 2(1+\mu)$: $3.8/\lambda$ with $\mu = 0.9$, $2/\lambda$ without momentum. If the
#    curvature at the pre-trained points were the same, the breakdown would move down by a factor of
#    about 1.9. It need not be the same: without momentum the pre-training itself settles in a region
#    whose curvature is adapted to its own learning rate {cite}`cohen2021gradient`.
#    ```
#
# 5. *Going further.* Give the high-learning-rate cycles four times as many steps. Do the snapshots
#    recover the accuracy of the stable ones while staying on different wedges?
#
#    ```{admonition} Solution
#    :class: dropdown
#    When we tried it (fewer, much longer cycles past the breakdown), they did not: the saturated tanh
#    units recover slowly, and the snapshots stayed far below the accuracy of the stable ones, with
#    barriers between them. The prediction average still beat the best snapshot and the weight average
#    still lost to it. A network that survives large steps better (batch
#    normalisation, which makes the loss invariant to the scale of the weights before it) is the
#    natural next experiment; `lsl.ensembles.swa.swa_landscape` recomputes its statistics for the average.
#    ```
#
# 6. *Going further.* Run the chapter with `LSL_PROFILE=paper` (a GPU and the CIFAR-10 files, see
#    `lsl.data.datasets`) and compare the breakdown learning rate and the size of the effect with Figure 6.
#
#    ```{admonition} Solution
#    :class: dropdown
#    The `paper` profile's sweep is meant to reach past the learning rates at which the CNN trains
#    stably on CIFAR-10, so that the chapter finds the breakdown on its own (its first assertion says
#    whether it did; if not, extend `max_lrs`). Compare the snapshots' accuracy at the high learning
#    rate with the stable ones: does the damage we saw at quick scale remain with longer cycles and a
#    larger network?
#    ```
